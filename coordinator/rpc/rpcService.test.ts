/**
 * The rpc service through the coordinator: relay grants to both sides of an
 * rpc assignment, capability-aware selection, and metering of relay traffic
 * by the same bilateral rule as peers. Real sockets, a real SQLite file, a
 * manual clock.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { ErrorCode, RPC_REQUIRED_METHODS, generateNodeKey, nodeIdOf, type RelayGrant } from '../../protocol/index.ts'
import { testCoordinator, tempDb } from '../../test/harness/coordinator.ts'
import { testAgent, type TestAgent } from '../../test/harness/agents.ts'
import { manualClock } from '../../lib/clock.ts'
import type { RunningCoordinator } from '../coordinator.ts'

const INTERVAL = 10_000
const BLOCK = { number: 100, hash: `0x${'12'.repeat(32)}` }
const RELAY = 'http://127.0.0.1:8546'
let coordinators: RunningCoordinator[] = []
let agents: TestAgent[] = []
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()))
  await Promise.all(coordinators.splice(0).map((c) => c.close()))
})

async function pool() {
  const clock = manualClock(Date.UTC(2026, 0, 1))
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, relayTokenWindowMs: 60_000 }, { clock })
  coordinators.push(c)
  const agent = async (...args: Parameters<typeof testAgent> extends [string, ...infer R] ? R : never) => {
    const a = await testAgent(c.url, ...args)
    agents.push(a)
    return a
  }
  const rpcHost = (capabilities: readonly string[] = RPC_REQUIRED_METHODS) => agent({ role: 'host', kind: 'rpc', capacity: 5, relayUrl: RELAY, capabilities: [...capabilities] })
  return { c, clock, agent, rpcHost }
}

describe('rpc service', () => {
  test('behavior: both sides get the same pair-bound token: the client with the relay URL, the host in vipnode_admit and in report replies', async () => {
    const { rpcHost, agent } = await pool()
    const host = await rpcHost()
    const client = await agent({ role: 'client' })
    const { hosts } = await client.conn.call('vipnode_requestHosts', { count: 1, kind: 'rpc' })
    expect(hosts).toHaveLength(1)
    const grant = hosts[0]!.relay!
    expect(grant).toMatchObject({ nodeId: host.id.nodeId, relayUrl: RELAY })
    expect(grant.token).toMatch(/^[0-9a-f]{64}$/)
    const admit = host.calls.find((c) => c.method === 'vipnode_admit')!.params
    expect(admit).toMatchObject({ nodeId: client.id.nodeId, kind: 'rpc', relay: { nodeId: client.id.nodeId, token: grant.token, expiresAtMs: grant.expiresAtMs } })

    const hostReply = await host.conn.call('vipnode_update', { peers: [], block: BLOCK })
    expect(hostReply.relays?.map((r: RelayGrant) => r.token)).toContain(grant.token)
    expect(hostReply.relays?.every((r: RelayGrant) => r.nodeId === client.id.nodeId)).toBe(true)
    const clientReply = await client.conn.call('vipnode_update', { peers: [], block: { number: 0, hash: BLOCK.hash } })
    expect(clientReply.relays).toEqual([grant])
  })

  test('behavior: a peer host gets no relay grants and its clients none for it', async () => {
    const { agent } = await pool()
    const host = await agent({ role: 'host', capacity: 5 })
    const client = await agent({ role: 'client' })
    const { hosts } = await client.conn.call('vipnode_requestHosts', { count: 1 })
    expect(hosts[0]!.relay).toBeUndefined()
    expect((await host.conn.call('vipnode_update', { peers: [], block: BLOCK })).relays).toBeUndefined()
    expect((await client.conn.call('vipnode_update', { peers: [], block: BLOCK })).relays).toBeUndefined()
  })

  test('behavior: hosts whose node lacks a method light clients need are skipped as missing-methods, until a probe reports it', async () => {
    const { c, rpcHost, agent } = await pool()
    const host = await rpcHost(RPC_REQUIRED_METHODS.filter((m) => m !== 'eth_getProof'))
    const client = await agent({ role: 'client' })
    const err = await client.conn.call('vipnode_requestHosts', { count: 1, kind: 'rpc' }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, message: expect.stringContaining('1 missing-methods') })
    expect(c.services.assignments.skipReasons(host.id.nodeId)).toMatchObject({ reason: 'missing-methods' })
    await host.conn.call('vipnode_update', { peers: [], block: BLOCK, capabilities: [...RPC_REQUIRED_METHODS] })
    const { hosts } = await client.conn.call('vipnode_requestHosts', { count: 1, kind: 'rpc' })
    expect(hosts.map((h) => h.nodeId)).toEqual([host.id.nodeId])
  })

  test('behavior: needs beacon: beacon hosts are picked first, the plain host passed over is no-beacon, and the grants say beacon', async () => {
    const { c, rpcHost, agent } = await pool()
    const plain = [await rpcHost(), await rpcHost()]
    const beacon = await rpcHost([...RPC_REQUIRED_METHODS, 'beacon'])
    const client = await agent({ role: 'client' })
    const { hosts } = await client.conn.call('vipnode_requestHosts', { count: 1, kind: 'rpc', needs: ['beacon'] })
    expect(hosts.map((h) => h.nodeId)).toEqual([beacon.id.nodeId])
    expect(hosts[0]!.relay?.beacon).toBe(true)
    for (const p of plain) expect(c.services.assignments.skipReasons(p.id.nodeId)).toMatchObject({ reason: 'no-beacon' })
    expect(await c.registry.metrics()).toMatch(/vipnode_assignment_skipped_total\{reason="no-beacon"\} 2/)
    // One more host: no beacon host is left, so a plain one fills the count.
    const more = await client.conn.call('vipnode_requestHosts', { count: 2, kind: 'rpc', needs: ['beacon'] })
    expect(more.hosts.map((h) => h.nodeId)).toContain(beacon.id.nodeId)
    expect(more.hosts.filter((h) => plain.some((p) => p.id.nodeId === h.nodeId))).toHaveLength(1)
  })

  test('error: needs other than beacon, twice, or with kind peer are refused with the field named, and change nothing', async () => {
    const { c, rpcHost, agent } = await pool()
    const host = await rpcHost([...RPC_REQUIRED_METHODS, 'beacon'])
    const client = await agent({ role: 'client' })
    const cases: [unknown, RegExp][] = [
      [{ count: 1, kind: 'rpc', needs: ['nonsense'] }, /^invalid params for vipnode_requestHosts: needs\.0: must be one of: "beacon"$/],
      [{ count: 1, kind: 'rpc', needs: ['beacon', 'beacon'] }, /^invalid params for vipnode_requestHosts: needs: names a capability twice$/],
      [{ count: 1, kind: 'rpc', needs: 'beacon' }, /^invalid params for vipnode_requestHosts: needs: Invalid input: expected array, received string$/],
      [{ count: 1, needs: ['beacon'] }, /^invalid params for vipnode_requestHosts: needs: only rpc hosts offer beacon: ask with kind "rpc"$/],
    ]
    for (const [params, message] of cases) {
      const err = await client.conn.call('vipnode_requestHosts', params as never).catch((e: unknown) => e)
      expect(err, JSON.stringify(params)).toMatchObject({ code: ErrorCode.INVALID_PARAMS, message: expect.stringMatching(message) })
    }
    expect(c.services.assignments.hostsOf(client.id.nodeId)).toEqual([])
    expect(host.calls.filter((x) => x.method === 'vipnode_admit')).toEqual([])
    expect(c.services.assignments.recentDecisions()).toEqual([])
  })

  test('behavior: needs beacon from a client that holds its count without one: a beacon host is swapped in once admitted, and with none to give nothing changes', async () => {
    const { c, rpcHost, agent } = await pool()
    const plain = [await rpcHost(), await rpcHost()]
    const client = await agent({ role: 'client' })
    const ask = () => client.conn.call('vipnode_requestHosts', { count: 2, kind: 'rpc', needs: ['beacon'] })
    const ids = (hosts: { nodeId: string }[]) => hosts.map((h) => h.nodeId).sort()
    const first = await ask()
    expect(ids(first.hosts)).toEqual(ids(plain.map((p) => p.id)))
    // No beacon host in the pool: the same hosts, nobody evicted.
    expect(ids((await ask()).hosts)).toEqual(ids(first.hosts))
    expect(plain.flatMap((p) => p.calls).filter((x) => x.method === 'vipnode_evict')).toEqual([])

    const beacon = await rpcHost([...RPC_REQUIRED_METHODS, 'beacon'])
    const swapped = await ask()
    expect(swapped.hosts).toHaveLength(2)
    expect(swapped.hosts.filter((h) => h.relay?.beacon === true).map((h) => h.nodeId)).toEqual([beacon.id.nodeId])
    expect(c.services.assignments.hostsOf(client.id.nodeId).sort()).toEqual(ids(swapped.hosts))
    const gone = plain.find((p) => !swapped.hosts.some((h) => h.nodeId === p.id.nodeId))!
    expect(gone.calls.filter((x) => x.method === 'vipnode_evict').map((x) => x.params)).toEqual([{ nodeId: client.id.nodeId, reason: 'beacon-swap' }])
    // Held now: asking again keeps them.
    expect(ids((await ask()).hosts)).toEqual(ids(swapped.hosts))
  })

  test('behavior: relay tokens survive a coordinator restart (the secret is kept in the store) and differ between pools', async () => {
    const db = tempDb()
    const [host, client] = [nodeIdOf(generateNodeKey()), nodeIdOf(generateNodeKey())]
    const tokenOf = async (path: string) => {
      const c = await testCoordinator({ db: path })
      try {
        return c.services.relayTokens.current(host, client, 1_000_000).token
      } finally {
        await c.close()
      }
    }
    const first = await tokenOf(db)
    expect(await tokenOf(db)).toBe(first)
    expect(await tokenOf(tempDb())).not.toBe(first)
  })

  test('error: an rpc host without a relay URL is refused', async () => {
    const { c } = await pool()
    const err = await testAgent(c.url, { role: 'host', kind: 'rpc', capacity: 1 }).catch((e: unknown) => e)
    expect(String(err)).toMatch(/relayUrl: rpc hosts must say where clients reach their relay/)
  })

  test('behavior: relay traffic accrues service only while both sides report it', async () => {
    const { c, clock, rpcHost, agent } = await pool()
    const host = await rpcHost()
    const client = await agent({ role: 'client' })
    await client.conn.call('vipnode_requestHosts', { count: 1, kind: 'rpc' })
    const served = async () => (await c.services.store.usage()).reduce((n, u) => n + u.serviceMs, 0)
    const round = async (hostSays: number, clientSays: number) => {
      clock.advance(INTERVAL / 2)
      await host.conn.call('vipnode_update', { peers: [], block: BLOCK, relays: hostSays ? [{ nodeId: client.id.nodeId, requests: hostSays, busyMs: 3 }] : [] })
      clock.advance(INTERVAL / 2)
      await client.conn.call('vipnode_update', { peers: [], block: { number: 0, hash: BLOCK.hash }, relays: clientSays ? [{ nodeId: host.id.nodeId, requests: clientSays, busyMs: 4 }] : [] })
    }
    for (let i = 0; i < 4; i++) await round(5, 0) // the host alone claims traffic
    expect(await served()).toBe(0)
    for (let i = 0; i < 4; i++) await round(0, 5) // the client alone
    expect(await served()).toBe(0)
    for (let i = 0; i < 6; i++) await round(5, 5) // both
    const both = await served()
    expect(both).toBeGreaterThanOrEqual(4 * INTERVAL)
    expect(both).toBeLessThanOrEqual(6 * INTERVAL)
    const metrics = await c.registry.metrics()
    expect(metrics).toMatch(/vipnode_relay_requests_total\{role="host"\} 50/)
    expect(metrics).toMatch(/vipnode_relay_requests_total\{role="client"\} 50/)
  })
})
