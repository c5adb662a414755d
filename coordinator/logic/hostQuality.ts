/**
 * A host's score from what its clients' proxies measured (issue 21, item 2;
 * docs/rpcService.md#quality). Pure: the history comes in, the time comes in.
 *
 * Evidence is kept per (host, client): each client's **view** of the host is
 * a tally of its calls by outcome and the latency of the served ones, decayed
 * with a half-life, so old evidence fades and a host recovers over time.
 *
 * A view's score (0..1) is reliability × latency:
 * - reliability = 1 − faultShare / 0.5, at least 0, where faultShare is the
 *   weighted faults over the calls plus `priorCalls` pseudo-calls of perfect
 *   service. Timeouts, transport failures and node errors weigh 1; refusals ½
 *   (a rate limit can be the client's own doing); the client's own errors
 *   are neither good nor bad. Half the calls failing is a score of 0, as half
 *   the requests failing benches a host in the proxy (hostHealth.ts). The
 *   prior keeps a handful of failures from being a verdict, and brings a view
 *   back to 1 as its evidence fades.
 * - latency bands on the view's p50 and p99 over the methods whose work does
 *   not depend on the caller's arguments (LATENCY_SCORED_METHODS: a client
 *   must not make a host look slow by asking for a 10,000-block eth_getLogs),
 *   once it has `minLatencySamples` of them: p50 ≤ 250 ms ×1, ≤ 1 s ×0.9,
 *   ≤ 2.5 s ×0.7, slower ×0.5; p99 ≤ 2.5 s ×1, ≤ 5 s ×0.9, slower ×0.8.
 *
 * The host's score is the **upper median** of its witnesses' scores
 * (views with at least `minEvidence` calls): each witness has one vote,
 * however many calls it claims, and the score is the highest one at least
 * half the witnesses reach (a tie goes to the host). So clients can pull a
 * host's score down only by outnumbering the witnesses who found it good;
 * one hostile client among honest ones cannot move it at all. (Weighing
 * witnesses by their calls, even capped, let one client claiming 10,000
 * calls outvote several honest light clients that make a few dozen.) Until a
 * host has `minWitnesses` witnesses its score is unconfirmed and counts as 1.
 *
 * Standing: a host whose confirmed score falls below `probationBelow` goes on
 * probation; it comes off when its score reaches `recoverAt`, or when its
 * evidence has faded below two witnesses. Nothing is permanent.
 */
import { LATENCY_BUCKET_COUNT, QUALITY_METHODS, latencyQuantile, qualityMethod, type HostQuality } from '../../protocol/index.ts'

/** Methods whose work the client chooses (range, gas, calldata): reported and shown, never scored (nor is `other`). */
const CLIENT_WEIGHTED_METHODS: ReadonlySet<string> = new Set(['eth_call', 'eth_estimateGas', 'eth_createAccessList', 'eth_getLogs', 'eth_sendRawTransaction', 'eth_subscribe'])
/** Methods whose latency scores a host: the reported ones whose work is bounded whatever the arguments. */
export const LATENCY_SCORED_METHODS: ReadonlySet<string> = new Set(QUALITY_METHODS.filter((m) => !CLIENT_WEIGHTED_METHODS.has(m)))

export interface QualityPolicy {
  /** Evidence halves every this long. */
  halfLifeMs: number
  /** Pseudo-calls of perfect service every view starts from. */
  priorCalls: number
  /** Calls (decayed) a view needs to be a witness (one vote in its host's score). */
  minEvidence: number
  /** One report adds at most this many calls to a view (scaled down beyond, outcome shares kept). */
  maxCallsPerReport: number
  /** Witnesses a host needs before its score counts (probation, preference). */
  minWitnesses: number
  /** A confirmed score below this puts the host on probation. */
  probationBelow: number
  /** A host on probation comes off at this score. */
  recoverAt: number
  /** A host on probation gets at most one new client per this long. */
  trialEveryMs: number
  /** Latency samples (of scored methods) a view needs before its latency bands apply. */
  minLatencySamples: number
}

/** The defaults, from the pool's update interval (30 s: evidence halves every 5 min, one trial client a minute). */
export function qualityPolicyFor(updateIntervalMs: number): QualityPolicy {
  return {
    halfLifeMs: 10 * updateIntervalMs,
    priorCalls: 20,
    minEvidence: 10,
    maxCallsPerReport: 10_000,
    minWitnesses: 2,
    probationBelow: 0.5,
    recoverAt: 0.7,
    trialEveryMs: 2 * updateIntervalMs,
    minLatencySamples: 10,
  }
}

/** A client's (decayed) calls with one host: outcomes that judge the host, and the latency of its scored served calls. */
export interface QualityTally {
  ok: number
  nodeErrors: number
  refused: number
  transport: number
  timeouts: number
  /** Counts per LATENCY_BUCKETS_MS bucket, scored methods merged. */
  latency: number[]
}

/** One client's view of one host, as of `atMs`. */
export interface ClientView {
  tally: QualityTally
  atMs: number
}

/** Weight of each fault class in the fault share. */
export const FAULT_WEIGHTS = { timeouts: 1, transport: 1, nodeErrors: 1, refused: 0.5 } as const
/** The fault share at which reliability reaches 0. */
const FAULT_SHARE_AT_ZERO = 0.5
const P50_BANDS: readonly (readonly [number, number])[] = [[250, 1], [1_000, 0.9], [2_500, 0.7], [Infinity, 0.5]]
const P99_BANDS: readonly (readonly [number, number])[] = [[2_500, 1], [5_000, 0.9], [Infinity, 0.8]]

export const emptyTally = (): QualityTally => ({ ok: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 0, latency: new Array<number>(LATENCY_BUCKET_COUNT).fill(0) })

/** Calls that judge the host (the client's own errors do not). */
export function evidenceOf(t: QualityTally): number {
  return t.ok + t.nodeErrors + t.refused + t.transport + t.timeouts
}

function scaled(t: QualityTally, f: number): QualityTally {
  return { ok: t.ok * f, nodeErrors: t.nodeErrors * f, refused: t.refused * f, transport: t.transport * f, timeouts: t.timeouts * f, latency: t.latency.map((n) => n * f) }
}

function sum(a: QualityTally, b: QualityTally): QualityTally {
  return {
    ok: a.ok + b.ok,
    nodeErrors: a.nodeErrors + b.nodeErrors,
    refused: a.refused + b.refused,
    transport: a.transport + b.transport,
    timeouts: a.timeouts + b.timeouts,
    latency: a.latency.map((n, i) => n + (b.latency[i] ?? 0)),
  }
}

/** The view as of `nowMs`: every count halved per half-life since it was last brought up to date. */
export function decayed(view: ClientView, nowMs: number, halfLifeMs: number): ClientView {
  const dt = nowMs - view.atMs
  if (dt <= 0) return view
  return { atMs: nowMs, tally: scaled(view.tally, Math.pow(0.5, dt / halfLifeMs)) }
}

/** One report's entry as a tally: its calls, and the latency of the scored methods merged. */
export function tallyOf(q: HostQuality): QualityTally {
  const latency = new Array<number>(LATENCY_BUCKET_COUNT).fill(0)
  for (const m of q.latency) {
    if (!LATENCY_SCORED_METHODS.has(qualityMethod(m.method))) continue
    m.buckets.forEach((n, i) => (latency[i]! += n))
  }
  return { ok: q.ok, nodeErrors: q.nodeErrors, refused: q.refused, transport: q.transport, timeouts: q.timeouts, latency }
}

/** The view after one more report from its client (at most `maxCallsPerReport` calls of it). */
export function withReport(view: ClientView | undefined, q: HostQuality, nowMs: number, policy: QualityPolicy): ClientView {
  const base = view ? decayed(view, nowMs, policy.halfLifeMs) : { atMs: nowMs, tally: emptyTally() }
  let added = tallyOf(q)
  const calls = evidenceOf(added)
  if (calls > policy.maxCallsPerReport) added = scaled(added, policy.maxCallsPerReport / calls)
  return { atMs: base.atMs, tally: sum(base.tally, added) }
}

export interface TallyScore {
  /** 0..1. */
  score: number
  /** Calls that judge the host. */
  evidence: number
  /** Weighted faults over calls plus the prior. */
  faultShare: number
  /** The latency bands' product (1 without enough samples). */
  latencyFactor: number
  p50Ms: number | undefined
  p99Ms: number | undefined
}

function band(ms: number | undefined, bands: readonly (readonly [number, number])[]): number {
  if (ms === undefined) return 1
  for (const [bound, factor] of bands) if (ms <= bound) return factor
  return bands[bands.length - 1]![1]
}

export function scoreTally(t: QualityTally, policy: Pick<QualityPolicy, 'priorCalls' | 'minLatencySamples'>): TallyScore {
  const evidence = evidenceOf(t)
  const faults = FAULT_WEIGHTS.timeouts * t.timeouts + FAULT_WEIGHTS.transport * t.transport + FAULT_WEIGHTS.nodeErrors * t.nodeErrors + FAULT_WEIGHTS.refused * t.refused
  const faultShare = faults / (evidence + policy.priorCalls)
  const reliability = Math.max(0, 1 - faultShare / FAULT_SHARE_AT_ZERO)
  let samples = 0
  for (const n of t.latency) samples += n
  const timed = samples >= policy.minLatencySamples
  const p50Ms = timed ? latencyQuantile(t.latency, 0.5) : undefined
  const p99Ms = timed ? latencyQuantile(t.latency, 0.99) : undefined
  const latencyFactor = band(p50Ms, P50_BANDS) * band(p99Ms, P99_BANDS)
  return { score: reliability * latencyFactor, evidence, faultShare, latencyFactor, p50Ms, p99Ms }
}

export interface HostAssessment {
  /** The upper median of the witnesses' scores; 1 with no witness. */
  score: number
  /** Views with at least minEvidence calls. */
  witnesses: number
  /** Decayed calls over all views. */
  evidence: number
  /** At least minWitnesses witnesses: the score counts. */
  confirmed: boolean
}

/** The host's score from its clients' views as of `nowMs`. */
export function assessHost(views: Iterable<ClientView>, nowMs: number, policy: QualityPolicy): HostAssessment {
  const witnesses: number[] = []
  let evidence = 0
  for (const v of views) {
    const s = scoreTally(decayed(v, nowMs, policy.halfLifeMs).tally, policy)
    evidence += s.evidence
    if (s.evidence >= policy.minEvidence) witnesses.push(s.score)
  }
  const confirmed = witnesses.length >= policy.minWitnesses
  return { score: upperMedian(witnesses), witnesses: witnesses.length, evidence, confirmed }
}

/** The highest score at least half the witnesses reach (a tie between two halves goes to the host); 1 for none. */
export function upperMedian(scores: readonly number[]): number {
  if (scores.length === 0) return 1
  const sorted = [...scores].sort((a, b) => b - a)
  return sorted[Math.ceil(sorted.length / 2) - 1]!
}

/** The score the balancer ranks a host by: its score once confirmed, else 1 (unproven either way). */
export function rankingScore(a: HostAssessment): number {
  return a.confirmed ? a.score : 1
}

/** A host on probation (undefined: in good standing). */
export interface Probation {
  sinceMs: number
  /** When it last got a new client on probation. */
  lastTrialMs: number | undefined
}

/** The standing after this assessment: on probation below the threshold, off again at `recoverAt` or once unconfirmed. */
export function nextStanding(prev: Probation | undefined, a: HostAssessment, nowMs: number, policy: QualityPolicy): Probation | undefined {
  if (!prev) return a.confirmed && a.score < policy.probationBelow ? { sinceMs: nowMs, lastTrialMs: undefined } : undefined
  return !a.confirmed || a.score >= policy.recoverAt ? undefined : prev
}

/** Whether a host may get a new client now: always in good standing, once per trialEveryMs on probation. */
export function trialOpen(p: Probation | undefined, nowMs: number, policy: Pick<QualityPolicy, 'trialEveryMs'>): boolean {
  return !p || p.lastTrialMs === undefined || nowMs - p.lastTrialMs >= policy.trialEveryMs
}
