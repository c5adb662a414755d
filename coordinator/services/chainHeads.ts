/**
 * The pool's best head per chain (logic/heads.ts: the quorum of the hosts'
 * reports), recomputed at most once per `ttlMs` per chain. Plausibility
 * checks run on every report; scanning every host each time would cost
 * O(hosts) per report, O(hosts²) per second.
 */
import type { Clock } from '../../lib/clock.ts'
import type { SessionRegistry } from './sessions.ts'
import { quorumHead, type HeadView } from '../logic/heads.ts'

export class ChainHeads implements HeadView {
  private readonly cache = new Map<number, { head: number | undefined; atMs: number }>()

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly clock: Clock,
    /** Hosts silent for longer do not count (a hung node's old head would hold the statistic down). */
    private readonly staleAfterMs: number | undefined,
    private readonly ttlMs = 1_000,
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
    const head = quorumHead(this.sessions.sessions('host'), chainId, this.staleAfterMs === undefined ? undefined : now - this.staleAfterMs)
    this.cache.set(chainId, { head, atMs: now })
    return head
  }
}
