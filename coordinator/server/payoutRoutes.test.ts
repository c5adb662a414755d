/**
 * Public payout reads: proofs for the latest tree (switching when a new epoch settles), every settled
 * epoch's tree as an immutable, cacheable file, precise errors, and the per-address rate limit.
 */
import { test, expect, afterEach } from 'vitest'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { Wallet } from 'ethers'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { seedPayoutEpoch } from '../../test/harness/payoutEpochs.ts'
import { EMPTY_ROOT } from '../services/settlement.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

const payees = Array.from({ length: 5 }, () => Wallet.createRandom().address)

async function pool() {
  const c = await testCoordinator({ epochMs: 3_600_000 }, { clock: manualClock(10 * 3_600_000) })
  cleanup.push(() => c.close())
  return c
}

test('behavior: /v1/payouts answers from the latest tree and moves to the next one when it settles', async () => {
  const c = await pool()
  const store = c.services.store
  expect((await fetch(`${c.url}/v1/payouts/${payees[0]}`)).status).toBe(404)
  const e1 = await seedPayoutEpoch(store, 1, payees.map((p, i) => ({ payee: p, cumulativeWei: BigInt(i + 1) })))
  let body = (await (await fetch(`${c.url}/v1/payouts/${payees[2]!.toLowerCase()}`)).json()) as { epoch: number; root: string; cumulativeWei: string; proof: string[]; address: string }
  expect(body).toMatchObject({ epoch: 1, root: e1.root, cumulativeWei: '3', address: payees[2] })
  expect(StandardMerkleTree.verify(e1.root, ['address', 'uint256'], [body.address, body.cumulativeWei], body.proof)).toBe(true)

  const e2 = await seedPayoutEpoch(store, 2, payees.map((p, i) => ({ payee: p, cumulativeWei: BigInt(10 * (i + 1)) })))
  body = (await (await fetch(`${c.url}/v1/payouts/${payees[2]}`)).json()) as typeof body
  expect(body).toMatchObject({ epoch: 2, root: e2.root, cumulativeWei: '30' })
  expect(StandardMerkleTree.verify(e2.root, ['address', 'uint256'], [body.address, body.cumulativeWei], body.proof)).toBe(true)
  const stranger = await fetch(`${c.url}/v1/payouts/${Wallet.createRandom().address}`)
  expect(stranger.status).toBe(404)
  expect(((await stranger.json()) as { error: { message: string } }).error.message).toMatch(/no entitlement as of epoch 2/)
})

test('behavior: /v1/epochs/:n/tree serves the settled dump, immutable; unknown, empty and malformed epochs are refused precisely', async () => {
  const c = await pool()
  const store = c.services.store
  const e1 = await seedPayoutEpoch(store, 1, payees.map((p) => ({ payee: p, cumulativeWei: 7n })))
  await store.settleEpoch({ ...e1, epoch: 2, root: EMPTY_ROOT, tree: '{}', totalEntitledWei: 7n * 5n }, [], { id: 'settle:2', atMs: 1, memo: 'm', entries: [{ account: 'a', amountWei: 0n }] })

  const res = await fetch(`${c.url}/v1/epochs/1/tree`)
  expect(res.status).toBe(200)
  expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
  expect(res.headers.get('x-vipnode-root')).toBe(e1.root)
  const tree = StandardMerkleTree.load((await res.json()) as Parameters<typeof StandardMerkleTree.load>[0])
  expect(tree.root).toBe(e1.root)
  expect([...tree.entries()].length).toBe(5)
  expect(await (await fetch(`${c.url}/v1/epochs/1/tree`)).text()).toBe(e1.tree) // served from the cache, byte for byte

  const unknown = await fetch(`${c.url}/v1/epochs/3/tree`)
  expect(unknown.status).toBe(404)
  expect(unknown.headers.get('cache-control')).toBe('no-store')
  expect(await unknown.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringMatching(/epoch 3 is not settled/) } })
  expect(await (await fetch(`${c.url}/v1/epochs/2/tree`)).json()).toMatchObject({ error: { code: 'NO_PAYOUTS' } })
  for (const bad of ['0', '-1', 'x', '1.5', '99999999999999999999']) {
    const r = await fetch(`${c.url}/v1/epochs/${bad}/tree`)
    expect(r.status, bad).toBe(400)
  }

  // "latest" is the newest tree whose root is on chain: none before a post.
  expect((await fetch(`${c.url}/v1/epochs/latest/tree`)).status).toBe(404)
  await store.markEpochPosted(1, `0x${'ee'.repeat(32)}`, 5)
  const latest = await fetch(`${c.url}/v1/epochs/latest/tree`, { redirect: 'manual' })
  expect(latest.status).toBe(302)
  expect(latest.headers.get('location')).toBe('/v1/epochs/1/tree')
  // Nothing a reader does changes what is stored.
  expect(await store.getEpoch(1)).toEqual({ ...e1, txHash: `0x${'ee'.repeat(32)}`, postedAtMs: 5 })
})

test('attack: a crawler hammering /v1/payouts is rate-limited per address', async () => {
  const c = await pool()
  await seedPayoutEpoch(c.services.store, 1, payees.map((p) => ({ payee: p, cumulativeWei: 1n })))
  const statuses: number[] = []
  for (let i = 0; i < 60; i++) statuses.push((await fetch(`${c.url}/v1/payouts/${payees[0]}`)).status)
  expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true)
  const limited = statuses.filter((s) => s === 429).length
  expect(limited).toBeGreaterThan(0)
  let refused: Response | undefined
  for (let i = 0; i < 60 && !refused; i++) {
    const r = await fetch(`${c.url}/v1/epochs/1/tree`)
    if (r.status === 429) refused = r
  }
  expect(refused?.headers.get('retry-after')).toBe('1')
  expect(await refused!.json()).toMatchObject({ error: { code: 'RATE_LIMITED', message: 'at most 3 requests per second (burst 30) per address' } })
})
