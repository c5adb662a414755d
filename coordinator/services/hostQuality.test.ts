import { describe, test, expect } from 'vitest'
import { Registry } from 'prom-client'
import { manualClock } from '../../lib/clock.ts'
import { LATENCY_BUCKET_COUNT, latencyBucket, type HostQuality, type NodeId } from '../../protocol/index.ts'
import { createCoordinatorMetrics } from '../metrics.ts'
import { qualityPolicyFor } from '../logic/hostQuality.ts'
import { answerCheckPolicyFor } from '../logic/checkedAnswers.ts'
import { EpochClock } from './epochClock.ts'
import { HostQualityService } from './hostQuality.ts'
import { recordingLogger } from '../../test/harness/agents.ts'

const id = (n: number) => n.toString(16).padStart(128, '0') as NodeId
const HOST = id(1)
const INTERVAL = 1_000
const EPOCH_MS = 3_600_000
const T0 = Date.UTC(2026, 0, 1)

function setup() {
  const clock = manualClock(T0)
  const log = recordingLogger()
  const metrics = createCoordinatorMetrics(new Registry())
  const policy = qualityPolicyFor(INTERVAL)
  const q = new HostQualityService({ policy, answers: answerCheckPolicyFor(INTERVAL), staleAfterMs: 3 * INTERVAL }, { clock, log, metrics, epochs: new EpochClock(T0, EPOCH_MS) })
  return { clock, log, metrics, policy, q }
}

const buckets = (ms: number, n: number) => {
  const b = new Array<number>(LATENCY_BUCKET_COUNT).fill(0)
  b[latencyBucket(ms)] = n
  return b
}
const entry = (o: Partial<HostQuality> = {}): HostQuality => ({ nodeId: HOST, ok: 0, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 0, latency: [], ...o })

describe('HostQualityService', () => {
  test('default: uptime counts the time the host reported within the stale limit; a longer gap is downtime', () => {
    const { clock, q } = setup()
    clock.set(T0 + 10_000)
    for (let i = 0; i < 10; i++) {
      q.noteHostReport(HOST, clock.now())
      clock.advance(INTERVAL)
    }
    clock.advance(10_000) // silent for 11 s: down
    q.noteHostReport(HOST, clock.now())
    const [e] = q.report(HOST, clock.now())!.epochs
    expect(e).toMatchObject({ epoch: 1, observedSinceMs: T0 + 10_000, onlineMs: 9 * INTERVAL })
    expect(e!.uptime).toBeCloseTo(9 / 20, 6)
  })

  test('behavior: an online stretch across an epoch\'s end is split between the two epochs', () => {
    const { clock, q } = setup()
    clock.set(T0 + EPOCH_MS - 500)
    q.noteHostReport(HOST, clock.now())
    clock.advance(INTERVAL)
    q.noteHostReport(HOST, clock.now())
    const r = q.report(HOST, clock.now())!
    expect(r.epochs.map((e) => [e.epoch, e.onlineMs, e.observedSinceMs, e.uptime])).toEqual([
      [2, 500, T0 + EPOCH_MS, 1],
      [1, 500, T0 + EPOCH_MS - 500, 1],
    ])
  })

  test('default: the epoch report sums the clients\' calls and reads p50/p99 from the merged histograms', () => {
    const { clock, q } = setup()
    q.noteHostReport(HOST, clock.now())
    q.ingest(id(2), [entry({ ok: 90, clientErrors: 5, timeouts: 10, latency: [{ method: 'eth_getProof', buckets: buckets(40, 90) }] })], clock.now())
    q.ingest(id(3), [entry({ ok: 10, latency: [{ method: 'eth_somethingNew', buckets: buckets(3_000, 10) }] })], clock.now())
    const [e] = q.report(HOST, clock.now())!.epochs
    expect(e).toMatchObject({ calls: { ok: 100, clientErrors: 5, timeouts: 10, total: 115 }, p50Ms: 50, p99Ms: 5_000 })
    expect(e!.errorRate).toBeCloseTo(10 / 110, 6)
    expect(e!.methods).toEqual([
      { method: 'eth_getProof', calls: 90, p50Ms: 50, p99Ms: 50 },
      { method: 'other', calls: 10, p50Ms: 5_000, p99Ms: 5_000 },
    ])
  })

  test('behavior: two clients reporting failures put the host on probation; one trial client per period; it recovers as the evidence fades', async () => {
    const { clock, log, metrics, policy, q } = setup()
    const failing = entry({ ok: 5, timeouts: 50 })
    q.ingest(id(2), [failing], clock.now())
    expect(q.standingOf(HOST, clock.now())).toEqual({ score: 1, probation: false, trialOpen: true, excluded: false }) // one witness: unconfirmed
    q.ingest(id(3), [failing], clock.now())
    expect(q.standingOf(HOST, clock.now())).toMatchObject({ probation: true, trialOpen: true })
    expect(q.standingOf(HOST, clock.now()).score).toBeLessThan(0.5)
    expect(log.lines.find((l) => l.message.startsWith('host on probation'))?.context).toMatchObject({ host: HOST, witnesses: 2 })
    expect((await metrics.hostProbations.get()).values[0]!.value).toBe(1)
    expect(q.onProbation()).toBe(1)

    q.noteTrial(HOST, clock.now())
    expect(q.standingOf(HOST, clock.now()).trialOpen).toBe(false)
    clock.advance(policy.trialEveryMs)
    expect(q.standingOf(HOST, clock.now()).trialOpen).toBe(true)

    // No new evidence: the sweep decays it until the host is off probation, never later than its evidence fades.
    let offAt: number | undefined
    for (let k = 1; k <= 12 && offAt === undefined; k++) {
      clock.advance(policy.halfLifeMs)
      q.sweep(clock.now(), () => false)
      if (!q.standingOf(HOST, clock.now()).probation) offAt = k
    }
    expect(offAt).toBeDefined()
    expect(log.lines.some((l) => l.message === 'host off probation')).toBe(true)
    expect(q.report(HOST, clock.now())!.epochs[0]!.probationMs).toBeGreaterThan(0)
    console.log(`figures: quality: a host with 2 clients reporting 50 timeouts of 55 calls each comes off probation after ${offAt} half-lives without traffic`)
  })

  test('behavior: good reports from new clients bring a host off probation before its old evidence fades', () => {
    const { clock, q } = setup()
    q.ingest(id(2), [entry({ timeouts: 100 })], clock.now())
    q.ingest(id(3), [entry({ timeouts: 100 })], clock.now())
    expect(q.standingOf(HOST, clock.now()).probation).toBe(true)
    q.ingest(id(4), [entry({ ok: 200 })], clock.now())
    expect(q.standingOf(HOST, clock.now()).probation).toBe(true) // one against two
    q.ingest(id(5), [entry({ ok: 200 })], clock.now())
    expect(q.standingOf(HOST, clock.now())).toEqual({ score: 1, probation: false, trialOpen: true, excluded: false })
  })

  test('behavior: state is bounded: views per host capped, faded views and old epochs dropped, a gone idle host forgotten', () => {
    const { clock, policy, q } = setup()
    q.noteHostReport(HOST, clock.now())
    for (let i = 0; i < 70; i++) q.ingest(id(100 + i), [entry({ ok: 1 + i })], clock.now())
    expect(q.sizes()).toEqual({ qualityHosts: 1, qualityViews: 64, qualityEpochReports: 1, qualityAnswerWords: 0 })
    // Still online (not gone): kept; three epochs on, only the last two epochs' reports remain.
    clock.advance(2 * EPOCH_MS)
    q.noteHostReport(HOST, clock.now())
    q.sweep(clock.now(), () => false)
    expect(q.sizes()).toEqual({ qualityHosts: 1, qualityViews: 0, qualityEpochReports: 1, qualityAnswerWords: 0 })
    // Gone and idle: forgotten an hour after it was last seen.
    clock.advance(3_600_000 - 1)
    q.sweep(clock.now(), () => true)
    expect(q.sizes().qualityHosts).toBe(1)
    clock.advance(1)
    q.sweep(clock.now(), () => true)
    expect(q.sizes()).toEqual({ qualityHosts: 0, qualityViews: 0, qualityEpochReports: 0, qualityAnswerWords: 0 })
    expect(q.report(HOST, clock.now())).toBeUndefined()
    expect(policy.halfLifeMs).toBe(10 * INTERVAL)
  })
})
