/**
 * Client-host assignments: which hosts serve which client. The active set is
 * mirrored in memory (loaded from the store at start) so capacity checks and
 * reservations are synchronous and can never overbook a host, even when many
 * clients ask at once.
 */
import { admitResultSchema, evictResultSchema, rpcError, type AssignedHost, type NodeId, type ServiceKind } from '../../protocol/index.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { AssignmentRecord, AssignmentStore } from '../store/store.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import { selectHosts, explainNoHosts, type HostCandidate } from '../logic/selectHosts.ts'
import type { AgentSession, SessionRegistry } from './sessions.ts'

export interface AssignmentOptions {
  admitTimeoutMs: number
  /** How long a vanished agent keeps its assignments before they are released. */
  releaseGraceMs: number
  /** After a coordinator start, how long agents with assignments have to reconnect (their backoff may be long). */
  startupGraceMs: number
}

export interface AssignmentDeps {
  store: AssignmentStore
  sessions: SessionRegistry
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
}

export type ReleaseReason = 'client-gone' | 'host-gone' | 'evicted' | 'insufficient-balance'

export class AssignmentService {
  private readonly hostsByClient = new Map<NodeId, Map<NodeId, AssignmentRecord>>()
  private readonly clientsByHost = new Map<NodeId, Set<NodeId>>()
  /** Admissions in flight, counted against capacity. */
  private readonly reserved = new Map<NodeId, number>()
  private readonly inflightByClient = new Map<NodeId, Set<NodeId>>()
  private readonly admittingByHost = new Map<NodeId, Set<NodeId>>()

  private readonly releaseListeners: ((clientId: NodeId, hostId: NodeId) => void)[] = []

  constructor(
    private readonly opts: AssignmentOptions,
    private readonly deps: AssignmentDeps,
  ) {}

  /** Called after each released assignment (metering ends the pair's chain). */
  onRelease(listener: (clientId: NodeId, hostId: NodeId) => void): void {
    this.releaseListeners.push(listener)
  }

  /** Release every host of a client. */
  async releaseClient(clientId: NodeId, reason: ReleaseReason): Promise<number> {
    let n = 0
    for (const hostId of this.hostsOf(clientId)) n += Number(await this.release(clientId, hostId, reason))
    return n
  }

  /** Load active assignments; every node in them gets the start-up grace period to reconnect. */
  async load(): Promise<number> {
    // Counted as gone from a moment in the future, so that release happens startupGraceMs from now.
    const goneAt = this.deps.clock.now() + Math.max(0, this.opts.startupGraceMs - this.opts.releaseGraceMs)
    const rows = await this.deps.store.activeAssignments()
    for (const a of rows) {
      this.index(a)
      this.deps.sessions.markGone(a.clientId, goneAt)
      this.deps.sessions.markGone(a.hostId, goneAt)
    }
    return rows.length
  }

  hostsOf(clientId: NodeId): NodeId[] {
    return [...(this.hostsByClient.get(clientId)?.keys() ?? [])]
  }

  clientsOf(hostId: NodeId): NodeId[] {
    return [...(this.clientsByHost.get(hostId) ?? [])]
  }

  /** Clients a host serves or is being asked to admit right now: what the pool vouches for. */
  vouchedClientsOf(hostId: NodeId): NodeId[] {
    const admitting = this.admittingByHost.get(hostId)
    return admitting ? [...new Set([...this.clientsOf(hostId), ...admitting])] : this.clientsOf(hostId)
  }

  /** Active assignments plus reservations. */
  loadOf(hostId: NodeId): number {
    return (this.clientsByHost.get(hostId)?.size ?? 0) + (this.reserved.get(hostId) ?? 0)
  }

  /**
   * Give the client up to `count` hosts: the ones it already has that are
   * online, topped up with newly admitted ones. Only hosts that acknowledged
   * vipnode_admit are returned.
   */
  async requestHosts(client: AgentSession, count: number, kind: ServiceKind): Promise<{ hosts: AssignedHost[] }> {
    const { sessions, log, metrics, store, clock } = this.deps
    const hosts: AssignedHost[] = []
    for (const [hostId, a] of this.hostsByClient.get(client.nodeId) ?? []) {
      const host = sessions.get(hostId)?.session
      if (host && a.kind === kind && hosts.length < count) hosts.push({ nodeId: hostId, enode: host.enode, kind })
    }
    const need = count - hosts.length
    if (need <= 0) return { hosts }

    const inflight = this.inflightByClient.get(client.nodeId) ?? new Set<NodeId>()
    const exclude = new Set<NodeId>([...this.hostsOf(client.nodeId), ...inflight])
    const candidates: HostCandidate[] = []
    for (const h of sessions.sessions('host')) {
      candidates.push({ nodeId: h.nodeId, chainId: h.chainId, kind: h.kind, capacity: h.capacity, load: this.loadOf(h.nodeId) })
    }
    const selection = selectHosts(candidates, { clientId: client.nodeId, chainId: client.chainId, kind, count: need, exclude })
    for (const r of selection.rejected) log.debug('host skipped', { client: client.nodeId, host: r.nodeId, reason: r.reason })

    // Reserve synchronously, before any await, so concurrent requests cannot overbook.
    for (const hostId of selection.chosen) {
      this.reserved.set(hostId, (this.reserved.get(hostId) ?? 0) + 1)
      inflight.add(hostId)
      let admitting = this.admittingByHost.get(hostId)
      if (!admitting) this.admittingByHost.set(hostId, (admitting = new Set()))
      admitting.add(client.nodeId)
    }
    this.inflightByClient.set(client.nodeId, inflight)

    const admitted = await Promise.all(
      selection.chosen.map(async (hostId): Promise<AssignedHost | undefined> => {
        const conn = sessions.get(hostId)
        try {
          if (!conn?.session) throw rpcError('NODE_UNAVAILABLE', 'host went offline')
          const reply = await conn.call('vipnode_admit', { nodeId: client.nodeId, enode: client.enode, kind }, { timeoutMs: this.opts.admitTimeoutMs })
          admitResultSchema.parse(reply)
          const record = await store.addAssignment({ clientId: client.nodeId, hostId, kind, assignedAtMs: clock.now() })
          this.index(record)
          return { nodeId: hostId, enode: conn.session.enode, kind }
        } catch (err) {
          metrics.admissionsFailed.inc()
          log.warn('admission failed', { client: client.nodeId, host: hostId, error: (err as Error).message })
          return undefined
        } finally {
          const left = (this.reserved.get(hostId) ?? 1) - 1
          if (left > 0) this.reserved.set(hostId, left)
          else this.reserved.delete(hostId)
          inflight.delete(hostId)
          const admitting = this.admittingByHost.get(hostId)
          admitting?.delete(client.nodeId)
          if (admitting?.size === 0) this.admittingByHost.delete(hostId)
        }
      }),
    )
    if (inflight.size === 0) this.inflightByClient.delete(client.nodeId)
    for (const h of admitted) if (h) hosts.push(h)
    if (hosts.length === 0) {
      const message =
        selection.chosen.length > 0
          ? `no host acknowledged the admission (${selection.chosen.length} tried)`
          : explainNoHosts(selection, client.chainId, sessions.count('host'))
      throw rpcError('NO_HOSTS_AVAILABLE', message, { rejected: selection.rejected.length })
    }
    return { hosts }
  }

  /** End one assignment; the host is told to evict the client unless the host is the one that left. */
  async release(clientId: NodeId, hostId: NodeId, reason: ReleaseReason): Promise<boolean> {
    const { store, sessions, clock, log, metrics } = this.deps
    if (!this.unindex(clientId, hostId)) return false
    await store.releaseAssignment(clientId, hostId, clock.now(), reason)
    for (const l of this.releaseListeners) l(clientId, hostId)
    metrics.assignmentsReleased.inc({ reason })
    log.info('assignment released', { client: clientId, host: hostId, reason })
    if (reason === 'host-gone') {
      // Tell the client now rather than at its next report, so it finds a replacement sooner.
      sessions.get(clientId)?.notify('vipnode_notice', { level: 'warn', code: 'host-gone', message: `host ${hostId.slice(0, 16)}… went offline; finding a replacement` })
    }
    const host = sessions.get(hostId)
    if (host && reason !== 'host-gone') {
      host.call('vipnode_evict', { nodeId: clientId, reason }, { timeoutMs: this.opts.admitTimeoutMs }).then(
        (reply) => evictResultSchema.parse(reply),
        (err: unknown) => log.warn('evict failed', { client: clientId, host: hostId, error: (err as Error).message }),
      )
    }
    return true
  }

  /** Release the assignments of agents that have been gone longer than the grace period. */
  async sweep(): Promise<number> {
    const { sessions, clock } = this.deps
    const now = clock.now()
    const expired = (id: NodeId) => {
      const since = sessions.offlineSince(id)
      return since !== undefined && now - since >= this.opts.releaseGraceMs
    }
    let released = 0
    for (const [clientId, hosts] of [...this.hostsByClient]) {
      for (const hostId of [...hosts.keys()]) {
        if (expired(clientId)) released += Number(await this.release(clientId, hostId, 'client-gone'))
        else if (expired(hostId)) released += Number(await this.release(clientId, hostId, 'host-gone'))
      }
    }
    return released
  }

  private index(a: AssignmentRecord): void {
    let hosts = this.hostsByClient.get(a.clientId)
    if (!hosts) this.hostsByClient.set(a.clientId, (hosts = new Map()))
    hosts.set(a.hostId, a)
    let clients = this.clientsByHost.get(a.hostId)
    if (!clients) this.clientsByHost.set(a.hostId, (clients = new Set()))
    clients.add(a.clientId)
  }

  private unindex(clientId: NodeId, hostId: NodeId): boolean {
    const hosts = this.hostsByClient.get(clientId)
    if (!hosts?.delete(hostId)) return false
    if (hosts.size === 0) this.hostsByClient.delete(clientId)
    const clients = this.clientsByHost.get(hostId)
    clients?.delete(clientId)
    if (clients?.size === 0) this.clientsByHost.delete(hostId)
    return true
  }
}
