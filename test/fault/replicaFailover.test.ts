/**
 * Issue 19 item 2 (agents' side): an agent given several replicas of one pool
 * (`--coordinator a,b`) stays on one while it works and moves to the next when
 * it goes away, without waiting out its backoff; a replica that announces
 * another pool id than its siblings is refused before anything is signed.
 * Two coordinators share one PostgreSQL database, as replicas do; the singleton
 * duties lease goes to exactly one of them.
 */
import { test, expect, afterEach } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { testCoordinator } from '../harness/coordinator.ts'
import { scratchDatabases } from '../harness/postgres.ts'
import { waitFor } from '../harness/waitFor.ts'
import { connectBody, identity } from '../harness/rawAgent.ts'
import { recordingLogger } from '../harness/agents.ts'
import { PoolConnection } from '../../agent/poolConnection.ts'
import { KnownPools, KnownPoolError } from '../../agent/knownPools.ts'
import { normaliseOrigin } from '../../protocol/index.ts'
import { manualClock } from '../../lib/clock.ts'
import { poolAgent } from '../harness/attackers.ts'

const scratchDatabase = scratchDatabases()
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

function agentOn(urls: string, knownPoolsFile: string, log = recordingLogger()) {
  const id = identity()
  const conn = new PoolConnection({
    coordinatorUrl: urls,
    nodeKey: id.key,
    hello: async () => connectBody(id, { role: 'host', capacity: 3 }),
    knownPools: new KnownPools({ file: knownPoolsFile }),
    handlers: {},
    log,
    // The defaults an operator gets: a second's backoff would show.
    minReconnectDelayMs: 500,
    maxReconnectDelayMs: 30_000,
  })
  cleanup.push(() => conn.close())
  return { id, conn, log }
}

async function deadUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

test('replicas: an agent moves to the next replica of its pool when its own goes away, and the duties lease is held by exactly one', async () => {
  const db = await scratchDatabase()
  const a = await testCoordinator({ db })
  const b = await testCoordinator({ db })
  cleanup.push(() => a.close(), () => b.close())
  expect(b.poolId).toBe(a.poolId)
  const duties = async (c: typeof a) => /^vipnode_singleton_duties (\d)$/m.exec(await (await fetch(`${c.url}/metrics`)).text())?.[1]
  expect([await duties(a), await duties(b)]).toEqual(['1', '0'])

  const known = join(mkdtempSync(join(tmpdir(), 'vipnode-replicas-')), 'nodekey.pools.json')
  const { id, conn, log } = agentOn(`${a.url},${b.url}`, known)
  conn.start()
  await conn.ready()
  expect(conn.origin).toBe(normaliseOrigin(a.url))
  expect(a.services.sessions.isOnline(id.nodeId)).toBe(true)

  // Replica a goes away (its sockets closed, as a stopping or dying process's are): the agent logs in to b.
  await a.close()
  await waitFor(() => b.services.sessions.isOnline(id.nodeId), 'the agent logged in to replica b', { timeoutMs: 10_000 })
  expect(conn.origin).toBe(normaliseOrigin(b.url))
  // It went to b at once, not after a backoff, and both replicas are remembered under the one pool id.
  const moves = log.lines.filter((l) => l.message === 'reconnecting to the next coordinator replica')
  expect(moves.length).toBeGreaterThan(0)
  expect(moves.every((l) => (l.context!.inMs as number) < 500)).toBe(true)
  expect(new KnownPools({ file: known }).read()).toEqual({ [normaliseOrigin(a.url)]: a.poolId, [normaliseOrigin(b.url)]: a.poolId })
  // a's duties lease was released with it: b takes the duties at its next try.
  await waitFor(async () => (await duties(b)) === '1', 'replica b holds the duties', { timeoutMs: 10_000 })
}, 60_000)

test('replicas: a dead first replica costs no backoff, and a "replica" of another pool is refused before the agent signs anything', async () => {
  const honest = await testCoordinator({ db: await scratchDatabase() })
  const other = await testCoordinator({ poolId: 'another-pool' })
  cleanup.push(() => honest.close(), () => other.close())
  const known = join(mkdtempSync(join(tmpdir(), 'vipnode-replicas-')), 'nodekey.pools.json')

  const dead = await deadUrl()
  const first = agentOn(`${dead},${honest.url}`, known)
  first.conn.start()
  await first.conn.ready()
  expect(first.conn.origin).toBe(normaliseOrigin(honest.url))
  expect(first.log.lines.find((l) => l.message === 'reconnecting to the next coordinator replica')?.context?.inMs).toBeLessThan(500)
  await first.conn.close()

  // The same key file, now listing a coordinator of another pool as a replica: the agent refuses to log in there.
  const second = agentOn(`${other.url},${honest.url}`, known)
  const fatal = new Promise<unknown>((resolve) => second.conn.once('fatal', resolve))
  second.conn.start()
  const err = await fatal
  expect(err).toBeInstanceOf(KnownPoolError)
  expect((err as Error).message).toContain(`at its replica ${normaliseOrigin(honest.url)} to pool "${honest.poolId}"`)
  expect(other.services.sessions.count('host')).toBe(0)
}, 60_000)

test('replicas: a starting coordinator closes the session rows of dead coordinators only, never a live sibling\'s', async () => {
  const db = await scratchDatabase()
  const a = await testCoordinator({ db })
  cleanup.push(() => a.close())
  const known = join(mkdtempSync(join(tmpdir(), 'vipnode-replicas-')), 'nodekey.pools.json')
  const { id, conn } = agentOn(a.url, known)
  conn.start()
  const session = await conn.ready()
  // A row left open by a coordinator that died (its replica lease is free), and one from before replicas.
  const store = a.services.store
  await store.openSession({ id: 'dead-1', nodeId: id.nodeId, role: 'host', remoteAddress: '127.0.0.1', connectedAtMs: 1, replicaId: 'dead-replica' })
  await store.openSession({ id: 'legacy-1', nodeId: id.nodeId, role: 'host', remoteAddress: '127.0.0.1', connectedAtMs: 1 })

  const b = await testCoordinator({ db })
  cleanup.push(() => b.close())
  expect(await store.getSession(session.sessionId)).toMatchObject({ closedAtMs: null }) // a's agent: still open
  expect(await store.getSession('dead-1')).toMatchObject({ closeReason: 'coordinator restarted' })
  expect(await store.getSession('legacy-1')).toMatchObject({ closeReason: 'coordinator restarted' })
  expect(a.services.sessions.isOnline(id.nodeId)).toBe(true)
}, 60_000)

test('replicas: a starting coordinator leaves the assignments of agents online on a live sibling alone (it would release them after its grace)', async () => {
  const db = await scratchDatabase()
  const a = await testCoordinator({ db })
  cleanup.push(() => a.close())
  const host = await poolAgent(a, { role: 'host', capacity: 3 })
  const client = await poolAgent(a, { role: 'client' })
  cleanup.push(async () => host.close(), async () => client.close())
  expect((await client.request('vipnode_requestHosts', { count: 1 })).result.hosts[0].nodeId).toBe(host.nodeId)

  // A second coordinator starts on the same database, and its restart grace passes on its own clock.
  const clock = manualClock(Date.now())
  const b = await testCoordinator({ db }, { clock })
  cleanup.push(() => b.close())
  clock.advance(10 * 60_000)
  await b.services.assignments.sweep()
  expect(b.services.assignments.hostsOf(client.nodeId)).toEqual([])
  expect((await b.services.store.activeAssignments()).map((x) => [x.clientId, x.hostId])).toEqual([[client.nodeId, host.nodeId]])
  expect(a.services.assignments.hostsOf(client.nodeId)).toEqual([host.nodeId])
}, 60_000)
