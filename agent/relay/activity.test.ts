import { describe, expect, it } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { ActivityMeter } from './activity.ts'

describe('ActivityMeter', () => {
  it('default: counts requests and busy time, overlaps once', () => {
    const clock = manualClock(1000)
    const m = new ActivityMeter(clock)
    const a = m.begin('x')
    clock.advance(100)
    const b = m.begin('x') // overlaps a
    m.count('x', 3)
    clock.advance(50)
    a()
    clock.advance(50)
    b()
    clock.advance(500)
    expect(m.drain()).toEqual(new Map([['x', { requests: 3, busyMs: 200, lastActiveMs: 1200 }]]))
    expect(m.drain()).toEqual(new Map()) // idle keys are forgotten
  })

  it('behavior: an open session is busy across drains, and nothing is billed twice', () => {
    const clock = manualClock(0)
    const m = new ActivityMeter(clock)
    const end = m.begin('s')
    clock.advance(300)
    expect(m.drain().get('s')).toEqual({ requests: 0, busyMs: 300, lastActiveMs: 300 })
    clock.advance(200)
    end()
    end() // idempotent
    expect(m.drain().get('s')).toEqual({ requests: 0, busyMs: 200, lastActiveMs: 500 })
  })
})
