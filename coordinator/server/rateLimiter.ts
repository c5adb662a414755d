import type { IncomingMessage } from 'node:http'
import { addressKey, type ClientAddress } from './clientAddress.ts'

/** A token bucket: `ratePerSecond` sustained, `burst` at once. Time is passed in. */
export class TokenBucket {
  private tokens: number
  private lastMs: number

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst
    this.lastMs = nowMs
  }

  take(nowMs: number): boolean {
    const elapsed = Math.max(0, nowMs - this.lastMs)
    this.lastMs = nowMs
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }
}

/**
 * One token bucket per remote address, the least recently used forgotten beyond `maxTracked` (it gets a
 * full bucket back). The public HTTP lookups share this; each route family has its own instance.
 */
export class AddressRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>()

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number,
    private readonly maxTracked = 10_000,
  ) {}

  take(address: string): boolean {
    const now = this.now()
    let bucket = this.buckets.get(address)
    if (bucket) this.buckets.delete(address) // re-inserted last: the Map's order is least recently used first
    else bucket = new TokenBucket(this.ratePerSecond, this.burst, now)
    this.buckets.set(address, bucket)
    if (this.buckets.size > this.maxTracked) this.buckets.delete(this.buckets.keys().next().value!)
    return bucket.take(now)
  }

  /**
   * Express middleware: 429 with Retry-After when the caller is out of tokens. The caller is
   * `clientAddress(req)` (X-Forwarded-For only from --trust-proxy: a header anyone can set would make
   * the limit useless), IPv6 counted per /64.
   */
  middleware(clientAddress: ClientAddress) {
    return (req: IncomingMessage, res: { set(k: string, v: string): { status(n: number): { json(b: unknown): unknown } } }, next: () => void): void => {
      if (!this.take(addressKey(clientAddress(req)))) {
        res.set('Retry-After', '1').status(429).json({ error: { code: 'RATE_LIMITED', message: `at most ${this.ratePerSecond} requests per second (burst ${this.burst}) per address` } })
        return
      }
      next()
    }
  }
}
