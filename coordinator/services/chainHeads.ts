/**
 * The agents' reported heads per chain, as a sample refreshed at most once
 * per `ttlMs`. Plausibility checks run on every report; scanning every
 * session each time would cost O(agents) per report, O(agents²) per second.
 */
import type { Clock } from '../../lib/clock.ts'
import type { SessionRegistry } from './sessions.ts'
import { medianHead } from '../logic/plausibleHead.ts'

export class ChainHeads {
  private cache = new Map<number, { heads: number[]; median: number | undefined }>()
  private computedAtMs = -Infinity

  constructor(
    private readonly sessions: SessionRegistry,
    private readonly clock: Clock,
    private readonly ttlMs = 1_000,
  ) {}

  /** Reported heads (> 0) of the connected agents on this chain, at most `ttlMs` old. */
  headsOn(chainId: number): readonly number[] {
    const now = this.clock.now()
    // An empty sample is refreshed at once: the first heads on a chain must count straight away.
    if (now - this.computedAtMs >= this.ttlMs || !this.cache.has(chainId)) {
      const fresh = new Map<number, number[]>()
      for (const s of this.sessions.sessions()) {
        if (s.blockNumber <= 0) continue
        let list = fresh.get(s.chainId)
        if (!list) fresh.set(s.chainId, (list = []))
        list.push(s.blockNumber)
      }
      this.cache = new Map([...fresh].map(([chain, heads]) => [chain, { heads, median: medianHead(heads) }]))
      this.computedAtMs = now
    }
    return this.cache.get(chainId)?.heads ?? []
  }

  /** The median of `headsOn(chainId)`, computed once per sample. */
  medianOn(chainId: number): number | undefined {
    this.headsOn(chainId)
    return this.cache.get(chainId)?.median
  }
}
