/**
 * An agent's report (vipnode_update): its node's pool peers and head. Metered
 * by the bilateral rule (services/metering.ts); the answer says which pool
 * peers the coordinator vouches for and which the agent should drop, and cuts
 * off a client whose balance ran out. rpc clients' quality measures of their
 * assigned hosts go to services/hostQuality.ts.
 */
import { blockRefSchema, hostQualitySchema, MAX_SAME_PEERS, nodeIdSchema, parseEnode, parseNodeId, rpcError, serviceKindSchema, type NodeId, type RelayGrant, type ReportBadAnswerResult, type reportBadAnswerParamsSchema, type updateParamsSchema } from '../../protocol/index.ts'
import { z } from 'zod'
import type { ClusterBus } from './clusterBus.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import type { LedgerStore } from '../store/store.ts'
import { Accounts } from '../logic/accounts.ts'
import { isImplausibleHead } from '../logic/heads.ts'
import type { AssignmentService } from './assignments.ts'
import type { ChainHeads } from './chainHeads.ts'
import { topupLink, type MeteringService } from './metering.ts'
import type { AgentSession, SessionRegistry } from './sessions.ts'
import type { HostQualityService } from './hostQuality.ts'

/** What the report path reads of the coordinator's config. */
export interface ReportConfig {
  updateIntervalMs: number
  maxBlockLag: number
  topupUrl?: string | undefined
}

export interface ReportDeps {
  config: ReportConfig
  store: LedgerStore
  sessions: SessionRegistry
  assignments: AssignmentService
  metering: MeteringService
  chainHeads: ChainHeads
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
  /** rpc service quality: hosts' uptime and their clients' measures (services/hostQuality.ts). */
  quality?: Pick<HostQualityService, 'noteHostReport' | 'ingest' | 'noteAnswer'> | undefined
  /** Replicas: a client's report goes to the replicas of its hosts there (report.<replica>). */
  bus?: ClusterBus | undefined
}

/**
 * report.<replica>: the parts of a client's report that its pairs with that replica's hosts are judged by
 * (docs/cluster.md). Published at most once: a lost one is an observation nobody judged, so nothing is billed
 * for it, and the owner's next forwarded report starts where the chain allows.
 */
export const forwardedReportSchema = z.object({
  replicaId: z.string().max(64),
  client: z.object({ nodeId: nodeIdSchema, sessionId: z.string().max(128), chainId: z.number().int(), kind: serviceKindSchema }),
  /** The pool peers the client's replica kept from the report (what a local report's `peers` would be). */
  peers: z.array(nodeIdSchema).max(100_000),
  block: blockRefSchema,
  computeUnits: z.array(z.tuple([nodeIdSchema, z.number().int().min(0)])).max(1_000),
  quality: z.array(hostQualitySchema).max(1_000).optional(),
  checked: z.array(nodeIdSchema).max(1_000).optional(),
})
export type ForwardedReport = z.output<typeof forwardedReportSchema>

export interface ReportAnswer {
  /** The pool peers the coordinator vouches for now. */
  peers: NodeId[]
  /** Online pool agents of the other role among the reported peers, not assigned to this one. */
  drop: NodeId[]
  balanceWei: bigint
  relays: RelayGrant[]
}

/** The peer's node ID: from `enode` when present (geth >= 1.9 hashes `id`), else from a public-key `id`. */
export function peerNodeId(peer: { id: string; enode?: string | undefined }): NodeId | undefined {
  if (peer.enode) {
    try {
      return parseEnode(peer.enode).nodeId
    } catch {
      return undefined
    }
  }
  try {
    return parseNodeId(peer.id)
  } catch {
    return undefined
  }
}

/**
 * Agents report the same peers every interval: parsing each enode once
 * instead of every time took a tenth of the report path off the profile.
 * Bounded; cleared whole when full, which costs one re-parse per entry.
 * Enodes and bare ids are parsed differently, so they are keyed apart: in one
 * key space an agent's malformed `{id: "<an enode>"}` cached "no node" for
 * that enode, and the host that reported it properly lost its metering.
 */
const peerIdCache = new Map<string, NodeId | null>()
const PEER_ID_CACHE_MAX = 200_000

export function cachedPeerNodeId(peer: { id: string; enode?: string | undefined }): NodeId | undefined {
  const key = peer.enode !== undefined ? `enode:${peer.enode}` : `id:${peer.id}`
  let id = peerIdCache.get(key)
  if (id === undefined) {
    if (peerIdCache.size >= PEER_ID_CACHE_MAX) peerIdCache.clear()
    id = peerNodeId(peer) ?? null
    peerIdCache.set(key, id)
  }
  return id ?? undefined
}

export class ReportService {
  constructor(private readonly deps: ReportDeps) {}

  async report(session: AgentSession, params: z.output<typeof updateParamsSchema>): Promise<ReportAnswer> {
    const { config, store, clock, assignments, sessions, metrics, chainHeads, log } = this.deps
    // The node's whole peer list is kept per session (samePeers repeats it): which of them are pool agents
    // changes as agents come and go, so it is filtered afresh on every report.
    let reported: readonly NodeId[]
    if (params.samePeers) {
      if (session.reportedPeerIds === undefined) throw rpcError('INVALID_PARAMS', `samePeers: this session has no earlier report of at most ${MAX_SAME_PEERS} peers to repeat; send peerIds`)
      reported = session.reportedPeerIds
    } else {
      const ids: NodeId[] = []
      for (const p of params.peers) {
        const id = cachedPeerNodeId(p)
        if (id) ids.push(id)
      }
      if (params.peerIds) ids.push(...params.peerIds)
      reported = ids
    }
    session.reportedPeerIds = reported.length <= MAX_SAME_PEERS ? reported : undefined
    const now = clock.now()
    session.lastReportAtMs = now // a host that stops reporting (its node hangs) goes stale: services/assignments.ts
    const otherRole = session.role === 'host' ? 'client' : 'host'
    const isOnlineCounterpart = (id: NodeId) => sessions.get(id)?.session?.role === otherRole
    const vouchedNow = () => (session.role === 'host' ? assignments.vouchedClientsOf(session.nodeId) : assignments.hostsOf(session.nodeId))
    const vouchedBefore = new Set(vouchedNow())
    // Only pool agents among the peers matter (to metering and to drop): the
    // rest, often most of a host's peers, is neither kept nor stored.
    const peers = new Set<NodeId>()
    const keepIfPoolAgent = (id: NodeId) => {
      if (vouchedBefore.has(id) || isOnlineCounterpart(id)) peers.add(id)
    }
    for (const id of reported) keepIfPoolAgent(id)
    // rpc service: a relay session with traffic (or an open socket) since the last report counts as being
    // peered, so the same bilateral rule meters it: both sides must report each other.
    const computeUnits = new Map<NodeId, number>()
    for (const r of params.relays ?? []) {
      if (r.computeUnits) computeUnits.set(r.nodeId, Math.min(Number.MAX_SAFE_INTEGER, (computeUnits.get(r.nodeId) ?? 0) + r.computeUnits))
      if (r.requests === 0 && r.busyMs === 0) continue
      keepIfPoolAgent(r.nodeId)
      if (r.requests > 0) metrics.relayRequests.inc({ role: session.role }, r.requests)
    }
    if (params.capabilities && session.role === 'host' && session.kind === 'rpc') session.capabilities = new Set(params.capabilities)
    this.noteQuality(session, params.quality, now)
    if (params.checked?.length) await this.noteChecked(session, params.checked, now)
    if (session.role === 'client') this.forward(session, peers, params, computeUnits)
    const exhausted = await this.meter(session, peers, params.block, now, computeUnits, false)
    // Kept as reported: only hosts' heads count, and only as a quorum (logic/heads.ts), so a claim far ahead
    // moves nothing alone. It is counted, to show who tries.
    const bestHead = chainHeads.bestHead(session.chainId)
    if (isImplausibleHead(params.block.number, bestHead, config.maxBlockLag)) {
      metrics.implausibleHeads.inc({ role: session.role })
      log.warn('implausible head', { node: session.nodeId, role: session.role, reported: params.block.number, bestHead })
    }
    session.blockNumber = params.block.number
    if (session.role === 'host') chainHeads.noteHostHead(session.chainId, params.block.number)
    for (const clientId of exhausted) await this.cutOff(clientId)

    // Read after the write settled: admissions and releases may have happened meanwhile.
    const vouched = vouchedNow()
    const vouchedSet = new Set(vouched)
    // A reported peer that is an online pool agent of the other role, but not
    // assigned to this one, is using the pool without paying for it.
    const drop: NodeId[] = []
    for (const id of peers) {
      if (!vouchedSet.has(id) && isOnlineCounterpart(id)) drop.push(id)
    }
    const balanceWei = session.role === 'client' ? await store.balanceOf(Accounts.client(session.nodeId)) : 0n
    return { peers: vouched, drop, balanceWei, relays: assignments.relayGrantsFor(session) }
  }

  /**
   * A report sooner than half an interval after the last metered one is answered but not metered: agents
   * report early now and then (on connect, on a notice), and metering every frame of a burst bought nothing
   * but chances to bill the same interval twice. Returns the clients that can no longer pay.
   */
  private async meter(session: AgentSession, peers: ReadonlySet<NodeId>, block: { number: number; hash: string }, now: number, computeUnits: ReadonlyMap<NodeId, number>, forwarded: boolean): Promise<NodeId[]> {
    const { config, metering, metrics } = this.deps
    if (session.lastMeteredAtMs === undefined || now - session.lastMeteredAtMs >= config.updateIntervalMs / 2) {
      session.lastMeteredAtMs = now
      return (await metering.ingest(session, peers, block, now, computeUnits, { forwarded })).exhausted
    }
    metrics.reportsUnmetered.inc()
    await metering.noteUnits(session, computeUnits)
    return []
  }

  /** A client's report, for the replicas of its hosts that live elsewhere: one message per replica. */
  private forward(session: AgentSession, peers: ReadonlySet<NodeId>, params: z.output<typeof updateParamsSchema>, computeUnits: ReadonlyMap<NodeId, number>): void {
    const { bus, assignments } = this.deps
    if (!bus?.clustered) return
    const byReplica = new Map<string, Set<NodeId>>()
    for (const { hostId, replicaId } of assignments.remoteHostsOf(session.nodeId)) {
      // A host not in the directory has no replica to judge this observation: it goes unjudged (never billed).
      if (replicaId === undefined) continue
      let hosts = byReplica.get(replicaId)
      if (!hosts) byReplica.set(replicaId, (hosts = new Set()))
      hosts.add(hostId)
    }
    for (const [replicaId, hosts] of byReplica) {
      const message: z.input<typeof forwardedReportSchema> = {
        replicaId: bus.replicaId,
        client: { nodeId: session.nodeId, sessionId: session.sessionId, chainId: session.chainId, kind: session.kind },
        peers: [...peers],
        block: params.block,
        computeUnits: [...computeUnits].filter(([id]) => hosts.has(id)),
        ...(params.quality ? { quality: params.quality.filter((q) => hosts.has(q.nodeId)) } : {}),
        ...(params.checked ? { checked: params.checked.filter((id) => hosts.has(id)) } : {}),
      }
      bus.publish(`report.${replicaId}`, message)
    }
  }

  /** Clients of this replica's hosts whose sockets are on siblings: what their forwarded reports are metered as. */
  private readonly siblingClients = new Map<NodeId, AgentSession>()

  /**
   * A sibling's client reported (report.<replica>): its pairs with this replica's hosts are judged here exactly as
   * a local report would be (quality, checked answers, metering with the half-interval rule, cut-off), on this
   * replica's clock. Only the client's history row is left to its own replica.
   */
  async forwardedReport(msg: ForwardedReport): Promise<void> {
    const { clock, assignments } = this.deps
    const clientId = msg.client.nodeId
    // Only clients that hold a pair here: anything else would make this replica keep state for nobody.
    if (assignments.ownedHostsOf(clientId).length === 0) return
    const now = clock.now()
    let session = this.siblingClients.get(clientId)
    if (!session || session.sessionId !== msg.client.sessionId) {
      session = {
        sessionId: msg.client.sessionId,
        nodeId: clientId,
        role: 'client',
        enode: '',
        chainId: msg.client.chainId,
        kind: msg.client.kind,
        capacity: 0,
        payout: null,
        region: null,
        clientVersion: '',
        connectedAtMs: now,
        lastReportAtMs: now,
        blockNumber: 0,
        ...(session?.lastMeteredAtMs !== undefined ? { lastMeteredAtMs: session.lastMeteredAtMs } : {}),
      }
      this.siblingClients.set(clientId, session)
    }
    session.lastReportAtMs = now
    session.blockNumber = msg.block.number
    this.noteQuality(session, msg.quality, now)
    if (msg.checked?.length) await this.noteChecked(session, msg.checked, now)
    const exhausted = await this.meter(session, new Set(msg.peers), msg.block, now, new Map(msg.computeUnits), true)
    for (const id of exhausted) await this.cutOff(id)
  }

  /** Forget sibling clients that hold nothing here any more. */
  pruneSiblingClients(): void {
    for (const id of this.siblingClients.keys()) if (!this.deps.assignments.holdsAnything(id)) this.siblingClients.delete(id)
  }

  get siblingClientCount(): number {
    return this.siblingClients.size
  }

  /**
   * rpc service quality: an rpc host's report counts toward its uptime; a client's `quality` entries are taken
   * only for hosts assigned to it for the rpc service, so no client can score a host it is not paired with.
   */
  private noteQuality(session: AgentSession, entries: z.output<typeof updateParamsSchema>['quality'], now: number): void {
    const { quality, metrics, assignments } = this.deps
    if (!quality) return
    if (session.role === 'host') {
      if (session.kind === 'rpc') quality.noteHostReport(session.nodeId, now)
      if (entries?.length) metrics.qualityEntries.inc({ result: 'not-a-client' }, entries.length)
      return
    }
    if (!entries?.length) return
    // A host on a sibling replica is scored there (the entries travel with the forwarded report).
    const accepted = entries.filter((q) => assignments.assignedKind(session.nodeId, q.nodeId) === 'rpc' && !assignments.isRemotePair(session.nodeId, q.nodeId))
    if (accepted.length > 0) {
      quality.ingest(session.nodeId, accepted, now)
      metrics.qualityEntries.inc({ result: 'accepted' }, accepted.length)
    }
    if (accepted.length < entries.length) metrics.qualityEntries.inc({ result: 'not-assigned' }, entries.length - accepted.length)
  }

  /**
   * Checked answers (docs/rpcService.md#checked-answers): hosts whose answers the client's shim compared and
   * found agreeing. A good word each, only about hosts assigned to the client for rpc.
   */
  private async noteChecked(session: AgentSession, checked: readonly NodeId[], now: number): Promise<void> {
    const { quality, assignments } = this.deps
    if (!quality || session.role !== 'client') return
    for (const hostId of new Set(checked)) if (assignments.assignedKind(session.nodeId, hostId) === 'rpc' && !assignments.isRemotePair(session.nodeId, hostId)) quality.noteAnswer(session.nodeId, hostId, false, now)
  }

  /**
   * vipnode_reportBadAnswer: a client's shim found a host in the minority of three answers to a checked call.
   * Evidence only from a client the host is assigned to for rpc, naming witnesses assigned to it too (it can only
   * have asked those); one word per client (logic/checkedAnswers.ts), so one client cannot remove a host. The
   * word that catches the host releases its rpc clients at once (reason bad-answers): they get other hosts.
   */
  async reportBadAnswer(session: AgentSession, params: z.output<typeof reportBadAnswerParamsSchema>): Promise<ReportBadAnswerResult> {
    const { quality, assignments, metrics, log, clock } = this.deps
    if (session.role !== 'client' || session.kind !== 'rpc') {
      metrics.badAnswerReports.inc({ result: 'not-a-client' })
      throw rpcError('INVALID_PARAMS', 'vipnode_reportBadAnswer is for rpc clients: only a client relaying through the host can report its answers')
    }
    const notMine = [params.host, ...params.witnesses].filter((id) => assignments.assignedKind(session.nodeId, id) !== 'rpc')
    if (!quality || notMine.length > 0) {
      metrics.badAnswerReports.inc({ result: 'not-assigned' })
      const reason = notMine.length > 0 ? `host ${notMine[0]!.slice(0, 16)}… is not assigned to this client for the rpc service: only its own hosts' answers count` : 'this pool does not take checked answers'
      return { accepted: false, reason, excluded: false }
    }
    const now = clock.now()
    const note = quality.noteAnswer(session.nodeId, params.host, true, now)
    metrics.badAnswerReports.inc({ result: 'accepted' })
    log.warn('bad answer reported', { client: session.nodeId, host: params.host, method: params.call.method, answerDigest: params.answerDigest, majorityDigest: params.majorityDigest, witnesses: params.witnesses.length })
    if (note.excludedNow) {
      let released = 0
      for (const clientId of assignments.clientsOf(params.host)) {
        if (assignments.assignedKind(clientId, params.host) !== 'rpc') continue
        if (await assignments.release(clientId, params.host, 'bad-answers')) released++
      }
      log.info('excluded host\'s clients released', { host: params.host, released })
    }
    return { accepted: true, excluded: note.excluded }
  }

  /** A client that can no longer pay: evicted from its hosts and told how to top up. */
  private async cutOff(clientId: NodeId): Promise<void> {
    const { assignments, sessions, config, log } = this.deps
    const released = await assignments.releaseClient(clientId, 'insufficient-balance')
    if (released === 0) return
    log.info('client out of funds', { client: clientId, hostsReleased: released })
    sessions.get(clientId)?.notify('vipnode_notice', {
      level: 'error',
      code: 'insufficient-balance',
      message: `your balance ran out and your hosts were released: top up to be served again`,
      ...(config.topupUrl ? { url: topupLink(config.topupUrl, clientId) } : {}),
    })
  }
}
