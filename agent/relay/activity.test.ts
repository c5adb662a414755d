import { describe, expect, it } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { ActivityMeter } from './activity.ts'

describe('ActivityMeter', () => {
  it('default: counts served calls and their time, overlaps once', () => {
    const clock = manualClock(1000)
    const m = new ActivityMeter(clock)
    const a = m.call('x')
    clock.advance(100)
    const b = m.call('x') // overlaps a
    clock.advance(50)
    a(1, 20)
    clock.advance(50)
    b(3, 90)
    clock.advance(500)
    expect(m.drain()).toEqual(new Map([['x', { requests: 4, busyMs: 200, computeUnits: 110, lastActiveMs: 1200 }]]))
    expect(m.drain()).toEqual(new Map()) // idle keys are forgotten
  })

  it('behavior: calls that were not served count nothing, neither requests nor time', () => {
    const clock = manualClock(0)
    const m = new ActivityMeter(clock)
    for (let i = 0; i < 10; i++) {
      const end = m.call('errors')
      clock.advance(100)
      end(0, 100) // units of calls that were not served are not counted either
    }
    expect(m.drain()).toEqual(new Map())
  })

  it('behavior: notifications add compute units (and are service) between drains', () => {
    const clock = manualClock(0)
    const m = new ActivityMeter(clock)
    m.units('n', 10)
    clock.advance(5)
    m.units('n', 10)
    m.units('n', 0)
    expect(m.drain()).toEqual(new Map([['n', { requests: 0, busyMs: 0, computeUnits: 20, lastActiveMs: 5 }]]))
    expect(m.drain()).toEqual(new Map())
  })

  it('behavior: a long served call is counted whole even when short ones ended inside it', () => {
    const clock = manualClock(0)
    const m = new ActivityMeter(clock)
    const long = m.call('x')
    clock.advance(100)
    const s1 = m.call('x')
    clock.advance(50)
    s1(1) // [100, 150]
    clock.advance(350)
    const s2 = m.call('x')
    clock.advance(50)
    s2(1) // [500, 550]
    clock.advance(1450)
    long(1) // [0, 2000]
    expect(m.drain().get('x')).toMatchObject({ requests: 3, busyMs: 2000 })
  })

  it('behavior: a call in flight at a drain is counted at its reply, in the next drain, and never twice', () => {
    const clock = manualClock(0)
    const m = new ActivityMeter(clock)
    const a = m.call('x')
    const b = m.call('x')
    clock.advance(100)
    a(1)
    expect(m.drain().get('x')).toMatchObject({ requests: 1, busyMs: 100 })
    clock.advance(100)
    b(1) // [0, 200]: [0, 100] was counted already
    expect(m.drain().get('x')).toMatchObject({ requests: 1, busyMs: 100 })
  })

  it('behavior: a subscription session is busy across drains, and calls inside it add no time', () => {
    const clock = manualClock(0)
    const m = new ActivityMeter(clock)
    const end = m.session('s')
    clock.advance(300)
    expect(m.drain().get('s')).toEqual({ requests: 0, busyMs: 300, computeUnits: 0, lastActiveMs: 300 })
    const c = m.call('s')
    clock.advance(100)
    c(1)
    clock.advance(100)
    end()
    end() // idempotent
    expect(m.drain().get('s')).toEqual({ requests: 1, busyMs: 200, computeUnits: 0, lastActiveMs: 500 })
    expect(m.drain()).toEqual(new Map())
  })
})
