/**
 * Attack 5, slot squatting (issue 16): concurrent vipnode_requestHosts calls
 * got past the per-client cap, and a silent client paid nothing for the
 * slots it held: two keys with 1 wei each filled every slot of a 24-host pool.
 *
 * Bound: one client key never holds more than `maxHostsPerClient` hosts,
 * admissions in flight included, however many requests it sends on one
 * socket or across sockets that supersede each other; a key that cannot pay
 * one host for one interval holds nothing; a squatter that never
 * corroborates loses its slots within the grace and honest clients are
 * served afterwards.
 */
import { describe, test, expect, afterEach } from 'vitest'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { ErrorCode, type NodeId } from '../../protocol/index.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { identity } from '../harness/rawAgent.ts'
import { assignmentHistory, every, fund, poolAgent, sendBurst, serviceMs, type PoolAgent } from '../harness/attackers.ts'

const INTERVAL = 400
const GRACE = 3 * INTERVAL
const CAP = 3
/** 1 wei per ms: holding one host for one interval costs 400 wei. */
const PRICE = 60_000n
const FUNDED = 10n ** 9n

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

async function pool(config: Parameters<typeof testCoordinator>[0] = {}): Promise<RunningCoordinator> {
  // Every new key gets a 1-wei trial: the dust an attacker's Sybils have.
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, connectGraceMs: GRACE, priceWeiPerMinute: PRICE, trialWei: 1n, maxHostsPerClient: CAP, rateLimitPerSecond: 500, rateLimitBurst: 500, ...config })
  cleanup.push(() => c.close())
  return c
}

async function hosts(c: RunningCoordinator, n: number, capacity: number, admitDelayMs = 0): Promise<PoolAgent[]> {
  const all = await Promise.all(Array.from({ length: n }, () => poolAgent(c, { role: 'host', capacity }, identity(), { admitDelayMs })))
  for (const h of all) cleanup.push(() => h.close())
  return all
}

const requestFrames = (n: number, firstId: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ jsonrpc: '2.0', id: firstId + i, method: 'vipnode_requestHosts', params: { count: CAP } }))
const admitsFor = (all: PoolAgent[], clientId: NodeId) => all.reduce((n, h) => n + h.calls.filter((x) => x.method === 'vipnode_admit' && x.params.nodeId === clientId).length, 0)

describe('attack 5: slot squatting', () => {
  test('50 concurrent requests on one socket, then bursts across superseding sockets, never hold more than the cap', async () => {
    const c = await pool({ slowStartSlots: 0 })
    // Slow admissions keep requests in flight while the next ones arrive.
    const all = await hosts(c, 10, 5, 150)
    const squatter = identity()
    let held = 0
    const watch = every(5, () => {
      held = Math.max(held, c.services.assignments.hostsOf(squatter.nodeId).length)
    })
    cleanup.push(watch)

    const first = await poolAgent(c, { role: 'client' }, squatter)
    cleanup.push(() => first.close())
    await fund(c, squatter.nodeId, FUNDED)
    sendBurst(first.agent, requestFrames(50, 1))
    // While those run, the same key logs in again (superseding the socket) and fires again, three times.
    const sockets: PoolAgent[] = []
    for (let i = 0; i < 3; i++) {
      const s = await poolAgent(c, { role: 'client' }, squatter)
      cleanup.push(() => s.close())
      sendBurst(s.agent, requestFrames(50, 1_000 * (i + 1)))
      sockets.push(s)
    }
    const last = sockets.at(-1)!
    await waitFor(() => [1_000 * 3, 1_000 * 3 + 49].every((id) => last.agent.frames.some((f) => f.id === id)), 'the last socket’s requests answered', { timeoutMs: 20_000 })
    // Superseded sockets' requests may still be admitting: wait until none is in flight for this key.
    await waitFor(() => all.every((h) => !c.services.assignments.vouchedClientsOf(h.nodeId).includes(squatter.nodeId) || c.services.assignments.clientsOf(h.nodeId).includes(squatter.nodeId)), 'no admission in flight')

    const admitted = admitsFor(all, squatter.nodeId)
    const active = assignmentHistory(c, squatter.nodeId).filter((r) => r.releasedAtMs === null).length
    console.log(`figures: slot squatting: 200 requests over 4 sockets of one key: ${admitted} admissions, ${active} hosts held, most held at once ${held} (cap ${CAP})`)
    expect(admitted).toBeLessThanOrEqual(CAP)
    expect(active).toBeLessThanOrEqual(CAP)
    expect(held).toBeLessThanOrEqual(CAP)
    expect(active).toBe(CAP) // the cap is what it gets, not less
    // Every answered request on the last socket either lists at most the cap or is refused.
    for (const f of last.agent.frames.filter((f) => typeof f.id === 'number' && f.id >= 3_000)) {
      if (f.error) expect(f.error.code).toBe(ErrorCode.NO_HOSTS_AVAILABLE)
      else expect(f.result.hosts.length).toBeLessThanOrEqual(CAP)
    }
  })

  test('dust keys (1 wei) are refused with INSUFFICIENT_BALANCE and hold nothing', async () => {
    const c = await pool()
    const all = await hosts(c, 4, 10)
    const dust = await Promise.all(Array.from({ length: 10 }, () => poolAgent(c, { role: 'client' })))
    for (const d of dust) cleanup.push(() => d.close())
    const replies = await Promise.all(dust.map((d) => d.request('vipnode_requestHosts', { count: CAP })))
    for (const r of replies) {
      expect(r.error).toMatchObject({ code: ErrorCode.INSUFFICIENT_BALANCE, message: `balance 1 wei cannot pay a host for one update interval (${INTERVAL} ms)` })
    }
    expect(all.reduce((n, h) => n + h.calls.length, 0)).toBe(0)
    for (const d of dust) expect(assignmentHistory(c, d.nodeId)).toEqual([])
  })

  test('squatters that never corroborate lose every slot within the grace, and an honest client is served afterwards', async () => {
    const c = await pool()
    // Slow start: three fresh hosts offer 2 slots each, 6 in all: two keys at the cap fill them.
    const all = await hosts(c, 3, 10)
    cleanup.push(every(INTERVAL, () => all.forEach((h) => void h.report(c.services.assignments.clientsOf(h.nodeId)))))
    const squatters = await Promise.all([0, 1].map(() => poolAgent(c, { role: 'client' })))
    for (const s of squatters) {
      cleanup.push(() => s.close())
      await fund(c, s.nodeId, FUNDED)
      expect((await s.request('vipnode_requestHosts', { count: CAP })).result.hosts).toHaveLength(CAP)
    }
    const honest = await poolAgent(c, { role: 'client' })
    cleanup.push(() => honest.close())
    await fund(c, honest.nodeId, FUNDED)
    const refused = await honest.request('vipnode_requestHosts', { count: CAP })
    expect(refused.error).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE })
    const fullAt = Date.now()

    // The squatters never report: after the grace their slots are free again and they are struck.
    const served = await waitFor(async () => {
      const r = await honest.request('vipnode_requestHosts', { count: CAP })
      return r.result?.hosts.length === CAP ? r.result.hosts : undefined
    }, 'the honest client is served', { timeoutMs: 10 * GRACE })
    const freedMs = Date.now() - fullAt
    const releasedAfter = squatters.flatMap((s) => assignmentHistory(c, s.nodeId)).map((r) => r.releasedAtMs! - r.assignedAtMs)
    console.log(`figures: slot squatting: squatters' slots released ${Math.max(...releasedAfter)} ms after assignment at most (grace ${GRACE} ms); honest client served ${freedMs} ms after the pool was full`)
    expect(served).toHaveLength(CAP)
    for (const s of squatters) {
      expect(assignmentHistory(c, s.nodeId).map((r) => r.releaseReason)).toEqual(['disputed', 'disputed', 'disputed'])
      // One strike per disputed pair: three silent pairs released in one sweep are three strikes.
      expect(c.services.assignments.clientCoolDownOf(s.nodeId)).toMatchObject({ strikes: CAP })
      expect(serviceMs(c, s.nodeId)).toBe(0)
    }
    expect(Math.max(...releasedAfter)).toBeLessThanOrEqual(GRACE + INTERVAL)
  })
})
