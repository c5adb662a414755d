/**
 * The pool's best head per chain (logic/heads.ts: the quorum of the hosts'
 * reports), every chain's in one pass over the hosts at most once per `ttlMs`.
 * Plausibility checks run on every report; scanning every host each time would
 * cost O(hosts) per report, O(hosts²) per second. A pass per chain asked was not
 * enough either: a chain with no head was not cached, so each report of an agent
 * on a chain without hosts scanned every host (free keys on made-up chain ids
 * made that a way to burn the coordinator's CPU), and many chains meant many passes.
 *
 * With replicas, the quorum is the pool's, not this replica's: siblings' hosts
 * (the host directory) vote with the heads their own agents reported. A
 * replica holding few hosts would otherwise let two liars among its three
 * hosts set its best head, and its honest host would look behind.
 */
import type { Clock } from '../../lib/clock.ts'
import type { NodeId } from '../../protocol/index.ts'
import type { SessionRegistry } from './sessions.ts'
import { quorumHeads, type HeadView, type HostHead } from '../logic/heads.ts'

/** A sibling's host as the directory mirrors it; `reportedBlockNumber` absent: it does not vote. */
export interface RemoteHostHead {
  nodeId: NodeId
  chainId: number
  reportedBlockNumber?: number | undefined
  lastReportAtMs: number
}

export class ChainHeads implements HeadView {
  /** Every chain's head at `computedAtMs` (a chain without one is absent). */
  private heads = new Map<number, number>()
  private computedAtMs: number | undefined

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly clock: Clock,
    /** Hosts silent for longer do not count (a hung node's old head would hold the statistic down). */
    private readonly staleAfterMs: number | undefined,
    private readonly ttlMs = 1_000,
    /** Siblings' hosts (services/hostDirectory.ts); none for a coordinator alone. */
    private readonly remoteHosts: (nowMs: number) => Iterable<RemoteHostHead> = () => [],
  ) {}

  /** Forget heads older than the TTL: hosts come and go, and nothing may be asked until they are recomputed. */
  prune(): void {
    if (this.computedAtMs !== undefined && this.clock.now() - this.computedAtMs < this.ttlMs) return
    this.heads = new Map()
    this.computedAtMs = undefined
  }

  get size(): number {
    return this.heads.size
  }

  bestHead(chainId: number): number | undefined {
    const now = this.clock.now()
    if (this.computedAtMs === undefined || now - this.computedAtMs >= this.ttlMs) {
      this.heads = quorumHeads(this.voters(now), this.staleAfterMs === undefined ? undefined : now - this.staleAfterMs)
      this.computedAtMs = now
    }
    return this.heads.get(chainId)
  }

  /**
   * A local host reported `blockNumber`. On a chain with no head yet it counts at once (alone, it is the quorum):
   * the first heads on a chain must count straight away. Otherwise the next pass counts it.
   */
  noteHostHead(chainId: number, blockNumber: number): void {
    if (blockNumber > 0 && this.computedAtMs !== undefined && !this.heads.has(chainId)) this.heads.set(chainId, blockNumber)
  }

  /** Siblings' hosts changed (a directory part arrived): the next question recomputes. */
  invalidate(): void {
    this.computedAtMs = undefined
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
