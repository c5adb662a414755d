import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { KeyedRateLimiter, TokenBucket } from './rateLimit.ts'

describe('TokenBucket', () => {
  it('default: a burst, then the sustained rate; a costlier action takes more', () => {
    const b = new TokenBucket({ ratePerSec: 10, burst: 3 }, 0)
    expect([1, 2, 3, 4].map(() => b.take(0))).toEqual([true, true, true, false])
    expect(b.waitMs(0)).toBe(100)
    expect(b.take(100)).toBe(true)
    expect(b.take(400, 4)).toBe(false) // 3 tokens, a cost of 4: refused and nothing spent
    expect(b.take(400, 3)).toBe(true)
    expect(b.isFull(400)).toBe(false)
    expect(b.isFull(700)).toBe(true)
  })
})

describe('TokenBucket.reserve (booked turns: login pacing)', () => {
  const slotOf = (b: TokenBucket, nowMs: number) => nowMs + b.reserve(nowMs)

  it('a burst is admitted at once, the rest get consecutive turns at the rate', () => {
    const b = new TokenBucket({ ratePerSec: 100, burst: 3 }, 1_000)
    expect(Array.from({ length: 6 }, () => b.reserve(1_000))).toEqual([0, 0, 0, 10, 20, 30])
  })

  it('behavior: a turn booked for one caller is not given to a later arrival, nor to a take', () => {
    const b = new TokenBucket({ ratePerSec: 10, burst: 1 }, 0)
    expect(b.reserve(0)).toBe(0)
    expect(slotOf(b, 0)).toBe(100)
    // At 100 ms the turn belongs to the caller booked above; a newcomer gets the one after, and take() gets none.
    expect(b.take(100)).toBe(false)
    expect(slotOf(b, 100)).toBe(200)
  })

  it('property: in a storm of n reservations at once, the k-th waits (k - burst) / rate, and turns never exceed burst + rate × time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000 }), fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 100 }), (n, rate, burst) => {
        const b = new TokenBucket({ ratePerSec: rate, burst }, 0)
        const at = Array.from({ length: n }, () => slotOf(b, 0))
        at.forEach((t, k) => expect(t).toBeLessThanOrEqual(Math.ceil((Math.max(0, k + 1 - burst) * 1_000) / rate) + 1))
        // By time t, at most burst + rate × t turns are due (1 ms of rounding per turn).
        const sorted = [...at].sort((x, y) => x - y)
        sorted.forEach((t, k) => expect(k + 1).toBeLessThanOrEqual(burst + Math.floor(((t + 1) * rate) / 1_000) + 1))
      }),
    )
  })

  it('idle time pays the debt and refills the burst', () => {
    const b = new TokenBucket({ ratePerSec: 10, burst: 2 }, 0)
    b.reserve(0)
    b.reserve(0)
    expect(b.reserve(0)).toBe(100)
    // The wait the next one would get.
    expect(b.waitMs(0)).toBe(200)
    expect(b.reserve(1_000)).toBe(0)
    expect(b.reserve(1_000)).toBe(0)
  })
})

describe('KeyedRateLimiter', () => {
  it('default: a burst, then the sustained rate, per key', () => {
    const rl = new KeyedRateLimiter({ ratePerSec: 10, burst: 3 })
    expect([1, 2, 3, 4].map(() => rl.take('a', 0))).toEqual([true, true, true, false])
    expect(rl.take('b', 0)).toBe(true) // another client has its own bucket
    expect(rl.take('a', 99)).toBe(false)
    expect(rl.take('a', 100)).toBe(true) // 10/s: one every 100 ms
    expect(rl.take('a', 100)).toBe(false)
    expect(rl.waitMs('a', 150)).toBe(50)
    expect(rl.waitMs('never-seen', 150)).toBe(0)
  })

  it('behavior: a clock stepping back adds nothing; full buckets are pruned', () => {
    const rl = new KeyedRateLimiter({ ratePerSec: 1, burst: 1 })
    expect(rl.take('a', 5000)).toBe(true)
    expect(rl.take('a', 1000)).toBe(false)
    rl.prune(5500)
    expect(rl.size).toBe(1)
    rl.prune(6000)
    expect(rl.size).toBe(0)
  })

  it('attack: fresh keys by the thousand cost at most maxTracked buckets; the least recently used is forgotten', () => {
    const rl = new KeyedRateLimiter({ ratePerSec: 1, burst: 1 }, 100)
    expect(rl.take('honest', 0)).toBe(true)
    for (let i = 0; i < 99; i++) rl.take(`sybil-${i}`, 0)
    expect(rl.take('honest', 0)).toBe(false) // still tracked: the 100th key
    for (let i = 99; i < 5_000; i++) rl.take(`sybil-${i}`, 0)
    expect(rl.size).toBe(100)
  })

  it('error: nonsense limits', () => {
    expect(() => new KeyedRateLimiter({ ratePerSec: 0, burst: 1 })).toThrow(RangeError)
    expect(() => new TokenBucket({ ratePerSec: 1, burst: 0 }, 0)).toThrow(/burst >= 1/)
  })
})
