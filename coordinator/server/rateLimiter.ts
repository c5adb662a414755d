import type { IncomingMessage } from 'node:http'
import { KeyedRateLimiter } from '../../lib/rateLimit.ts'
import { addressKey, type ClientAddress } from './clientAddress.ts'

/**
 * One token bucket per remote address (lib/rateLimit.ts), the least recently used forgotten beyond
 * `maxTracked`. The public HTTP lookups share this; each route family has its own instance.
 */
export class AddressRateLimiter {
  private readonly buckets: KeyedRateLimiter<string>

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number,
    maxTracked = 10_000,
  ) {
    this.buckets = new KeyedRateLimiter({ ratePerSec: ratePerSecond, burst }, maxTracked)
  }

  take(address: string): boolean {
    return this.buckets.take(address, this.now())
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
