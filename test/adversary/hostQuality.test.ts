/**
 * Issue 21 item 2: rpc hosts are scored by what their clients' proxies
 * measure (docs/rpcService.md#quality), over real sockets: raw agents report
 * exactly what a shim would send in `quality`, the coordinator scores, puts
 * on probation and balances.
 *
 * (a) A failing host goes on probation: new clients pass it over (skip reason
 *     `probation`), except one trial client per trial period, and it comes
 *     back when its score recovers (here: its bad evidence fades). Never a ban.
 *     A slow host too, by its latency on light-client reads; latency of calls
 *     whose weight the client chooses (eth_getLogs) does not count.
 * (b) Slander. A client reporting about a host it is not assigned to is
 *     ignored. A hostile client assigned to an honest host cannot move its
 *     score while honest clients with full evidence are at least as many; a
 *     hostile client alone cannot put it on probation (two witnesses are
 *     needed). Bound: hostile clients must outnumber the honest witnesses (and
 *     each be assigned to the host, paying for it) to push an honest host onto
 *     probation, and even then it keeps a trial client per period.
 *
 * Figures: reports until probation, trial admissions per period, time to
 * recover in half-lives; the honest host's score under slander.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { LATENCY_BUCKET_COUNT, RPC_REQUIRED_METHODS, latencyBucket, type HostQuality, type NodeId } from '../../protocol/index.ts'
import { qualityPolicyFor } from '../../coordinator/logic/hostQuality.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { poolAgent, type PoolAgent } from '../harness/attackers.ts'

const INTERVAL = 400
const POLICY = qualityPolicyFor(INTERVAL)

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

async function pool() {
  const clock = manualClock(Date.UTC(2026, 0, 1))
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, slowStartSlots: 0, relayTokenWindowMs: 3_600_000 }, { clock })
  cleanup.push(() => c.close())
  return { c, clock }
}

async function rpcHost(c: RunningCoordinator): Promise<PoolAgent> {
  const a = await poolAgent(c, { role: 'host', kind: 'rpc', relayUrl: 'http://127.0.0.1:9/', capabilities: [...RPC_REQUIRED_METHODS], capacity: 20 })
  cleanup.push(() => a.close())
  return a
}

async function rpcClient(c: RunningCoordinator): Promise<PoolAgent> {
  const a = await poolAgent(c, { role: 'client', kind: 'rpc' })
  cleanup.push(() => a.close())
  return a
}

async function hostsFor(client: PoolAgent, count: number): Promise<{ hosts: NodeId[]; message?: string }> {
  const reply = await client.request('vipnode_requestHosts', { count, kind: 'rpc' })
  if (reply.error) throw new Error(`requestHosts refused: ${reply.error.message}`)
  return { hosts: reply.result.hosts.map((h: { nodeId: NodeId }) => h.nodeId), ...(reply.result.message ? { message: reply.result.message } : {}) }
}

/** What a client's proxy reports about one host: `ok` calls served in `ms`, and `timeouts`. */
function measured(host: NodeId, ok: number, timeouts = 0, ms = 40): HostQuality {
  const buckets = new Array<number>(LATENCY_BUCKET_COUNT).fill(0)
  buckets[latencyBucket(ms)] = ok
  return { nodeId: host, ok, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts, latency: ok > 0 ? [{ method: 'eth_getProof', buckets }] : [] }
}

/**
 * One update interval of the pool: the clock moves on, every host reports relay traffic with its clients and
 * every client with its hosts (so pairs corroborate and stay), each client adding the quality `says` gives it.
 */
async function round(
  c: RunningCoordinator,
  clock: ReturnType<typeof manualClock>,
  hosts: PoolAgent[],
  clients: PoolAgent[],
  says: (client: PoolAgent, host: NodeId) => HostQuality | undefined,
  /** Entries a client adds about hosts it does not hold (slander). */
  extra: (client: PoolAgent) => HostQuality[] = () => [],
) {
  clock.advance(INTERVAL)
  const traffic = (ids: NodeId[]) => ids.map((nodeId) => ({ nodeId, requests: 1, busyMs: 1 }))
  const sent: [PoolAgent, number][] = []
  for (const h of hosts) sent.push([h, h.report([], { relays: traffic(c.services.assignments.clientsOf(h.nodeId)) })])
  for (const cl of clients) {
    const mine = c.services.assignments.hostsOf(cl.nodeId)
    const quality = [...mine.flatMap((h) => says(cl, h) ?? []), ...extra(cl)]
    sent.push([cl, cl.report([], { relays: traffic(mine), ...(quality.length > 0 ? { quality } : {}) })])
  }
  for (const [a, id] of sent) {
    const r = await a.agent.reply(id)
    if (r.error) throw new Error(`report refused: ${r.error.message}`)
  }
}

async function skipped(c: RunningCoordinator, reason: string): Promise<number> {
  const m = await c.registry.getSingleMetric('vipnode_assignment_skipped_total')!.get()
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0
}

const standing = (c: RunningCoordinator, host: PoolAgent) => c.services.quality.standingOf(host.nodeId, c.services.clock.now())

describe('adversary: service quality', () => {
  test('bound: a failing host goes on probation, gets one trial client per period, and comes back when its score recovers', async () => {
    const { c, clock } = await pool()
    const [bad, good1, good2] = [await rpcHost(c), await rpcHost(c), await rpcHost(c)]
    const hosts = [bad, good1, good2]
    const witnesses = [await rpcClient(c), await rpcClient(c)]
    for (const w of witnesses) expect((await hostsFor(w, 3)).hosts.sort()).toEqual(hosts.map((h) => h.nodeId).sort())

    // Its clients' proxies time out on it (a relay whose node hangs); the others serve in 40 ms.
    let reports = 0
    while (!standing(c, bad).probation) {
      await round(c, clock, hosts, witnesses, (_cl, h) => (h === bad.nodeId ? measured(h, 2, 20) : measured(h, 20)))
      reports++
      expect(reports, 'reports until probation').toBeLessThanOrEqual(3)
    }
    // Its clients keep finding it failing for a few more reports before their proxies bench it.
    for (let i = 0; i < 2; i++) await round(c, clock, hosts, witnesses, (_cl, h) => (h === bad.nodeId ? measured(h, 2, 20) : measured(h, 20)))
    expect(standing(c, good1)).toEqual({ score: 1, probation: false, trialOpen: true, excluded: false })

    // A little traffic: the next request for two hosts gets it as its last pick (the trial), the ones after do not.
    const trial = await hostsFor(await rpcClient(c), 2)
    expect(trial.hosts).toHaveLength(2)
    expect(trial.hosts[1]).toBe(bad.nodeId)
    const skippedBefore = await skipped(c, 'probation')
    const after = await hostsFor(await rpcClient(c), 3)
    expect(after.hosts.sort()).toEqual([good1.nodeId, good2.nodeId].sort())
    expect(after.message).toMatch(/only 2 of 3 hosts on chain 1337: 1 probation/)
    expect(await skipped(c, 'probation')).toBeGreaterThan(skippedBefore)
    // The next trial period opens another slot; a request for a single host still does not get it while a host
    // in good standing is free, a request for two does.
    clock.advance(POLICY.trialEveryMs)
    for (let i = 0; i < 5; i++) expect((await hostsFor(await rpcClient(c), 1)).hosts).not.toContain(bad.nodeId)
    expect((await hostsFor(await rpcClient(c), 2)).hosts).toContain(bad.nodeId)

    // Nobody reports about it any more (its clients' proxies benched it) while everyone keeps reporting: its bad
    // evidence fades, and it comes back. The sweep (every quarter interval, on real time) applies the decay.
    const since = clock.now()
    let halfLives = 0
    while (standing(c, bad).probation) {
      for (let i = 0; i < POLICY.halfLifeMs / INTERVAL; i++) await round(c, clock, hosts, witnesses, (_cl, h) => (h === bad.nodeId ? undefined : measured(h, 20)))
      halfLives++
      await waitFor(() => !standing(c, bad).probation, 'off probation', { timeoutMs: 300 }).catch(() => undefined)
      expect(halfLives, 'half-lives until recovery').toBeLessThanOrEqual(8)
    }
    expect(standing(c, bad)).toEqual({ score: 1, probation: false, trialOpen: true, excluded: false })
    const back = [await hostsFor(await rpcClient(c), 3), await hostsFor(await rpcClient(c), 3)]
    for (const b of back) expect(b.hosts).toContain(bad.nodeId)
    const report = c.services.quality.report(bad.nodeId, clock.now())!.epochs[0]!
    expect(report.calls).toMatchObject({ ok: 2 * 2 * (reports + 2), timeouts: 2 * 20 * (reports + 2) })
    expect(report.probationMs).toBeGreaterThanOrEqual(clock.now() - since - POLICY.halfLifeMs)
    console.log(
      `figures: quality: a host timing out on 20 of 22 calls per report from 2 clients went on probation after ${reports} report(s); ` +
        `1 trial client per ${POLICY.trialEveryMs} ms; with no more reports about it it came off within ${halfLives} half-lives of ${POLICY.halfLifeMs} ms; ` +
        `probation ${report.probationMs} ms this epoch`,
    )
  })

  test('bound: a slow host goes on probation by its latency; a client cannot make a host look slow with calls it makes heavy itself', async () => {
    const { c, clock } = await pool()
    const [slow, fast] = [await rpcHost(c), await rpcHost(c)]
    const hosts = [slow, fast]
    const clients = [await rpcClient(c), await rpcClient(c)]
    for (const cl of clients) expect((await hostsFor(cl, 2)).hosts).toHaveLength(2)
    // Both hosts take 9 s for a 10,000-block eth_getLogs: the client chose that work, so it does not score.
    const heavy = (h: NodeId) => measured(h, 20, 0, 9_000)
    for (let i = 0; i < 3; i++) await round(c, clock, hosts, clients, (_cl, h) => ({ ...heavy(h), latency: heavy(h).latency.map((l) => ({ ...l, method: 'eth_getLogs' })) }))
    expect(standing(c, slow)).toEqual({ score: 1, probation: false, trialOpen: true, excluded: false })
    // The slow host takes 3 s for eth_getProof, the fast one 40 ms: p50 over 2.5 s (x0.5) and p99 up to 5 s (x0.9).
    let reports = 0
    while (!standing(c, slow).probation && reports < 5) {
      await round(c, clock, hosts, clients, (_cl, h) => (h === slow.nodeId ? measured(h, 20, 0, 3_000) : measured(h, 20)))
      reports++
    }
    expect(standing(c, slow)).toMatchObject({ probation: true, score: 0.45 })
    expect(standing(c, fast)).toEqual({ score: 1, probation: false, trialOpen: true, excluded: false })
    console.log(`figures: quality: a host answering light-client reads in 3 s (p50, p99 <= 5 s) went on probation after ${reports} report(s) from 2 clients, score 0.45`)
  })

  test('bound: slander by a client not assigned to the host is ignored; one hostile client among honest ones, or alone, cannot put an honest host on probation', async () => {
    const { c, clock } = await pool()
    // The slanderer holds another host only, and reports about the honest one anyway.
    const other = await rpcHost(c)
    const outsider = await rpcClient(c)
    expect((await hostsFor(outsider, 1)).hosts).toEqual([other.nodeId])
    const honestHost = await rpcHost(c)
    const hosts = [other, honestHost]
    const slander = (h: NodeId) => measured(h, 0, 10_000)
    const ignoredBefore = (await c.registry.getSingleMetric('vipnode_quality_entries_total')!.get()).values.find((v) => v.labels.result === 'not-assigned')?.value ?? 0
    for (let i = 0; i < 5; i++) await round(c, clock, hosts, [outsider], (_cl, h) => measured(h, 20), () => [slander(honestHost.nodeId)])
    const ignored = (await c.registry.getSingleMetric('vipnode_quality_entries_total')!.get()).values.find((v) => v.labels.result === 'not-assigned')!.value
    expect(ignored - ignoredBefore).toBe(5)
    expect(c.services.quality.report(honestHost.nodeId, clock.now())?.epochs[0]?.calls.timeouts ?? 0).toBe(0)

    // A hostile client assigned to the honest host, alone: one witness is not a verdict.
    const hostile = await rpcClient(c)
    expect((await hostsFor(hostile, 2)).hosts).toContain(honestHost.nodeId)
    const says = (cl: PoolAgent, h: NodeId) => (cl === hostile && h === honestHost.nodeId ? slander(h) : measured(h, 20))
    for (let i = 0; i < 5; i++) await round(c, clock, hosts, [hostile], says)
    expect(standing(c, honestHost)).toEqual({ score: 1, probation: false, trialOpen: true, excluded: false })

    // Among three honest clients with full evidence, it moves nothing, however much it claims.
    const honest = [await rpcClient(c), await rpcClient(c), await rpcClient(c)]
    for (const h of honest) expect((await hostsFor(h, 2)).hosts).toContain(honestHost.nodeId)
    for (let i = 0; i < 10; i++) {
      await round(c, clock, hosts, [hostile, ...honest], says)
      expect(standing(c, honestHost)).toEqual({ score: 1, probation: false, trialOpen: true, excluded: false })
    }
    const live = c.services.quality.report(honestHost.nodeId, clock.now())!
    expect(live).toMatchObject({ score: 1, confirmed: true, witnesses: 4, probation: null })
    // New clients still get it.
    for (let i = 0; i < 3; i++) expect((await hostsFor(await rpcClient(c), 2)).hosts).toContain(honestHost.nodeId)

    // The bound is tight: hostile clients that outnumber the honest witnesses do put it on probation.
    const more = [await rpcClient(c), await rpcClient(c), await rpcClient(c)]
    for (const h of more) expect((await hostsFor(h, 2)).hosts).toContain(honestHost.nodeId)
    const sybils = new Set([hostile, ...more])
    const coalition = (cl: PoolAgent, h: NodeId) => (sybils.has(cl) && h === honestHost.nodeId ? slander(h) : measured(h, 20))
    let rounds = 0
    while (!standing(c, honestHost).probation && rounds < 10) {
      await round(c, clock, hosts, [...sybils, ...honest], coalition)
      rounds++
    }
    expect(standing(c, honestHost).probation).toBe(true)
    console.log(
      `figures: slander: ${ignored - ignoredBefore} entries about an unassigned host ignored; 1 hostile client with 10,000 timeouts per report against 3 honest ones: score 1 (${live.witnesses} witnesses); ` +
        `4 hostile assigned clients against 3 honest ones: probation after ${rounds} round(s)`,
    )
  })
})
