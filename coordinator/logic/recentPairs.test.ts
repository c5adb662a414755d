import { describe, test, expect } from 'vitest'
import type { NodeId } from '../../protocol/index.ts'
import { RecentPairs } from './recentPairs.ts'

const id = (n: number) => n.toString(16).padStart(128, '0') as NodeId

describe('recent pairs', () => {
  test('default: a released pair is remembered for the TTL, then forgotten', () => {
    const r = new RecentPairs({ ttlMs: 1_000, perClient: 4, maxClients: 10 })
    r.remember(id(1), id(100), 5_000)
    expect(r.recent(id(1), 5_999)).toEqual(new Set([id(100)]))
    expect(r.recent(id(1), 6_000)).toEqual(new Set())
    expect(r.recent(id(2), 5_000)).toEqual(new Set())
    expect(r.recent(undefined, 5_000)).toEqual(new Set())
    r.prune(6_000)
    expect(r.size).toBe(0)
  })
  test('behavior: at most perClient hosts per client, the newest kept; releasing again refreshes', () => {
    const r = new RecentPairs({ ttlMs: 10_000, perClient: 2, maxClients: 10 })
    r.remember(id(1), id(100), 0)
    r.remember(id(1), id(101), 1)
    r.remember(id(1), id(100), 2)
    r.remember(id(1), id(102), 3)
    expect(r.recent(id(1), 4)).toEqual(new Set([id(100), id(102)]))
  })
  test('behavior: beyond maxClients the client released from longest ago is forgotten', () => {
    const r = new RecentPairs({ ttlMs: 10_000, perClient: 2, maxClients: 2 })
    r.remember(id(1), id(100), 0)
    r.remember(id(2), id(100), 1)
    r.remember(id(1), id(101), 2)
    r.remember(id(3), id(100), 3)
    expect(r.size).toBe(2)
    expect(r.recent(id(2), 4)).toEqual(new Set())
    expect(r.recent(id(1), 4)).toEqual(new Set([id(100), id(101)]))
  })
  test('behavior: prune drops only what has expired', () => {
    const r = new RecentPairs({ ttlMs: 100, perClient: 4, maxClients: 10 })
    r.remember(id(1), id(100), 0)
    r.remember(id(1), id(101), 50)
    r.prune(120)
    expect(r.recent(id(1), 120)).toEqual(new Set([id(101)]))
  })
})
