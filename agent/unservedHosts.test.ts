import { describe, expect, it } from 'vitest'
import { manualClock } from '../lib/clock.ts'
import type { NodeId } from '../protocol/enode.ts'
import { UnservedHosts, unservedGraceMs } from './unservedHosts.ts'

const A = 'a'.repeat(128) as NodeId
const B = 'b'.repeat(128) as NodeId
const GRACE = 30_000
const none = new Set<NodeId>()

describe('UnservedHosts', () => {
  it('default: a vouched host never seen among the peers is unserved once the grace has passed, not before', () => {
    const clock = manualClock(0)
    const u = new UnservedHosts(clock)
    expect(u.observe([A], none, GRACE)).toEqual([])
    clock.advance(GRACE - 1)
    expect(u.observe([A], none, GRACE)).toEqual([])
    clock.advance(1)
    expect(u.observe([A], none, GRACE)).toEqual([A])
  })

  it('behavior: a host that served once is never called unserved while it stays assigned', () => {
    const clock = manualClock(0)
    const u = new UnservedHosts(clock)
    u.observe([A, B], new Set([A]), GRACE)
    clock.advance(GRACE * 10)
    expect(u.observe([A, B], none, GRACE)).toEqual([B])
  })

  it('behavior: the grace starts again for a host assigned anew after it left or was handed back', () => {
    const clock = manualClock(0)
    const u = new UnservedHosts(clock)
    u.observe([A], none, GRACE)
    clock.advance(GRACE)
    expect(u.observe([A], none, GRACE)).toEqual([A])
    u.forget([A])
    expect(u.observe([A], none, GRACE)).toEqual([])
    u.observe([], none, GRACE) // no longer vouched
    clock.advance(GRACE)
    expect(u.observe([A], none, GRACE)).toEqual([])
  })

  it('default: the grace is two update intervals, at least 30 s', () => {
    expect(unservedGraceMs(5_000)).toBe(30_000)
    expect(unservedGraceMs(60_000)).toBe(120_000)
  })
})
