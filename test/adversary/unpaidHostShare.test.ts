/**
 * Attack 11: a host without a payout address serves clients. Its share of the
 * epoch used to be divided among the payees that had one, so they were paid
 * for time they did not serve. Bound: every payee gets exactly its own
 * service's share, and the unpaid host's share waits in the carry.
 */
import { test, expect, afterEach } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { testAgent, type TestAgent } from '../harness/agents.ts'
import { audit } from '../../coordinator/admin/audit.ts'

const HASH = `0x${'12'.repeat(32)}`
const PAYOUT = `0x${'a1'.repeat(20)}`
const FEE = `0x${'fe'.repeat(20)}`
const INTERVAL = 10_000
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

test('unpaid host share: a host without payout never raises the other payees\' shares; its share is carried', async () => {
  const clock = manualClock(Date.UTC(2026, 0, 1))
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, epochMs: 3_600_000, priceWeiPerMinute: 60_000n, trialWei: 10n ** 9n, feeBps: 500, feeAddress: FEE }, { clock })
  cleanup.push(() => c.close())
  const agent = async (body: Parameters<typeof testAgent>[1]) => {
    const a = await testAgent(c.url, body)
    cleanup.push(() => a.close())
    return a
  }
  const paid = await agent({ role: 'host', payout: PAYOUT, capacity: 1 })
  const unpaid = await agent({ role: 'host', capacity: 1 })
  const clients = [await agent({ role: 'client' }), await agent({ role: 'client' })]
  for (const cl of clients) await cl.conn.call('vipnode_requestHosts', { count: 1 })
  const hostOf = (cl: TestAgent) => [paid, unpaid].find((h) => h.id.nodeId === c.services.assignments.hostsOf(cl.id.nodeId)[0])!
  expect(new Set(clients.map(hostOf))).toEqual(new Set([paid, unpaid]))
  for (let i = 0; i < 6; i++) {
    clock.advance(INTERVAL / 2)
    for (const [who, peers] of [[paid, clients.filter((cl) => hostOf(cl) === paid)], [unpaid, clients.filter((cl) => hostOf(cl) === unpaid)], ...clients.map((cl) => [cl, [hostOf(cl)]])] as [TestAgent, TestAgent[]][]) {
      await who.conn.call('vipnode_update', { peers: peers.map((p) => ({ id: p.id.nodeId, enode: p.id.enode })), block: { number: 1, hash: HASH } })
    }
  }
  const epoch = c.services.epochs.epochOf(clock.now())
  clock.set(c.services.epochs.bounds(epoch).endMs)
  expect(await c.services.settlement.settleDue()).toEqual([epoch])

  const e = (await c.services.store.getEpoch(epoch))!
  const usage = await c.services.store.usage({ epoch })
  const msOf = (h: TestAgent) => BigInt(usage.filter((u) => u.hostId === h.id.nodeId).reduce((n, u) => n + u.serviceMs, 0))
  expect(msOf(paid)).toBeGreaterThan(0n)
  expect(msOf(unpaid)).toBeGreaterThan(0n)
  const distributable = e.revenueWei + e.carriedInWei - e.feeWei
  const payouts = await c.services.store.epochPayouts(epoch)
  const paidOut = payouts.find((p) => p.payee === PAYOUT)!.amountWei
  // The bound: the payee gets its own service's share, not the unpaid host's too.
  expect(paidOut).toBe((distributable * msOf(paid)) / (msOf(paid) + msOf(unpaid)))
  expect(e.carriedOutWei).toBeGreaterThanOrEqual((distributable * msOf(unpaid)) / (msOf(paid) + msOf(unpaid)))
  expect(payouts.reduce((n, p) => n + p.amountWei, 0n) + e.carriedOutWei).toBe(e.revenueWei + e.carriedInWei)
  expect(await c.services.store.balanceOf('carry')).toBe(e.carriedOutWei)
  expect((await audit(c.services.store)).ok).toBe(true)
  console.log(`unpaid host share: revenue ${e.revenueWei} wei, fee ${e.feeWei}, payee ${paidOut} for ${msOf(paid)} ms, carried ${e.carriedOutWei} for the unpaid host's ${msOf(unpaid)} ms`)
})
