/**
 * Attack 2, burst reports (issue 16): a host (and its client) send bursts of
 * 20 vipnode_update frames in one TCP write. Before the fix the frames of one
 * read were dispatched concurrently and metering read a pair's state before
 * an await and wrote it after, so an honest client was billed about twice
 * its wall time and its balance went below zero.
 *
 * Bound: billed ms ≤ wall ms of corroborated time + one interval; a client's
 * balance is never below zero, even when it runs out mid-burst; the audit
 * passes. The per-socket rate limit is raised here so that every frame of a
 * burst reaches metering: the defence under test is metering's, not the
 * token bucket's.
 */
import { describe, test, expect, afterEach } from 'vitest'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { audit } from '../../coordinator/admin/audit.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { answered, assignmentHistory, balanceOf, chargedWei, poolAgent, sendPairBursts, serviceMs, type PoolAgent } from '../harness/attackers.ts'

const INTERVAL = 400
const BURST = 20
const BURSTS = 8
/** 1 wei per ms of service. */
const PRICE = 60_000n

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

async function pairUnderBursts(trialWei: bigint) {
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, priceWeiPerMinute: PRICE, trialWei, rateLimitPerSecond: 200, rateLimitBurst: 200 })
  cleanup.push(() => c.close())
  const host = await poolAgent(c, { role: 'host', capacity: 5 })
  const client = await poolAgent(c, { role: 'client' })
  cleanup.push(() => host.close(), () => client.close())
  const r = await client.request('vipnode_requestHosts', { count: 1 })
  expect(r.result.hosts[0].nodeId).toBe(host.nodeId)
  return { c, host, client }
}

/** Both sides send a burst every interval; returns when the last burst of each is answered, with the wall time between first and last. */
async function burst(c: RunningCoordinator, host: PoolAgent, client: PoolAgent, onEach: () => Promise<void>): Promise<{ wallMs: number }> {
  let firstAt = 0
  let lastAt = 0
  for (let i = 0; i < BURSTS; i++) {
    const at = Date.now()
    firstAt ||= at
    lastAt = at
    const last = sendPairBursts(host, client, BURST)
    // Await this burst's last replies (one socket's frames are handled in order: all of it is metered then).
    await waitFor(() => answered(last), `burst ${i} answered`, { timeoutMs: 10_000 })
    await onEach()
    const next = at + INTERVAL - Date.now()
    if (next > 0) await new Promise((resolve) => setTimeout(resolve, next)) // the agents' cadence, not a wait for an event
  }
  return { wallMs: lastAt - firstAt }
}

const unmetered = async (c: RunningCoordinator) => (await c.registry.getSingleMetric('vipnode_agent_reports_unmetered_total')!.get()).values[0]?.value ?? 0

describe('attack 2: burst reports', () => {
  test('bursts of 20 reports from both sides bill no more than the wall time of corroborated service (+ one interval)', async () => {
    const { c, host, client } = await pairUnderBursts(10n ** 12n)
    const { wallMs } = await burst(c, host, client, async () => undefined)
    const billed = serviceMs(c, client.nodeId, host.nodeId)
    console.log(`figures: burst reports: billed ${billed} ms vs wall ${wallMs} ms (${BURSTS} bursts of ${BURST} frames per side, interval ${INTERVAL} ms, ${await unmetered(c)} reports unmetered)`)
    expect(billed).toBeGreaterThan(0)
    expect(billed).toBeLessThanOrEqual(wallMs + INTERVAL)
    expect(chargedWei(c, client.nodeId)).toBe((BigInt(billed) * PRICE) / 60_000n)
    // Of each burst at most the first frame is metered: the rest come sooner than half an interval.
    expect(await unmetered(c)).toBeGreaterThanOrEqual(2 * BURSTS * (BURST - 1))
    expect(await audit(c.services.store)).toMatchObject({ ok: true })
  })

  test('a client whose balance runs out mid-burst is never below zero, is cut off, and the books balance', async () => {
    // Enough for about 1 s of service at 1 wei/ms: it runs out within the bursts.
    const TRIAL = 1_000n
    const { c, host, client } = await pairUnderBursts(TRIAL)
    let lowest = TRIAL
    await burst(c, host, client, async () => {
      const b = await balanceOf(c, client.nodeId)
      if (b < lowest) lowest = b
    })
    const billed = serviceMs(c, client.nodeId, host.nodeId)
    console.log(`figures: burst reports (balance runs out): billed ${billed} ms for a balance of ${TRIAL} wei; lowest balance seen ${lowest} wei`)
    expect(lowest).toBeGreaterThanOrEqual(0n)
    expect(await balanceOf(c, client.nodeId)).toBeGreaterThanOrEqual(0n)
    expect(chargedWei(c, client.nodeId)).toBeLessThanOrEqual(TRIAL)
    expect(billed).toBeLessThanOrEqual(Number(TRIAL)) // the time its balance paid for, and no more
    expect(assignmentHistory(c, client.nodeId).map((r) => r.releaseReason)).toEqual(['insufficient-balance'])
    await waitFor(() => client.notices.some((n) => n.code === 'insufficient-balance'), 'the insufficient-balance notice')
    expect(await audit(c.services.store)).toMatchObject({ ok: true })
  })
})
