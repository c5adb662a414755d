/**
 * Per-client token buckets for the relay: each client may make `ratePerSec`
 * calls per second on average and `burst` at once (a light client's start-up
 * is a burst of a few dozen calls). Time is integer ms and passed in, so the
 * arithmetic is testable without sleeping.
 */

export interface RateLimitOptions {
  /** Sustained calls per second per client. */
  ratePerSec: number
  /** Bucket size: calls allowed at once after a quiet period. */
  burst: number
}

/** Relayed calls per second per client unless the host says otherwise (`vipnode host --relay-rate`). */
export const DEFAULT_RELAY_RATE_PER_SEC = 50

/** A client may burst twice its sustained rate. */
export function relayRateLimit(ratePerSec: number): RateLimitOptions {
  return { ratePerSec, burst: 2 * ratePerSec }
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = relayRateLimit(DEFAULT_RELAY_RATE_PER_SEC)

/** EIP-1474 "limit exceeded": the code Ethereum tooling already reads as "slow down". */
export const RATE_LIMITED_CODE = -32005

export class RateLimiter<K extends string = string> {
  readonly #buckets = new Map<K, { tokens: number; at: number }>()
  readonly #rate: number
  readonly #burst: number

  constructor(options: RateLimitOptions = DEFAULT_RATE_LIMIT) {
    if (!(options.ratePerSec > 0) || !(options.burst >= 1)) throw new RangeError('rate limit needs ratePerSec > 0 and burst >= 1')
    this.#rate = options.ratePerSec / 1000
    this.#burst = options.burst
  }

  /** Take one call's worth from the client's bucket; false when it is empty. */
  take(key: K, nowMs: number): boolean {
    const b = this.#refill(key, nowMs)
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Forget buckets that are full again: an idle client costs no memory. */
  prune(nowMs: number): void {
    for (const key of [...this.#buckets.keys()]) {
      if (this.#refill(key, nowMs).tokens >= this.#burst) this.#buckets.delete(key)
    }
  }

  get size(): number {
    return this.#buckets.size
  }

  #refill(key: K, nowMs: number): { tokens: number; at: number } {
    let b = this.#buckets.get(key)
    if (!b) {
      b = { tokens: this.#burst, at: nowMs }
      this.#buckets.set(key, b)
      return b
    }
    // A clock that steps back adds nothing rather than removing tokens.
    const elapsed = Math.max(0, nowMs - b.at)
    b.tokens = Math.min(this.#burst, b.tokens + elapsed * this.#rate)
    b.at = Math.max(b.at, nowMs)
    return b
  }
}
