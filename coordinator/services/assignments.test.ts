/**
 * The AssignmentService with its policy: in-process agent connections, an
 * in-memory SQLite store, a manual clock and an injected random source, so
 * every choice is deterministic. The flows over real sockets are in
 * coordinator/coordinator.test.ts.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { Registry } from 'prom-client'
import { ErrorCode, RpcError, type NodeId, type ServiceKind } from '../../protocol/index.ts'
import { manualClock } from '../../lib/clock.ts'
import { silentLogger } from '../../lib/logger.ts'
import { recordingLogger } from '../../test/harness/agents.ts'
import { fakeConnection, fakeSession } from '../../test/harness/fakeSessions.ts'
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqliteStore.ts'
import { createCoordinatorMetrics } from '../metrics.ts'
import { AssignmentService, type AssignmentOptions, type AssignmentDeps } from './assignments.ts'
import { SessionRegistry, type AgentSession } from './sessions.ts'

const GRACE = 1_000
const stores: SqliteStore[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

interface FakeAgent {
  session: AgentSession
  calls: { method: string; params: any }[]
  notices: any[]
  /** What vipnode_admit does; replace to make the host refuse or hang. */
  admit: (params: any) => Promise<unknown>
}

/**
 * With random ≡ 0, power-of-two-choices always compares the first two
 * remaining hosts in connection order and keeps the first on a tie: tests can
 * say which host is picked without replaying a random sequence.
 */
const firstTwo = () => 0

function setup(opts: Partial<AssignmentOptions> = {}, deps: Partial<AssignmentDeps> = {}) {
  const clock = manualClock(1_700_000_000_000)
  const sessions = new SessionRegistry(clock)
  const store = openSqliteStore(':memory:')
  stores.push(store)
  const registry = new Registry()
  const metrics = createCoordinatorMetrics(registry)
  const service = new AssignmentService(
    // Slow start off: these tests are about capacity, cool-downs and choice; slow start has its own tests.
    { admitTimeoutMs: 1_000, releaseGraceMs: GRACE, startupGraceMs: GRACE, coolDown: { baseMs: 10_000, maxMs: 300_000 }, stickyMs: 60_000, lagGraceMs: 2 * GRACE, slowStartSlots: 0, ...opts },
    { store, sessions, clock, log: silentLogger, metrics, random: firstTwo, ...deps },
  )
  const agent = (role: 'host' | 'client', o: Partial<AgentSession> = {}): FakeAgent => {
    const fake: FakeAgent = {
      session: fakeSession(role, clock.now(), o).session,
      calls: [],
      notices: [],
      admit: async () => ({ admitted: true }),
    }
    sessions.attach(
      fakeConnection(fake.session, {
        call: async (method, params) => {
          fake.calls.push({ method, params })
          return method === 'vipnode_admit' ? fake.admit(params) : { evicted: true }
        },
        notify: (_method, params) => void fake.notices.push(params),
      }),
    )
    return fake
  }
  const host = (o: Partial<AgentSession> = {}) => agent('host', o)
  const client = (o: Partial<AgentSession> = {}) => agent('client', o)
  const ask = (c: FakeAgent, count = 1, kind: ServiceKind = 'peer') => service.requestHosts(c.session, count, kind)
  const ids = (r: { hosts: { nodeId: NodeId }[] }) => r.hosts.map((h) => h.nodeId)
  const admits = (h: FakeAgent) => h.calls.filter((c) => c.method === 'vipnode_admit').length
  const refuse = async () => Promise.reject(new RpcError(ErrorCode.NODE_UNAVAILABLE, 'node down'))
  return { clock, sessions, store, registry, service, host, client, ask, ids, admits, refuse }
}

describe('retries', () => {
  test('default: a host that refuses is replaced by another in a second round; only acknowledged hosts are returned', async () => {
    const { service, host, client, ask, ids, admits, refuse, registry } = setup()
    const bad = host()
    const a = host()
    const b = host()
    bad.admit = refuse
    const c = client()
    const r = await ask(c, 2)
    // Round 1 took bad and b (first-two rule, b swapped forward); round 2 replaced bad with a.
    expect(new Set(ids(r))).toEqual(new Set([a.session.nodeId, b.session.nodeId]))
    expect(r.message).toBeUndefined()
    expect(admits(bad)).toBe(1)
    const d = service.recentDecisions()[0]!
    expect(d).toMatchObject({ source: 'rpc', clientId: c.session.nodeId, requested: 2, rounds: 2, failed: [bad.session.nodeId], skipped: [{ nodeId: bad.session.nodeId, reason: 'admit-failed' }] })
    expect(service.skipReasons(bad.session.nodeId)).toMatchObject({ reason: 'admit-failed' })
    expect(await registry.getSingleMetricAsString('vipnode_admissions_failed_total')).toContain('vipnode_admissions_failed_total 1')
  })

  test('behavior: with --admit-retries 0 a refusal is not retried and the answer says what is missing', async () => {
    const { host, client, ask, ids, refuse } = setup({ admitRetries: 0 })
    const bad = host()
    host()
    host()
    bad.admit = refuse
    const r = await ask(client(), 2)
    expect(ids(r)).toHaveLength(1)
    expect(ids(r)).not.toContain(bad.session.nodeId)
    expect(r.message).toBe('only 1 of 2 hosts on chain 1: 1 admit-failed')
  })

  test('behavior: retries stop after 1 + admitRetries rounds even when hosts remain', async () => {
    const { host, client, ask, admits, refuse } = setup({ admitRetries: 1 })
    const hosts = [host(), host(), host(), host()]
    for (const h of hosts) h.admit = refuse
    const err = await ask(client(), 1).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, message: 'no host acknowledged the admission (2 tried); 2 outranked' })
    expect(hosts.reduce((n, h) => n + admits(h), 0)).toBe(2)
  })
})

describe('cool-down', () => {
  test('behavior: a host that fails is left out for the base pause, then twice as long after failing again; successes ease it', async () => {
    const { service, clock, host, client, ask, ids, refuse } = setup()
    const flaky = host()
    const steady = host()
    flaky.admit = refuse
    const id = flaky.session.nodeId

    expect(ids(await ask(client()))).toEqual([steady.session.nodeId]) // flaky tried first, failed; steady in round 2
    expect(service.coolDownOf(id)).toMatchObject({ strikes: 1, untilMs: clock.now() + 10_000 })
    await ask(client())
    expect(service.skipReasons(id)).toMatchObject({ reason: 'cooling-down' })

    clock.advance(10_000) // the pause is over: flaky (load 0) is tried again and fails again
    await ask(client())
    expect(service.coolDownOf(id)).toMatchObject({ strikes: 2, untilMs: clock.now() + 20_000 })
    clock.advance(19_999)
    await ask(client())
    expect(service.skipReasons(id)).toMatchObject({ reason: 'cooling-down' })

    flaky.admit = async () => ({ admitted: true })
    clock.advance(1)
    expect(ids(await ask(client()))).toEqual([id])
    expect(service.coolDownOf(id)).toMatchObject({ strikes: 1 })
    expect(ids(await ask(client()))).toEqual([id])
    expect(service.coolDownOf(id)).toBeUndefined()
  })

  test('behavior: the sweep forgets cool-downs that are over and fully forgiven', async () => {
    const { service, clock, host, client, ask, refuse } = setup()
    const flaky = host()
    host()
    flaky.admit = refuse
    await ask(client())
    await service.sweep()
    expect(service.coolDownOf(flaky.session.nodeId)).toBeDefined()
    clock.advance(300_000)
    await service.sweep()
    expect(service.coolDownOf(flaky.session.nodeId)).toBeUndefined()
  })
})

describe('stickiness', () => {
  test('behavior: a returning client gets its previous host back while remembered, even when another is less loaded', async () => {
    const { service, clock, host, client, ask, ids } = setup()
    const first = host()
    const second = host()
    const x = client()
    expect(ids(await ask(x))).toEqual([first.session.nodeId])
    await service.release(x.session.nodeId, first.session.nodeId, 'client-gone')
    expect(ids(await ask(client()))).toEqual([first.session.nodeId]) // now first 1/10, second 0/10

    expect(ids(await ask(x))).toEqual([first.session.nodeId])
    await service.release(x.session.nodeId, first.session.nodeId, 'client-gone')
    clock.advance(60_000) // forgotten: the less loaded host wins
    expect(ids(await ask(x))).toEqual([second.session.nodeId])
  })

  test('behavior: a previous host that is now full is not given back', async () => {
    const { service, host, client, ask, ids } = setup()
    const small = host({ capacity: 1 })
    const other = host({ capacity: 1 })
    const x = client()
    expect(ids(await ask(x))).toEqual([small.session.nodeId])
    await service.release(x.session.nodeId, small.session.nodeId, 'client-gone')
    expect(ids(await ask(client()))).toEqual([small.session.nodeId])
    expect(ids(await ask(x))).toEqual([other.session.nodeId])
  })
})

describe('region', () => {
  test('behavior: a client in a region gets a host there when it is as good as any; others are skipped as other-region', async () => {
    const { service, host, client, ask, ids } = setup()
    // Equal hosts: the region breaks every tie (it never outweighs load: selectHosts.test.ts).
    const us = host({ region: 'us', capacity: 2 })
    const eu = host({ region: 'eu', capacity: 2 })
    const c = client({ region: 'eu' })
    expect(ids(await ask(c))).toEqual([eu.session.nodeId])
    expect(service.skipReasons(us.session.nodeId)).toMatchObject({ reason: 'other-region' })
    expect(ids(await ask(client({ region: 'us' })))).toEqual([us.session.nodeId])
    expect(ids(await ask(client({ region: 'eu' })))).toEqual([eu.session.nodeId])
    // The region is full: its clients are served elsewhere rather than not at all.
    expect(ids(await ask(client({ region: 'eu' })))).toEqual([us.session.nodeId])
  })

  test('behavior: the pool region applies to clients that declare none', async () => {
    const { host, client, ask, ids } = setup({ region: 'eu' })
    host({ region: 'us' })
    const eu = host({ region: 'eu' })
    expect(ids(await ask(client()))).toEqual([eu.session.nodeId])
  })
})

describe('lagging hosts', () => {
  test('behavior: a host behind the best head gets no new clients and is named in the explanation', async () => {
    const { host, client, ask } = setup({ maxBlockLag: 8 })
    host({ blockNumber: 91 })
    host({ capacity: 1, blockNumber: 100 })
    host({ capacity: 0, blockNumber: 100 }) // two of three hosts at 100 make it the best head
    await ask(client())
    const err = await ask(client()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, message: 'no hosts with free slots on chain 1: 2 full, 1 lagging' })
  })

  test('behavior: a host lagging beyond the grace period loses its clients with host-lagging; they are told and it evicts them', async () => {
    const { service, clock, registry, host, client, ask } = setup({ maxBlockLag: 8, lagGraceMs: 2_000 })
    const slow = host()
    const fast = host({ capacity: 0 }) // with the next, sets the best head; they take no clients
    host({ capacity: 0 })
    const c = client()
    await ask(c)
    slow.session.blockNumber = 90
    fast.session.blockNumber = 100
    expect(await service.sweep()).toBe(0) // lagging from now
    clock.advance(1_999)
    expect(await service.sweep()).toBe(0)
    clock.advance(1)
    expect(await service.sweep()).toBe(1)
    expect(service.hostsOf(c.session.nodeId)).toEqual([])
    expect(slow.calls.at(-1)).toEqual({ method: 'vipnode_evict', params: { nodeId: c.session.nodeId, reason: 'host-lagging' } })
    expect(c.notices).toEqual([{ level: 'warn', code: 'host-gone', message: expect.stringContaining('fell behind the chain head') }])
    expect(await registry.getSingleMetricAsString('vipnode_assignments_released_total')).toContain('reason="host-lagging"} 1')
  })

  test('behavior: catching up within the grace period keeps the clients, and the next lag starts a new grace period', async () => {
    const { service, clock, host, client, ask } = setup({ maxBlockLag: 8, lagGraceMs: 2_000 })
    const h = host()
    host({ capacity: 0 })
    host({ capacity: 0 })
    const c = client()
    await ask(c)
    h.session.blockNumber = 50
    await service.sweep()
    clock.advance(1_500)
    h.session.blockNumber = 100
    await service.sweep()
    h.session.blockNumber = 80
    clock.advance(1_500)
    expect(await service.sweep()).toBe(0)
    clock.advance(1_500)
    expect(await service.sweep()).toBe(0)
    clock.advance(500)
    expect(await service.sweep()).toBe(1)
  })

  test('behavior: the best head needs a quorum of hosts: one host ahead of another, or any number of clients, cannot make it lag', async () => {
    const { service, host, client, ask } = setup({ maxBlockLag: 8 })
    const honest = host({ blockNumber: 100 })
    expect(service.bestHead(1)).toBe(100) // one host: its own head
    host({ capacity: 0, blockNumber: 164 })
    client({ blockNumber: 164 })
    client({ blockNumber: 164 })
    expect(service.bestHead(1)).toBe(100)
    expect((await ask(client())).hosts.map((h) => h.nodeId)).toEqual([honest.session.nodeId])
  })

  test('behavior: the tracker can confirm a host is not behind, and never raises the best head', async () => {
    let tracked: NodeId | undefined
    const { service, host, client, ask } = setup({ maxBlockLag: 8 }, { trackerHeadOf: (id) => (id === tracked ? 99 : 10_000) })
    const behind = host({ blockNumber: 80 })
    host({ capacity: 0 })
    host({ capacity: 0 })
    expect(service.bestHead(1)).toBe(100)
    tracked = behind.session.nodeId
    expect((await ask(client())).hosts.map((h) => h.nodeId)).toEqual([behind.session.nodeId])
  })
})

describe('stale hosts', () => {
  const STALE = 3_000

  test('behavior: a host that stops reporting loses its clients after staleAfterMs with host-stale while its session stays open; they are told and it evicts them', async () => {
    const log = recordingLogger()
    const { service, sessions, clock, registry, host, client, ask } = setup({ staleAfterMs: STALE }, { log })
    const silent = host()
    const c = client()
    await ask(c)
    expect(service.hostsOf(c.session.nodeId)).toEqual([silent.session.nodeId])
    // The chain does not move: its head never lags. It last reported at connect time.
    clock.advance(STALE)
    expect(await service.sweep()).toBe(0) // exactly staleAfterMs old is not yet older than it
    clock.advance(1)
    expect(await service.sweep()).toBe(1)
    expect(sessions.isOnline(silent.session.nodeId)).toBe(true)
    expect(service.hostsOf(c.session.nodeId)).toEqual([])
    expect(silent.calls.at(-1)).toEqual({ method: 'vipnode_evict', params: { nodeId: c.session.nodeId, reason: 'host-stale' } })
    expect(c.notices).toEqual([{ level: 'warn', code: 'host-gone', message: expect.stringContaining('stopped reporting') }])
    expect(await registry.getSingleMetricAsString('vipnode_assignments_released_total')).toContain('reason="host-stale"} 1')
    expect(log.lines.find((l) => l.message === 'host stale: moving its clients')?.context).toMatchObject({ host: silent.session.nodeId, silentMs: STALE + 1, clients: 1 })
    // And it gets no new clients, nor its old one back (stickiness does not override the filter).
    await expect(ask(c)).rejects.toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, message: 'no hosts with free slots on chain 1: 1 stale' })
    expect(service.skipReasons(silent.session.nodeId)).toMatchObject({ reason: 'stale' })
  })

  test('behavior: a host that keeps reporting keeps its clients, and one that reports again is eligible again', async () => {
    const { service, clock, host, client, ask } = setup({ staleAfterMs: STALE })
    const h = host()
    const c = client()
    await ask(c)
    for (let i = 0; i < 10; i++) {
      clock.advance(STALE / 2)
      h.session.lastReportAtMs = clock.now() // what vipnode_update does
      expect(await service.sweep()).toBe(0)
    }
    expect(service.hostsOf(c.session.nodeId)).toEqual([h.session.nodeId])
    clock.advance(STALE + 1)
    expect(await service.sweep()).toBe(1)
    h.session.lastReportAtMs = clock.now()
    expect((await ask(c)).hosts.map((x) => x.nodeId)).toEqual([h.session.nodeId])
  })

  test('behavior: without staleAfterMs a silent host keeps its clients', async () => {
    const { service, clock, host, client, ask } = setup()
    host()
    const c = client()
    await ask(c)
    clock.advance(60 * STALE)
    expect(await service.sweep()).toBe(0)
    expect(service.hostsOf(c.session.nodeId)).toHaveLength(1)
  })

  test('behavior: a host that is silent and lagging is released as host-stale', async () => {
    const { service, clock, host, client, ask } = setup({ staleAfterMs: STALE, maxBlockLag: 8, lagGraceMs: 2_000 })
    const h = host()
    const fast = host({ capacity: 0 })
    const c = client()
    await ask(c)
    h.session.blockNumber = 50
    expect(await service.sweep()).toBe(0) // lagging from now
    clock.advance(STALE + 1)
    fast.session.lastReportAtMs = clock.now()
    expect(await service.sweep()).toBe(1)
    expect(h.calls.at(-1)?.params).toEqual({ nodeId: c.session.nodeId, reason: 'host-stale' })
  })
})

describe('explanations', () => {
  test('default: every host not chosen has a reason, counted in vipnode_assignment_skipped_total and kept per host', async () => {
    const { service, registry, host, client, ask } = setup()
    const c = client()
    const full = host({ capacity: 1 })
    await ask(client())
    host({ chainId: 5 })
    host({ kind: 'rpc' })
    host({ blockNumber: 10 })
    const err = await ask(c).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RpcError)
    expect((err as RpcError).message).toBe('no hosts with free slots on chain 1: 1 full, 1 lagging, 1 wrong-network, 1 wrong-kind')
    expect(service.recentDecisions(1)[0]).toMatchObject({ clientId: c.session.nodeId, added: [], message: (err as RpcError).message })
    expect(service.skipReasons(full.session.nodeId)).toMatchObject({ reason: 'full', clientId: c.session.nodeId })
    const text = await registry.getSingleMetricAsString('vipnode_assignment_skipped_total')
    for (const reason of ['full', 'lagging', 'wrong-network', 'wrong-kind']) expect(text).toContain(`reason="${reason}"} 1`)
  })

  test('behavior: each decision is logged at debug level with a summary and every skipped host', async () => {
    const log = recordingLogger()
    const { host, client, ask } = setup({}, { log })
    const full = host({ capacity: 1 })
    await ask(client())
    const c = client()
    await ask(c).catch(() => undefined)
    expect(log.lines.at(-1)).toEqual({
      level: 'debug',
      message: 'hosts chosen',
      context: expect.objectContaining({ client: c.session.nodeId, summary: '1 full', skipped: [{ nodeId: full.session.nodeId, reason: 'full' }], added: [] }),
    })
  })

  test('behavior: a client that asks again keeps its hosts and is not explained as already-assigned', async () => {
    const { service, host, client, ask, ids } = setup()
    const a = host({ capacity: 1 })
    const b = host({ capacity: 1 })
    const c = client()
    await ask(c, 1) // a (a tie: the first drawn)
    await ask(client(), 1) // b, a being full; now both are
    const r = await ask(c, 2)
    expect(ids(r)).toEqual([a.session.nodeId])
    expect(r.message).toBe('only 1 of 2 hosts on chain 1: 1 full')
    expect(service.recentDecisions(1)[0]).toMatchObject({ kept: [a.session.nodeId], skipped: [{ nodeId: b.session.nodeId, reason: 'full' }] })
  })
})

describe('preview (GET /v1/bootstrap)', () => {
  test('default: offers eligible hosts without admitting or reserving anything', async () => {
    const { service, store, host, ids, admits } = setup()
    const a = host()
    const b = host({ capacity: 1 })
    const r = service.preview({ chainId: 1, count: 3, kind: 'peer' })
    expect(new Set(ids(r))).toEqual(new Set([a.session.nodeId, b.session.nodeId]))
    expect(r.hosts.find((h) => h.nodeId === a.session.nodeId)?.enode).toBe(a.session.enode)
    expect(r.message).toBe('only 2 of 3 hosts on chain 1')
    expect(admits(a) + admits(b)).toBe(0)
    expect(service.loadOf(b.session.nodeId)).toBe(0)
    expect(await store.activeAssignments()).toEqual([])
    expect(service.recentDecisions(1)[0]).toMatchObject({ source: 'http', clientId: null, added: ids(r) })
  })

  test('behavior: a given node ID is left out as self, and its current hosts as already-assigned', async () => {
    const { service, host, client, ask } = setup()
    host()
    const c = client()
    await ask(c)
    // The same node ID as a host too (the registry keys by node ID, so this replaces the client's connection; the service does not care).
    host({ nodeId: c.session.nodeId })
    const r = service.preview({ chainId: 1, count: 1, kind: 'peer', nodeId: c.session.nodeId })
    expect(r).toEqual({ hosts: [], message: 'no hosts with free slots on chain 1: 1 self, 1 already-assigned' })
  })
})

describe('capacity under concurrency', () => {
  test('behavior: many clients at once, some hosts refusing, retries included: no host is ever asked beyond its capacity', async () => {
    const { service, host, client, ask, store } = setup({ admitRetries: 2 }, { random: Math.random })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const hosts = [1, 2, 3, 4, 5, 6].map((capacity) => host({ capacity }))
    const overbooked: string[] = []
    hosts.forEach((h, i) => {
      h.admit = async () => {
        // Checked while the admission is in flight: reservations plus assignments never pass capacity.
        if (service.loadOf(h.session.nodeId) > h.session.capacity) overbooked.push(h.session.nodeId)
        await gate
        if (i % 3 === 0) throw new RpcError(ErrorCode.NODE_UNAVAILABLE, 'refused')
        return { admitted: true }
      }
    })
    const clients = Array.from({ length: 30 }, () => client())
    const pending = clients.map((c) => ask(c, 3).then((r) => r.hosts.length, () => 0))
    release()
    const got = await Promise.all(pending)
    expect(overbooked).toEqual([])
    const active = await store.activeAssignments()
    for (const h of hosts) expect(active.filter((a) => a.hostId === h.session.nodeId).length).toBeLessThanOrEqual(h.session.capacity)
    // Hosts 1 and 4 refuse; the others (2 + 3 + 5 + 6 = 16 slots) fill up exactly.
    expect(active).toHaveLength(16)
    expect(got.reduce((a, b) => a + b, 0)).toBe(16)
    for (const h of hosts) expect(service.loadOf(h.session.nodeId)).toBe(active.filter((a) => a.hostId === h.session.nodeId).length)
  })
})

describe('per-client limits and replacement', () => {
  test('behavior: a host named in replace is released as client-replaced, told to evict, and not offered to that client again', async () => {
    const { service, host, client, ask, ids, store } = setup()
    const a = host()
    const b = host()
    const c = client()
    expect(ids(await ask(c, 1))).toEqual([a.session.nodeId])
    const r = await service.requestHosts(c.session, 1, 'peer', { replace: [a.session.nodeId] })
    expect(ids(r)).toEqual([b.session.nodeId])
    expect(a.calls.at(-1)).toEqual({ method: 'vipnode_evict', params: { nodeId: c.session.nodeId, reason: 'client-replaced' } })
    expect((await store.activeAssignments()).map((x) => x.hostId)).toEqual([b.session.nodeId])
    // Even when the replacement goes away, the replaced host stays avoided for this client (but not for others).
    await expect(service.requestHosts(c.session, 1, 'peer', { replace: [b.session.nodeId] })).rejects.toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE })
    expect(await store.activeAssignments()).toEqual([])
    expect(ids(await ask(client(), 1))).toEqual([a.session.nodeId])
  })

  test('behavior: replace names only the client\'s own pairs: another client\'s assignment is untouched', async () => {
    const { service, host, client, ask, store } = setup()
    const a = host()
    const victim = client()
    await ask(victim, 1)
    const attacker = client()
    await service.requestHosts(attacker.session, 1, 'peer', { replace: [a.session.nodeId] })
    expect((await store.activeAssignments()).filter((x) => x.clientId === victim.session.nodeId).map((x) => x.hostId)).toEqual([a.session.nodeId])
  })

  test('behavior: concurrent requests of one client never hold more than maxHostsPerClient, admissions in flight included', async () => {
    const { host, client, ask, store } = setup({ maxHostsPerClient: 3 })
    let open!: () => void
    const gate = new Promise<void>((r) => (open = r))
    for (let i = 0; i < 10; i++) host().admit = async () => (await gate, { admitted: true })
    const c = client()
    const pending = Array.from({ length: 20 }, () => ask(c, 3).then((r) => r.hosts.length, () => 0))
    open()
    await Promise.all(pending)
    expect(await store.activeAssignments()).toHaveLength(3)
  })

  test('behavior: a client holds no more hosts than it can afford', async () => {
    const { service, host, client, store } = setup()
    for (let i = 0; i < 5; i++) host()
    const c = client()
    const r = await service.requestHosts(c.session, 5, 'peer', { affordable: 2 })
    expect(r.hosts).toHaveLength(2)
    expect(await store.activeAssignments()).toHaveLength(2)
  })

  test('behavior: a client cooling down after disputes gets no hosts and is told until when', async () => {
    const { service, host, client, ask, clock } = setup()
    host()
    const c = client()
    const state = service.strikeClient(c.session.nodeId, clock.now())
    await expect(ask(c, 1)).rejects.toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, data: { coolingDownUntilMs: state.untilMs } })
    clock.advance(state.untilMs - clock.now())
    expect((await ask(c, 1)).hosts).toHaveLength(1)
  })
})

describe('slow start', () => {
  test('behavior: a new host is offered slowStartSlots whatever it declares, and two more per client it serves', async () => {
    const { service, host, client, ask, clock } = setup({ slowStartSlots: 2 })
    const magnet = host({ capacity: 10_000 })
    const placed: FakeAgent[] = []
    for (let i = 0; i < 3; i++) {
      const c = client()
      try {
        await ask(c, 1)
        placed.push(c)
      } catch {
        // no slot: slow start holds the host at two
      }
    }
    expect(placed).toHaveLength(2)
    expect(service.effectiveCapacityOf(magnet.session, clock.now())).toBe(2)
    service.noteCorroborated(placed[0]!.session.nodeId, magnet.session.nodeId, clock.now())
    expect(service.effectiveCapacityOf(magnet.session, clock.now())).toBe(4)
    expect((await ask(client(), 1)).hosts).toHaveLength(1)
  })
})
