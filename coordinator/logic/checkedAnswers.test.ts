import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import type { NodeId } from '../../protocol/index.ts'
import { answerCheckPolicyFor, judgeAnswers, nextExclusion, withWord, type AnswerWords } from './checkedAnswers.ts'

const POLICY = answerCheckPolicyFor(1_000)
const id = (n: number) => n.toString(16).padStart(128, '0') as NodeId

function words(entries: [number, boolean, number][]): AnswerWords {
  let w: AnswerWords = new Map()
  for (const [client, bad, at] of entries) w = withWord(w, id(client), bad, at, POLICY)
  return w
}

describe('checked answers: the dispute rule', () => {
  test('default: two clients that found a host in the minority catch it', () => {
    const v = judgeAnswers(words([[1, true, 0], [2, true, 100]]), 100, POLICY)
    expect(v).toEqual({ accusers: 2, vouchers: 0, caught: true })
  })

  test('behavior: one client alone never catches a host, however often it reports', () => {
    let w: AnswerWords = new Map()
    for (let t = 0; t < 50; t++) w = withWord(w, id(1), true, t * 10, POLICY)
    expect(w.size).toBe(1)
    expect(judgeAnswers(w, 500, POLICY)).toEqual({ accusers: 1, vouchers: 0, caught: false })
  })

  test('behavior: accusers must outnumber the clients whose check of the host agreed', () => {
    const w = words([[1, true, 0], [2, true, 0], [3, false, 0], [4, false, 0]])
    expect(judgeAnswers(w, 10, POLICY).caught).toBe(false)
    expect(judgeAnswers(withWord(w, id(5), true, 10, POLICY), 10, POLICY).caught).toBe(true)
  })

  test('behavior: a client\'s latest word replaces its earlier one; words older than the window fade', () => {
    const w = words([[1, true, 0], [2, true, 0], [2, false, 10]])
    expect(judgeAnswers(w, 10, POLICY)).toEqual({ accusers: 1, vouchers: 1, caught: false })
    const old = words([[1, true, 0], [2, true, 0]])
    expect(judgeAnswers(old, POLICY.windowMs - 1, POLICY).caught).toBe(true)
    expect(judgeAnswers(old, POLICY.windowMs, POLICY)).toEqual({ accusers: 0, vouchers: 0, caught: false })
  })

  test('behavior: an exclusion starts when caught, is renewed while caught, and ends exclusionMs after the last verdict', () => {
    const caught = { accusers: 2, vouchers: 0, caught: true }
    const clear = { accusers: 0, vouchers: 0, caught: false }
    const e1 = nextExclusion(undefined, caught, 0, POLICY)!
    expect(e1).toEqual({ sinceMs: 0, untilMs: POLICY.exclusionMs })
    const e2 = nextExclusion(e1, caught, 500, POLICY)!
    expect(e2).toEqual({ sinceMs: 0, untilMs: 500 + POLICY.exclusionMs })
    expect(nextExclusion(e2, clear, 500 + POLICY.exclusionMs - 1, POLICY)).toBe(e2)
    expect(nextExclusion(e2, clear, 500 + POLICY.exclusionMs, POLICY)).toBeUndefined()
    expect(nextExclusion(undefined, clear, 0, POLICY)).toBeUndefined()
  })

  test('bound: k hostile clients against h >= k honest checkers never catch a host (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 200 }), (honest, extra, hostileOrder) => {
        const hostile = Math.max(0, honest - (extra % (honest + 1)))
        let w: AnswerWords = new Map()
        for (let h = 0; h < honest; h++) w = withWord(w, id(1_000 + h), false, 0, POLICY)
        // Hostile clients report bad words as often and in whatever order they like.
        for (const k of hostileOrder) if (hostile > 0) w = withWord(w, id(k % hostile), true, 1, POLICY)
        expect(judgeAnswers(w, 1, POLICY).caught).toBe(false)
      }),
    )
  })
})
