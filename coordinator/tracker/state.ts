/**
 * What the tracker knows about each reporting node, independent of sockets.
 *
 * A node is keyed by the `id` it sent in hello (its ethstats name). Each node
 * has an owner, an opaque token for the connection that logged it in; only the
 * owner may change it, which is how a node id stays bound to its socket. Times
 * are passed in, so this module is deterministic.
 *
 * A node's devp2p node ID is either claimed (by its hello: anyone may claim any
 * key) or proven (the operator bound it to the node's name in the secrets file,
 * and the login used that name's own secret). Only proven node IDs are indexed:
 * `nodeByNodeId` never answers with a claim.
 */
import type { NodeId } from '../../protocol/enode.ts'
import type { BlockReport, Hello, HistoryEntry, NodeInfo, StatsReport } from './frames.ts'

export interface TrackedBlock extends BlockReport {
  receivedAtMs: number
}

/** A stats report as stored: what the reporter sent, minus the fields kept elsewhere on the node. */
export type TrackedStats = Omit<StatsReport, 'pending' | 'block'> & { receivedAtMs: number }

/** A JSON-serialisable snapshot of one node. Absent values are null, never missing. */
export interface TrackedNode {
  /** The ethstats name: the `id` of its hello. */
  name: string
  /**
   * The node's devp2p public key (128 hex): the one bound to its name when proven, else what its hello claimed
   * (an enode in `info`, or an id that is itself a key), else null.
   */
  nodeId: string | null
  /** True when nodeId is the one the operator bound to this name and the login used the name's own secret. */
  nodeIdProven: boolean
  enode: string | null
  connected: boolean
  remoteAddress: string
  connectedAtMs: number
  disconnectedAtMs: number | null
  /** Last frame of any kind from the node's socket. */
  lastSeenMs: number
  info: NodeInfo
  block: TrackedBlock | null
  pending: number | null
  stats: TrackedStats | null
  latencyMs: number | null
  /** Peer node IDs (pool `peers` extension); null until the node sends one. */
  peers: string[] | null
  peersUpdatedAtMs: number | null
  /** The latest answer to a history request. */
  history: { blocks: HistoryEntry[]; receivedAtMs: number } | null
}

export interface BestHead {
  number: number
  hash: string
}

/** A node as held internally: the snapshot plus the owning connection, with typed node IDs. */
type NodeRecord = Omit<TrackedNode, 'connected' | 'nodeId' | 'nodeIdProven' | 'peers'> & {
  owner: object | null
  /** What the latest hello claimed. */
  claimedNodeId: NodeId | null
  /** The node ID bound to the name, when the latest login proved it (and no reload withdrew it since). */
  provenNodeId: NodeId | null
  peers: NodeId[] | null
}

export class TrackerState {
  private readonly records = new Map<string, NodeRecord>()
  /** Proven node IDs only. */
  private readonly byNodeId = new Map<NodeId, string>()
  /** Cached best head; undefined means "recompute" (only after the holder went down or away). */
  private best: { number: number; hash: string; name: string } | null | undefined = null

  /**
   * Record a successful login. Returns the previous owner when the name was
   * already connected from another socket: the newest login wins, the caller
   * closes the old socket. Data already reported is kept; the new socket will
   * refresh it. `provenNodeId` is the node ID bound to the name when the login used
   * the name's own secret (the caller has refused a hello that claims another).
   */
  login(hello: Hello, owner: object, remoteAddress: string, nowMs: number, provenNodeId: NodeId | null = null): { replaced: object | null } {
    const existing = this.records.get(hello.id)
    const replaced = existing?.owner && existing.owner !== owner ? existing.owner : null
    const record: NodeRecord = existing ?? {
      name: hello.id,
      owner,
      claimedNodeId: null,
      provenNodeId: null,
      enode: null,
      remoteAddress,
      connectedAtMs: nowMs,
      disconnectedAtMs: null,
      lastSeenMs: nowMs,
      info: hello.info,
      block: null,
      pending: null,
      stats: null,
      latencyMs: null,
      peers: null,
      peersUpdatedAtMs: null,
      history: null,
    }
    Object.assign(record, {
      owner,
      claimedNodeId: hello.nodeId,
      enode: hello.enode,
      remoteAddress,
      connectedAtMs: nowMs,
      disconnectedAtMs: null,
      lastSeenMs: nowMs,
      info: hello.info,
    })
    this.records.set(hello.id, record)
    this.prove(record, provenNodeId)
    if (record.block && (this.best === null || (this.best !== undefined && record.block.number > this.best.number))) this.best = undefined
    return { replaced }
  }

  /** The owner disconnected. Returns false (and changes nothing) for a socket that no longer owns the name. */
  disconnect(name: string, owner: object, nowMs: number): boolean {
    const r = this.records.get(name)
    if (!r || r.owner !== owner) return false
    r.owner = null
    r.disconnectedAtMs = nowMs
    if (this.best?.name === name) this.best = undefined
    return true
  }

  isOwner(name: string, owner: object): boolean {
    return this.records.get(name)?.owner === owner
  }

  seen(name: string, nowMs: number): void {
    const r = this.records.get(name)
    if (r) r.lastSeenMs = nowMs
  }

  applyBlock(name: string, block: BlockReport, nowMs: number): void {
    const r = this.records.get(name)
    if (!r) return
    r.block = { ...block, receivedAtMs: nowMs }
    if (this.best === undefined) return
    if (this.best === null || block.number > this.best.number) this.best = { number: block.number, hash: block.hash, name }
    // The holder of the best head went back (a reorg or a resync): someone else may be best now.
    else if (this.best.name === name && block.number < this.best.number) this.best = undefined
    else if (this.best.name === name) this.best = { number: block.number, hash: block.hash, name }
  }

  applyStats(name: string, stats: StatsReport, nowMs: number): void {
    const r = this.records.get(name)
    if (!r) return
    const { pending, block, ...rest } = stats
    r.stats = { ...rest, receivedAtMs: nowMs }
    if (pending !== null) r.pending = pending
    if (block !== null) this.applyBlock(name, block, nowMs)
  }

  applyPending(name: string, pending: number): void {
    const r = this.records.get(name)
    if (r) r.pending = pending
  }

  applyLatency(name: string, latencyMs: number): void {
    const r = this.records.get(name)
    if (r) r.latencyMs = latencyMs
  }

  applyPeers(name: string, peers: NodeId[], nowMs: number): void {
    const r = this.records.get(name)
    if (!r) return
    r.peers = peers
    r.peersUpdatedAtMs = nowMs
  }

  applyHistory(name: string, blocks: HistoryEntry[], nowMs: number): void {
    const r = this.records.get(name)
    if (r) r.history = { blocks, receivedAtMs: nowMs }
  }

  canUpdateHistory(name: string): boolean {
    return this.records.get(name)?.info.canUpdateHistory ?? false
  }

  /** The highest block reported by any connected node. */
  bestHead(): BestHead | undefined {
    if (this.best === undefined) {
      let best: { number: number; hash: string; name: string } | null = null
      for (const r of this.records.values()) {
        if (r.owner && r.block && (!best || r.block.number > best.number)) best = { number: r.block.number, hash: r.block.hash, name: r.name }
      }
      this.best = best
    }
    return this.best ? { number: this.best.number, hash: this.best.hash } : undefined
  }

  node(name: string): TrackedNode | undefined {
    const r = this.records.get(name)
    return r ? snapshot(r) : undefined
  }

  /**
   * Judge every node's proof again (the secrets were reloaded): `decide` gets each connected node's name and claimed
   * node ID and returns the node ID now proven for it, or null; disconnected nodes lose their proof (their next login
   * is judged afresh). Returns the nodes whose proof changed.
   */
  reprove(decide: (name: string, claimedNodeId: NodeId | null) => NodeId | null): { name: string; provenNodeId: NodeId | null }[] {
    const changed: { record: NodeRecord; provenNodeId: NodeId | null }[] = []
    for (const r of this.records.values()) {
      const proven = r.owner ? decide(r.name, r.claimedNodeId) : null
      if (proven !== r.provenNodeId) changed.push({ record: r, provenNodeId: proven })
    }
    // Withdrawn proofs first, so a node ID that moved from one name to another is never taken from its new holder.
    changed.sort((a, b) => Number(a.provenNodeId !== null) - Number(b.provenNodeId !== null))
    for (const c of changed) this.prove(c.record, c.provenNodeId)
    return changed.map((c) => ({ name: c.record.name, provenNodeId: c.provenNodeId }))
  }

  /** The node whose proven node ID this is (never one that only claims it). */
  nodeByNodeId(nodeId: string): TrackedNode | undefined {
    const name = this.byNodeId.get(nodeId as NodeId)
    return name === undefined ? undefined : this.node(name)
  }

  nodes(): TrackedNode[] {
    return [...this.records.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(snapshot)
  }

  connectedCount(): number {
    let n = 0
    for (const r of this.records.values()) if (r.owner) n++
    return n
  }

  /**
   * Forget nodes disconnected for longer than `afterMs`, and beyond `maxRecords`
   * the longest-disconnected ones first, so a reporter that keeps logging in
   * under new names cannot grow memory without bound. Connected nodes stay.
   */
  prune(nowMs: number, afterMs: number, maxRecords = Number.POSITIVE_INFINITY): number {
    const before = this.records.size
    for (const r of [...this.records.values()]) {
      if (!r.owner && r.disconnectedAtMs !== null && nowMs - r.disconnectedAtMs >= afterMs) this.forget(r)
    }
    if (this.records.size > maxRecords) {
      const gone = [...this.records.values()].filter((r) => !r.owner).sort((a, b) => (a.disconnectedAtMs ?? 0) - (b.disconnectedAtMs ?? 0))
      for (const r of gone.slice(0, this.records.size - maxRecords)) this.forget(r)
    }
    return before - this.records.size
  }

  size(): number {
    return this.records.size
  }

  private forget(r: NodeRecord): void {
    this.records.delete(r.name)
    this.prove(r, null)
  }

  /**
   * Set a record's proven node ID and keep the index in step. The secrets file binds a node ID to one name only, so
   * two names hold one proven ID at most for a moment across a reload; the later proof wins and the other loses it.
   */
  private prove(r: NodeRecord, nodeId: NodeId | null): void {
    if (r.provenNodeId !== null && this.byNodeId.get(r.provenNodeId) === r.name) this.byNodeId.delete(r.provenNodeId)
    r.provenNodeId = nodeId
    if (nodeId === null) return
    const holder = this.byNodeId.get(nodeId)
    const held = holder !== undefined && holder !== r.name ? this.records.get(holder) : undefined
    if (held) held.provenNodeId = null
    this.byNodeId.set(nodeId, r.name)
  }
}

/** A deep copy: callers (the dashboard, listeners) may keep or mutate it freely. */
function snapshot(r: NodeRecord): TrackedNode {
  return {
    name: r.name,
    nodeId: r.provenNodeId ?? r.claimedNodeId,
    nodeIdProven: r.provenNodeId !== null,
    enode: r.enode,
    connected: r.owner !== null,
    remoteAddress: r.remoteAddress,
    connectedAtMs: r.connectedAtMs,
    disconnectedAtMs: r.disconnectedAtMs,
    lastSeenMs: r.lastSeenMs,
    info: { ...r.info },
    block: r.block ? { ...r.block } : null,
    pending: r.pending,
    stats: r.stats ? { ...r.stats, syncProgress: r.stats.syncProgress ? { ...r.stats.syncProgress } : null } : null,
    latencyMs: r.latencyMs,
    peers: r.peers ? [...r.peers] : null,
    peersUpdatedAtMs: r.peersUpdatedAtMs,
    history: r.history ? { blocks: r.history.blocks.map((b) => ({ ...b })), receivedAtMs: r.history.receivedAtMs } : null,
  }
}
