/**
 * Attack 7, capacity magnet and black-hole host (issue 16): capacity is
 * self-declared and selection weighs it, so a host declaring 10,000 slots
 * drew 100 of 100 new clients against ten honest 10-slot hosts; when it then
 * never served them, nothing moved them.
 *
 * Bound (slow start, logic/disputes.ts effectiveCapacity): a host holds at
 * most slowStartSlots + 2 × (clients it serves with corroborated service)
 * clients, whatever it declares. A black hole corroborates nothing, so it
 * never holds more than slowStartSlots (2) clients at once; each of its pairs
 * is released within the grace, and every client ends on an honest host.
 */
import { describe, test, expect, afterEach } from 'vitest'
import type { NodeId } from '../../protocol/index.ts'
import { DEFAULT_SLOW_START_SLOTS } from '../../coordinator/services/assignments.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { assignmentHistory, disputeCounts, every, poolAgent, type PoolAgent } from '../harness/attackers.ts'

const INTERVAL = 400
const GRACE = 3 * INTERVAL
const CLIENTS = 100

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

describe('attack 7: capacity magnet', () => {
  test('a black hole declaring 10,000 slots never holds more than its slow-start slots; its pairs are released and every client ends on an honest host', async () => {
    const c = await testCoordinator({ updateIntervalMs: INTERVAL, connectGraceMs: GRACE })
    cleanup.push(() => c.close())
    const { assignments } = c.services
    const magnet = await poolAgent(c, { role: 'host', capacity: 10_000 })
    const honest = await Promise.all(Array.from({ length: 10 }, () => poolAgent(c, { role: 'host', capacity: 10 })))
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => poolAgent(c, { role: 'client' })))
    for (const a of [magnet, ...honest, ...clients]) cleanup.push(() => a.close())

    // The bound, checked all along: the magnet's load (in-flight admissions included) within slow start's rule.
    let magnetMost = 0
    let violation: string | undefined
    cleanup.push(
      every(5, () => {
        const now = c.services.clock.now()
        const load = assignments.loadOf(magnet.nodeId)
        const allowed = DEFAULT_SLOW_START_SLOTS + 2 * assignments.corroboratedClientsOf(magnet.nodeId, now)
        magnetMost = Math.max(magnetMost, load)
        if (load > allowed) violation ??= `magnet held ${load} > ${allowed}`
      }),
    )

    // Honest nodes: hosts list the clients they serve, clients list the hosts that serve them. The black hole
    // admits and then lets nobody in: its report lists no one, and its clients' nodes never see it.
    const start = Date.now()
    const asking = new Set<PoolAgent>()
    cleanup.push(
      every(INTERVAL, () => {
        magnet.report([])
        for (const h of honest) h.report(assignments.clientsOf(h.nodeId))
        for (const cl of clients) {
          const mine = assignments.hostsOf(cl.nodeId)
          cl.report(mine.filter((id) => id !== magnet.nodeId))
          // Like a shim: a client without a host asks for one every interval.
          if (mine.length === 0 && !asking.has(cl)) {
            asking.add(cl)
            void cl
              .request('vipnode_requestHosts', { count: 1 })
              .catch(() => undefined)
              .finally(() => asking.delete(cl))
          }
        }
      }),
    )

    const honestIds = new Set<NodeId>(honest.map((h) => h.nodeId))
    await waitFor(() => clients.every((cl) => assignments.hostsOf(cl.nodeId).some((id) => honestIds.has(id))), 'every client on an honest host', { timeoutMs: 60_000 })
    const servedMs = Date.now() - start

    const magnetRows = clients.flatMap((cl) => assignmentHistory(c, cl.nodeId)).filter((r) => r.hostId === magnet.nodeId)
    const released = magnetRows.filter((r) => r.releasedAtMs !== null)
    console.log(
      `figures: capacity magnet: magnet held at most ${magnetMost} of ${CLIENTS} clients at once (bound ${DEFAULT_SLOW_START_SLOTS}), ${magnetRows.length} pairs in all, ` +
        `released ${Math.max(...released.map((r) => r.releasedAtMs! - r.assignedAtMs))} ms after assignment at most; all ${CLIENTS} clients on honest hosts after ${servedMs} ms`,
    )
    expect(violation).toBeUndefined()
    expect(magnetMost).toBeLessThanOrEqual(DEFAULT_SLOW_START_SLOTS)
    // Every magnet pair ended as a dispute nobody is blamed for, within the grace (+ one sweep), and its client moved.
    expect(magnetRows.length).toBeGreaterThan(0)
    for (const r of magnetRows) {
      expect(r.releaseReason).toBe('disputed')
      expect(r.releasedAtMs! - r.assignedAtMs).toBeLessThanOrEqual(GRACE + INTERVAL)
    }
    expect(await disputeCounts(c)).toEqual({ 'never-connected,none': magnetRows.length })
    expect(assignments.clientsOf(magnet.nodeId)).toEqual([])
    // Honest hosts grew to their declared 10 by serving: 100 clients on 10 hosts.
    expect(honest.map((h) => assignments.clientsOf(h.nodeId).length)).toEqual(Array(10).fill(10))
  }, 90_000)
})
