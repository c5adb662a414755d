/**
 * What the tracker knows about each reporting node, independent of sockets.
 *
 * A node is keyed by the `id` it sent in hello (its ethstats name). Each node
 * has an owner, an opaque token for the connection that logged it in; only the
 * owner may change it, which is how a node id stays bound to its socket. Times
 * are passed in, so this module is deterministic.
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
  /** The node's devp2p public key (128 hex), when hello carried an enode or the id is itself a key. */
  nodeId: string | null
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
type NodeRecord = Omit<TrackedNode, 'connected' | 'nodeId' | 'peers'> & {
  owner: object | null
  /** Logged in with its own per-node secret: its node-ID claim is not displaced by shared-secret logins. */
  ownSecret: boolean
  nodeId: NodeId | null
  peers: NodeId[] | null
}

export class TrackerState {
  private readonly records = new Map<string, NodeRecord>()
  private readonly byNodeId = new Map<NodeId, string>()
  /** Cached best head; undefined means "recompute" (only after the holder went down or away). */
  private best: { number: number; hash: string; name: string } | null | undefined = null

  /**
   * Record a successful login. Returns the previous owner when the name was
   * already connected from another socket: the newest login wins, the caller
   * closes the old socket. Data already reported is kept; the new socket will
   * refresh it.
   */
  login(hello: Hello, owner: object, remoteAddress: string, nowMs: number, ownSecret = false): { replaced: object | null } {
    const existing = this.records.get(hello.id)
    const replaced = existing?.owner && existing.owner !== owner ? existing.owner : null
    const record: NodeRecord = existing ?? {
      name: hello.id,
      owner,
      ownSecret,
      nodeId: null,
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
    if (record.nodeId && record.nodeId !== hello.nodeId && this.byNodeId.get(record.nodeId) === record.name) this.byNodeId.delete(record.nodeId)
    Object.assign(record, {
      owner,
      ownSecret,
      nodeId: hello.nodeId,
      enode: hello.enode,
      remoteAddress,
      connectedAtMs: nowMs,
      disconnectedAtMs: null,
      lastSeenMs: nowMs,
      info: hello.info,
    })
    this.records.set(hello.id, record)
    // The latest login claiming a key wins the index, except that a shared-secret login never displaces a claim made
    // under a node's own secret; ownership of a key is claimed, not proven (see docs/tracker.md).
    if (hello.nodeId) {
      const holder = this.byNodeId.get(hello.nodeId)
      const held = holder !== undefined && holder !== hello.id ? this.records.get(holder) : undefined
      if (!held || ownSecret || !held.ownSecret) this.byNodeId.set(hello.nodeId, hello.id)
    }
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
    if (r.nodeId && this.byNodeId.get(r.nodeId) === r.name) this.byNodeId.delete(r.nodeId)
  }
}

/** A deep copy: callers (the dashboard, listeners) may keep or mutate it freely. */
function snapshot(r: NodeRecord): TrackedNode {
  return {
    name: r.name,
    nodeId: r.nodeId,
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
