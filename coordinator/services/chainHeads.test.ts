import { describe, expect, test } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { fakeConnection, fakeSession } from '../../test/harness/fakeSessions.ts'
import { ChainHeads } from './chainHeads.ts'
import { SessionRegistry } from './sessions.ts'
import type { AgentSession } from './sessions.ts'

const TTL_MS = 1_000
const STALE_MS = 3_000

/** A registry of live sessions whose host walks are counted (every host a quorum pass looks at). */
function registry(clock: ReturnType<typeof manualClock>) {
  const sessions = new SessionRegistry(clock)
  const looked = { hosts: 0 }
  const walk = sessions.sessions.bind(sessions)
  sessions.sessions = function* (role?: AgentSession['role']) {
    for (const s of walk(role)) {
      if (s.role === 'host') looked.hosts++
      yield s
    }
  } as SessionRegistry['sessions']
  const add = (role: 'host' | 'client', overrides: Partial<AgentSession> = {}) => {
    const { session } = fakeSession(role, clock.now(), overrides)
    sessions.attach(fakeConnection(session, { call: async () => undefined, notify: () => undefined }))
    return session
  }
  return { sessions, looked, add }
}

describe('ChainHeads', () => {
  test('attack: reports on chains without hosts, and on a thousand made-up chain ids, walk the hosts once per TTL, not once per report', () => {
    const clock = manualClock(10_000)
    const { sessions, looked, add } = registry(clock)
    for (let i = 0; i < 300; i++) add('host', { chainId: 1, blockNumber: 1_000 })
    const heads = new ChainHeads(sessions, clock, STALE_MS, TTL_MS)
    for (let i = 0; i < 1_000; i++) {
      expect(heads.bestHead(999)).toBeUndefined() // a client on a chain no host serves, reporting
      expect(heads.bestHead(100_000 + i)).toBeUndefined() // free keys, each on a chain id of its own
    }
    expect(heads.bestHead(1)).toBe(1_000)
    expect(looked.hosts).toBe(300)
    clock.advance(TTL_MS)
    heads.bestHead(999)
    expect(looked.hosts).toBe(600)
  })

  test('behavior: the first head on a chain counts at once, later ones at the next pass; a liar alone cannot move a quorum', () => {
    const clock = manualClock(10_000)
    const { sessions, add } = registry(clock)
    const honest = [add('host', { chainId: 5, blockNumber: 0 }), add('host', { chainId: 5, blockNumber: 0 }), add('host', { chainId: 5, blockNumber: 0 })]
    const heads = new ChainHeads(sessions, clock, STALE_MS, TTL_MS)
    expect(heads.bestHead(5)).toBeUndefined()
    // The first host's first report (services/reports.ts sets the session's head, then notes it).
    honest[0]!.blockNumber = 700
    heads.noteHostHead(5, 700)
    expect(heads.bestHead(5)).toBe(700)
    honest[1]!.blockNumber = 701
    honest[2]!.blockNumber = 701
    heads.noteHostHead(5, 701)
    expect(heads.bestHead(5)).toBe(700) // cached until the TTL
    const liar = add('host', { chainId: 5, blockNumber: 10_000 })
    heads.noteHostHead(5, liar.blockNumber)
    clock.advance(TTL_MS)
    expect(heads.bestHead(5)).toBe(701)
  })

  test('behavior: stale hosts do not vote; prune forgets heads older than the TTL; invalidate recomputes at the next question', () => {
    const clock = manualClock(10_000)
    const { sessions, add } = registry(clock)
    const host = add('host', { chainId: 7, blockNumber: 50 })
    const heads = new ChainHeads(sessions, clock, STALE_MS, TTL_MS)
    expect(heads.bestHead(7)).toBe(50)
    expect(heads.size).toBe(1)
    heads.prune()
    expect(heads.size).toBe(1) // within the TTL
    clock.advance(STALE_MS + 1)
    heads.prune()
    expect(heads.size).toBe(0)
    expect(heads.bestHead(7)).toBeUndefined() // silent past the stale limit
    host.lastReportAtMs = clock.now()
    host.blockNumber = 60
    expect(heads.bestHead(7)).toBeUndefined() // cached until the TTL or a change is announced
    heads.invalidate()
    expect(heads.bestHead(7)).toBe(60)
  })
})
