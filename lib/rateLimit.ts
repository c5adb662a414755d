/**
 * The one rate limiter: token buckets. A bucket holds up to `burst` tokens and
 * refills at `ratePerSec`; an action takes `cost` tokens (1 for a call; more for
 * a costlier one) or is refused. Time is integer milliseconds and always passed
 * in, so the arithmetic is testable without sleeping, and a clock that steps
 * back adds nothing rather than taking tokens away.
 *
 * `TokenBucket` limits one thing (a socket's frames); `KeyedRateLimiter` keeps
 * one bucket per key (an address, a node) with a bound on how many it tracks.
 */

export interface RateLimit {
  /** Sustained tokens per second. */
  ratePerSec: number
  /** Bucket size: what may be spent at once after a quiet period. */
  burst: number
}

function assertRateLimit(limit: RateLimit): void {
  if (!(limit.ratePerSec > 0) || !(limit.burst >= 1)) throw new RangeError(`a rate limit needs ratePerSec > 0 and burst >= 1, got ${limit.ratePerSec}/s burst ${limit.burst}`)
}

export class TokenBucket {
  private tokens: number
  private atMs: number
  private readonly perMs: number
  private readonly burst: number

  constructor(limit: RateLimit, nowMs: number) {
    assertRateLimit(limit)
    this.perMs = limit.ratePerSec / 1000
    this.burst = limit.burst
    this.tokens = limit.burst
    this.atMs = nowMs
  }

  /** Spend `cost` tokens; false (and nothing spent) when the bucket holds fewer. */
  take(nowMs: number, cost = 1): boolean {
    this.refill(nowMs)
    if (this.tokens < cost) return false
    this.tokens -= cost
    return true
  }

  /**
   * Spend `cost` tokens whether or not the bucket holds them, and return the
   * milliseconds until they are covered (0: now). The bucket goes into debt, so
   * the caller has booked a turn that no later `take` or `reserve` can have:
   * the k-th reservation beyond the burst waits about k / ratePerSec (login
   * pacing hands these turns out as slots: coordinator/server/socketGate.ts).
   */
  reserve(nowMs: number, cost = 1): number {
    const wait = this.waitMs(nowMs, cost)
    this.tokens -= cost
    return wait
  }

  /** Milliseconds until `cost` tokens are there (0: now); nothing is spent. */
  waitMs(nowMs: number, cost = 1): number {
    this.refill(nowMs)
    return this.tokens >= cost ? 0 : Math.ceil((cost - this.tokens) / this.perMs)
  }

  /** Whether the bucket is full again at `nowMs`: an idle key's bucket can be forgotten. */
  isFull(nowMs: number): boolean {
    this.refill(nowMs)
    return this.tokens >= this.burst
  }

  private refill(nowMs: number): void {
    const elapsed = Math.max(0, nowMs - this.atMs)
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.perMs)
    this.atMs = Math.max(this.atMs, nowMs)
  }
}

/**
 * One bucket per key. Beyond `maxTracked` keys the least recently used is
 * forgotten (it gets a full bucket back: a bound on memory that strangers with
 * fresh keys cannot turn into unbounded growth); `prune` forgets full buckets.
 */
export class KeyedRateLimiter<K = string> {
  private readonly buckets = new Map<K, TokenBucket>()

  constructor(
    readonly limit: RateLimit,
    private readonly maxTracked = 10_000,
  ) {
    assertRateLimit(limit)
  }

  take(key: K, nowMs: number, cost = 1): boolean {
    return this.bucketOf(key, nowMs).take(nowMs, cost)
  }

  /** Milliseconds until `key` may spend `cost` (0: now), without spending. */
  waitMs(key: K, nowMs: number, cost = 1): number {
    return this.buckets.get(key)?.waitMs(nowMs, cost) ?? 0
  }

  /** Forget buckets that are full again: an idle key costs no memory. */
  prune(nowMs: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.isFull(nowMs)) this.buckets.delete(key)
  }

  get size(): number {
    return this.buckets.size
  }

  private bucketOf(key: K, nowMs: number): TokenBucket {
    let bucket = this.buckets.get(key)
    if (bucket) this.buckets.delete(key) // re-inserted last: the Map's order is least recently used first
    else bucket = new TokenBucket(this.limit, nowMs)
    this.buckets.set(key, bucket)
    if (this.buckets.size > this.maxTracked) this.buckets.delete(this.buckets.keys().next().value as K)
    return bucket
  }
}
