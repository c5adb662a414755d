/**
 * Issue 19 item 2: replicas with agents on different replicas (docs/cluster.md). Two coordinators share one
 * PostgreSQL scratch database and a real NATS server; agents are raw WebSocket agents (test/harness/attackers.ts)
 * that report exactly what the test scripts. A client on replica A is served by a host on replica B: B admits it
 * (admit.<B>), meters the pair from the client's forwarded reports (report.<B>) and is the only one to bill it.
 */
import { test, expect, afterEach } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { testCoordinator } from '../harness/coordinator.ts'
import { scratchDatabases } from '../harness/postgres.ts'
import { waitFor } from '../harness/waitFor.ts'
import { answered, balanceOf, every, fund, poolAgent, type PoolAgent } from '../harness/attackers.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { subjectToken } from '../../coordinator/services/clusterBus.ts'
import { RPC_REQUIRED_METHODS } from '../../protocol/index.ts'
import { audit } from '../../coordinator/admin/audit.ts'

const NATS = process.env.VIPNODE_TEST_NATS ?? 'nats://127.0.0.1:4222'
const INTERVAL = 400
const PRICE = 60_000_000n // wei per minute: 1,000 wei per ms of service
const scratchDatabase = scratchDatabases()
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

/** Replicas of one pool: one database, one NATS server, a pool id of their own (subjects do not cross tests). */
async function replicas(n: number, extra: Record<string, unknown> = {}): Promise<RunningCoordinator[]> {
  const db = await scratchDatabase()
  const poolId = `cluster-${Math.random().toString(36).slice(2)}`
  const out: RunningCoordinator[] = []
  for (let i = 0; i < n; i++) {
    const c = await testCoordinator({ db, nats: NATS, poolId, updateIntervalMs: INTERVAL, ...extra })
    cleanup.push(() => c.close())
    out.push(c)
  }
  return out
}

async function agent(c: RunningCoordinator, body: Parameters<typeof poolAgent>[1], id?: PoolAgent['id']): Promise<PoolAgent> {
  const a = await poolAgent(c, body, id)
  cleanup.push(async () => a.close())
  return a
}

/** Wait until replica `c` offers `hostId` in its bootstrap preview (its directory mirror has it). */
const seesHost = (c: RunningCoordinator, hostId: string) =>
  waitFor(() => c.services.assignments.preview({ chainId: 1337, count: 5, kind: 'peer' }).hosts.some((h) => h.nodeId === hostId), `replica sees host ${hostId.slice(0, 8)} in its directory`)

const metricValue = async (c: RunningCoordinator, name: string, labels: Record<string, string> = {}) => {
  const m = await c.registry.getSingleMetric(name)!.get()
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0)
}

const billedMs = async (c: RunningCoordinator, clientId: string, hostId: string) =>
  (await c.services.store.usage({ clientId: clientId as never, hostId: hostId as never })).reduce((n, u) => n + u.serviceMs, 0)

test('a client on replica A gets a host on replica B; B admits and bills the pair, A bills nothing, billed ≤ served', async () => {
  const [a, b] = await replicas(2, { priceWeiPerMinute: PRICE })
  const host = await agent(b!, { role: 'host', capacity: 3 })
  await seesHost(a!, host.nodeId)
  const client = await agent(a!, { role: 'client' })
  await fund(a!, client.nodeId, 10n ** 15n)

  const reply = await client.request('vipnode_requestHosts', { count: 1 })
  expect(reply.error).toBeUndefined()
  expect(reply.result.hosts).toEqual([{ nodeId: host.nodeId, enode: host.id.enode, kind: 'peer' }])
  const admittedAt = Date.now()
  // B told its host to admit the client, and recorded the pair; A holds the client's side only.
  expect(host.calls.filter((c) => c.method === 'vipnode_admit').map((c) => c.params.nodeId)).toEqual([client.nodeId])
  expect((await b!.services.store.activeAssignments({ hostId: host.nodeId })).map((x) => x.clientId)).toEqual([client.nodeId])
  expect(a!.services.assignments.hostsOf(client.nodeId)).toEqual([host.nodeId])
  expect(a!.services.assignments.ownedHostsOf(client.nodeId)).toEqual([])
  expect(b!.services.assignments.clientsOf(host.nodeId)).toEqual([client.nodeId])

  // Both report each other, each to its own replica; each reply vouches for the other side.
  const stop = every(INTERVAL, () => {
    host.report([client.nodeId])
    client.report([host.nodeId])
  })
  await waitFor(async () => (await billedMs(b!, client.nodeId, host.nodeId)) >= 4 * INTERVAL, 'the pair billed for four intervals', { timeoutMs: 15_000 })
  stop()
  const servedMs = Date.now() - admittedAt
  const clientReplies = client.agent.frames.filter((f) => Array.isArray(f.result?.peers))
  expect(clientReplies.at(-1)!.result.peers).toEqual([host.nodeId])
  const hostReplies = host.agent.frames.filter((f) => Array.isArray(f.result?.peers))
  expect(hostReplies.at(-1)!.result.peers).toEqual([client.nodeId])

  const billed = await billedMs(b!, client.nodeId, host.nodeId)
  expect(billed).toBeLessThanOrEqual(servedMs)
  // Billed on B only: A metered no service, and the money moved is exactly what B billed.
  expect(await metricValue(a!, 'vipnode_service_seconds_total')).toBe(0)
  expect(await metricValue(b!, 'vipnode_service_seconds_total')).toBeCloseTo(billed / 1000, 3)
  expect(await balanceOf(a!, client.nodeId)).toBe(10n ** 15n - (BigInt(billed) * PRICE) / 60_000n)
  expect(await metricValue(a!, 'vipnode_cluster_requests_total', { topic: 'admit', result: 'ok' })).toBe(1)

  // The client leaves: A releases its side after the grace, and B (the owner) releases the row and evicts.
  client.close()
  await waitFor(async () => (await b!.services.store.activeAssignments({ hostId: host.nodeId })).length === 0, 'the owner released the pair', { timeoutMs: 10_000 })
  await waitFor(() => host.calls.some((c) => c.method === 'vipnode_evict' && c.params.nodeId === client.nodeId), 'the host was told to evict')
  expect(b!.services.assignments.clientsOf(host.nodeId)).toEqual([])
}, 60_000)

test('attack: a client served by hosts on two replicas runs out of money: both replicas charge it, its balance never goes below zero, billed ≤ served, the books audit', async () => {
  // Each replica reads the client's balance before charging its own pair; the database has the last word
  // (store/chargeCover.ts). Funded for 2.5 host-intervals, served by two hosts at once, one per replica.
  const [a, b] = await replicas(2, { priceWeiPerMinute: PRICE })
  const near = await agent(a!, { role: 'host', capacity: 3 })
  const far = await agent(b!, { role: 'host', capacity: 3 })
  await seesHost(a!, far.nodeId)
  const client = await agent(a!, { role: 'client' })
  const FUNDS = (BigInt(INTERVAL) * PRICE * 5n) / 60_000n / 2n
  await fund(a!, client.nodeId, FUNDS)
  const reply = await client.request('vipnode_requestHosts', { count: 2 })
  expect(reply.error).toBeUndefined()
  expect(new Set(reply.result.hosts.map((h: { nodeId: string }) => h.nodeId))).toEqual(new Set([near.nodeId, far.nodeId]))
  const admittedAt = Date.now()

  const lowest: bigint[] = []
  const stop = every(INTERVAL, () => {
    near.report([client.nodeId])
    far.report([client.nodeId])
    client.report([near.nodeId, far.nodeId])
    void balanceOf(a!, client.nodeId).then((wei) => lowest.push(wei))
  })
  // Until the money is gone: both pairs end (cut off for want of funds) or nothing affordable is left.
  await waitFor(
    async () => (await a!.services.store.activeAssignments({ clientId: client.nodeId })).length === 0 || (await balanceOf(a!, client.nodeId)) < (BigInt(INTERVAL) * PRICE) / 60_000n / 4n,
    'the client ran out of money',
    { timeoutMs: 20_000 },
  )
  // Two more intervals of reports: a charge racing the cut-off has landed or been left out by now.
  const ticks = lowest.length
  await waitFor(() => lowest.length >= ticks + 2, 'two more rounds of reports')
  stop()
  const servedMs = Date.now() - admittedAt
  const balance = await balanceOf(a!, client.nodeId)
  expect(balance).toBeGreaterThanOrEqual(0n)
  expect(lowest.every((wei) => wei >= 0n)).toBe(true)
  // Both replicas billed something; together no more than the client had, and every wei charged is in some pair's usage.
  const usage = await a!.services.store.usage({ clientId: client.nodeId })
  const charged = usage.reduce((n, u) => n + u.chargedWei, 0n)
  expect(new Set(usage.filter((u) => u.chargedWei > 0n).map((u) => u.hostId))).toEqual(new Set([near.nodeId, far.nodeId]))
  expect(charged + balance).toBe(FUNDS)
  for (const host of [near, far]) expect(await billedMs(a!, client.nodeId, host.nodeId)).toBeLessThanOrEqual(servedMs)
  expect(await audit(a!.services.store)).toMatchObject({ ok: true })
}, 60_000)

test('attack: two lying hosts among three on one replica cannot make its honest host look behind: siblings\' hosts vote in the best head', async () => {
  // A holds two liars (H + 64) and one honest host; B holds three honest hosts (H). Alone, A's quorum (2 of 3)
  // would be the liars' head and its honest host would lag by 64 > --max-block-lag; the pool's quorum is H.
  const H = 1_000
  const [a, b] = await replicas(2, { maxBlockLag: 8, slowStartSlots: 0 })
  const block = (n: number) => ({ block: { number: n, hash: `0x${'12'.repeat(32)}` } })
  const honestA = await agent(a!, { role: 'host', capacity: 3 })
  const liars = [await agent(a!, { role: 'host', capacity: 3 }), await agent(a!, { role: 'host', capacity: 3 })]
  const honestB = [await agent(b!, { role: 'host', capacity: 3 }), await agent(b!, { role: 'host', capacity: 3 }), await agent(b!, { role: 'host', capacity: 3 })]
  const stop = every(INTERVAL, () => {
    for (const h of [honestA, ...honestB]) h.report([], block(H))
    for (const h of liars) h.report([], block(H + 64))
  })
  cleanup.push(async () => stop())
  // The liars' heads are in A's sessions: A alone would take H + 64.
  await waitFor(() => liars.every((l) => a!.services.sessions.get(l.nodeId)?.session?.blockNumber === H + 64), 'A has the liars\' heads')
  // B's hosts vote on A once B's directory has carried their heads there (it goes out every interval); until
  // then A's own three hosts are all the votes it has. Without siblings' votes A's best head stays H + 64.
  await waitFor(() => a!.services.chainHeads.bestHead(1337) === H, 'A counts B\'s hosts\' heads', { timeoutMs: 10_000 })
  const client = await agent(a!, { role: 'client' })
  const granted = (await client.request('vipnode_requestHosts', { count: 6 })).result.hosts.map((h: { nodeId: string }) => h.nodeId)
  expect(granted).toContain(honestA.nodeId)
  // Eight more intervals of reports (the best head is cached for a second; the lag sweep runs every interval).
  const acks = () => honestA.agent.frames.filter((f) => Array.isArray(f.result?.peers)).length
  const from = acks()
  await waitFor(() => acks() >= from + 8, 'eight more reports of the honest host on A', { timeoutMs: 20_000 })
  expect(a!.services.chainHeads.bestHead(1337)).toBe(H)
  expect(b!.services.chainHeads.bestHead(1337)).toBe(H)
  // The honest host on A kept its client and is still offered there (a lagging host is skipped and loses its clients).
  expect(a!.services.assignments.hostsOf(client.nodeId)).toContain(honestA.nodeId)
  expect(a!.services.assignments.preview({ chainId: 1337, count: 10, kind: 'peer' }).hosts.map((h) => h.nodeId)).toContain(honestA.nodeId)
}, 60_000)

test('a host\'s slots are never over-admitted when two replicas\' clients ask at once (capacity 2, ten clients)', async () => {
  const [a, b] = await replicas(2)
  const host = await agent(b!, { role: 'host', capacity: 2 })
  await seesHost(a!, host.nodeId)
  const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => agent(i % 2 === 0 ? a! : b!, { role: 'client' })))
  const replies = await Promise.all(clients.map((c) => c.request('vipnode_requestHosts', { count: 1 })))
  const admitted = replies.filter((r) => r.result?.hosts?.length === 1)
  const refused = replies.filter((r) => r.error)
  expect(admitted.length).toBe(2)
  expect(refused.length).toBe(8)
  expect(refused.every((r) => r.error!.message.length > 0)).toBe(true)
  expect(await b!.services.store.activeAssignments({ hostId: host.nodeId })).toHaveLength(2)
  expect(host.calls.filter((c) => c.method === 'vipnode_admit')).toHaveLength(2)
  expect(b!.services.assignments.loadOf(host.nodeId)).toBe(2)

  // Each refused admit.<replica> says why and changes nothing on the owner.
  const asker = clients[0]!
  const ask = (over: Record<string, unknown>) =>
    b!.services.assignments.serveAdmit({ hostId: host.nodeId, kind: 'peer', client: { nodeId: asker.nodeId, enode: asker.id.enode, chainId: 1337 }, ...over } as never)
  const admitted0 = await b!.services.store.activeAssignments()
  const stranger = clients.find((c) => !admitted0.some((x) => x.clientId === c.nodeId))!
  expect(await ask({ hostId: stranger.nodeId })).toEqual({ admitted: false, reason: 'host-offline' })
  expect(await ask({ client: { nodeId: stranger.nodeId, enode: stranger.id.enode, chainId: 1 } })).toEqual({ admitted: false, reason: 'wrong-chain' })
  expect(await ask({ kind: 'rpc', client: { nodeId: stranger.nodeId, enode: stranger.id.enode, chainId: 1337 } })).toEqual({ admitted: false, reason: 'wrong-kind' })
  expect(await ask({ client: { nodeId: stranger.nodeId, enode: stranger.id.enode, chainId: 1337 } })).toEqual({ admitted: false, reason: 'full' })
  expect(await b!.services.store.activeAssignments()).toEqual(admitted0)
  expect(b!.services.assignments.loadOf(host.nodeId)).toBe(2)
  expect(host.calls.filter((c) => c.method === 'vipnode_admit')).toHaveLength(2)
}, 60_000)

test('a host that moves from a closed replica A to replica B brings its assignments: its client stays vouched, and the first observation after the move is not billed', async () => {
  const [a, b] = await replicas(2)
  const host = await agent(a!, { role: 'host', capacity: 3 })
  await seesHost(b!, host.nodeId)
  const client = await agent(b!, { role: 'client' })
  expect((await client.request('vipnode_requestHosts', { count: 1 })).result.hosts[0].nodeId).toBe(host.nodeId)
  // Served for a while on A.
  let last: { agent: PoolAgent; id: number }[] = []
  let clientReports = 0
  let stop = every(INTERVAL, () => {
    last = [{ agent: host, id: host.report([client.nodeId]) }, { agent: client, id: client.report([host.nodeId]) }]
    clientReports++
  })
  await waitFor(async () => (await billedMs(a!, client.nodeId, host.nodeId)) > 0, 'the pair billed on A', { timeoutMs: 10_000 })
  stop()
  // Every report sent is metered before the figure is read: the host's are answered after A meters them; the
  // client's reach A forwarded by B, after B answered them, so A's count of forwarded reports is awaited, then
  // its judging queue.
  await waitFor(() => answered(last), 'the last reports answered')
  await waitFor(async () => (await metricValue(a!, 'vipnode_cluster_messages_total', { topic: 'report', direction: 'in' })) === clientReports, 'every client report forwarded to A')
  await a!.services.metering.exclusive(async () => undefined)
  const billedOnA = await billedMs(a!, client.nodeId, host.nodeId)

  // Replica A goes; the host logs in to B with the same key.
  await a!.close()
  const moved = await agent(b!, { role: 'host', capacity: 3 }, host.id)
  expect(b!.services.assignments.clientsOf(host.nodeId)).toEqual([client.nodeId])
  expect(b!.services.assignments.ownedHostsOf(client.nodeId)).toEqual([host.nodeId])
  // Its first report is answered with its client vouched for (the host agent would drop an unvouched one).
  const first = await moved.request('vipnode_update', { peerIds: [client.nodeId], block: { number: 100, hash: `0x${'ab'.repeat(32)}` } })
  expect(first.result.peers).toEqual([client.nodeId])
  expect(first.result.drop).toEqual([])
  const clientFirst = await client.request('vipnode_update', { peerIds: [host.nodeId], block: { number: 100, hash: `0x${'ab'.repeat(32)}` } })
  expect(clientFirst.result.peers).toEqual([host.nodeId])
  // That corroborated observation started a new chain: nothing billed for the move.
  expect(await billedMs(b!, client.nodeId, host.nodeId)).toBe(billedOnA)
  stop = every(INTERVAL, () => {
    moved.report([client.nodeId])
    client.report([host.nodeId])
  })
  await waitFor(async () => (await billedMs(b!, client.nodeId, host.nodeId)) > billedOnA, 'the pair billed again on B', { timeoutMs: 10_000 })
  stop()
  expect((await b!.services.store.activeAssignments({ hostId: host.nodeId })).map((x) => x.clientId)).toEqual([client.nodeId])
}, 60_000)

test('an admission the asker gave up on while it was in flight on the owner is undone when it lands', async () => {
  const [a, b] = await replicas(2)
  // B's host answers vipnode_admit after 300 ms: the asker's 'admit-abandoned' arrives while it is in flight.
  const host = await poolAgent(b!, { role: 'host', capacity: 3 }, undefined, { admitDelayMs: 300 })
  cleanup.push(async () => host.close())
  const client = await agent(a!, { role: 'client' })
  const asked = b!.services.assignments.serveAdmit({ hostId: host.nodeId, kind: 'peer', client: { nodeId: client.nodeId, enode: client.id.enode, chainId: 1337 } })
  await waitFor(() => host.calls.some((c) => c.method === 'vipnode_admit'), 'the owner asked its host')
  await b!.services.assignments.onReleaseMessage({ replicaId: a!.replicaId, clientId: client.nodeId, hostId: host.nodeId, reason: 'admit-abandoned' })
  expect(await asked).toEqual({ admitted: false, reason: 'abandoned' })
  // Nothing stays active on the owner: the row is released, the host told to evict, the slot free.
  expect(await b!.services.store.activeAssignments({ hostId: host.nodeId })).toEqual([])
  expect(b!.services.assignments.clientsOf(host.nodeId)).toEqual([])
  expect(b!.services.assignments.loadOf(host.nodeId)).toBe(0)
  await waitFor(() => host.calls.some((c) => c.method === 'vipnode_evict' && c.params.nodeId === client.nodeId), 'the host was told to evict')
  // The same admission asked again later is a fresh one, not one the old abandonment undoes.
  expect(await b!.services.assignments.serveAdmit({ hostId: host.nodeId, kind: 'peer', client: { nodeId: client.nodeId, enode: client.id.enode, chainId: 1337 } })).toMatchObject({ admitted: true })
  expect(await b!.services.store.activeAssignments({ hostId: host.nodeId })).toHaveLength(1)
}, 60_000)

test('with the bus down (the host\'s replica does not answer), the client gets a clear refusal and nothing is recorded', async () => {
  const [a, b] = await replicas(2, { admitTimeoutMs: 500 })
  const host = await agent(b!, { role: 'host', capacity: 3 })
  await seesHost(a!, host.nodeId)
  // B's admissions go unanswered: its subscription is replaced by one that never replies (a hung replica).
  const nc = await connect({ servers: NATS })
  cleanup.push(() => nc.close())
  nc.subscribe(`vipnode.${subjectToken(b!.poolId)}.admit.${b!.replicaId}`, { callback: () => undefined })
  await nc.flush()
  await b!.close()
  const client = await agent(a!, { role: 'client' })
  const started = Date.now()
  const reply = await client.request('vipnode_requestHosts', { count: 1 })
  expect(Date.now() - started).toBeGreaterThanOrEqual(450)
  expect(reply.error?.message).toBe('no host acknowledged the admission (1 tried)')
  expect(await metricValue(a!, 'vipnode_cluster_requests_total', { topic: 'admit', result: 'timeout' })).toBe(1)
  expect(await a!.services.store.activeAssignments()).toEqual([])
  expect(a!.services.assignments.hostsOf(client.nodeId)).toEqual([])
  expect(host.calls.filter((c) => c.method === 'vipnode_admit')).toEqual([])
}, 60_000)

test('rpc: a client on A gets an rpc host on B with a relay grant B\'s host accepts, and A keeps it fresh in report replies', async () => {
  const [a, b] = await replicas(2)
  const host = await agent(b!, { role: 'host', kind: 'rpc', capacity: 3, relayUrl: 'http://127.0.0.1:9/' })
  host.report([], { capabilities: [...RPC_REQUIRED_METHODS] }) // the capability probe's answer: what the balancer requires of rpc hosts
  await waitFor(() => a!.services.assignments.preview({ chainId: 1337, count: 5, kind: 'rpc' }).hosts.length === 1, 'A sees the rpc host')
  const client = await agent(a!, { role: 'client', kind: 'rpc' })
  const reply = await client.request('vipnode_requestHosts', { count: 1, kind: 'rpc' })
  expect(reply.error).toBeUndefined()
  const grant = reply.result.hosts[0].relay
  expect(grant).toMatchObject({ nodeId: host.nodeId, relayUrl: 'http://127.0.0.1:9/' })
  // The host was admitted with the same token its replica issues (the relay secret is the pool's, in the store).
  const admit = host.calls.find((c) => c.method === 'vipnode_admit')!
  expect(admit.params.relay.token).toBe(grant.token)
  expect(b!.services.relayTokens.accepted(host.nodeId, client.nodeId, Date.now()).map((t) => t.token)).toContain(grant.token)
  // A's report replies carry the grant for the sibling's host.
  const update = await client.request('vipnode_update', { peerIds: [], block: { number: 0, hash: `0x${'00'.repeat(32)}` }, relays: [{ nodeId: host.nodeId, requests: 1, busyMs: 1 }] })
  expect(update.result.relays.map((r: { nodeId: string }) => r.nodeId)).toEqual([host.nodeId])
}, 60_000)

test('a client that moves from a closed replica A to replica C keeps its host on B: C loads its side of the pair, B keeps metering it', async () => {
  const [a, b, c] = await replicas(3)
  const host = await agent(b!, { role: 'host', capacity: 3 })
  await seesHost(a!, host.nodeId)
  await seesHost(c!, host.nodeId)
  const client = await agent(a!, { role: 'client' })
  expect((await client.request('vipnode_requestHosts', { count: 1 })).result.hosts[0].nodeId).toBe(host.nodeId)

  await a!.close()
  const moved = await agent(c!, { role: 'client' }, client.id)
  expect(c!.services.assignments.hostsOf(client.nodeId)).toEqual([host.nodeId])
  expect(c!.services.assignments.ownedHostsOf(client.nodeId)).toEqual([])
  const stop = every(INTERVAL, () => {
    host.report([client.nodeId])
    moved.report([host.nodeId])
  })
  await waitFor(async () => (await billedMs(b!, client.nodeId, host.nodeId)) > 0, 'B bills the pair from the reports C forwards', { timeoutMs: 10_000 })
  stop()
  const replies = moved.agent.frames.filter((f) => Array.isArray(f.result?.peers))
  expect(replies.every((f) => f.result.peers.includes(host.nodeId))).toBe(true)
  expect(await metricValue(c!, 'vipnode_service_seconds_total')).toBe(0)
}, 60_000)

test('a client struck for a dispute on its host\'s replica is paused on its own replica too', async () => {
  const [a, b] = await replicas(2)
  const host = await agent(b!, { role: 'host', capacity: 3 })
  await seesHost(a!, host.nodeId)
  const client = await agent(a!, { role: 'client' })
  // The owner's dispute rule blames the client (what DisputeService.sweep does for a pair the client did not serve).
  const state = b!.services.assignments.strikeClient(client.nodeId, Date.now())
  await waitFor(() => a!.services.assignments.clientCoolDownOf(client.nodeId), 'the strike reached the client\'s replica')
  expect(a!.services.assignments.clientCoolDownOf(client.nodeId)!.untilMs).toBeGreaterThanOrEqual(state.untilMs - 1_000)
  const reply = await client.request('vipnode_requestHosts', { count: 1 })
  expect(reply.error?.message).toMatch(/^this client was blamed for 1 dispute\(s\) and gets no new hosts until /)
  expect(host.calls).toEqual([])
}, 60_000)

test('a host that leaves its replica: the owner releases the pair and the client\'s replica drops its side and tells the client', async () => {
  const [a, b] = await replicas(2)
  const host = await agent(b!, { role: 'host', capacity: 3 })
  await seesHost(a!, host.nodeId)
  const client = await agent(a!, { role: 'client' })
  expect((await client.request('vipnode_requestHosts', { count: 1 })).result.hosts[0].nodeId).toBe(host.nodeId)
  host.close()
  // The host left B's directory at once, but the pair is B's to release (after its grace: the host may come back).
  await waitFor(() => !a!.services.assignments.preview({ chainId: 1337, count: 5, kind: 'peer' }).hosts.length, 'the host gone from A\'s directory')
  expect(a!.services.assignments.hostsOf(client.nodeId)).toEqual([host.nodeId])
  await waitFor(async () => (await b!.services.store.activeAssignments()).length === 0, 'the owner released the pair', { timeoutMs: 10_000 })
  await waitFor(() => client.notices.find((n) => n.code === 'host-gone'), 'the client told its host went')
  expect(a!.services.assignments.hostsOf(client.nodeId)).toEqual([])
  expect(await metricValue(b!, 'vipnode_assignments_released_total', { reason: 'host-gone' })).toBe(1)
  expect(await metricValue(a!, 'vipnode_assignments_released_total')).toBe(0) // the release is the owner's
}, 60_000)
