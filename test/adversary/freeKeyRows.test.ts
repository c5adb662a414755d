/**
 * Issue 18, item 1 (disk): node keys are free, and every key that logs in
 * leaves a `nodes` row. An attacker with a thousand fresh keys logs in as
 * hosts and clients over real sockets, reports and leaves. Bound: once the
 * retention window has passed and the epoch is settled, the rows of keys that
 * hold nothing are gone, so the table is back to the honest pool's size; a
 * key that holds money keeps its row and its latest report; a forgotten key
 * that comes back is simply new; the books still balance.
 */
import { test, expect, afterEach } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { poolAgent, type PoolAgent } from '../harness/attackers.ts'
import { Accounts } from '../../coordinator/logic/accounts.ts'
import { audit } from '../../coordinator/admin/audit.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

const KEYS = 1_000
const WINDOW = 60_000
const HOUR = 3_600_000

async function inBatches<T>(n: number, make: (i: number) => Promise<T>, size = 50): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < n; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => make(i + j)))))
  return out
}

test('free keys: 1,000 keys log in, report and leave; after the window and the settlement their node rows are gone, a funded key keeps its row', async () => {
  const clock = manualClock(Date.UTC(2026, 0, 1))
  // Every attacker dials from 127.0.0.1: lift the per-address cap (socketGate has its own tests).
  const c = await testCoordinator({ reportRetentionMs: WINDOW, epochMs: HOUR, priceWeiPerMinute: 1_000n, maxAgentsPerAddress: 10_000 }, { clock })
  cleanup.push(() => c.close())
  const store = c.services.store
  const baseline = (await store.historyCounts()).nodes

  // An honest client with money (a credit), online for a moment and then gone for good.
  const funded = await poolAgent(c, { role: 'client' })
  await store.post({ id: 'credit:test', atMs: clock.now(), memo: 'credit', entries: [{ account: Accounts.external, amountWei: -(10n ** 15n) }, { account: Accounts.client(funded.nodeId), amountWei: 10n ** 15n }] })
  await funded.agent.reply(funded.report([]))
  funded.close()

  // The attack: fresh keys as hosts and clients, each reporting once, then cutting its socket.
  const attackers: PoolAgent[] = await inBatches(KEYS, (i) => poolAgent(c, i % 4 === 0 ? { role: 'host', capacity: 5 } : { role: 'client' }))
  await inBatches(KEYS, async (i) => attackers[i]!.agent.reply(attackers[i]!.report([])))
  expect((await store.historyCounts()).nodes).toBe(baseline + KEYS + 1)
  for (const a of attackers) a.close()
  await waitFor(async () => c.services.sessions.count('host') + c.services.sessions.count('client') === 0, 'every socket closed', { timeoutMs: 30_000 })

  // Inside the window nothing is forgotten.
  clock.advance(WINDOW / 2)
  expect((await store.historyCounts()).nodes).toBe(baseline + KEYS + 1)

  // Past the window and past the end of the epoch, once it is settled: the keys that hold nothing go.
  clock.advance(HOUR)
  await c.services.settlement.settleDue()
  const left = await waitFor(async () => {
    const n = (await store.historyCounts()).nodes
    return n === baseline + 1 ? n : undefined
  }, 'the free keys forgotten', { timeoutMs: 30_000 })
  expect(left).toBe(baseline + 1)
  expect(await store.getNode(funded.nodeId)).toMatchObject({ role: 'client' })
  expect(await store.latestReport(funded.nodeId)).toBeDefined()
  for (const a of attackers.slice(0, 20)) expect(await store.getNode(a.nodeId)).toBeUndefined()
  const metrics = await (await fetch(`${c.url}/metrics`)).text()
  expect(metrics).toMatch(new RegExp(`^vipnode_retention_rows_total\\{kind="nodes"\\} ${KEYS}$`, 'm'))

  // A forgotten key that comes back is a new key, and the books balance throughout.
  const back = await poolAgent(c, { role: 'client' }, attackers[1]!.id)
  await back.agent.reply(back.report([]))
  expect(await store.getNode(attackers[1]!.nodeId)).toMatchObject({ role: 'client', firstSeenMs: clock.now() })
  back.close()
  expect(await audit(store)).toMatchObject({ ok: true, problems: [] })
}, 180_000)
