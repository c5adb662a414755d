import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import { LATENCY_BUCKETS_MS, LATENCY_BUCKET_COUNT, latencyBucket, latencyQuantile, qualityMethod } from './quality.ts'

describe('latency histograms', () => {
  test('default: a latency falls in the first bucket whose bound holds it; slower than 10 s in the overflow bucket', () => {
    expect(latencyBucket(0)).toBe(0)
    expect(latencyBucket(10)).toBe(0)
    expect(latencyBucket(10.5)).toBe(1)
    expect(latencyBucket(250)).toBe(4)
    expect(latencyBucket(10_000)).toBe(9)
    expect(latencyBucket(10_001)).toBe(LATENCY_BUCKET_COUNT - 1)
  })

  test('default: a quantile is the upper bound of the bucket holding it', () => {
    const b = new Array(LATENCY_BUCKET_COUNT).fill(0)
    expect(latencyQuantile(b, 0.5)).toBeUndefined()
    b[latencyBucket(40)] = 98 // 50 ms bucket
    b[latencyBucket(3_000)] = 2 // 5 s bucket
    expect(latencyQuantile(b, 0.5)).toBe(50)
    expect(latencyQuantile(b, 0.98)).toBe(50)
    expect(latencyQuantile(b, 0.99)).toBe(5_000)
    b[LATENCY_BUCKET_COUNT - 1] = 100
    expect(latencyQuantile(b, 0.99)).toBe(10_000)
  })

  test('behavior: a quantile never understates the latency of the calls below it (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 12_000 }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0.01, max: 1, noNaN: true }), (samples, q) => {
        const b = new Array(LATENCY_BUCKET_COUNT).fill(0)
        for (const s of samples) b[latencyBucket(s)]++
        const sorted = [...samples].sort((x, y) => x - y)
        const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!
        expect(latencyQuantile(b, q)).toBeGreaterThanOrEqual(Math.min(exact, LATENCY_BUCKETS_MS.at(-1)!))
      }),
    )
  })

  test('default: listed methods keep their name, every other is "other"', () => {
    expect(qualityMethod('eth_getProof')).toBe('eth_getProof')
    expect(qualityMethod('eth_getUncleByBlockHashAndIndex')).toBe('other')
    expect(qualityMethod('ETH_GETPROOF')).toBe('other')
  })
})
