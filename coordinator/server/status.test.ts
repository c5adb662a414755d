/** The prices the public pages show: GET /v1/status, GET /v1/join/config and the status page at /, without and with a price per compute unit. */
import { describe, test, expect, afterEach } from 'vitest'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { computeUnitCosts } from '../../protocol/costTable.ts'
import { explainUnitCosts } from '../dashboard/assets/format.js'
import type { CoordinatorConfigInput } from '../config.ts'
import type { StatusBody } from './status.ts'
import type { JoinConfigBody } from '../join/routes.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

async function pages(config: CoordinatorConfigInput) {
  const c = await testCoordinator({ updateIntervalMs: 10_000, ...config })
  cleanup.push(() => c.close())
  const get = async (path: string) => (await fetch(`${c.url}${path}`)).text()
  return {
    status: JSON.parse(await get('/v1/status')) as StatusBody,
    join: JSON.parse(await get('/v1/join/config')) as JoinConfigBody,
    page: await get('/'),
  }
}

describe('prices on the public pages', () => {
  test('default: a pool that prices only time shows no unit price beyond a zero field', async () => {
    const { status, join, page } = await pages({ priceWeiPerMinute: 20n * 10n ** 9n })
    expect(status).toMatchObject({ priceWeiPerHostMinute: '20000000000', priceWeiPerComputeUnit: '0' })
    expect(status).not.toHaveProperty('computeUnitCosts')
    expect(join).toMatchObject({ priceWeiPerHostMinute: '20000000000', priceWeiPerComputeUnit: '0' })
    expect(join).not.toHaveProperty('computeUnitCosts')
    expect(join).not.toHaveProperty('holdWeiPerRpcHost')
    expect(page).toContain('<h1>Ethereum full nodes, paid per minute of service</h1>')
    expect(page).toContain('<div class="card-value card-value-text" id="price">20 gwei</div>')
    expect(page).toContain(', charging your balance per host-minute.')
    expect(page).not.toMatch(/compute unit/i)
  })

  test('behavior: a pool that prices compute units shows the unit price beside the minute price, and what a unit buys', async () => {
    const { status, join, page } = await pages({ priceWeiPerMinute: 60_000n, pricePerCuWei: 10n ** 9n, holdCuRate: 100 })
    expect(status).toMatchObject({ priceWeiPerHostMinute: '60000', priceWeiPerComputeUnit: '1000000000', computeUnitCosts: computeUnitCosts() })
    // Holding one rpc host for one 10 s interval: 10,000 wei of time and 1,000 units at 1 gwei.
    expect(join).toMatchObject({ priceWeiPerComputeUnit: '1000000000', computeUnitCosts: computeUnitCosts(), holdWeiPerRpcHost: (10_000n + 1_000n * 10n ** 9n).toString() })
    expect(page).toContain('<h1>Ethereum full nodes, paid per minute and per compute unit of service</h1>')
    expect(page).toContain('<div class="card-value card-value-text" id="price">60,000 wei</div>')
    expect(page).toContain('<div class="card-value card-value-text" id="price-cu">1 gwei</div>')
    expect(page).toContain('<div class="card-sub">1,000 gwei per 1,000 units</div>')
    expect(page).toContain(explainUnitCosts(computeUnitCosts(), 10n ** 9n).replaceAll("'", '&#39;'))
    expect(page).toContain('peer clients pay for time only.')
  })

  test('behavior: a pool that prices only compute units says time is not charged and peer clients pay nothing', async () => {
    const { status, page } = await pages({ pricePerCuWei: 5n })
    expect(status).toMatchObject({ priceWeiPerHostMinute: '0', priceWeiPerComputeUnit: '5' })
    expect(page).toContain('<h1>Ethereum full nodes, paid per compute unit of service</h1>')
    expect(page).toContain('<div class="card-value card-value-text" id="price">none</div>')
    expect(page).toContain('only compute units are charged')
    expect(page).toContain('<div class="card-value card-value-text" id="price-cu">5 wei</div>')
    expect(page).toContain('peer clients are not charged.')
    expect(page).not.toContain('charging your balance per host-minute')
  })
})
