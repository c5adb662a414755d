import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { LoginSchedule } from './loginPacing.ts'

describe('LoginSchedule', () => {
  test('a burst is admitted at once, the rest get consecutive slots at the rate', () => {
    const s = new LoginSchedule({ ratePerSecond: 100, burst: 3 })
    const decisions = Array.from({ length: 6 }, () => s.request(1_000))
    expect(decisions.slice(0, 3)).toEqual([{ admit: true }, { admit: true }, { admit: true }])
    expect(decisions.slice(3)).toEqual([
      { admit: false, slotAtMs: 1_010 },
      { admit: false, slotAtMs: 1_020 },
      { admit: false, slotAtMs: 1_030 },
    ])
  })

  test('behavior: a slot booked for one agent is not given to a later arrival', () => {
    const s = new LoginSchedule({ ratePerSecond: 10, burst: 1 })
    expect(s.request(0)).toEqual({ admit: true })
    expect(s.request(0)).toEqual({ admit: false, slotAtMs: 100 })
    // At 100 ms the slot belongs to the agent refused above; a newcomer gets the one after.
    expect(s.request(100)).toEqual({ admit: false, slotAtMs: 200 })
  })

  test('property: in a storm of n logins at once, the k-th waits (k - burst) / rate, and admissions never exceed burst + rate × time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000 }), fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 1, max: 100 }), (n, rate, burst) => {
        const s = new LoginSchedule({ ratePerSecond: rate, burst })
        const at = Array.from({ length: n }, () => {
          const d = s.request(0)
          return d.admit ? 0 : d.slotAtMs
        })
        at.forEach((t, k) => expect(t).toBeLessThanOrEqual(Math.ceil((Math.max(0, k + 1 - burst) * 1_000) / rate) + 1))
        // By time t, at most burst + rate × t logins are due (1 ms of rounding per slot).
        const sorted = [...at].sort((a, b) => a - b)
        sorted.forEach((t, k) => expect(k + 1).toBeLessThanOrEqual(burst + Math.floor(((t + 1) * rate) / 1_000) + 1))
      }),
    )
  })

  test('idle time refills the burst', () => {
    const s = new LoginSchedule({ ratePerSecond: 10, burst: 2 })
    s.request(0)
    s.request(0)
    expect(s.request(0).admit).toBe(false)
    expect(s.backlogMs(0)).toBe(300)
    expect(s.request(1_000)).toEqual({ admit: true })
    expect(s.request(1_000)).toEqual({ admit: true })
  })
})
