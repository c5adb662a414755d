import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import { confirmedHead, headQuorum, isImplausibleHead, isLagging, quorumHead, quorumOf } from './heads.ts'

const host = (blockNumber: number, chainId = 1, lastReportAtMs = 1_000) => ({ chainId, blockNumber, lastReportAtMs })

describe('heads', () => {
  test('default: the best head is the highest head a majority of the hosts has reached', () => {
    expect(quorumHead([host(100), host(105), host(103), host(9_000, 5), host(0)], 1, undefined)).toBe(103)
    expect(quorumHead([host(100), host(105), host(103), host(9_000, 5)], 5, undefined)).toBe(9_000) // one host: its own head
    expect([1, 2, 3, 4, 5, 6, 7].map(headQuorum)).toEqual([1, 2, 2, 3, 3, 4, 4])
  })
  test('behavior: no host, or only zeros, means no best head, and then nobody lags', () => {
    expect(quorumHead([host(0)], 1, undefined)).toBeUndefined()
    expect(quorumHead([], 1, undefined)).toBeUndefined()
    expect(isLagging(50, quorumHead([], 1, undefined), 8)).toBe(false)
  })
  test('behavior: stale hosts do not count', () => {
    expect(quorumHead([host(100, 1, 10), host(200, 1, 1_000)], 1, 500)).toBe(200)
    expect(quorumHead([host(100, 1, 10), host(200, 1, 1_000)], 1, undefined)).toBe(100)
  })
  test('behavior: one liar among two hosts, or a minority of liars, cannot raise the best head', () => {
    expect(quorumOf([1_000, 1_064])).toBe(1_000)
    expect(quorumOf([1_000, 1_000, 1_064])).toBe(1_000)
    expect(quorumOf([1_000, 1_000, 999, 1_064, 1_064])).toBe(1_000)
  })
  test('property: while liars are no more than the honest hosts, the best head never exceeds the highest honest head', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 1, maxLength: 30 }), fc.nat(30), fc.integer({ min: 1, max: 10_000_000 }), (honest, liarCount, claim) => {
        const liars = Math.min(liarCount, honest.length)
        expect(quorumOf([...honest, ...Array<number>(liars).fill(claim)])!).toBeLessThanOrEqual(Math.max(...honest))
      }),
    )
  })
  test('behavior: a report is implausible only beyond the window above the best head', () => {
    expect(isImplausibleHead(1_008, 1_000, 8)).toBe(false)
    expect(isImplausibleHead(1_009, 1_000, 8)).toBe(true)
    expect(isImplausibleHead(5_000, undefined, 8)).toBe(false) // nobody to compare with
  })
  test('behavior: lagging is strictly more than maxLag behind; unknown heads never lag', () => {
    expect(isLagging(92, 100, 8)).toBe(false)
    expect(isLagging(91, 100, 8)).toBe(true)
    expect(isLagging(0, 100, 8)).toBe(false)
    expect(isLagging(50, undefined, 8)).toBe(false)
    expect(isLagging(120, 100, 8)).toBe(false)
  })
  test('behavior: a tracker head can only confirm a host higher, never lower', () => {
    expect(confirmedHead(90, 100)).toBe(100)
    expect(confirmedHead(90, 80)).toBe(90)
    expect(confirmedHead(90, undefined)).toBe(90)
  })
})
