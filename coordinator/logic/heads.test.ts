import { describe, test, expect } from 'vitest'
import { bestReportedHead, combineHeads, isLagging, type HeadView } from './heads.ts'

describe('heads', () => {
  test('default: the best head is the highest reported on that chain', () => {
    const agents = [
      { chainId: 1, blockNumber: 100 },
      { chainId: 1, blockNumber: 105 },
      { chainId: 5, blockNumber: 9_000 },
      { chainId: 1, blockNumber: 0 },
    ]
    expect(bestReportedHead(agents, 1)).toBe(105)
    expect(bestReportedHead(agents, 5)).toBe(9_000)
  })
  test('behavior: no reports (or only zeros) on a chain means no best head', () => {
    expect(bestReportedHead([{ chainId: 1, blockNumber: 0 }], 1)).toBeUndefined()
    expect(bestReportedHead([], 1)).toBeUndefined()
  })
  test('behavior: several sources combine to the highest; a source that knows nothing is ignored', () => {
    const a: HeadView = { bestHead: (c) => (c === 1 ? 100 : undefined) }
    const b: HeadView = { bestHead: (c) => (c === 1 ? 103 : c === 5 ? 7 : undefined) }
    const both = combineHeads(a, b)
    expect(both.bestHead(1)).toBe(103)
    expect(both.bestHead(5)).toBe(7)
    expect(both.bestHead(10)).toBeUndefined()
  })
  test('behavior: lagging is strictly more than maxLag behind; unknown heads never lag', () => {
    expect(isLagging(92, 100, 8)).toBe(false)
    expect(isLagging(91, 100, 8)).toBe(true)
    expect(isLagging(0, 100, 8)).toBe(false)
    expect(isLagging(50, undefined, 8)).toBe(false)
    expect(isLagging(120, 100, 8)).toBe(false)
  })
})
