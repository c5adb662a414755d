/**
 * A socket that closes while vipnode_connect awaits the store must not be
 * attached as a live session (an asynchronous store such as PostgreSQL makes
 * that window wide). The store here holds openSession until the test has
 * closed the socket and the coordinator has seen the close.
 */
import { test, expect } from 'vitest'
import { ErrorCode } from '../../protocol/index.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { scratchDatabases } from '../../test/harness/postgres.ts'
import { closeAfterEach } from '../../test/harness/scratch.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import { poolAgent } from '../../test/harness/attackers.ts'
import { RawAgent, connectBody, identity, signedConnect } from '../../test/harness/rawAgent.ts'
import { openPostgresStore } from '../store/postgres/postgresStore.ts'
import { openSqliteStore } from '../store/sqlite/sqliteStore.ts'
import type { Store } from '../store/store.ts'
import type { RunningCoordinator } from '../coordinator.ts'

const scratchDatabase = scratchDatabases()
const closers = closeAfterEach()

/** `store` whose openSession waits for `release()`; `reached` resolves when one is waiting. */
function holdOpenSession(store: Store) {
  let reached!: () => void
  let release!: () => void
  const reachedP = new Promise<void>((r) => (reached = r))
  const released = new Promise<void>((r) => (release = r))
  const held = new Proxy(store, {
    get(target, prop) {
      if (prop === 'openSession') {
        return async (...args: Parameters<Store['openSession']>) => {
          reached()
          await released
          return target.openSession(...args)
        }
      }
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  return { store: held, reached: reachedP, release }
}

const metricValue = async (c: RunningCoordinator, name: string, labels: Record<string, string | number> = {}) => {
  const values = (await c.registry.getSingleMetric(name)!.get()).values
  return values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value ?? 0
}

for (const database of ['postgres', 'sqlite'] as const) {
  test(`behavior: a host whose socket closes while its login awaits the store is never live and gets no clients (${database})`, async () => {
    const inner = database === 'postgres' ? await openPostgresStore(await scratchDatabase()) : openSqliteStore(':memory:')
    const { store, reached, release } = holdOpenSession(inner)
    const c = await testCoordinator({}, { store })
    closers.push(() => c.close())

    const hostId = identity()
    const agent = await RawAgent.open(c.url)
    const challenge = await agent.challenge()
    agent.sendText(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'vipnode_connect', params: signedConnect(hostId, challenge, connectBody(hostId, { role: 'host' })) }))
    await reached
    agent.ws.terminate()
    // The coordinator has handled the close: no socket is waiting to authenticate any more.
    await waitFor(async () => (await metricValue(c, 'vipnode_agent_unauthenticated_sockets')) === 0, 'the close seen by the coordinator')
    release()
    await waitFor(async () => (await metricValue(c, 'vipnode_rpc_requests_total', { method: 'vipnode_connect', code: ErrorCode.CONNECTION_CLOSED })) === 1, 'the login refused')

    expect(c.services.sessions.get(hostId.nodeId)).toBeUndefined()
    expect(c.services.sessions.count('host')).toBe(0)
    expect(await metricValue(c, 'vipnode_agent_sockets', { role: 'host' })).toBe(0)
    expect(await metricValue(c, 'vipnode_agent_unauthenticated_sockets')).toBe(0)
    // The session row the login wrote is closed, not left open.
    expect(await c.services.store.closeOpenSessions(Date.now(), 'test')).toBe(0)
    // A client finds no host: nothing was assigned to the dead socket.
    const client = await poolAgent(c, { role: 'client' })
    const reply = await client.request('vipnode_requestHosts', { count: 1 })
    expect(reply.error?.code).toBe(ErrorCode.NO_HOSTS_AVAILABLE)
    expect(await c.services.store.activeAssignments()).toEqual([])
  })
}
