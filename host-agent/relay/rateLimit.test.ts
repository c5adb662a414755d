import { describe, expect, it } from 'vitest'
import { RateLimiter } from './rateLimit.ts'

describe('RateLimiter', () => {
  it('default: a burst, then the sustained rate, per key', () => {
    const rl = new RateLimiter({ ratePerSec: 10, burst: 3 })
    expect([1, 2, 3, 4].map(() => rl.take('a', 0))).toEqual([true, true, true, false])
    expect(rl.take('b', 0)).toBe(true) // another client has its own bucket
    expect(rl.take('a', 99)).toBe(false)
    expect(rl.take('a', 100)).toBe(true) // 10/s: one every 100 ms
    expect(rl.take('a', 100)).toBe(false)
  })

  it('behavior: a clock stepping back adds nothing; full buckets are pruned', () => {
    const rl = new RateLimiter({ ratePerSec: 1, burst: 1 })
    expect(rl.take('a', 5000)).toBe(true)
    expect(rl.take('a', 1000)).toBe(false)
    rl.prune(5500)
    expect(rl.size).toBe(1)
    rl.prune(6000)
    expect(rl.size).toBe(0)
  })

  it('error: nonsense limits', () => {
    expect(() => new RateLimiter({ ratePerSec: 0, burst: 1 })).toThrow(RangeError)
  })
})
