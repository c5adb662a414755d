/**
 * The pool's best head per chain (logic/heads.ts: the quorum of the hosts'
 * reports), recomputed at most once per `ttlMs` per chain. Plausibility
 * checks run on every report; scanning every host each time would cost
 * O(hosts) per report, O(hosts²) per second.
 *
 * With replicas, the quorum is the pool's, not this replica's: siblings' hosts
 * (the host directory) vote with the heads their own agents reported. A
 * replica holding few hosts would otherwise let two liars among its three
 * hosts set its best head, and its honest host would look behind.
 */
import type { Clock } from '../../lib/clock.ts'
import type { NodeId } from '../../protocol/index.ts'
import type { SessionRegistry } from './sessions.ts'
import { quorumHead, type HeadView, type HostHead } from '../logic/heads.ts'

/** A sibling's host as the directory mirrors it; `reportedBlockNumber` absent: it does not vote. */
export interface RemoteHostHead {
  nodeId: NodeId
  chainId: number
  reportedBlockNumber?: number | undefined
  lastReportAtMs: number
}

export class ChainHeads implements HeadView {
  private readonly cache = new Map<number, { head: number | undefined; atMs: number }>()

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly clock: Clock,
    /** Hosts silent for longer do not count (a hung node's old head would hold the statistic down). */
    private readonly staleAfterMs: number | undefined,
    private readonly ttlMs = 1_000,
    /** Siblings' hosts (services/hostDirectory.ts); none for a coordinator alone. */
    private readonly remoteHosts: (nowMs: number) => Iterable<RemoteHostHead> = () => [],
  ) {}

  /** Forget chains not asked about within the TTL: agents declare any chain id, so the cache would grow with them. */
  prune(): void {
    const now = this.clock.now()
    for (const [chainId, c] of this.cache) if (now - c.atMs >= this.ttlMs) this.cache.delete(chainId)
  }

  get size(): number {
    return this.cache.size
  }

  bestHead(chainId: number): number | undefined {
    const now = this.clock.now()
    const cached = this.cache.get(chainId)
    // No head yet is not cached: the first heads on a chain must count straight away.
    if (cached && cached.head !== undefined && now - cached.atMs < this.ttlMs) return cached.head
    const head = quorumHead(this.voters(now), chainId, this.staleAfterMs === undefined ? undefined : now - this.staleAfterMs)
    this.cache.set(chainId, { head, atMs: now })
    return head
  }

  /** Local hosts, then siblings' hosts not also here (a host that just moved is in both for an interval: one vote). */
  private *voters(nowMs: number): IterableIterator<HostHead> {
    const local = new Set<NodeId>()
    for (const h of this.sessions.sessions('host')) {
      local.add(h.nodeId)
      yield h
    }
    for (const h of this.remoteHosts(nowMs)) {
      if (local.has(h.nodeId) || h.reportedBlockNumber === undefined) continue
      yield { chainId: h.chainId, blockNumber: h.reportedBlockNumber, lastReportAtMs: h.lastReportAtMs }
    }
  }
}
