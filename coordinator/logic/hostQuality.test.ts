import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import { LATENCY_BUCKET_COUNT, latencyBucket, type HostQuality, type NodeId } from '../../protocol/index.ts'
import {
  assessHost,
  decayed,
  emptyTally,
  nextStanding,
  qualityPolicyFor,
  rankingScore,
  scoreTally,
  trialOpen,
  upperMedian,
  withReport,
  type ClientView,
  type QualityTally,
} from './hostQuality.ts'

const H = 'a1'.repeat(64) as NodeId
const INTERVAL = 30_000
const policy = qualityPolicyFor(INTERVAL)
const HALF = policy.halfLifeMs

const histogram = (ms: number, n: number) => {
  const b = new Array<number>(LATENCY_BUCKET_COUNT).fill(0)
  b[latencyBucket(ms)] = n
  return b
}

/** A report entry: `ok` served calls of eth_getProof taking `ms` each, plus faults. */
function report(ok: number, faults: Partial<Pick<HostQuality, 'nodeErrors' | 'refused' | 'transport' | 'timeouts' | 'clientErrors'>> = {}, ms = 40, method = 'eth_getProof'): HostQuality {
  return { nodeId: H, ok, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 0, ...faults, latency: ok > 0 ? [{ method, buckets: histogram(ms, ok) }] : [] }
}

const view = (q: HostQuality, atMs = 0): ClientView => withReport(undefined, q, atMs, policy)

describe('a client\'s view of a host', () => {
  test('default: good service scores 1; faults and slowness lower it by class and band', () => {
    expect(scoreTally(view(report(100)).tally, policy).score).toBe(1)
    // 25 timeouts of 120 calls plus 20 prior calls: a share of 0.18 -> reliability 0.64.
    expect(scoreTally(view(report(95, { timeouts: 25 })).tally, policy).score).toBeCloseTo(1 - 25 / 140 / 0.5, 6)
    // Refusals count half: a rate limit may be the client's own doing.
    expect(scoreTally(view(report(95, { refused: 25 })).tally, policy).score).toBeCloseTo(1 - 12.5 / 140 / 0.5, 6)
    // The client's own errors are neither good nor bad.
    expect(scoreTally(view(report(100, { clientErrors: 1_000 })).tally, policy).score).toBe(1)
    // Latency bands: p50 in the 1 s bucket (0.9), p99 too (1); p50 of 3 s (0.5) and p99 of 10 s (0.8).
    expect(scoreTally(view(report(100, {}, 800)).tally, policy).latencyFactor).toBe(0.9)
    expect(scoreTally(view(report(100, {}, 3_000)).tally, policy)).toMatchObject({ p50Ms: 5_000, p99Ms: 5_000, latencyFactor: 0.5 * 0.9 })
    expect(scoreTally(view(report(100, {}, 9_000)).tally, policy).score).toBeCloseTo(0.5 * 0.8, 6)
  })

  test('behavior: latency of methods whose cost the client chooses does not score; few samples do not either', () => {
    expect(scoreTally(view(report(100, {}, 9_000, 'eth_getLogs')).tally, policy).latencyFactor).toBe(1)
    expect(scoreTally(view(report(100, {}, 9_000, 'eth_call')).tally, policy).latencyFactor).toBe(1)
    expect(scoreTally(view(report(9, {}, 9_000)).tally, policy).latencyFactor).toBe(1)
  })

  test('behavior: one report weighs at most maxCallsPerReport calls, shares kept', () => {
    const v = view(report(1_000_000, { timeouts: 1_000_000 }))
    expect(v.tally.ok + v.tally.timeouts).toBeCloseTo(policy.maxCallsPerReport, 6)
    expect(v.tally.ok).toBeCloseTo(v.tally.timeouts, 6)
  })

  test('behavior: evidence halves every half-life, and the score climbs back as it fades', () => {
    const bad = view(report(0, { timeouts: 200 }))
    expect(scoreTally(bad.tally, policy).score).toBe(0)
    const later = decayed(bad, 4 * HALF, HALF)
    expect(later.tally.timeouts).toBeCloseTo(200 / 16, 6)
    const scores = [0, 2, 4, 6, 8].map((k) => scoreTally(decayed(bad, k * HALF, HALF).tally, policy).score)
    expect(scores).toEqual([...scores].sort((a, b) => a - b))
    expect(scores.at(-1)).toBeGreaterThan(0.8)
  })
})

const tallyArb: fc.Arbitrary<QualityTally> = fc.record({
  ok: fc.integer({ min: 0, max: 5_000 }),
  nodeErrors: fc.integer({ min: 0, max: 5_000 }),
  refused: fc.integer({ min: 0, max: 5_000 }),
  transport: fc.integer({ min: 0, max: 5_000 }),
  timeouts: fc.integer({ min: 0, max: 5_000 }),
  latency: fc.array(fc.integer({ min: 0, max: 500 }), { minLength: LATENCY_BUCKET_COUNT, maxLength: LATENCY_BUCKET_COUNT }),
})

describe('properties of the score', () => {
  test('behavior: a view\'s score is in [0, 1]; more served calls without latency never lower it, more faults never raise it', () => {
    fc.assert(
      fc.property(tallyArb, fc.integer({ min: 1, max: 1_000 }), fc.constantFrom('nodeErrors', 'refused', 'transport', 'timeouts'), (t, n, fault: 'nodeErrors' | 'refused' | 'transport' | 'timeouts') => {
        const s = scoreTally(t, policy).score
        expect(s).toBeGreaterThanOrEqual(0)
        expect(s).toBeLessThanOrEqual(1)
        expect(scoreTally({ ...t, ok: t.ok + n }, policy).score).toBeGreaterThanOrEqual(s - 1e-12)
        expect(scoreTally({ ...t, [fault]: t[fault] + n }, policy).score).toBeLessThanOrEqual(s + 1e-12)
      }),
    )
  })

  test('behavior: with no new evidence a view\'s score never falls as time passes', () => {
    fc.assert(
      fc.property(tallyArb, fc.integer({ min: 0, max: 20 * HALF }), fc.integer({ min: 0, max: 20 * HALF }), (t, a, b) => {
        const v: ClientView = { tally: t, atMs: 0 }
        const [early, late] = a <= b ? [a, b] : [b, a]
        expect(scoreTally(decayed(v, late, HALF).tally, policy).score).toBeGreaterThanOrEqual(scoreTally(decayed(v, early, HALF).tally, policy).score - 1e-12)
      }),
    )
  })

  test('bound: hostile clients no more numerous than honest witnesses cannot pull the score below the honest ones\' lowest, whatever they claim', () => {
    const honestArb = fc.record({ ok: fc.integer({ min: policy.minEvidence, max: 5_000 }), timeouts: fc.integer({ min: 0, max: 20 }) })
    fc.assert(
      fc.property(fc.array(honestArb, { minLength: 1, maxLength: 6 }), fc.array(tallyArb, { maxLength: 6 }), (honest, hostile) => {
        fc.pre(hostile.length <= honest.length)
        const honestViews = honest.map((h) => view(report(h.ok, { timeouts: h.timeouts })))
        const floor = Math.min(...honestViews.map((v) => scoreTally(v.tally, policy).score))
        const a = assessHost([...honestViews, ...hostile.map((t) => ({ tally: t, atMs: 0 }))], 0, policy)
        expect(a.score).toBeGreaterThanOrEqual(floor - 1e-12)
      }),
    )
  })

  test('behavior: every host recovers: once its evidence has faded, its score is 1 and it is off probation', () => {
    fc.assert(
      fc.property(fc.array(tallyArb, { minLength: 1, maxLength: 8 }), (tallies) => {
        const views = tallies.map((t) => ({ tally: t, atMs: 0 }))
        const before = assessHost(views, 0, policy)
        const probation = nextStanding(undefined, { ...before, confirmed: true, score: 0 }, 0, policy)
        // The most evidence a view can hold here is 5 x 5,000 calls: 12 half-lives take it below minEvidence.
        const later = assessHost(views, 12 * HALF, policy)
        expect(later).toMatchObject({ score: 1, witnesses: 0, confirmed: false })
        expect(nextStanding(probation, later, 12 * HALF, policy)).toBeUndefined()
      }),
    )
  })
})

describe('a host\'s score over its clients', () => {
  const good = () => view(report(200))
  const slanderer = () => view(report(0, { timeouts: 1_000_000 }))

  test('default: unconfirmed below two witnesses; the upper median once confirmed', () => {
    expect(assessHost([], 0, policy)).toEqual({ score: 1, witnesses: 0, evidence: 0, confirmed: false })
    const one = assessHost([slanderer()], 0, policy)
    expect(one).toMatchObject({ score: 0, witnesses: 1, confirmed: false })
    expect(rankingScore(one)).toBe(1)
    expect(assessHost([view(report(5, { timeouts: 4 })), good()], 0, policy).witnesses).toBe(1) // 9 calls: not a witness
    expect(assessHost([slanderer(), slanderer()], 0, policy)).toMatchObject({ score: 0, witnesses: 2, confirmed: true })
  })

  test('bound: one slanderer among honest clients does not move the score, however many calls it claims against their few; a tie goes to the host', () => {
    const light = () => view(report(12)) // a light client's dozen calls
    expect(assessHost([slanderer(), light()], 0, policy).score).toBe(1)
    expect(assessHost([slanderer(), light(), light(), light()], 0, policy).score).toBe(1)
    // Two slanderers against one honest client: they outnumber it.
    expect(assessHost([slanderer(), slanderer(), good()], 0, policy).score).toBe(0)
    expect(upperMedian([0.2, 0.9, 0.6])).toBe(0.6)
    expect(upperMedian([0.2, 0.9, 0.6, 0.1])).toBe(0.6)
  })
})

describe('probation', () => {
  const at = (score: number, confirmed = true) => ({ score, witnesses: confirmed ? 2 : 1, evidence: 100, confirmed })

  test('default: below 0.5 on a confirmed score goes on probation; off at 0.7 or when unconfirmed; hysteresis between', () => {
    expect(nextStanding(undefined, at(0.49, false), 0, policy)).toBeUndefined()
    expect(nextStanding(undefined, at(0.5), 0, policy)).toBeUndefined()
    const p = nextStanding(undefined, at(0.49), 1_000, policy)
    expect(p).toEqual({ sinceMs: 1_000, lastTrialMs: undefined })
    expect(nextStanding(p, at(0.69), 2_000, policy)).toBe(p)
    expect(nextStanding(p, at(0.7), 2_000, policy)).toBeUndefined()
    expect(nextStanding(p, at(0.1, false), 2_000, policy)).toBeUndefined()
  })

  test('default: a host on probation gets one new client per trial period; a host in good standing any number', () => {
    expect(trialOpen(undefined, 0, policy)).toBe(true)
    expect(trialOpen({ sinceMs: 0, lastTrialMs: undefined }, 0, policy)).toBe(true)
    expect(trialOpen({ sinceMs: 0, lastTrialMs: 10_000 }, 10_000 + policy.trialEveryMs - 1, policy)).toBe(false)
    expect(trialOpen({ sinceMs: 0, lastTrialMs: 10_000 }, 10_000 + policy.trialEveryMs, policy)).toBe(true)
  })
})

test('default: the tally starts empty', () => {
  expect(emptyTally()).toEqual({ ok: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 0, latency: new Array(LATENCY_BUCKET_COUNT).fill(0) })
})
