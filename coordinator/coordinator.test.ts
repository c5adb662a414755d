/** Flows through the whole coordinator: agents on real sockets, a real SQLite file. */
import { describe, test, expect, afterEach } from 'vitest'
import { ErrorCode, RpcError } from '../protocol/index.ts'
import { testCoordinator, tempDb } from '../test/harness/coordinator.ts'
import { testAgent, type TestAgent } from '../test/harness/agents.ts'
import { waitFor } from '../test/harness/waitFor.ts'
import type { RunningCoordinator } from './coordinator.ts'

const HASH = `0x${'12'.repeat(32)}`
let coordinators: RunningCoordinator[] = []
let agents: TestAgent[] = []

async function start(config = {}) {
  const c = await testCoordinator(config)
  coordinators.push(c)
  return c
}
async function agent(c: RunningCoordinator, ...args: Parameters<typeof testAgent> extends [string, ...infer R] ? R : never) {
  const a = await testAgent(c.url, ...args)
  agents.push(a)
  return a
}
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()))
  await Promise.all(coordinators.splice(0).map((c) => c.close()))
})

describe('assignment', () => {
  test('default: a client gets hosts that acknowledged the admission, never beyond capacity', async () => {
    const c = await start()
    const small = await agent(c, { role: 'host', capacity: 1 })
    const big = await agent(c, { role: 'host', capacity: 2 })
    const client1 = await agent(c, { role: 'client', capacity: undefined })
    const r1 = await client1.conn.call('vipnode_requestHosts', { count: 2 })
    expect(r1.hosts.map((h) => h.nodeId).sort()).toEqual([small.id.nodeId, big.id.nodeId].sort())
    expect(r1.hosts.find((h) => h.nodeId === big.id.nodeId)?.enode).toBe(big.id.enode)
    expect(small.calls).toEqual([{ method: 'vipnode_admit', params: { nodeId: client1.id.nodeId, enode: client1.id.enode, kind: 'peer' } }])

    const client2 = await agent(c, { role: 'client' })
    const r2 = await client2.conn.call('vipnode_requestHosts', { count: 2 })
    expect(r2.hosts.map((h) => h.nodeId)).toEqual([big.id.nodeId])

    const client3 = await agent(c, { role: 'client' })
    const err = await client3.conn.call('vipnode_requestHosts', { count: 1 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RpcError)
    expect(err).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, message: 'no hosts with free slots on chain 1337: 2 full' })

    // Asking again returns the hosts it already has, without new admissions.
    const again = await client1.conn.call('vipnode_requestHosts', { count: 2 })
    expect(again.hosts).toHaveLength(2)
    expect(small.calls).toHaveLength(1)
    const status = await (await fetch(`${c.url}/v1/status`)).json()
    expect(status).toMatchObject({ hostsOnline: 2, clientsOnline: 3, freeSlots: 0, networks: [{ chainId: 1337, hostsOnline: 2, freeSlots: 0 }] })
  })

  test('behavior: concurrent requests never overbook a host', async () => {
    const c = await start({ slowStartSlots: 0 })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    await agent(c, { role: 'host', capacity: 3 }, { vipnode_admit: async () => (await gate, { admitted: true }) })
    const clients = await Promise.all(Array.from({ length: 6 }, () => agent(c, { role: 'client' })))
    const pending = clients.map((cl) => cl.conn.call('vipnode_requestHosts', { count: 1 }).then(() => 'ok', (e: RpcError) => e.code))
    setTimeout(release, 50)
    const outcomes = await Promise.all(pending)
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(3)
    expect(outcomes.filter((o) => o === ErrorCode.NO_HOSTS_AVAILABLE)).toHaveLength(3)
    expect(await c.services.store.activeAssignments()).toHaveLength(3)
  })

  test('error: a host that refuses or times out is not returned and not recorded', async () => {
    const c = await start({ admitTimeoutMs: 200 })
    await agent(c, { role: 'host', capacity: 5 }, { vipnode_admit: async () => Promise.reject(new Error('node down')) })
    await agent(c, { role: 'host', capacity: 5 }, { vipnode_admit: () => new Promise(() => {}) })
    const client = await agent(c, { role: 'client' })
    const err = await client.conn.call('vipnode_requestHosts', { count: 2 }).catch((e: RpcError) => e)
    expect(err).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, message: expect.stringContaining('no host acknowledged') })
    expect(await c.services.store.activeAssignments()).toHaveLength(0)
    expect(await c.registry.getSingleMetricAsString('vipnode_admissions_failed_total')).toContain('vipnode_admissions_failed_total 2')
  })

  test('behavior: many clients at once over several hosts: every host fills to its capacity and no further', async () => {
    const c = await start({ slowStartSlots: 0 })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const hosts = await Promise.all([1, 2, 3, 4].map((capacity) => agent(c, { role: 'host', capacity }, { vipnode_admit: async () => (await gate, { admitted: true }) })))
    const clients = await Promise.all(Array.from({ length: 12 }, () => agent(c, { role: 'client' })))
    const pending = clients.map((cl) => cl.conn.call('vipnode_requestHosts', { count: 2 }).then((r) => r.hosts.length, () => 0))
    // Every request is in by the time all four hosts have been asked to admit up to their capacity.
    await waitFor(() => hosts.every((h, i) => h.calls.filter((x) => x.method === 'vipnode_admit').length === i + 1), 'hosts asked up to capacity')
    release()
    const got = await Promise.all(pending)
    expect(got.reduce((a, b) => a + b, 0)).toBe(10)
    const active = await c.services.store.activeAssignments()
    hosts.forEach((h, i) => expect(active.filter((a) => a.hostId === h.id.nodeId)).toHaveLength(i + 1))
    for (const cl of clients) expect(new Set(c.services.assignments.hostsOf(cl.id.nodeId)).size).toBe(c.services.assignments.hostsOf(cl.id.nodeId).length)
  })

  test('behavior: a refusing host is tried once and the client is told what is missing', async () => {
    const c = await start()
    const refusing = await agent(c, { role: 'host' }, { vipnode_admit: async () => Promise.reject(new Error('node down')) })
    const a = await agent(c, { role: 'host' })
    const b = await agent(c, { role: 'host' })
    const client = await agent(c, { role: 'client' })
    const r = await client.conn.call('vipnode_requestHosts', { count: 3 })
    expect(r.hosts.map((h) => h.nodeId).sort()).toEqual([a.id.nodeId, b.id.nodeId].sort())
    expect(r.message).toBe('only 2 of 3 hosts on chain 1337: 1 admit-failed')
    expect(refusing.calls.filter((x) => x.method === 'vipnode_admit')).toHaveLength(1)
    // Cooling down now: the next client is not made to wait on it.
    const next = await agent(c, { role: 'client' })
    const r2 = await next.conn.call('vipnode_requestHosts', { count: 3 })
    expect(r2.message).toBe('only 2 of 3 hosts on chain 1337: 1 cooling-down')
    expect(refusing.calls.filter((x) => x.method === 'vipnode_admit')).toHaveLength(1)
    expect(c.services.assignments.skipReasons(refusing.id.nodeId)).toMatchObject({ reason: 'cooling-down', clientId: next.id.nodeId })
  })

  test('behavior: a client in a region gets a host in that region', async () => {
    const c = await start()
    const us = await agent(c, { role: 'host', region: 'us' })
    const eu = await agent(c, { role: 'host', region: 'eu' })
    const client = await agent(c, { role: 'client', region: 'eu' })
    const r = await client.conn.call('vipnode_requestHosts', { count: 1 })
    expect(r.hosts.map((h) => h.nodeId)).toEqual([eu.id.nodeId])
    expect(c.services.assignments.skipReasons(us.id.nodeId)).toMatchObject({ reason: 'other-region' })
  })

  test('behavior: a client that comes back gets its previous host again, though a roomier one is online', async () => {
    const c = await start({ updateIntervalMs: 300 })
    const previous = await agent(c, { role: 'host', capacity: 1 })
    const client = await agent(c, { role: 'client' })
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    await client.close()
    await waitFor(async () => (await c.services.store.activeAssignments()).length === 0, 'client-gone release')
    // Equal load ratios (0): without stickiness the host with more free slots would win every time.
    await agent(c, { role: 'host', capacity: 5 })
    const back = await agent(c, { role: 'client' }, {}, client.id)
    const r = await back.conn.call('vipnode_requestHosts', { count: 1 })
    expect(r.hosts.map((h) => h.nodeId)).toEqual([previous.id.nodeId])
  })

  test('behavior: hosts on another chain or of another kind are skipped', async () => {
    const c = await start()
    await agent(c, { role: 'host', chainId: 1 })
    await agent(c, { role: 'host', kind: 'rpc', relayUrl: 'http://127.0.0.1:8546' })
    const client = await agent(c, { role: 'client' })
    const err = await client.conn.call('vipnode_requestHosts', { count: 1 }).catch((e: RpcError) => e)
    expect(err).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, message: 'no hosts with free slots on chain 1337: 1 wrong-network, 1 wrong-kind' })
  })
})

describe('updates', () => {
  test('default: reports are stored and answered with vouched peers and peers to drop', async () => {
    const c = await start()
    const host = await agent(c, { role: 'host' })
    const client = await agent(c, { role: 'client' })
    const stranger = await agent(c, { role: 'client' })
    await client.conn.call('vipnode_requestHosts', { count: 1 })

    const hostPeers = [client, stranger].map((a) => ({ id: 'geth-hashes-this', enode: a.id.enode, name: 'Geth/v1.14', caps: ['eth/68'] }))
    const r = await host.conn.call('vipnode_update', { peers: hostPeers, block: { number: 100, hash: HASH } })
    expect(r).toEqual({ peers: [client.id.nodeId], drop: [stranger.id.nodeId], balanceWei: '0' })
    const stored = await c.services.store.latestReport(host.id.nodeId)
    expect(stored).toMatchObject({ blockNumber: 100, peers: [client.id.nodeId, stranger.id.nodeId] })

    // ethereumjs-style entries: no enode, the public key in id.
    const r2 = await client.conn.call('vipnode_update', { peers: [{ id: `0x${host.id.nodeId}` }], block: { number: 100, hash: HASH } })
    expect(r2).toEqual({ peers: [host.id.nodeId], drop: [], balanceWei: '0' })
  })
})

describe('heads', () => {
  test('error: a head far ahead of the hosts\' quorum is stored and counted, and moves the best head no more than a client\'s', async () => {
    const c = await start({ maxBlockLag: 8 })
    const honest = [await agent(c, { role: 'host' }), await agent(c, { role: 'host' })]
    const liar = await agent(c, { role: 'host' })
    const client = await agent(c, { role: 'client' })
    for (const h of honest) await h.conn.call('vipnode_update', { peers: [], block: { number: 1_000, hash: HASH } })
    await liar.conn.call('vipnode_update', { peers: [], block: { number: 9_999_999, hash: HASH } })
    await client.conn.call('vipnode_update', { peers: [], block: { number: 1_009, hash: HASH } })
    await client.conn.call('vipnode_update', { peers: [], block: { number: 1_008, hash: HASH } }) // within the window
    expect((await c.services.store.latestReport(liar.id.nodeId))?.blockNumber).toBe(9_999_999)
    expect(c.services.assignments.bestHead(1337)).toBe(1_000)
    const metrics = await c.services.metrics.implausibleHeads.get()
    expect(Object.fromEntries(metrics.values.map((v) => [v.labels.role, v.value]))).toEqual({ host: 1, client: 1 })
  })
})

describe('lagging hosts', () => {
  test('behavior: a host that stays behind the best head loses its clients (host-lagging); they are told, it evicts them, and it gets no new ones', async () => {
    const c = await start({ updateIntervalMs: 300, maxBlockLag: 8 })
    const slow = await agent(c, { role: 'host' })
    const report = (a: TestAgent, number: number) => a.conn.call('vipnode_update', { peers: [], block: { number, hash: HASH } })
    await report(slow, 1_000)
    const client = await agent(c, { role: 'client' })
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    const fast = await agent(c, { role: 'host', capacity: 1 })
    const fast2 = await agent(c, { role: 'host', capacity: 1 }) // with fast, the quorum that sets the best head
    await report(fast, 1_000)
    await report(fast2, 1_000)
    await report(slow, 991) // 9 behind: lagging
    const newcomer = await agent(c, { role: 'client' })
    const r = (await newcomer.conn.call('vipnode_requestHosts', { count: 3 })) as { hosts: { nodeId: string }[]; message: string }
    expect(new Set(r.hosts.map((h) => h.nodeId))).toEqual(new Set([fast.id.nodeId, fast2.id.nodeId]))
    expect(r.message).toBe('only 2 of 3 hosts on chain 1337: 1 lagging')

    // Still behind after the lag grace period (two update intervals): the client is moved. It keeps reporting the
    // old head meanwhile, so it lags without going stale (three intervals without a report: host-stale).
    const keepReporting = setInterval(() => {
      for (const [a, n] of [[slow, 991], [fast, 1_000], [fast2, 1_000]] as const) void report(a, n).catch(() => undefined)
    }, 100)
    try {
      await waitFor(() => slow.calls.some((x) => x.method === 'vipnode_evict'), 'evict for lag')
    } finally {
      clearInterval(keepReporting)
    }
    expect(slow.calls.find((x) => x.method === 'vipnode_evict')?.params).toEqual({ nodeId: client.id.nodeId, reason: 'host-lagging' })
    await waitFor(() => client.calls.some((x) => x.method === 'vipnode_notice'), 'notice')
    expect(client.calls.find((x) => x.method === 'vipnode_notice')?.params).toMatchObject({ code: 'host-gone', message: expect.stringContaining('fell behind') })
    expect(c.services.assignments.hostsOf(client.id.nodeId)).toEqual([])
    expect((await c.services.store.activeAssignments({ hostId: slow.id.nodeId })).length).toBe(0)
  })
})

describe('admissions racing reports', () => {
  test('behavior: a host report during an admission already vouches for the client being admitted', async () => {
    const c = await start()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let admitting!: () => void
    const admitStarted = new Promise<void>((r) => (admitting = r))
    const host = await agent(c, { role: 'host' }, { vipnode_admit: async () => (admitting(), await gate, { admitted: true }) })
    const client = await agent(c, { role: 'client' })
    const requested = client.conn.call('vipnode_requestHosts', { count: 1 })
    await admitStarted
    const during = await host.conn.call('vipnode_update', { peers: [], block: { number: 1, hash: HASH } })
    expect(during.peers).toEqual([client.id.nodeId])
    release()
    await requested
    const after = await host.conn.call('vipnode_update', { peers: [], block: { number: 1, hash: HASH } })
    expect(after.peers).toEqual([client.id.nodeId])
  })
})

describe('agents that go away', () => {
  test('behavior: a vanished host releases its clients after the grace period', async () => {
    const c = await start({ updateIntervalMs: 300 })
    const host = await agent(c, { role: 'host' })
    const client = await agent(c, { role: 'client' })
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    await host.close()
    await waitFor(async () => (await c.services.store.activeAssignments()).length === 0, 'release')
    const r = await client.conn.call('vipnode_update', { peers: [], block: { number: 1, hash: HASH } })
    expect(r.peers).toEqual([])
  })

  test('behavior: a vanished client is evicted from its hosts', async () => {
    const c = await start({ updateIntervalMs: 300 })
    const host = await agent(c, { role: 'host' })
    const client = await agent(c, { role: 'client' })
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    await client.close()
    await waitFor(() => host.calls.some((x) => x.method === 'vipnode_evict'), 'evict')
    expect(host.calls.at(-1)).toEqual({ method: 'vipnode_evict', params: { nodeId: client.id.nodeId, reason: 'client-gone' } })
  })

  test('behavior: a coordinator restart keeps the pool id and the assignments; agents come back', async () => {
    const db = tempDb()
    const first = await testCoordinator({ db, poolId: undefined as unknown as string, updateIntervalMs: 60_000 })
    const host = await agent(first, { role: 'host' })
    const client = await agent(first, { role: 'client' })
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    const port = first.port
    await first.close()
    await waitFor(() => !host.conn.current && !client.conn.current, 'agents see the restart')

    const second = await start({ db, port, poolId: undefined as unknown as string, updateIntervalMs: 60_000 })
    expect(second.poolId).toBe(first.poolId)
    await Promise.all([host.conn.ready(), client.conn.ready()])
    const r = await client.conn.call('vipnode_requestHosts', { count: 1 })
    expect(r.hosts.map((h) => h.nodeId)).toEqual([host.id.nodeId])
    expect(host.calls.filter((x) => x.method === 'vipnode_admit')).toHaveLength(1)
    expect(await second.services.store.activeAssignments()).toHaveLength(1)
  })
})
