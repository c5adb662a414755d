import { describe, test, expect } from 'vitest'
import { afterFailure, afterSuccess, isSpent, pauseFor, strikesAt, type CoolDownPolicy, type CoolDownState } from './coolDown.ts'

const P: CoolDownPolicy = { baseMs: 10_000, maxMs: 300_000 }

/** n failures in a row, one second apart, from t=0. */
function failures(n: number): CoolDownState {
  let s: CoolDownState | undefined
  for (let i = 0; i < n; i++) s = afterFailure(s, i * 1_000, P)
  return s!
}

describe('cool-down', () => {
  test('default: a first failure pauses the host for the base time', () => {
    expect(afterFailure(undefined, 1_000, P)).toEqual({ strikes: 1, untilMs: 11_000, lastFailureMs: 1_000 })
  })
  test('behavior: the pause doubles with each failure in a row, up to the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => pauseFor(n, P))).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000])
    expect(pauseFor(0, P)).toBe(0)
    expect(pauseFor(10_000, P)).toBe(300_000)
    const s = failures(3)
    expect(s.strikes).toBe(3)
    expect(s.untilMs).toBe(2_000 + 40_000)
  })
  test('behavior: a failure never shortens a pause already running', () => {
    const long = failures(5) // until 4 000 + 160 000
    const forgiven = { ...long, strikes: 0 }
    expect(afterFailure(forgiven, 5_000, P).untilMs).toBe(long.untilMs)
  })
  test('behavior: a success halves the strikes and keeps the running pause; at zero strikes the cool-down ends', () => {
    const s = failures(4)
    const eased = afterSuccess(s, 5_000, P)!
    expect(eased).toEqual({ ...s, strikes: 2 })
    expect(afterSuccess(eased, 6_000, P)).toEqual({ ...s, strikes: 1 })
    expect(afterSuccess(afterFailure(undefined, 0, P), 1_000, P)).toBeUndefined()
    expect(afterSuccess(undefined, 0, P)).toBeUndefined()
    // The next failure after two successes pauses for 2 strikes' worth, not 5.
    expect(afterFailure(afterSuccess(eased, 6_000, P), 7_000, P)).toMatchObject({ strikes: 2, untilMs: Math.max(s.untilMs, 7_000 + 20_000) })
  })
  test('behavior: quiet time forgives one strike per maximum pause', () => {
    const s = failures(3) // last failure at 2 000
    expect(strikesAt(s, 2_000 + 299_999, P)).toBe(3)
    expect(strikesAt(s, 2_000 + 300_000, P)).toBe(2)
    expect(strikesAt(s, 2_000 + 900_000, P)).toBe(0)
    expect(afterFailure(s, 2_000 + 900_000, P).strikes).toBe(1)
    expect(strikesAt(undefined, 0, P)).toBe(0)
  })
  test('behavior: a state is spent once its pause is over and every strike is forgiven', () => {
    const s = afterFailure(undefined, 0, P)
    expect(isSpent(s, 10_000, P)).toBe(false)
    expect(isSpent(s, 300_000, P)).toBe(true)
  })
})
