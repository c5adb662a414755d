/**
 * The DisputeService over a real AssignmentService: in-memory SQLite store,
 * in-process agent connections and a manual clock. Metering is reduced to
 * what the dispute rule reads (each node's latest report); the flows over
 * real sockets are in test/adversary/.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { Registry } from 'prom-client'
import { ErrorCode, type NodeId } from '../../protocol/index.ts'
import { manualClock } from '../../lib/clock.ts'
import { recordingLogger } from '../../test/harness/agents.ts'
import { fakeConnection, fakeSession } from '../../test/harness/fakeSessions.ts'
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqliteStore.ts'
import { createCoordinatorMetrics } from '../metrics.ts'
import type { LatestReport } from '../logic/corroborate.ts'
import { disputePolicyFor } from '../logic/disputes.ts'
import { AssignmentService } from './assignments.ts'
import { DisputeService } from './disputes.ts'
import { SessionRegistry } from './sessions.ts'

const INTERVAL = 1_000
const POLICY = disputePolicyFor({ updateIntervalMs: INTERVAL, connectGraceMs: 3_000 })
const CLIENT_COOL_DOWN = { baseMs: 60_000, maxMs: 3_600_000 }
const stores: SqliteStore[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
})

function setup() {
  const clock = manualClock(1_700_000_000_000)
  const sessions = new SessionRegistry(clock)
  const store = openSqliteStore(':memory:')
  stores.push(store)
  const registry = new Registry()
  const metrics = createCoordinatorMetrics(registry)
  const log = recordingLogger()
  const assignments = new AssignmentService(
    { admitTimeoutMs: 1_000, releaseGraceMs: INTERVAL, startupGraceMs: INTERVAL, corroboratedForMs: POLICY.gapMs, slowStartSlots: 0, clientCoolDown: CLIENT_COOL_DOWN },
    { store, sessions, clock, log, metrics, random: () => 0 },
  )
  const latest = new Map<NodeId, LatestReport>()
  const disputes = new DisputeService(POLICY, { assignments, metering: { latestOf: (id) => latest.get(id) }, sessions, clock, log, metrics })
  const agent = (role: 'host' | 'client') => {
    const { id, session } = fakeSession(role, clock.now())
    const notices: any[] = []
    const evicted: NodeId[] = []
    sessions.attach(
      fakeConnection(session, {
        call: async (method, params: any) => {
          if (method === 'vipnode_evict') evicted.push(params.nodeId)
          return method === 'vipnode_admit' ? { admitted: true } : { evicted: true }
        },
        notify: (_method, params) => void notices.push(params),
      }),
    )
    return { id: id.nodeId, session, notices, evicted }
  }
  /** What the node reported at the current time. */
  const reports = (nodeId: NodeId, ...peers: NodeId[]) => latest.set(nodeId, { atMs: clock.now(), peers: new Set(peers) })
  /** Both sides list each other now, and metering saw it corroborate. */
  const corroborate = (clientId: NodeId, hostId: NodeId) => {
    reports(clientId, hostId)
    reports(hostId, clientId)
    assignments.noteCorroborated(clientId, hostId, clock.now())
  }
  const disputesMetric = async () => (await registry.getSingleMetricAsString('vipnode_disputes_total')).split('\n').filter((l) => !l.startsWith('#'))
  return { clock, assignments, disputes, agent, reports, corroborate, disputesMetric, log, store }
}

describe('DisputeService.sweep', () => {
  test('default: a new pair within its connect grace is left alone; a silent client is released at the grace and struck', async () => {
    const { clock, assignments, disputes, agent, disputesMetric } = setup()
    const host = agent('host')
    const client = agent('client')
    await assignments.requestHosts(client.session, 1, 'peer')
    clock.advance(POLICY.connectGraceMs - 1)
    expect(await disputes.sweep()).toBe(0)
    expect(assignments.hostsOf(client.id)).toEqual([host.id])

    clock.advance(1)
    expect(await disputes.sweep()).toBe(1)
    expect(assignments.hostsOf(client.id)).toEqual([])
    expect(host.evicted).toEqual([client.id])
    expect(assignments.clientCoolDownOf(client.id)).toMatchObject({ strikes: 1, untilMs: clock.now() + CLIENT_COOL_DOWN.baseMs })
    expect(client.notices).toEqual([expect.objectContaining({ level: 'error', code: 'disputed' })])
    expect(await disputesMetric()).toEqual(['vipnode_disputes_total{kind="client-silent",blamed="client"} 1'])
  })

  test('behavior: a repeat offender cools down twice as long, and is refused hosts meanwhile', async () => {
    const { clock, assignments, disputes, agent } = setup()
    agent('host')
    const client = agent('client')
    await assignments.requestHosts(client.session, 1, 'peer')
    clock.advance(POLICY.connectGraceMs)
    await disputes.sweep()
    const err = await assignments.requestHosts(client.session, 1, 'peer').catch((e: unknown) => e)
    expect(err).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, data: { coolingDownUntilMs: clock.now() + CLIENT_COOL_DOWN.baseMs } })

    clock.advance(CLIENT_COOL_DOWN.baseMs)
    // The disputed host is avoided for this client; another serves it, and it stays silent again.
    const other = agent('host')
    expect((await assignments.requestHosts(client.session, 1, 'peer')).hosts.map((h) => h.nodeId)).toEqual([other.id])
    clock.advance(POLICY.connectGraceMs)
    await disputes.sweep()
    expect(assignments.clientCoolDownOf(client.id)).toMatchObject({ strikes: 2, untilMs: clock.now() + 2 * CLIENT_COOL_DOWN.baseMs })
  })

  test('kind: a client denying a proven host is blamed; denying an unproven one is not', async () => {
    const { clock, assignments, disputes, agent, reports, corroborate, disputesMetric } = setup()
    const proven = agent('host')
    const honest = agent('client')
    await assignments.requestHosts(honest.session, 1, 'peer')
    const denier = agent('client')
    await assignments.requestHosts(denier.session, 1, 'peer') // least loaded first: a new host comes later
    expect(assignments.hostsOf(denier.id)).toEqual([proven.id])
    const fresh = agent('host')
    const denier2 = agent('client')
    await assignments.requestHosts(denier2.session, 1, 'peer')
    expect(assignments.hostsOf(denier2.id)).toEqual([fresh.id])

    clock.advance(POLICY.connectGraceMs)
    corroborate(honest.id, proven.id)
    reports(proven.id, honest.id, denier.id)
    reports(denier.id)
    reports(fresh.id, denier2.id)
    reports(denier2.id)
    expect(await disputes.sweep()).toBe(2)
    expect(assignments.hostsOf(honest.id)).toEqual([proven.id])
    expect(assignments.clientCoolDownOf(denier.id)).toMatchObject({ strikes: 1 })
    expect(assignments.clientCoolDownOf(denier2.id)).toBeUndefined()
    expect(denier2.notices).toEqual([expect.objectContaining({ level: 'warn', code: 'host-gone' })])
    expect((await disputesMetric()).sort()).toEqual(['vipnode_disputes_total{kind="client-denies",blamed="client"} 1', 'vipnode_disputes_total{kind="client-denies",blamed="none"} 1'])
  })

  test('kind: never-connected releases the pair without blame, and the host is not offered to that client again', async () => {
    const { clock, assignments, disputes, agent, reports } = setup()
    const blackHole = agent('host')
    const client = agent('client')
    await assignments.requestHosts(client.session, 1, 'peer')
    clock.advance(POLICY.connectGraceMs)
    reports(blackHole.id)
    reports(client.id)
    expect(await disputes.sweep()).toBe(1)
    expect(assignments.coolDownOf(blackHole.id)).toBeUndefined()
    expect(assignments.clientCoolDownOf(client.id)).toBeUndefined()
    const err = await assignments.requestHosts(client.session, 1, 'peer').catch((e: unknown) => e)
    expect(err).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE })
    const honest = agent('host')
    expect((await assignments.requestHosts(client.session, 1, 'peer')).hosts.map((h) => h.nodeId)).toEqual([honest.id])
  })

  test('kind: a host too rare for a proven client is struck (host cool-down)', async () => {
    const { clock, assignments, disputes, agent, reports, corroborate } = setup()
    const steady = agent('host')
    const client = agent('client')
    await assignments.requestHosts(client.session, 1, 'peer')
    const rare = agent('host')
    await assignments.requestHosts(client.session, 2, 'peer')
    expect(assignments.hostsOf(client.id).sort()).toEqual([steady.id, rare.id].sort())
    clock.advance(POLICY.connectGraceMs - 1_000)
    reports(rare.id, client.id) // the rare host's only report, long before the deadline
    clock.advance(1_000)
    corroborate(client.id, steady.id)
    reports(client.id, steady.id, rare.id)
    expect(await disputes.sweep()).toBe(1)
    expect(assignments.hostsOf(client.id)).toEqual([steady.id])
    // The rare host's report is 1 s old: not silent (silence is > 2 s), just never close in time to the client's.
    expect(assignments.coolDownOf(rare.id)).toMatchObject({ strikes: 1 })
  })

  test('behavior: a corroborated pair survives one missed report and is released after the gap', async () => {
    const { clock, assignments, disputes, agent, corroborate } = setup()
    const host = agent('host')
    const client = agent('client')
    await assignments.requestHosts(client.session, 1, 'peer')
    clock.advance(INTERVAL)
    corroborate(client.id, host.id)
    clock.advance(2 * INTERVAL) // one report missed by both sides
    expect(await disputes.sweep()).toBe(0)
    clock.advance(POLICY.gapMs - 2 * INTERVAL)
    expect(await disputes.sweep()).toBe(1)
  })

  test('behavior: blame is read before any release, so releasing one pair does not change who may blame in the next', async () => {
    const { clock, assignments, disputes, agent, reports, corroborate } = setup()
    const host = agent('host')
    const honest = agent('client')
    await assignments.requestHosts(honest.session, 1, 'peer')
    const denier = agent('client')
    await assignments.requestHosts(denier.session, 1, 'peer')
    clock.advance(INTERVAL)
    corroborate(honest.id, host.id)
    // The honest client then goes silent past the gap while the host keeps listing both: both pairs fall due together.
    clock.advance(POLICY.gapMs)
    reports(host.id, honest.id, denier.id)
    reports(denier.id)
    expect(await disputes.sweep()).toBe(2)
    // At the sweep the host was proven (its pair with the honest client counted as serving): the denier is blamed.
    expect(assignments.clientCoolDownOf(denier.id)).toMatchObject({ strikes: 1 })
  })
})
