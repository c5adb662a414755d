import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { HISTORY_HEARTBEAT_MS, keepInHistory } from './reportHistory.ts'
import type { NodeId } from '../../protocol/index.ts'

const id = (n: number) => n.toString(16).padStart(128, '0') as NodeId
const set = (...ns: number[]) => new Set(ns.map(id))

describe('keepInHistory', () => {
  test('the first report, a new session, other peers and the heartbeat are kept; a repeat is not', () => {
    const mark = { sessionId: 's1', peers: set(1, 2), historyAtMs: 1_000 }
    expect(keepInHistory(undefined, { sessionId: 's1', peers: set(), atMs: 0 })).toBe(true)
    expect(keepInHistory(mark, { sessionId: 's2', peers: set(1, 2), atMs: 2_000 })).toBe(true)
    expect(keepInHistory(mark, { sessionId: 's1', peers: set(1, 3), atMs: 2_000 })).toBe(true)
    expect(keepInHistory(mark, { sessionId: 's1', peers: set(1), atMs: 2_000 })).toBe(true)
    expect(keepInHistory(mark, { sessionId: 's1', peers: set(2, 1), atMs: 2_000 })).toBe(false)
    expect(keepInHistory(mark, { sessionId: 's1', peers: set(1, 2), atMs: 1_000 + HISTORY_HEARTBEAT_MS })).toBe(true)
  })

  test('property: a node reporting on a steady interval gets a history row at least once per heartbeat and at every change', () => {
    fc.assert(
      fc.property(fc.array(fc.subarray([1, 2, 3]), { minLength: 1, maxLength: 200 }), fc.integer({ min: 100, max: 30_000 }), (peerSets, intervalMs) => {
        let mark: Parameters<typeof keepInHistory>[0]
        let lastKeptAt = -Infinity
        peerSets.forEach((ps, k) => {
          const report = { sessionId: 's', peers: set(...ps), atMs: k * intervalMs }
          const changed = !mark || mark.peers.size !== report.peers.size || [...report.peers].some((p) => !mark!.peers.has(p))
          const kept = keepInHistory(mark, report)
          if (changed) expect(kept).toBe(true)
          if (kept) lastKeptAt = report.atMs
          expect(report.atMs - lastKeptAt).toBeLessThan(HISTORY_HEARTBEAT_MS)
          mark = { sessionId: 's', peers: report.peers, historyAtMs: kept ? report.atMs : mark!.historyAtMs }
        })
      }),
    )
  })
})
