/**
 * Service quality of rpc hosts (issue 21, item 2; docs/rpcService.md#quality):
 * what the assigned clients' proxies report about each host, the host's score
 * and standing (the pure rules are in logic/hostQuality.ts), and a service
 * report per host and epoch for the admin API and the dashboard.
 *
 * - `ingest`: a client's `quality` entries, already limited by the report
 *   path (services/reports.ts) to hosts assigned to that client. Each goes
 *   into the client's view of the host and into the host's epoch report.
 * - `noteHostReport`: an rpc host's own report: its uptime is the time its
 *   agent reported at least every `staleAfterMs`.
 * - `standingOf` / `noteTrial`: what the balancer reads (services/assignments.ts).
 * - `sweep`: decay, standings, probation time, pruning; run with the
 *   assignment sweep.
 *
 * In memory only: a restart starts every host afresh (scores unproven, the
 * running epoch's report from the restart on). Bounded: at most
 * `maxViewsPerHost` views per host, views forgotten once their evidence has
 * faded, epoch reports for the running epoch and the one before, and a host
 * that is gone and holds nothing forgotten `forgetAfterMs` after it was last
 * seen.
 */
import { LATENCY_BUCKET_COUNT, latencyQuantile, qualityMethod, type HostQuality, type NodeId, type QualityMethod } from '../../protocol/index.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import {
  assessHost,
  decayed,
  evidenceOf,
  nextStanding,
  rankingScore,
  trialOpen,
  withReport,
  type ClientView,
  type HostAssessment,
  type Probation,
  type QualityPolicy,
} from '../logic/hostQuality.ts'
import { judgeAnswers, nextExclusion, withWord, type AnswerCheckPolicy, type AnswerWords, type Exclusion } from '../logic/checkedAnswers.ts'

export interface HostQualityOptions {
  policy: QualityPolicy
  /** Checked answers: the dispute rule's window, accusers and exclusion (logic/checkedAnswers.ts). */
  answers: AnswerCheckPolicy
  /** A gap longer than this between a host's own reports is downtime (the assignment service's stale limit). */
  staleAfterMs: number
  /** A host that is gone and holds nothing is forgotten this long after it was last seen. Default 1 h. */
  forgetAfterMs?: number | undefined
  /** Views kept per host; beyond it the one with the least evidence goes. Default 64. */
  maxViewsPerHost?: number | undefined
}

export interface HostQualityDeps {
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
  epochs: { epochOf(atMs: number): number; bounds(epoch: number): { startMs: number; endMs: number } }
}

/** What the balancer reads for one host. */
export interface HostStanding {
  /** The score to rank by: 1 until confirmed by two clients. */
  score: number
  probation: boolean
  /** May it take a new client now (always in good standing). */
  trialOpen: boolean
  /** Out of rotation: caught answering deterministic calls against the majority (checked answers). */
  excluded: boolean
}

/** What one client's word about a host's answers did. */
export interface AnswerNote {
  /** The host is out of rotation now. */
  excluded: boolean
  /** This word put it out (it was in rotation before). */
  excludedNow: boolean
}

type Counts = Pick<HostQuality, 'ok' | 'clientErrors' | 'nodeErrors' | 'refused' | 'transport' | 'timeouts'>

interface EpochService {
  epoch: number
  /** From when the host was seen in this epoch (its first report, or the epoch's start if it was up then). */
  observedSinceMs: number | undefined
  onlineMs: number
  probationMs: number
  counts: Counts
  /** Served calls' latency per method, as reported (all methods, not decayed). */
  latency: Map<QualityMethod, number[]>
}

interface HostState {
  views: Map<NodeId, ClientView>
  assessment: HostAssessment
  probation: Probation | undefined
  /** Probation time is counted up to here. */
  probationCountedTo: number
  epochs: Map<number, EpochService>
  /** The host's own last report (uptime). */
  lastReportAtMs: number | undefined
  /** Its own last report or the last report about it. */
  lastSeenMs: number
  /** Checked answers: each client's latest word about its answers. */
  answerWords: AnswerWords
  exclusion: Exclusion | undefined
}

/** The service report of one host for one epoch (GET /v1/admin/hosts/:nodeId/quality). */
export interface EpochServiceReport {
  epoch: number
  startMs: number
  endMs: number
  /**
   * Share of the time since the host was first seen in the epoch (up to now or the epoch's end) that its agent
   * reported at least every staleAfterMs (the stretch since its last report counts while shorter); null if it
   * did not report in the epoch.
   */
  uptime: number | null
  onlineMs: number
  observedSinceMs: number | null
  /** Calls its assigned clients reported, by outcome. */
  calls: Counts & { total: number }
  /** Host-fault calls (node errors, refusals, transport failures, timeouts) over the calls that judge it (all but the clients' own errors); null with none. */
  errorRate: number | null
  /** Over every method's served calls: bucket upper bounds (protocol/quality.ts). */
  p50Ms: number | null
  p99Ms: number | null
  methods: { method: string; calls: number; p50Ms: number | null; p99Ms: number | null }[]
  probationMs: number
}

export interface HostQualityReport {
  nodeId: NodeId
  /** The live score and standing. */
  score: number
  confirmed: boolean
  witnesses: number
  probation: { sinceMs: number; lastTrialMs: number | null } | null
  /** Checked answers: clients whose latest word is bad (accusers) or good (vouchers), and the exclusion if any. */
  answers: { accusers: number; vouchers: number; exclusion: { sinceMs: number; untilMs: number } | null }
  epochs: EpochServiceReport[]
}

/** Views whose decayed evidence falls below this are forgotten. */
const FORGET_EVIDENCE = 0.5
const DEFAULT_FORGET_AFTER_MS = 3_600_000
const DEFAULT_MAX_VIEWS = 64
/** The running epoch and the one before. */
const EPOCHS_KEPT = 2

const noCounts = (): Counts => ({ ok: 0, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 0 })
const UNPROVEN: HostAssessment = { score: 1, witnesses: 0, evidence: 0, confirmed: false }

export class HostQualityService {
  private readonly hosts = new Map<NodeId, HostState>()
  private readonly policy: QualityPolicy
  private readonly forgetAfterMs: number
  private readonly maxViews: number

  constructor(
    private readonly opts: HostQualityOptions,
    private readonly deps: HostQualityDeps,
  ) {
    this.policy = opts.policy
    this.forgetAfterMs = opts.forgetAfterMs ?? DEFAULT_FORGET_AFTER_MS
    this.maxViews = opts.maxViewsPerHost ?? DEFAULT_MAX_VIEWS
  }

  /** An rpc host reported: the time since its previous report counts as up, unless the gap was longer than staleAfterMs. */
  noteHostReport(hostId: NodeId, nowMs: number): void {
    const st = this.state(hostId, nowMs)
    const last = st.lastReportAtMs
    if (last !== undefined && nowMs > last && nowMs - last <= this.opts.staleAfterMs) {
      this.spread(st, last, nowMs, (e, ms) => (e.onlineMs += ms))
    }
    const e = this.epoch(st, nowMs)
    if (e.observedSinceMs === undefined || e.observedSinceMs > nowMs) e.observedSinceMs = nowMs
    st.lastReportAtMs = nowMs
    st.lastSeenMs = nowMs
  }

  /** A client's quality entries about hosts assigned to it (the caller checked the assignments). */
  ingest(clientId: NodeId, entries: readonly HostQuality[], nowMs: number): void {
    for (const q of entries) {
      const st = this.state(q.nodeId, nowMs)
      st.lastSeenMs = nowMs
      st.views.set(clientId, withReport(st.views.get(clientId), q, nowMs, this.policy))
      if (st.views.size > this.maxViews) this.dropWeakestView(st, nowMs)
      const e = this.epoch(st, nowMs)
      for (const k of Object.keys(e.counts) as (keyof Counts)[]) e.counts[k] = Math.min(Number.MAX_SAFE_INTEGER, e.counts[k] + q[k])
      for (const m of q.latency) {
        const name = qualityMethod(m.method)
        let b = e.latency.get(name)
        if (!b) e.latency.set(name, (b = new Array<number>(LATENCY_BUCKET_COUNT).fill(0)))
        m.buckets.forEach((n, i) => (b[i]! = Math.min(Number.MAX_SAFE_INTEGER, b[i]! + n)))
      }
      this.reassess(q.nodeId, st, nowMs)
    }
  }

  /** How the balancer sees this host now. */
  standingOf(hostId: NodeId, nowMs: number): HostStanding {
    const st = this.hosts.get(hostId)
    if (!st) return { score: 1, probation: false, trialOpen: true, excluded: false }
    const excluded = st.exclusion !== undefined && nowMs < st.exclusion.untilMs
    return { score: rankingScore(st.assessment), probation: st.probation !== undefined, trialOpen: trialOpen(st.probation, nowMs, this.policy), excluded }
  }

  /**
   * A client's word about a host's answers to a checked call: bad (it found the host in the minority of three,
   * vipnode_reportBadAnswer) or good (its check agreed, `checked` in vipnode_update). The caller checked that
   * the host (and the witnesses) are assigned to the client.
   */
  noteAnswer(clientId: NodeId, hostId: NodeId, bad: boolean, nowMs: number): AnswerNote {
    const st = this.state(hostId, nowMs)
    st.lastSeenMs = nowMs
    st.answerWords = withWord(st.answerWords, clientId, bad, nowMs, this.opts.answers)
    if (st.answerWords.size > this.maxViews) st.answerWords.delete(st.answerWords.keys().next().value!)
    const before = st.exclusion !== undefined && nowMs < st.exclusion.untilMs
    this.rejudgeAnswers(hostId, st, nowMs)
    const excluded = st.exclusion !== undefined
    return { excluded, excludedNow: excluded && !before }
  }

  /** Hosts out of rotation for bad answers now. */
  excludedCount(nowMs: number): number {
    let n = 0
    for (const st of this.hosts.values()) if (st.exclusion && nowMs < st.exclusion.untilMs) n++
    return n
  }

  /** A host on probation was given a new client: its trial slot closes for trialEveryMs. */
  noteTrial(hostId: NodeId, nowMs: number): void {
    const p = this.hosts.get(hostId)?.probation
    if (p) p.lastTrialMs = nowMs
  }

  /** Decay, standings, probation time; forget faded views, old epochs, and hosts that are gone and hold nothing. */
  sweep(nowMs: number, goneAndIdle: (hostId: NodeId) => boolean): void {
    const oldest = this.deps.epochs.epochOf(nowMs) - EPOCHS_KEPT + 1
    for (const [hostId, st] of this.hosts) {
      for (const [clientId, v] of st.views) {
        const now = decayed(v, nowMs, this.policy.halfLifeMs)
        if (evidenceOf(now.tally) < FORGET_EVIDENCE) st.views.delete(clientId)
        else st.views.set(clientId, now)
      }
      this.reassess(hostId, st, nowMs)
      this.rejudgeAnswers(hostId, st, nowMs)
      for (const n of st.epochs.keys()) if (n < oldest) st.epochs.delete(n)
      if (st.views.size === 0 && st.answerWords.size === 0 && !st.exclusion && !st.probation && nowMs - st.lastSeenMs >= this.forgetAfterMs && goneAndIdle(hostId)) this.hosts.delete(hostId)
    }
  }

  /** Hosts on probation now. */
  onProbation(): number {
    let n = 0
    for (const st of this.hosts.values()) if (st.probation) n++
    return n
  }

  /** One host's live standing and its service reports (every kept epoch, or one). Undefined when nothing is known. */
  report(hostId: NodeId, nowMs: number, epoch?: number): HostQualityReport | undefined {
    const st = this.hosts.get(hostId)
    if (!st) return undefined
    const epochs = [...st.epochs.values()].filter((e) => epoch === undefined || e.epoch === epoch).sort((a, b) => b.epoch - a.epoch)
    return {
      nodeId: hostId,
      score: st.assessment.score,
      confirmed: st.assessment.confirmed,
      witnesses: st.assessment.witnesses,
      probation: st.probation ? { sinceMs: st.probation.sinceMs, lastTrialMs: st.probation.lastTrialMs ?? null } : null,
      answers: { ...(({ accusers, vouchers }) => ({ accusers, vouchers }))(judgeAnswers(st.answerWords, nowMs, this.opts.answers)), exclusion: st.exclusion ? { ...st.exclusion } : null },
      epochs: epochs.map((e) => this.epochReport(st, e, nowMs)),
    }
  }

  /** Every host with a service report for this epoch. */
  reports(epoch: number, nowMs: number): HostQualityReport[] {
    const out: HostQualityReport[] = []
    for (const id of this.hosts.keys()) {
      const r = this.report(id, nowMs, epoch)
      if (r && r.epochs.length > 0) out.push(r)
    }
    return out
  }

  /** Entries per map, for vipnode_state_entries and the growth tests. */
  sizes(): Record<string, number> {
    let views = 0
    let epochs = 0
    let words = 0
    for (const st of this.hosts.values()) {
      views += st.views.size
      epochs += st.epochs.size
      words += st.answerWords.size
    }
    return { qualityHosts: this.hosts.size, qualityViews: views, qualityEpochReports: epochs, qualityAnswerWords: words }
  }

  private state(hostId: NodeId, nowMs: number): HostState {
    let st = this.hosts.get(hostId)
    if (!st) {
      st = { views: new Map(), assessment: UNPROVEN, probation: undefined, probationCountedTo: nowMs, epochs: new Map(), lastReportAtMs: undefined, lastSeenMs: nowMs, answerWords: new Map(), exclusion: undefined }
      this.hosts.set(hostId, st)
    }
    return st
  }

  private epoch(st: HostState, atMs: number): EpochService {
    const n = this.deps.epochs.epochOf(atMs)
    let e = st.epochs.get(n)
    if (!e) {
      e = { epoch: n, observedSinceMs: undefined, onlineMs: 0, probationMs: 0, counts: noCounts(), latency: new Map() }
      st.epochs.set(n, e)
    }
    return e
  }

  /** Add [from, to) to each epoch it overlaps (a span may cross an epoch's end). */
  private spread(st: HostState, from: number, to: number, add: (e: EpochService, ms: number) => void): void {
    const { epochs } = this.deps
    for (let n = epochs.epochOf(from); n <= epochs.epochOf(to); n++) {
      const b = epochs.bounds(n)
      const start = Math.max(from, b.startMs)
      const ms = Math.min(to, b.endMs) - start
      if (ms <= 0) continue
      const e = this.epoch(st, start)
      if (e.observedSinceMs === undefined || e.observedSinceMs > start) e.observedSinceMs = start
      add(e, ms)
    }
  }

  private reassess(hostId: NodeId, st: HostState, nowMs: number): void {
    const { log, metrics } = this.deps
    if (st.probation && nowMs > st.probationCountedTo) this.spread(st, st.probationCountedTo, nowMs, (e, ms) => (e.probationMs += ms))
    st.probationCountedTo = Math.max(st.probationCountedTo, nowMs)
    st.assessment = st.views.size === 0 ? UNPROVEN : assessHost(st.views.values(), nowMs, this.policy)
    const next = nextStanding(st.probation, st.assessment, nowMs, this.policy)
    if (next && !st.probation) {
      metrics.hostProbations.inc()
      log.warn('host on probation: its clients report poor service', { host: hostId, score: round(st.assessment.score), witnesses: st.assessment.witnesses })
    } else if (!next && st.probation) {
      log.info('host off probation', { host: hostId, score: round(st.assessment.score), witnesses: st.assessment.witnesses, probationMs: nowMs - st.probation.sinceMs })
    }
    st.probation = next
  }

  /** Words older than the window go; the verdict starts, renews or ends the exclusion. */
  private rejudgeAnswers(hostId: NodeId, st: HostState, nowMs: number): void {
    const { log, metrics } = this.deps
    for (const [id, w] of st.answerWords) if (nowMs - w.atMs >= this.opts.answers.windowMs) st.answerWords.delete(id)
    const verdict = judgeAnswers(st.answerWords, nowMs, this.opts.answers)
    const next = nextExclusion(st.exclusion, verdict, nowMs, this.opts.answers)
    if (next && !st.exclusion) {
      metrics.hostExclusions.inc()
      log.warn('host out of rotation: its clients found its answers in the minority', { host: hostId, accusers: verdict.accusers, vouchers: verdict.vouchers, untilMs: next.untilMs })
    } else if (!next && st.exclusion) {
      log.info('host back in rotation', { host: hostId, excludedMs: nowMs - st.exclusion.sinceMs })
    }
    st.exclusion = next
  }

  private dropWeakestView(st: HostState, nowMs: number): void {
    let weakest: NodeId | undefined
    let least = Infinity
    for (const [clientId, v] of st.views) {
      const e = evidenceOf(decayed(v, nowMs, this.policy.halfLifeMs).tally)
      if (e < least) {
        least = e
        weakest = clientId
      }
    }
    if (weakest !== undefined) st.views.delete(weakest)
  }

  private epochReport(st: HostState, e: EpochService, nowMs: number): EpochServiceReport {
    const { startMs, endMs } = this.deps.epochs.bounds(e.epoch)
    // The running stretch of probation, counted up to now for the report.
    const probationMs = e.probationMs + (st.probation && nowMs > st.probationCountedTo && this.deps.epochs.epochOf(nowMs) === e.epoch ? nowMs - Math.max(st.probationCountedTo, startMs) : 0)
    const until = Math.min(nowMs, endMs)
    const observed = e.observedSinceMs === undefined ? 0 : until - e.observedSinceMs
    // The stretch since its last report counts while it is within the stale limit (the next report will confirm it).
    const last = st.lastReportAtMs
    const running = last !== undefined && nowMs - last <= this.opts.staleAfterMs ? Math.max(0, until - Math.max(last, startMs)) : 0
    const onlineMs = e.onlineMs + running
    const c = e.counts
    const judged = c.ok + c.nodeErrors + c.refused + c.transport + c.timeouts
    const all = new Array<number>(LATENCY_BUCKET_COUNT).fill(0)
    const methods = [...e.latency]
      .map(([method, b]) => {
        b.forEach((n, i) => (all[i]! += n))
        return { method, calls: b.reduce((x, y) => x + y, 0), p50Ms: latencyQuantile(b, 0.5) ?? null, p99Ms: latencyQuantile(b, 0.99) ?? null }
      })
      .sort((a, b) => b.calls - a.calls)
    return {
      epoch: e.epoch,
      startMs,
      endMs,
      uptime: e.observedSinceMs === undefined ? null : observed > 0 ? Math.min(1, onlineMs / observed) : 1,
      onlineMs,
      observedSinceMs: e.observedSinceMs ?? null,
      calls: { ...c, total: judged + c.clientErrors },
      errorRate: judged === 0 ? null : (c.nodeErrors + c.refused + c.transport + c.timeouts) / judged,
      p50Ms: latencyQuantile(all, 0.5) ?? null,
      p99Ms: latencyQuantile(all, 0.99) ?? null,
      methods,
      probationMs,
    }
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000
