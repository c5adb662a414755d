/**
 * Client-host assignments: which hosts serve which client. The active set is
 * mirrored in memory (loaded from the store at start) so capacity checks and
 * reservations are synchronous and can never overbook a host, even when many
 * clients ask at once.
 *
 * Choosing hosts is the pure policy in logic/selectHosts.ts (filter, then
 * stickiness, region and power-of-two-choices); this service feeds it the
 * live state (sessions, loads, heads, cool-downs, recent pairs), runs the
 * admissions with retries, keeps the explanations, and moves clients off
 * hosts that fall behind.
 */
import { admitResultSchema, assignedHostSchema, nodeIdSchema, serviceKindSchema, BEACON_CAPABILITY, evictResultSchema, rpcError, ErrorCode, RpcError, MAX_HOSTS_PER_REQUEST, type AssignedHost, type HostNeed, type NodeId, type RelayGrant, type RequestHostsResult, type ServiceKind } from '../../protocol/index.ts'
import type { RelayTokens } from '../logic/relayTokens.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { AssignmentRecord, AssignmentStore } from '../store/store.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import {
  selectHosts,
  isStale,
  explainNoHosts,
  explainNoneAdmitted,
  explainShortfall,
  summarizeReasons,
  type HostCandidate,
  type Rejection,
  type Selection,
  type SkipReason,
} from '../logic/selectHosts.ts'
import { confirmedHead, isLagging, quorumHead, type HeadView } from '../logic/heads.ts'
import { afterFailure, afterSuccess, isSpent, type CoolDownPolicy, type CoolDownState } from '../logic/coolDown.ts'
import { effectiveCapacity } from '../logic/disputes.ts'
import { RecentPairs } from '../logic/recentPairs.ts'
import { DecisionLog, type Decision, type HostSkip } from '../logic/decisionLog.ts'
import type { AgentSession, SessionRegistry } from './sessions.ts'
import type { HostQualityService } from './hostQuality.ts'
import { BusRequestError, type ClusterBus } from './clusterBus.ts'
import type { DirectoryHost, HostDirectory, RemoteHost } from './hostDirectory.ts'
import { z } from 'zod'

export interface AssignmentOptions {
  admitTimeoutMs: number
  /** How long a vanished agent keeps its assignments before they are released. */
  releaseGraceMs: number
  /** After a coordinator start, how long agents with assignments have to reconnect (their backoff may be long). */
  startupGraceMs: number
  /** Hosts more than this many blocks behind the pool's best head get no new clients. Default 8. */
  maxBlockLag?: number | undefined
  /** A host lagging for longer than this loses its clients (reason host-lagging). Default 2 × releaseGraceMs. */
  lagGraceMs?: number | undefined
  /**
   * A host whose agent has not reported for longer than this gets no new
   * clients and loses the ones it has (reason host-stale): its socket may stay
   * open (pings are answered) while its node hangs, and on a quiet chain that
   * never shows as lag. Undefined: no staleness check.
   */
  staleAfterMs?: number | undefined
  /** Further selection rounds when admissions fail (0: ask once). Default 1. */
  admitRetries?: number | undefined
  /** Region preferred for clients that declare none. */
  region?: string | null | undefined
  /** Pause after failed admissions. Default 10 s doubling up to 5 min. */
  coolDown?: CoolDownPolicy | undefined
  /** How long a released (client, host) pair is remembered for stickiness. Default 15 min. */
  stickyMs?: number | undefined
  /** Decisions kept for the dashboard. Default 100. */
  decisionLogSize?: number | undefined
  /**
   * A pair counts as serving (for slow start and standing) while its last
   * corroboration is at most this old. Default 2.5 × releaseGraceMs.
   */
  corroboratedForMs?: number | undefined
  /** Slow start: the slots a host that serves nobody yet is offered (logic/disputes.ts). 0 turns it off. Default 2. */
  slowStartSlots?: number | undefined
  /** The most hosts one client may hold, in flight included. Default MAX_HOSTS_PER_REQUEST. */
  maxHostsPerClient?: number | undefined
  /** Pause for a client blamed for a dispute. Default: 1 min doubling up to 1 h. */
  clientCoolDown?: CoolDownPolicy | undefined
  /**
   * A client refused as unusable (INVALID_PARAMS) by two distinct hosts within this window is struck; one
   * host's word is not enough, so a lying host cannot cool an honest client down. Default 1 min.
   */
  clientFaultWindowMs?: number | undefined
}

export interface AssignmentDeps {
  store: AssignmentStore
  sessions: SessionRegistry
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
  /** The pool's best head per chain. Default: the quorum of the connected hosts' reports (logic/heads.ts), computed on each call. */
  heads?: HeadView | undefined
  /** A witness (the tracker) for a host's head: it can confirm a host is not behind, never raise the best head. */
  trackerHeadOf?: ((hostId: NodeId, chainId: number) => number | undefined) | undefined
  /** Uniform in [0, 1); injected so tests and simulations are deterministic. */
  random?: (() => number) | undefined
  /** rpc service: without it, rpc hosts cannot be assigned. */
  relayTokens?: RelayTokens | undefined
  /** rpc hosts' scores and probation from their clients' reports (services/hostQuality.ts); without it every host scores 1. */
  quality?: Pick<HostQualityService, 'standingOf' | 'noteTrial'> | undefined
  /** Replicas (docs/cluster.md): siblings' hosts, and the bus their admissions and releases go over. */
  directory?: HostDirectory | undefined
  bus?: ClusterBus | undefined
}

export type ReleaseReason =
  | 'client-gone'
  | 'host-gone'
  | 'host-lagging'
  | 'host-stale'
  | 'evicted'
  | 'insufficient-balance'
  | 'disputed'
  | 'client-replaced'
  | 'refunded'
  | 'bad-answers'
  | 'beacon-swap'
  /** The client's replica gave up waiting for the host's replica to answer an admission: an admission that lands after it is undone. */
  | 'admit-abandoned'
const RELEASE_REASONS = ['client-gone', 'host-gone', 'host-lagging', 'host-stale', 'evicted', 'insufficient-balance', 'disputed', 'client-replaced', 'refunded', 'bad-answers', 'beacon-swap', 'admit-abandoned'] as const satisfies readonly ReleaseReason[]

/**
 * A pair whose host lives on another replica, as the client's replica keeps it: enough to vouch for the host in
 * the client's report replies, hand it back in requestHosts, grant its relay and forward the client's reports.
 * The owner (the host's replica) holds the pair itself: slots, metering, disputes, the store row.
 */
interface RemotePair {
  kind: ServiceKind
  host: HostInfo
  /** The host's replica when last seen in the directory: while it lives, the pair is its to release. */
  replicaId: string
}

/** What the client is told about a host, wherever the host lives. */
type HostInfo = Pick<AgentSession, 'nodeId' | 'enode' | 'kind' | 'relayUrl' | 'capabilities'>

/** admit.<replica>: the client's replica asks the host's replica to admit a client (docs/cluster.md). */
export const remoteAdmitRequestSchema = z.object({
  hostId: nodeIdSchema,
  kind: serviceKindSchema,
  client: z.object({ nodeId: nodeIdSchema, enode: z.string().max(1024), chainId: z.number().int() }),
})
export type RemoteAdmitRequest = z.infer<typeof remoteAdmitRequestSchema>
export interface RemoteAdmitReply {
  admitted: boolean
  reason?: string
  host?: AssignedHost
}
const remoteAdmitReplySchema = z.object({ admitted: z.boolean(), reason: z.string().max(200).optional(), host: z.unknown().optional() })

/** `release` (broadcast): a pair ended on one side; the other side's replica drops or releases its part. */
export const releaseMessageSchema = z.object({ replicaId: z.string().max(64), clientId: nodeIdSchema, hostId: nodeIdSchema, reason: z.enum(RELEASE_REASONS) })
/** `strike` (broadcast): the host's replica blamed a client of another replica for a dispute. */
export const strikeMessageSchema = z.object({ replicaId: z.string().max(64), clientId: nodeIdSchema, strikes: z.number().int().min(1).max(1_000), coolingForMs: z.number().int().min(0).max(7 * 86_400_000) })
/** `moved` (broadcast): a host logged in on another replica, which took its pairs over from the store. */
export const movedMessageSchema = z.object({ replicaId: z.string().max(64), hostId: nodeIdSchema })

/**
 * The host's replica answers an admission within this share of the admit timeout, so that its answer reaches the
 * client's replica before that one gives up (an admission answered too late would be recorded on one side only).
 */
const REMOTE_ADMIT_SHARE = 0.8

/** Pairs ended for these reasons are not offered to the same client again while remembered (no stickiness). */
const AVOIDED_AFTER: ReadonlySet<ReleaseReason> = new Set(['disputed', 'client-replaced', 'bad-answers'])

/** An active pair's clock for the dispute rule (logic/disputes.ts). */
export interface PairWatch {
  clientId: NodeId
  hostId: NodeId
  sinceMs: number
  corroboratedAtMs: number | undefined
}

/** What GET /v1/bootstrap asks: like vipnode_requestHosts, from someone who has not proven who they are. */
export interface PreviewRequest {
  chainId: number
  count: number
  kind: ServiceKind
  nodeId?: NodeId | undefined
  region?: string | null | undefined
}

export interface PreviewResult {
  hosts: { nodeId: NodeId; enode: string }[]
  message?: string
}

export const DEFAULT_MAX_BLOCK_LAG = 8
export const DEFAULT_ADMIT_RETRIES = 1
export const DEFAULT_SLOW_START_SLOTS = 2
const DEFAULT_COOL_DOWN: CoolDownPolicy = { baseMs: 10_000, maxMs: 300_000 }
const DEFAULT_CLIENT_COOL_DOWN: CoolDownPolicy = { baseMs: 60_000, maxMs: 3_600_000 }
const DEFAULT_STICKY_MS = 15 * 60_000
const DEFAULT_CLIENT_FAULT_WINDOW_MS = 60_000
/** Distinct hosts that must refuse a client as unusable before the client is struck. */
const CLIENT_FAULT_WITNESSES = 2
/** admit()'s answer when the host refused the client's input as invalid: the round decides who is to blame. */
const CLIENT_FAULT = 'client-fault'

export class AssignmentService {
  private readonly hostsByClient = new Map<NodeId, Map<NodeId, AssignmentRecord>>()
  private readonly clientsByHost = new Map<NodeId, Set<NodeId>>()
  /** Admissions in flight, counted against capacity. */
  private readonly reserved = new Map<NodeId, number>()
  private readonly inflightByClient = new Map<NodeId, Set<NodeId>>()
  private readonly admittingByHost = new Map<NodeId, Set<NodeId>>()
  /** Client side of pairs whose host lives on another replica (see RemotePair). */
  private readonly remote = new Map<NodeId, Map<NodeId, RemotePair>>()
  /**
   * Sibling-asked admissions in flight here whose asker gave up ('admit-abandoned' arrived first): undone as they
   * land. Entries live only while their admission is in flight.
   */
  private readonly abandoned = new Set<string>()

  private readonly coolDowns = new Map<NodeId, CoolDownState>()
  /** Clients blamed for disputes: no new hosts until the pause ends. */
  private readonly clientCoolDowns = new Map<NodeId, CoolDownState>()
  /** Per active pair: when its dispute clock started and when it last corroborated. */
  private readonly watches = new Map<string, PairWatch>()
  /** Pairs released as disputed or replaced: not offered to that client again while remembered. */
  private readonly avoided: RecentPairs
  /** Hosts that refused a client's admission as the client's fault, within clientFaultWindowMs. */
  private readonly clientFaults: RecentPairs
  /** When each online host was first seen lagging, in the current stretch. */
  private readonly laggingSince = new Map<NodeId, number>()
  private readonly recentPairs: RecentPairs
  private readonly decisions: DecisionLog
  private readonly heads: HeadView
  private readonly random: () => number
  private readonly maxBlockLag: number
  private readonly lagGraceMs: number
  private readonly admitRetries: number
  private readonly coolDown: CoolDownPolicy
  private readonly clientCoolDown: CoolDownPolicy
  private readonly corroboratedForMs: number
  private readonly slowStartSlots: number
  private readonly maxHostsPerClient: number

  /** Bumped whenever an assignment or a reservation comes or goes: watchers compare it instead of scanning. */
  version = 0

  private readonly releaseListeners: ((clientId: NodeId, hostId: NodeId) => void)[] = []
  private readonly adoptListeners: ((clientId: NodeId, hostId: NodeId) => void)[] = []

  constructor(
    private readonly opts: AssignmentOptions,
    private readonly deps: AssignmentDeps,
  ) {
    this.maxBlockLag = opts.maxBlockLag ?? DEFAULT_MAX_BLOCK_LAG
    this.lagGraceMs = opts.lagGraceMs ?? 2 * opts.releaseGraceMs
    this.admitRetries = opts.admitRetries ?? DEFAULT_ADMIT_RETRIES
    this.coolDown = opts.coolDown ?? DEFAULT_COOL_DOWN
    this.clientCoolDown = opts.clientCoolDown ?? DEFAULT_CLIENT_COOL_DOWN
    this.corroboratedForMs = opts.corroboratedForMs ?? 2.5 * opts.releaseGraceMs
    this.slowStartSlots = opts.slowStartSlots ?? DEFAULT_SLOW_START_SLOTS
    this.maxHostsPerClient = opts.maxHostsPerClient ?? MAX_HOSTS_PER_REQUEST
    this.recentPairs = new RecentPairs({ ttlMs: opts.stickyMs ?? DEFAULT_STICKY_MS, perClient: 16, maxClients: 100_000 })
    this.avoided = new RecentPairs({ ttlMs: opts.stickyMs ?? DEFAULT_STICKY_MS, perClient: 64, maxClients: 100_000 })
    this.clientFaults = new RecentPairs({ ttlMs: opts.clientFaultWindowMs ?? DEFAULT_CLIENT_FAULT_WINDOW_MS, perClient: CLIENT_FAULT_WITNESSES * 4, maxClients: 100_000 })
    this.decisions = new DecisionLog(opts.decisionLogSize ?? 100)
    this.random = deps.random ?? Math.random
    this.heads = deps.heads ?? { bestHead: (chainId) => quorumHead(deps.sessions.sessions('host'), chainId, this.staleBefore(deps.clock.now())) }
  }

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

  /**
   * Load active assignments; every node in them gets the start-up grace period to reconnect. Pairs with a node
   * that `elsewhere` says is online on another coordinator sharing the database are left to that one: loading
   * them here would release them after the grace, since their agents never come to this coordinator.
   */
  async load(elsewhere: ReadonlySet<NodeId> = new Set()): Promise<number> {
    // Counted as gone from a moment in the future, so that release happens startupGraceMs from now.
    const goneAt = this.deps.clock.now() + Math.max(0, this.opts.startupGraceMs - this.opts.releaseGraceMs)
    const rows = (await this.deps.store.activeAssignments()).filter((a) => !elsewhere.has(a.clientId) && !elsewhere.has(a.hostId))
    // The dispute clock of a restored pair starts when its agents' grace to come back ends.
    const clockStartsAt = this.deps.clock.now() + this.opts.startupGraceMs
    for (const a of rows) {
      this.index(a)
      this.watches.get(pairKey(a.clientId, a.hostId))!.sinceMs = clockStartsAt
      this.deps.sessions.markGone(a.clientId, goneAt)
      this.deps.sessions.markGone(a.hostId, goneAt)
    }
    return rows.length
  }

  /** Every host assigned to the client: on this replica and, for a client here, on other replicas. */
  hostsOf(clientId: NodeId): NodeId[] {
    const local = [...(this.hostsByClient.get(clientId)?.keys() ?? [])]
    const remote = this.remote.get(clientId)
    return remote ? [...local, ...remote.keys()] : local
  }

  /** The client's hosts whose pairs this replica owns: the ones it meters (the others' replicas meter theirs). */
  ownedHostsOf(clientId: NodeId): NodeId[] {
    return [...(this.hostsByClient.get(clientId)?.keys() ?? [])]
  }

  /** The client's hosts on other replicas, with the replica each lives on now (unknown: not in the directory). */
  remoteHostsOf(clientId: NodeId): { hostId: NodeId; replicaId: string | undefined }[] {
    const now = this.deps.clock.now()
    return [...(this.remote.get(clientId)?.keys() ?? [])].map((hostId) => ({ hostId, replicaId: this.deps.directory?.get(hostId, now)?.replicaId }))
  }

  /** The kind of the active assignment of this pair, or undefined when the host is not assigned to the client. */
  assignedKind(clientId: NodeId, hostId: NodeId): ServiceKind | undefined {
    return this.hostsByClient.get(clientId)?.get(hostId)?.kind ?? this.remote.get(clientId)?.get(hostId)?.kind
  }

  /** Whether this pair's host lives on another replica (its reports, quality and checks go there). */
  isRemotePair(clientId: NodeId, hostId: NodeId): boolean {
    return this.remote.get(clientId)?.has(hostId) ?? false
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

  /** The last decisions, newest first (for the dashboard). */
  recentDecisions(limit?: number): Decision[] {
    return this.decisions.recent(limit)
  }

  /** Why this host was last passed over, if it has not been chosen since. */
  skipReasons(hostId: NodeId): HostSkip | undefined {
    return this.decisions.skipOf(hostId)
  }

  /** Metering saw this pair corroborated at `atMs`. */
  noteCorroborated(clientId: NodeId, hostId: NodeId, atMs: number): void {
    const w = this.watches.get(pairKey(clientId, hostId))
    if (w && (w.corroboratedAtMs === undefined || atMs > w.corroboratedAtMs)) w.corroboratedAtMs = atMs
  }

  /** Every active pair's dispute clock (a snapshot: the caller may release pairs while going through it). */
  pairWatches(): PairWatch[] {
    return [...this.watches.values()].map((w) => ({ ...w }))
  }

  /** Clients this host serves with corroborated service right now. */
  corroboratedClientsOf(hostId: NodeId, nowMs: number): number {
    let n = 0
    for (const clientId of this.clientsByHost.get(hostId) ?? []) if (this.corroboratedNow(clientId, hostId, nowMs)) n++
    return n
  }

  /**
   * A node in good standing: it has corroborated service with someone right
   * now, which a fresh key cannot have. Only such a node's word blames others.
   */
  isProven(nodeId: NodeId, nowMs: number): boolean {
    for (const hostId of this.hostsByClient.get(nodeId)?.keys() ?? []) if (this.corroboratedNow(nodeId, hostId, nowMs)) return true
    return this.corroboratedClientsOf(nodeId, nowMs) > 0
  }

  /** The slots this host is offered now: its declared capacity under slow start (logic/disputes.ts). */
  effectiveCapacityOf(host: Pick<AgentSession, 'nodeId' | 'capacity'>, nowMs: number): number {
    return effectiveCapacity(host.capacity, this.corroboratedClientsOf(host.nodeId, nowMs), this.slowStartSlots)
  }

  /** Slots the balancer would hand this host now: the public free-slot counts add these up. */
  freeSlotsOf(host: Pick<AgentSession, 'nodeId' | 'capacity'>, nowMs: number): number {
    return Math.max(0, this.effectiveCapacityOf(host, nowMs) - this.loadOf(host.nodeId))
  }

  private corroboratedNow(clientId: NodeId, hostId: NodeId, nowMs: number): boolean {
    const at = this.watches.get(pairKey(clientId, hostId))?.corroboratedAtMs
    return at !== undefined && nowMs - at <= this.corroboratedForMs
  }

  /** A host blamed for a dispute: the same growing pause as a failed admission. */
  strikeHost(hostId: NodeId, nowMs: number): CoolDownState {
    const state = afterFailure(this.coolDowns.get(hostId), nowMs, this.coolDown)
    this.coolDowns.set(hostId, state)
    return state
  }

  /**
   * A client blamed for a dispute: no new hosts until the (growing) pause ends. The dispute rule runs on the
   * host's replica; a client on another replica asks for hosts there, so the pause goes to it (`strike`).
   */
  strikeClient(clientId: NodeId, nowMs: number): CoolDownState {
    const state = afterFailure(this.clientCoolDowns.get(clientId), nowMs, this.clientCoolDown)
    this.clientCoolDowns.set(clientId, state)
    const { bus, sessions } = this.deps
    if (bus?.clustered && !sessions.isOnline(clientId)) bus.publish('strike', { replicaId: bus.replicaId, clientId, strikes: state.strikes, coolingForMs: Math.max(0, state.untilMs - nowMs) })
    return state
  }

  /** A sibling struck a client of this replica: the longer pause of the two holds (times as ages: clocks may differ). */
  onStrikeMessage(msg: z.infer<typeof strikeMessageSchema>): void {
    const { bus, sessions, clock } = this.deps
    if (msg.replicaId === bus?.replicaId || !sessions.isOnline(msg.clientId)) return
    const now = clock.now()
    const mine = this.clientCoolDowns.get(msg.clientId)
    const untilMs = now + msg.coolingForMs
    if (mine && mine.untilMs >= untilMs) return
    this.clientCoolDowns.set(msg.clientId, { strikes: Math.max(msg.strikes, mine?.strikes ?? 0), untilMs, lastFailureMs: now })
  }

  /** The client's pause after disputes it was blamed for, if one is running or remembered. */
  clientCoolDownOf(clientId: NodeId): CoolDownState | undefined {
    return this.clientCoolDowns.get(clientId)
  }

  /** The host's cool-down after failed admissions, if one is running or remembered. */
  coolDownOf(hostId: NodeId): CoolDownState | undefined {
    return this.coolDowns.get(hostId)
  }

  /** The pool's best head on a chain, as the lag filter sees it. */
  bestHead(chainId: number): number | undefined {
    return this.heads.bestHead(chainId)
  }

  /**
   * Give the client up to `count` hosts: the ones it already has that are
   * online, topped up with newly admitted ones. Only hosts that acknowledged
   * vipnode_admit are returned; when some refuse, others are tried, for at
   * most 1 + admitRetries rounds.
   *
   * `needs: ['beacon']` (rpc): hosts that serve the beacon API are picked
   * first (logic/selectHosts.ts). A client that already holds its count with
   * none of them (none was eligible when it got its hosts) gets one swapped
   * in: a round that takes only beacon hosts adds one, and only once it is
   * admitted is one kept host released (`beacon-swap`), so the client is
   * never left with fewer hosts; it holds one more for that admission's time.
   */
  async requestHosts(
    client: AgentSession,
    wanted: number,
    kind: ServiceKind,
    opts: { replace?: readonly NodeId[] | undefined; affordable?: number | undefined; needs?: readonly HostNeed[] | undefined } = {},
  ): Promise<RequestHostsResult> {
    const { sessions, clock } = this.deps
    // Hosts the client gives up because they never served it: released first, and not offered to it again.
    for (const hostId of opts.replace ?? []) await this.release(client.nodeId, hostId, 'client-replaced')
    const cooling = this.clientCoolDowns.get(client.nodeId)
    if (cooling && cooling.untilMs > clock.now()) {
      throw rpcError('NO_HOSTS_AVAILABLE', `this client was blamed for ${cooling.strikes} dispute(s) and gets no new hosts until ${new Date(cooling.untilMs).toISOString()}`, {
        coolingDownUntilMs: cooling.untilMs,
      })
    }
    // What a client holds counts in full: its assignments of any kind and the admissions in flight for it (a
    // superseded socket's request may still be running), so no burst gets past the cap, and a client holds no
    // more hosts than it can pay to hold.
    const needsBeacon = kind === 'rpc' && opts.needs?.includes(BEACON_CAPABILITY) === true
    const kept: AssignedHost[] = []
    for (const [hostId, a] of this.hostsByClient.get(client.nodeId) ?? []) {
      const host = sessions.get(hostId)?.session
      if (host && a.kind === kind) kept.push(this.assignedHost(client.nodeId, host))
    }
    for (const [hostId, r] of this.remote.get(client.nodeId) ?? []) {
      if (r.kind === kind && this.deps.directory?.get(hostId, clock.now())) kept.push(this.assignedHost(client.nodeId, r.host))
    }
    // Beacon hosts first, so that a client over its count keeps them when the list is cut below.
    if (needsBeacon) kept.sort((a, b) => Number(b.relay?.beacon === true) - Number(a.relay?.beacon === true))
    const inflight = this.inflightByClient.get(client.nodeId)?.size ?? 0
    const held = this.hostsOf(client.nodeId).length + inflight
    const limit = Math.min(this.maxHostsPerClient, opts.affordable ?? Infinity)
    // The hosts of this kind the client may end up with: what it wants, within what the rest it holds leaves.
    const count = Math.min(wanted, limit - (held - kept.length))
    if (kept.length > count) kept.length = Math.max(0, count)
    // Full, but none of its hosts serves the beacon API it needs: the last one makes room if a beacon host can be admitted.
    const swapOut = needsBeacon && inflight === 0 && count > 0 && kept.length >= count && !kept.some((h) => h.relay?.beacon === true) ? kept.pop() : undefined
    if (kept.length + inflight >= count) {
      if (kept.length > 0) return { hosts: kept }
      throw rpcError('NO_HOSTS_AVAILABLE', `this client already holds ${held} host(s), admissions in flight included, and may hold ${limit}`, { held, limit })
    }

    const startedAt = clock.now()
    const added: AssignedHost[] = []
    const failed: NodeId[] = []
    const tried = new Set<NodeId>()
    const reasons = new Map<NodeId, SkipReason>()
    let rounds = 0
    while (rounds <= this.admitRetries && kept.length + inflight + added.length < count) {
      rounds++
      const beacon = swapOut ? 'only' : needsBeacon ? 'first' : undefined
      const selection = this.select({ clientId: client.nodeId, chainId: client.chainId, kind, count: count - kept.length - inflight - added.length, tried, region: client.region, beacon })
      for (const r of selection.rejected) reasons.set(r.nodeId, r.reason)
      if (selection.chosen.length === 0) break
      // Reserve synchronously, before any await, so concurrent requests cannot overbook; a host on probation's
      // trial slot is spent here too, so concurrent requests cannot both take it.
      for (const hostId of selection.chosen) {
        this.reserve(client.nodeId, hostId)
        // A remote host's trial slot is its owner's: noted there when it admits (serveAdmit).
        if (selection.onProbation.has(hostId) && sessions.isOnline(hostId)) this.deps.quality?.noteTrial(hostId, clock.now())
      }
      const outcomes = await Promise.all(selection.chosen.map((hostId) => this.admit(client, hostId, kind)))
      let failures = 0
      const refusedAsInvalid: NodeId[] = []
      selection.chosen.forEach((hostId, i) => {
        const got = outcomes[i]
        if (got === CLIENT_FAULT) refusedAsInvalid.push(hostId)
        if (got && got !== CLIENT_FAULT) added.push(got)
        else {
          failures++
          failed.push(hostId)
          tried.add(hostId)
          reasons.set(hostId, 'admit-failed')
        }
      })
      if (refusedAsInvalid.length > 0) this.judgeClientFault(client.nodeId, refusedAsInvalid)
      if (failures === 0) break
      // Hosts found this client unusable: no further rounds spend other hosts' admissions on it.
      if ((this.clientCoolDowns.get(client.nodeId)?.untilMs ?? 0) > clock.now()) break
    }

    if (swapOut) {
      // The beacon host is in: the kept host it replaces goes. No beacon host could be admitted: nothing changes.
      if (added.length > 0) await this.release(client.nodeId, swapOut.nodeId, 'beacon-swap')
      else kept.push(swapOut)
    }
    const hosts = [...kept, ...added]
    const given = new Set(hosts.map((h) => h.nodeId))
    const skipped: Rejection[] = []
    for (const [nodeId, reason] of reasons) if (!given.has(nodeId)) skipped.push({ nodeId, reason })
    let message: string | undefined
    if (hosts.length === 0) {
      message = tried.size > 0 ? explainNoneAdmitted(tried.size, skipped) : explainNoHosts(skipped, client.chainId, this.hostCount())
    } else if (hosts.length < count) message = explainShortfall(hosts.length, count, skipped, client.chainId)
    this.note({
      atMs: startedAt,
      source: 'rpc',
      clientId: client.nodeId,
      chainId: client.chainId,
      kind,
      requested: count,
      kept: kept.map((h) => h.nodeId),
      added: added.map((h) => h.nodeId),
      failed,
      skipped,
      rounds,
      ...(message ? { message } : {}),
    })
    if (hosts.length === 0) {
      throw rpcError('NO_HOSTS_AVAILABLE', message!, { rejected: skipped.length, tried: tried.size })
    }
    return message ? { hosts, message } : { hosts }
  }

  /**
   * The hosts GET /v1/bootstrap would offer: the same filters and choice as
   * vipnode_requestHosts, but nothing is reserved or admitted. The caller has
   * not proven it owns `nodeId`, so the pool must not make hosts trust that
   * node or start charging it; `nodeId` only serves to leave out the node
   * itself and its current hosts, and to prefer its previous ones.
   */
  preview(req: PreviewRequest): PreviewResult {
    const { sessions, clock } = this.deps
    const selection = this.select({ clientId: req.nodeId, chainId: req.chainId, kind: req.kind, count: req.count, tried: new Set(), region: req.region ?? null })
    const hosts: PreviewResult['hosts'] = []
    const skipped = [...selection.rejected]
    for (const hostId of selection.chosen) {
      const enode = sessions.get(hostId)?.session?.enode ?? this.deps.directory?.get(hostId, clock.now())?.enode
      if (enode) hosts.push({ nodeId: hostId, enode })
    }
    const message =
      hosts.length === 0 ? explainNoHosts(skipped, req.chainId, this.hostCount()) : hosts.length < req.count ? explainShortfall(hosts.length, req.count, skipped, req.chainId) : undefined
    this.note({
      atMs: clock.now(),
      source: 'http',
      clientId: req.nodeId ?? null,
      chainId: req.chainId,
      kind: req.kind,
      requested: req.count,
      kept: [],
      added: hosts.map((h) => h.nodeId),
      failed: [],
      skipped,
      rounds: 1,
      ...(message ? { message } : {}),
    })
    return message ? { hosts, message } : { hosts }
  }

  /** Build the candidates from the live state and run the pure policy. */
  private select(req: {
    clientId: NodeId | undefined
    chainId: number
    kind: ServiceKind
    count: number
    tried: ReadonlySet<NodeId>
    region: string | null
    beacon?: 'first' | 'only' | undefined
  }): Selection & { onProbation: ReadonlySet<NodeId> } {
    const { sessions, clock, quality } = this.deps
    const now = clock.now()
    const candidates: HostCandidate[] = []
    const onProbation = new Set<NodeId>()
    for (const h of sessions.sessions('host')) {
      const standing = quality?.standingOf(h.nodeId, now)
      if (standing?.probation) onProbation.add(h.nodeId)
      candidates.push({
        ...(standing ? { score: standing.score, probation: standing.probation, trialOpen: standing.trialOpen, excluded: standing.excluded } : {}),
        nodeId: h.nodeId,
        chainId: h.chainId,
        kind: h.kind,
        capacity: this.effectiveCapacityOf(h, now),
        load: this.loadOf(h.nodeId),
        blockNumber: this.headOf(h),
        region: h.region,
        coolingUntilMs: this.coolDowns.get(h.nodeId)?.untilMs ?? 0,
        capabilities: h.capabilities,
        lastReportAtMs: h.lastReportAtMs,
      })
    }
    // Siblings' hosts, as their replicas published them: the owner counts the slots again when asked (serveAdmit),
    // so a stale view costs a refusal, never an extra slot. Admissions this replica has in flight count as load.
    for (const h of this.remoteCandidates(now)) {
      if (h.standing?.probation) onProbation.add(h.nodeId)
      candidates.push({
        ...(h.standing ?? {}),
        nodeId: h.nodeId,
        chainId: h.chainId,
        kind: h.kind,
        capacity: h.capacity,
        load: h.load + (this.reserved.get(h.nodeId) ?? 0),
        blockNumber: h.blockNumber,
        region: h.region,
        coolingUntilMs: Math.max(h.coolingUntilMs, this.coolDowns.get(h.nodeId)?.untilMs ?? 0),
        capabilities: h.capabilities ? new Set(h.capabilities) : undefined,
        lastReportAtMs: h.lastReportAtMs,
      })
    }
    const exclude = new Set<NodeId>(
      req.clientId ? [...this.hostsOf(req.clientId), ...(this.inflightByClient.get(req.clientId) ?? []), ...this.avoided.recent(req.clientId, now)] : [],
    )
    const selection = selectHosts(
      candidates,
      {
        clientId: req.clientId,
        chainId: req.chainId,
        kind: req.kind,
        count: req.count,
        exclude,
        tried: req.tried,
        bestHead: this.heads.bestHead(req.chainId),
        maxBlockLag: this.maxBlockLag,
        nowMs: now,
        staleBeforeMs: this.staleBefore(now),
        region: req.region ?? this.opts.region ?? null,
        sticky: this.recentPairs.recent(req.clientId, now),
        beacon: req.beacon,
      },
      this.random,
    )
    return { ...selection, onProbation }
  }

  /** Ask one host to admit the client; the reservation is held until the answer (or the timeout). */
  private async admit(client: Pick<AgentSession, 'nodeId' | 'enode' | 'chainId'>, hostId: NodeId, kind: ServiceKind, timeoutMs = this.opts.admitTimeoutMs): Promise<AssignedHost | typeof CLIENT_FAULT | undefined> {
    const { sessions, log, metrics, store, clock } = this.deps
    const conn = sessions.get(hostId)
    try {
      const remoteHost = conn?.session ? undefined : this.deps.directory?.get(hostId, clock.now())
      if (remoteHost) return await this.admitRemote(client, remoteHost, kind)
      if (!conn?.session) throw rpcError('NODE_UNAVAILABLE', 'host went offline')
      const relay = kind === 'rpc' ? { relay: { nodeId: client.nodeId, ...this.relayTokens().current(hostId, client.nodeId, clock.now()) } } : {}
      const reply = await conn.call('vipnode_admit', { nodeId: client.nodeId, enode: client.enode, kind, ...relay }, { timeoutMs })
      admitResultSchema.parse(reply)
      const record = await store.addAssignment({ clientId: client.nodeId, hostId, kind, assignedAtMs: clock.now() })
      this.index(record)
      const eased = afterSuccess(this.coolDowns.get(hostId), clock.now(), this.coolDown)
      if (eased) this.coolDowns.set(hostId, eased)
      else this.coolDowns.delete(hostId)
      return this.assignedHost(client.nodeId, conn.session)
    } catch (err) {
      metrics.admissionsFailed.inc()
      if (err instanceof RpcError && err.code === ErrorCode.INVALID_PARAMS) {
        // The host says the client's input is unusable; judged with the rest of the round (judgeClientFault).
        log.warn('admission refused as the client\'s fault', { client: client.nodeId, host: hostId, reason: err.message.slice(0, 200) })
        return CLIENT_FAULT
      }
      const state = afterFailure(this.coolDowns.get(hostId), clock.now(), this.coolDown)
      this.coolDowns.set(hostId, state)
      log.warn('admission failed', { client: client.nodeId, host: hostId, error: (err as Error).message, coolDownMs: state.untilMs - clock.now(), strikes: state.strikes })
      return undefined
    } finally {
      this.unreserve(client.nodeId, hostId)
    }
  }

  /**
   * Hosts refused the client as invalid (INVALID_PARAMS about its input), not for a failure of their own, so they
   * are not cooled down for it. If the client is usable after all (another host admitted it, in this round or
   * before), the refusals were false: each refusing host is struck as for a failed admission. Otherwise the
   * client is struck once CLIENT_FAULT_WITNESSES distinct hosts said so within the window, so one host alone
   * cannot cool an honest client down.
   */
  private judgeClientFault(clientId: NodeId, refusedBy: readonly NodeId[]): void {
    const { clock, log } = this.deps
    const now = clock.now()
    if (this.hostsOf(clientId).length > 0) {
      for (const hostId of refusedBy) {
        const state = this.strikeHost(hostId, now)
        log.warn('host refused as invalid a client another host admitted', { client: clientId, host: hostId, coolDownMs: state.untilMs - now, strikes: state.strikes })
      }
      this.clientFaults.forget(clientId)
      return
    }
    for (const hostId of refusedBy) this.clientFaults.remember(clientId, hostId, now)
    const witnesses = this.clientFaults.recent(clientId, now).size
    if (witnesses < CLIENT_FAULT_WITNESSES) return
    this.clientFaults.forget(clientId)
    const state = this.strikeClient(clientId, now)
    log.warn('client struck: hosts refused its admissions as invalid', { client: clientId, witnesses, coolDownMs: state.untilMs - now, strikes: state.strikes })
  }

  private relayTokens(): RelayTokens {
    if (!this.deps.relayTokens) throw new Error('this coordinator cannot issue relay tokens')
    return this.deps.relayTokens
  }

  /** What the client is told about one of its hosts: for rpc, where its relay is and the token to use there. */
  private assignedHost(clientId: NodeId, host: HostInfo): AssignedHost {
    if (host.kind !== 'rpc') return { nodeId: host.nodeId, enode: host.enode, kind: host.kind }
    const { token, expiresAtMs } = this.relayTokens().current(host.nodeId, clientId, this.deps.clock.now())
    const beacon = host.capabilities?.has(BEACON_CAPABILITY) ? { beacon: true as const } : {}
    return { nodeId: host.nodeId, enode: host.enode, kind: 'rpc', relay: { nodeId: host.nodeId, token, expiresAtMs, relayUrl: host.relayUrl!, ...beacon } }
  }

  /**
   * The relay grants an agent holds now, sent with every report reply so
   * tokens roll over before they expire. A host gets every token it should
   * accept (current and previous window) for its rpc clients, including
   * admissions in flight; a client gets the current token and relay URL of
   * each online rpc host it is assigned to.
   */
  relayGrantsFor(session: AgentSession): RelayGrant[] {
    const tokens = this.deps.relayTokens
    if (!tokens) return []
    const now = this.deps.clock.now()
    const grants: RelayGrant[] = []
    if (session.role === 'host') {
      if (session.kind !== 'rpc') return []
      for (const clientId of this.vouchedClientsOf(session.nodeId)) {
        const a = this.hostsByClient.get(clientId)?.get(session.nodeId)
        if (a && a.kind !== 'rpc') continue
        for (const t of tokens.accepted(session.nodeId, clientId, now)) grants.push({ nodeId: clientId, ...t })
      }
      return grants
    }
    for (const [hostId, a] of this.hostsByClient.get(session.nodeId) ?? []) {
      const host = this.deps.sessions.get(hostId)?.session
      if (a.kind === 'rpc' && host?.kind === 'rpc') grants.push(this.assignedHost(session.nodeId, host).relay!)
    }
    // The relay secret is the pool's (kept in the shared store), so this replica's tokens are the owner's too.
    for (const r of this.remote.get(session.nodeId)?.values() ?? []) if (r.kind === 'rpc' && r.host.kind === 'rpc') grants.push(this.assignedHost(session.nodeId, r.host).relay!)
    return grants
  }

  private reserve(clientId: NodeId, hostId: NodeId): void {
    this.version++
    this.reserved.set(hostId, (this.reserved.get(hostId) ?? 0) + 1)
    let inflight = this.inflightByClient.get(clientId)
    if (!inflight) this.inflightByClient.set(clientId, (inflight = new Set()))
    inflight.add(hostId)
    let admitting = this.admittingByHost.get(hostId)
    if (!admitting) this.admittingByHost.set(hostId, (admitting = new Set()))
    admitting.add(clientId)
  }

  private unreserve(clientId: NodeId, hostId: NodeId): void {
    this.version++
    const left = (this.reserved.get(hostId) ?? 1) - 1
    if (left > 0) this.reserved.set(hostId, left)
    else this.reserved.delete(hostId)
    const inflight = this.inflightByClient.get(clientId)
    inflight?.delete(hostId)
    if (inflight?.size === 0) this.inflightByClient.delete(clientId)
    const admitting = this.admittingByHost.get(hostId)
    admitting?.delete(clientId)
    if (admitting?.size === 0) this.admittingByHost.delete(hostId)
  }

  /** Keep the decision for the dashboard, count the skips, and log it at debug level. */
  private note(d: Decision): void {
    const { metrics, log } = this.deps
    this.decisions.record(d)
    // One inc per reason, not per host: a labelled inc costs a label lookup, and a big pool skips hundreds of hosts per request.
    const counts = new Map<SkipReason, number>()
    for (const s of d.skipped) counts.set(s.reason, (counts.get(s.reason) ?? 0) + 1)
    for (const [reason, n] of counts) metrics.assignmentSkipped.inc({ reason }, n)
    if (log.level === 'debug' || log.level === 'trace') {
      log.debug('hosts chosen', {
        source: d.source,
        client: d.clientId,
        chainId: d.chainId,
        requested: d.requested,
        kept: d.kept.length,
        added: d.added,
        failed: d.failed,
        rounds: d.rounds,
        summary: summarizeReasons(d.skipped.map((s) => s.reason)),
        skipped: d.skipped,
      })
    }
  }

  /** End one assignment; the host is told to evict the client unless the host is the one that left. */
  async release(clientId: NodeId, hostId: NodeId, reason: ReleaseReason, opts: { fromSibling?: boolean } = {}): Promise<boolean> {
    const { store, sessions, clock, log, metrics } = this.deps
    if (this.dropRemote(clientId, hostId)) {
      // The owner writes the release and evicts: it hears of it on the bus. A lost message leaves the pair to
      // the owner's dispute rule (no more forwarded reports: it stops corroborating and is released).
      this.deps.bus?.publish('release', { replicaId: this.deps.bus.replicaId, clientId, hostId, reason })
      log.info('assignment released', { client: clientId, host: hostId, reason, owner: 'sibling' })
      return true
    }
    if (!this.unindex(clientId, hostId)) return false
    const now = clock.now()
    // Remembered whatever the reason: the filters still apply when the client comes back, so a host that is
    // still lagging or gone is not given back, and one that recovered is. A pair that did not serve is avoided instead.
    if (AVOIDED_AFTER.has(reason)) this.avoided.remember(clientId, hostId, now)
    else this.recentPairs.remember(clientId, hostId, now)
    await store.releaseAssignment(clientId, hostId, now, reason)
    for (const l of this.releaseListeners) l(clientId, hostId)
    metrics.assignmentsReleased.inc({ reason })
    log.info('assignment released', { client: clientId, host: hostId, reason })
    // A client on another replica: its replica drops the pair and tells the client (onReleaseMessage).
    if (!opts.fromSibling && this.deps.bus?.clustered && !sessions.isOnline(clientId)) this.deps.bus.publish('release', { replicaId: this.deps.bus.replicaId, clientId, hostId, reason })
    this.tellClient(clientId, hostId, reason)
    const host = sessions.get(hostId)
    if (host && reason !== 'host-gone') {
      host.call('vipnode_evict', { nodeId: clientId, reason }, { timeoutMs: this.opts.admitTimeoutMs }).then(
        (reply) => evictResultSchema.parse(reply),
        (err: unknown) => log.warn('evict failed', { client: clientId, host: hostId, error: (err as Error).message }),
      )
    }
    return true
  }

  /**
   * Tell the client now rather than at its next report, so it finds a replacement sooner. A lagging host is
   * announced with the host-gone code too: that is the code client shims act on at once (the message says why).
   */
  private tellClient(clientId: NodeId, hostId: NodeId, reason: ReleaseReason): void {
    const { sessions } = this.deps
    if (reason === 'host-gone') {
      sessions.get(clientId)?.notify('vipnode_notice', { level: 'warn', code: 'host-gone', message: `host ${hostId.slice(0, 16)}… went offline; finding a replacement` })
    } else if (reason === 'host-lagging') {
      sessions.get(clientId)?.notify('vipnode_notice', { level: 'warn', code: 'host-gone', message: `host ${hostId.slice(0, 16)}… fell behind the chain head; finding a replacement` })
    } else if (reason === 'bad-answers') {
      sessions.get(clientId)?.notify('vipnode_notice', { level: 'warn', code: 'host-gone', message: `host ${hostId.slice(0, 16)}… answered deterministic calls differently from other hosts; finding a replacement` })
    } else if (reason === 'host-stale') {
      sessions.get(clientId)?.notify('vipnode_notice', { level: 'warn', code: 'host-gone', message: `host ${hostId.slice(0, 16)}… stopped reporting; finding a replacement` })
    }
  }

  // ------------------------------------------------------------------ replicas (docs/cluster.md)

  /** Siblings' hosts the balancer may offer: fresh directory entries of hosts not online here. */
  private *remoteCandidates(nowMs: number): IterableIterator<RemoteHost> {
    const { directory, sessions } = this.deps
    if (!directory) return
    for (const h of directory.hosts(nowMs)) if (!sessions.isOnline(h.nodeId)) yield h
  }

  /** Hosts online in the pool as this replica knows it (the "no hosts" explanations count them). */
  private hostCount(): number {
    let remote = 0
    for (const _ of this.remoteCandidates(this.deps.clock.now())) remote++
    return this.deps.sessions.count('host') + remote
  }

  /** This replica's online hosts as the directory carries them (published on the bus every interval). */
  localDirectory(nowMs: number): DirectoryHost[] {
    const { sessions, quality } = this.deps
    const hosts: DirectoryHost[] = []
    for (const h of sessions.sessions('host')) {
      const cooling = this.coolDowns.get(h.nodeId)?.untilMs ?? 0
      hosts.push({
        nodeId: h.nodeId,
        enode: h.enode,
        chainId: h.chainId,
        kind: h.kind,
        capacity: this.effectiveCapacityOf(h, nowMs),
        load: this.loadOf(h.nodeId),
        blockNumber: this.headOf(h),
        reportedBlockNumber: h.blockNumber,
        region: h.region,
        capabilities: h.capabilities ? [...h.capabilities] : null,
        relayUrl: h.relayUrl ?? null,
        coolingForMs: Math.max(0, cooling - nowMs),
        lastReportAgoMs: Math.max(0, nowMs - h.lastReportAtMs),
        ...(quality ? { standing: quality.standingOf(h.nodeId, nowMs) } : {}),
      })
    }
    return hosts
  }

  /**
   * Ask the host's replica to admit the client (admit.<replica>). No answer within the admit timeout is a
   * refusal, and the owner is told to undo an admission that lands after that ('admit-abandoned'), so a pair is
   * never active on the owner while the client was told no. Only the owner counts slots.
   */
  private async admitRemote(client: Pick<AgentSession, 'nodeId' | 'enode' | 'chainId'>, host: RemoteHost, kind: ServiceKind): Promise<AssignedHost | typeof CLIENT_FAULT | undefined> {
    const { bus, clock, log, metrics } = this.deps
    const request: RemoteAdmitRequest = { hostId: host.nodeId, kind, client: { nodeId: client.nodeId, enode: client.enode, chainId: client.chainId } }
    let reply: RemoteAdmitReply
    try {
      if (!bus) throw new BusRequestError('admit', 'unavailable', 'no cluster bus')
      const parsed = remoteAdmitReplySchema.parse(await bus.request(`admit.${host.replicaId}`, request, this.opts.admitTimeoutMs))
      reply = { admitted: parsed.admitted, ...(parsed.reason ? { reason: parsed.reason } : {}), ...(parsed.host ? { host: assignedHostOf(parsed.host) } : {}) }
    } catch (err) {
      metrics.admissionsFailed.inc()
      const state = afterFailure(this.coolDowns.get(host.nodeId), clock.now(), this.coolDown)
      this.coolDowns.set(host.nodeId, state)
      if (bus?.clustered) bus.publish('release', { replicaId: bus.replicaId, clientId: client.nodeId, hostId: host.nodeId, reason: 'admit-abandoned' })
      log.warn('admission on a sibling replica failed', { client: client.nodeId, host: host.nodeId, replica: host.replicaId, error: (err as Error).message, coolDownMs: state.untilMs - clock.now() })
      return undefined
    }
    if (!reply.admitted || !reply.host) {
      metrics.admissionsFailed.inc()
      log.info('admission refused by the host\'s replica', { client: client.nodeId, host: host.nodeId, replica: host.replicaId, reason: reply.reason })
      return reply.reason === CLIENT_FAULT ? CLIENT_FAULT : undefined
    }
    this.indexRemote(client.nodeId, { nodeId: host.nodeId, enode: host.enode, kind: host.kind, relayUrl: host.relayUrl ?? undefined, capabilities: host.capabilities ? new Set(host.capabilities) : undefined }, kind, host.replicaId)
    return reply.host
  }

  /**
   * The owner's side of admit.<replica>: the same checks a local request meets at the moment of admission
   * (the host is here, the slot is free, the pair is not already there or in flight), then the same admission.
   * Slots are reserved synchronously before the first await, so two replicas' clients asking at once cannot
   * both take the last one. Each refusal says why and changes nothing.
   */
  async serveAdmit(req: RemoteAdmitRequest): Promise<RemoteAdmitReply> {
    const { sessions, clock, quality } = this.deps
    const hostId = req.hostId
    const clientId = req.client.nodeId
    const host = sessions.get(hostId)?.session
    const now = clock.now()
    if (!host || host.role !== 'host') return { admitted: false, reason: 'host-offline' }
    if (host.chainId !== req.client.chainId) return { admitted: false, reason: 'wrong-chain' }
    if (host.kind !== req.kind) return { admitted: false, reason: 'wrong-kind' }
    const existing = this.hostsByClient.get(clientId)?.get(hostId)
    // Already assigned (the client's replica gave up on an earlier answer and asked again): the same answer.
    if (existing) return { admitted: true, host: this.assignedHost(clientId, host) }
    if (this.admittingByHost.get(hostId)?.has(clientId)) return { admitted: false, reason: 'in-flight' }
    if ((this.coolDowns.get(hostId)?.untilMs ?? 0) > now) return { admitted: false, reason: 'cooling-down' }
    const standing = quality?.standingOf(hostId, now)
    if (standing?.excluded) return { admitted: false, reason: 'bad-answers' }
    if (this.freeSlotsOf(host, now) <= 0) return { admitted: false, reason: 'full' }
    this.reserve(clientId, hostId)
    if (standing?.probation) quality?.noteTrial(hostId, now)
    const got = await this.admit({ nodeId: clientId, enode: req.client.enode, chainId: req.client.chainId }, hostId, req.kind, Math.floor(this.opts.admitTimeoutMs * REMOTE_ADMIT_SHARE))
    if (this.abandoned.delete(pairKey(clientId, hostId))) {
      // The asker told its client no before this landed: the pair must not stay active here.
      if (got && got !== CLIENT_FAULT) await this.release(clientId, hostId, 'admit-abandoned', { fromSibling: true })
      return { admitted: false, reason: 'abandoned' }
    }
    if (got === CLIENT_FAULT) return { admitted: false, reason: CLIENT_FAULT }
    return got ? { admitted: true, host: got } : { admitted: false, reason: 'admit-failed' }
  }

  /** A sibling's `release`: the owner releases its pair (store, eviction); the client's replica drops its side. */
  async onReleaseMessage(msg: z.infer<typeof releaseMessageSchema>): Promise<void> {
    if (msg.replicaId === this.deps.bus?.replicaId) return
    const clientId = msg.clientId
    const hostId = msg.hostId
    if (this.hostsByClient.get(clientId)?.has(hostId)) {
      await this.release(clientId, hostId, msg.reason, { fromSibling: true })
      return
    }
    // Still admitting it: serveAdmit undoes it when the host answers.
    if (msg.reason === 'admit-abandoned' && this.admittingByHost.get(hostId)?.has(clientId)) {
      this.abandoned.add(pairKey(clientId, hostId))
      return
    }
    if (this.dropRemote(clientId, hostId)) {
      this.deps.log.info('assignment released by the host\'s replica', { client: clientId, host: hostId, reason: msg.reason })
      // The owner's dispute notice went to a client it does not hold: this replica tells it instead.
      if (msg.reason === 'disputed') this.deps.sessions.get(clientId)?.notify('vipnode_notice', { level: 'warn', code: 'host-gone', message: `host ${hostId.slice(0, 16)}… and this client did not corroborate in time; finding a replacement` })
      else this.tellClient(clientId, hostId, msg.reason)
    }
  }

  /**
   * A host logged in here: this replica owns it now (docs/cluster.md). Its active pairs come from the store (as
   * `load` does at start), the ones not indexed yet; each pair's dispute clock and metering chain start afresh
   * (the `adopted` listeners), so the first observation after a move is never billed. Siblings are told, so one
   * that held the host before (alive, the host only reconnected) lets its side of the pairs go without writing.
   */
  async adoptHost(hostId: NodeId, publishDirectory: () => void = () => undefined): Promise<number> {
    const { store, clock, bus } = this.deps
    if (!bus?.clustered) return 0
    const rows = await store.activeAssignments({ hostId })
    // No active pair anywhere (a sibling's pairs are rows too): nothing to take over, nobody to tell. A storm of
    // host logins after a replica died must not send the whole directory once per login (quadratic in hosts).
    if (rows.length === 0) return 0
    // The directory goes out before the move is announced, so siblings know where the host lives when they hear of it.
    publishDirectory()
    let adopted = 0
    const now = clock.now()
    for (const a of rows) {
      if (this.hostsByClient.get(a.clientId)?.has(hostId)) continue
      // A client of this replica that held the host as a sibling's: the pair is local now.
      this.dropRemote(a.clientId, hostId)
      this.index(a)
      this.watches.get(pairKey(a.clientId, hostId))!.sinceMs = now
      for (const l of this.adoptListeners) l(a.clientId, hostId)
      adopted++
    }
    bus.publish('moved', { replicaId: bus.replicaId, hostId })
    if (adopted > 0) this.deps.log.info('host moved here: its assignments taken over', { host: hostId, assignments: adopted })
    return adopted
  }

  /**
   * A client logged in here whose pairs are owned by siblings' hosts (its own replica died, or it moved): its side
   * of them is loaded from the store, so its first report is answered with its hosts and forwarded to their owners.
   * Pairs whose host is on no replica in the directory are left to their owner's dispute rule.
   */
  async adoptClient(clientId: NodeId): Promise<number> {
    const { store, bus, sessions } = this.deps
    if (!bus?.clustered) return 0
    let n = 0
    for (const a of await store.activeAssignments({ clientId })) {
      if (this.hostsByClient.get(clientId)?.has(a.hostId) || this.remote.get(clientId)?.has(a.hostId) || sessions.isOnline(a.hostId)) continue
      const info = this.hostInfoOf(a.hostId, a.kind)
      const replicaId = this.deps.directory?.get(a.hostId, this.deps.clock.now())?.replicaId
      if (!info || !replicaId) continue
      this.indexRemote(clientId, info, a.kind, replicaId)
      n++
    }
    if (n > 0) this.deps.log.info('client moved here: its pairs on sibling replicas loaded', { client: clientId, pairs: n })
    return n
  }

  /** Called for each pair taken over by adoptHost (metering starts the pair's chain afresh). */
  onAdopt(listener: (clientId: NodeId, hostId: NodeId) => void): void {
    this.adoptListeners.push(listener)
  }

  /** A sibling took a host over: pairs held here as owner become the sibling's (no store write, no eviction). */
  onMovedMessage(msg: z.infer<typeof movedMessageSchema>): void {
    if (msg.replicaId === this.deps.bus?.replicaId) return
    const hostId = msg.hostId
    if (this.deps.sessions.isOnline(hostId)) return // it came back here since: ours again (its next login adopts)
    for (const clientId of this.clientsOf(hostId)) {
      const a = this.hostsByClient.get(clientId)!.get(hostId)!
      const info = this.hostInfoOf(hostId, a.kind)
      this.unindex(clientId, hostId)
      for (const l of this.releaseListeners) l(clientId, hostId)
      // The client is here: it keeps the host, now as a sibling's (its reports go there).
      if (this.deps.sessions.isOnline(clientId) && info) this.indexRemote(clientId, info, a.kind, msg.replicaId)
    }
  }

  /** What this replica knows of a host to tell its clients: the directory's entry (the owner's word). */
  private hostInfoOf(hostId: NodeId, kind: ServiceKind): HostInfo | undefined {
    const h = this.deps.directory?.get(hostId, this.deps.clock.now())
    return h ? { nodeId: hostId, enode: h.enode, kind: h.kind ?? kind, relayUrl: h.relayUrl ?? undefined, capabilities: h.capabilities ? new Set(h.capabilities) : undefined } : undefined
  }

  private indexRemote(clientId: NodeId, host: HostInfo, kind: ServiceKind, replicaId: string): void {
    this.version++
    let hosts = this.remote.get(clientId)
    if (!hosts) this.remote.set(clientId, (hosts = new Map()))
    hosts.set(host.nodeId, { kind, host, replicaId })
  }

  private dropRemote(clientId: NodeId, hostId: NodeId): boolean {
    const hosts = this.remote.get(clientId)
    if (!hosts?.delete(hostId)) return false
    this.version++
    if (hosts.size === 0) this.remote.delete(clientId)
    return true
  }

  /**
   * The client side of sibling-owned pairs: a client gone past the grace releases them (the owner hears it).
   * A host that left the directory is its replica's to release (its `release` comes after the grace, or the
   * host logs in elsewhere and is found there); only when that replica is gone too (silent three intervals) and
   * the host is nowhere is the pair dropped here and the client told, without a store write: the row is the
   * next owner's (adoptHost) or a starting replica's (load).
   */
  private async sweepRemote(now: number, expired: (id: NodeId) => boolean): Promise<number> {
    let released = 0
    for (const [clientId, hosts] of [...this.remote]) {
      for (const [hostId, pair] of [...hosts]) {
        const seen = this.deps.directory?.get(hostId, now)
        if (seen) pair.replicaId = seen.replicaId
        if (expired(clientId)) released += Number(await this.release(clientId, hostId, 'client-gone'))
        else if (!seen && !this.deps.sessions.isOnline(hostId) && !this.deps.directory?.replicaAlive(pair.replicaId, now) && this.dropRemote(clientId, hostId)) {
          this.deps.log.info('sibling\'s host left the directory: pair dropped here', { client: clientId, host: hostId })
          this.tellClient(clientId, hostId, 'host-gone')
          released++
        }
      }
    }
    return released
  }

  /**
   * Release the assignments of agents that have been gone longer than the
   * grace period, of hosts that have not reported for staleAfterMs, and of
   * hosts that have lagged longer than the lag grace period; forget expired
   * cool-downs, pairs and skip reasons.
   */
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
    released += await this.sweepRemote(now, expired)
    // Stale before lagging: a host that stopped reporting also falls behind, but not reporting is the cause.
    released += await this.releaseStale(now)
    released += await this.releaseLagging(now)
    for (const [id, state] of this.coolDowns) if (isSpent(state, now, this.coolDown)) this.coolDowns.delete(id)
    for (const [id, state] of this.clientCoolDowns) if (isSpent(state, now, this.clientCoolDown)) this.clientCoolDowns.delete(id)
    // A gone node that holds nothing any more has nothing left to release: forget when it went (an attacker's
    // free keys that connect and leave would otherwise stay in that map for ever).
    for (const id of sessions.goneNodes()) if (expired(id) && !this.holdsAnything(id)) sessions.forgetGone(id)
    this.recentPairs.prune(now)
    this.avoided.prune(now)
    this.clientFaults.prune(now)
    this.decisions.prune(now - (this.opts.stickyMs ?? DEFAULT_STICKY_MS))
    return released
  }

  /** Whether the node is in an assignment or an admission in flight, on either side. */
  holdsAnything(nodeId: NodeId): boolean {
    return this.hostsByClient.has(nodeId) || this.remote.has(nodeId) || this.clientsByHost.has(nodeId) || this.inflightByClient.has(nodeId) || this.admittingByHost.has(nodeId) || this.reserved.has(nodeId)
  }

  /** Entries per map, for the vipnode_state_entries gauge and the growth tests. */
  sizes(): Record<string, number> {
    return {
      assignedClients: this.hostsByClient.size,
      siblingPairClients: this.remote.size,
      assignedHosts: this.clientsByHost.size,
      pairWatches: this.watches.size,
      reservedHosts: this.reserved.size,
      inflightClients: this.inflightByClient.size,
      admittingHosts: this.admittingByHost.size,
      hostCoolDowns: this.coolDowns.size,
      clientCoolDowns: this.clientCoolDowns.size,
      laggingHosts: this.laggingSince.size,
      recentPairs: this.recentPairs.size,
      avoidedPairs: this.avoided.size,
      clientFaults: this.clientFaults.size,
      hostSkips: this.decisions.skipCount,
    }
  }

  /** The head a host's lag is judged by: its own report, or the tracker's for the same node when higher. */
  private headOf(h: AgentSession): number {
    return confirmedHead(h.blockNumber, this.deps.trackerHeadOf?.(h.nodeId, h.chainId))
  }

  /** Hosts whose last report is older than this are stale (selection skips them, the sweep moves their clients). */
  private staleBefore(now: number): number | undefined {
    return this.opts.staleAfterMs === undefined ? undefined : now - this.opts.staleAfterMs
  }

  /**
   * An online host whose agent has not reported for staleAfterMs loses its
   * clients (reason host-stale). Its socket can stay open for ever while its
   * node hangs (the agent's report step needs the node); on a moving chain
   * releaseLagging would catch it eventually, on a quiet one nothing else does.
   */
  private async releaseStale(now: number): Promise<number> {
    const before = this.staleBefore(now)
    if (before === undefined) return 0
    let released = 0
    for (const h of this.onlineHostsWithClients()) {
      if (!isStale(h.lastReportAtMs, before)) continue
      const clients = this.clientsOf(h.nodeId)
      if (clients.length === 0) continue
      this.deps.log.info('host stale: moving its clients', { host: h.nodeId, lastReportAtMs: h.lastReportAtMs, silentMs: now - h.lastReportAtMs, clients: clients.length })
      for (const clientId of clients) released += Number(await this.release(clientId, h.nodeId, 'host-stale'))
    }
    return released
  }

  /**
   * A host that stays more than maxBlockLag behind for longer than the lag
   * grace period loses its clients (reason host-lagging), so their shims ask
   * for replacements. The grace period keeps one slow report (a host a block
   * or two late at the moment the head moved) from moving anyone.
   */
  private async releaseLagging(now: number): Promise<number> {
    const { log } = this.deps
    const best = new Map<number, number | undefined>()
    // Only hosts with clients have anyone to move: the sweep runs four times an interval, and a scan of every
    // online host was work proportional to the pool (20,000 hosts) in one callback (issue 20).
    const hosts = this.onlineHostsWithClients()
    const watched = new Set(hosts.map((h) => h.nodeId))
    for (const id of this.laggingSince.keys()) if (!watched.has(id)) this.laggingSince.delete(id)
    let released = 0
    for (const h of hosts) {
      if (!best.has(h.chainId)) best.set(h.chainId, this.heads.bestHead(h.chainId))
      const head = best.get(h.chainId)
      const own = this.headOf(h)
      if (!isLagging(own, head, this.maxBlockLag)) {
        this.laggingSince.delete(h.nodeId)
        continue
      }
      const since = this.laggingSince.get(h.nodeId) ?? now
      this.laggingSince.set(h.nodeId, since)
      const clients = this.clientsOf(h.nodeId)
      if (now - since < this.lagGraceMs || clients.length === 0) continue
      log.info('host lagging: moving its clients', { host: h.nodeId, blockNumber: own, bestHead: head, behind: head! - own, clients: clients.length })
      for (const clientId of clients) released += Number(await this.release(clientId, h.nodeId, 'host-lagging'))
    }
    return released
  }

  /** Online hosts that hold at least one client: the only ones a sweep can release anything from. */
  private onlineHostsWithClients(): AgentSession[] {
    const hosts: AgentSession[] = []
    for (const hostId of this.clientsByHost.keys()) {
      const h = this.deps.sessions.get(hostId)?.session
      if (h?.role === 'host') hosts.push(h)
    }
    return hosts
  }

  private index(a: AssignmentRecord): void {
    this.version++
    let hosts = this.hostsByClient.get(a.clientId)
    if (!hosts) this.hostsByClient.set(a.clientId, (hosts = new Map()))
    hosts.set(a.hostId, a)
    let clients = this.clientsByHost.get(a.hostId)
    if (!clients) this.clientsByHost.set(a.hostId, (clients = new Set()))
    clients.add(a.clientId)
    const key = pairKey(a.clientId, a.hostId)
    if (!this.watches.has(key)) this.watches.set(key, { clientId: a.clientId, hostId: a.hostId, sinceMs: a.assignedAtMs, corroboratedAtMs: undefined })
  }

  private unindex(clientId: NodeId, hostId: NodeId): boolean {
    this.version++
    const hosts = this.hostsByClient.get(clientId)
    if (!hosts?.delete(hostId)) return false
    this.watches.delete(pairKey(clientId, hostId))
    if (hosts.size === 0) this.hostsByClient.delete(clientId)
    const clients = this.clientsByHost.get(hostId)
    clients?.delete(clientId)
    if (clients?.size === 0) this.clientsByHost.delete(hostId)
    return true
  }
}

const pairKey = (clientId: NodeId, hostId: NodeId) => `${clientId}:${hostId}`

/** The host in a sibling's admit answer, checked as the client will check it. */
function assignedHostOf(value: unknown): AssignedHost {
  return assignedHostSchema.parse(value)
}
