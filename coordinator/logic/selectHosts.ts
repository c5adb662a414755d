/**
 * Which hosts may serve a client, and which of them to ask. Pure: no I/O, no
 * clock, no global randomness (the time and the random source come in), so
 * every decision can be replayed in a test or a simulation.
 *
 * Filter: every host that cannot serve this client right now gets a reason.
 * Choose: among the rest, previous hosts of this client first (stickiness),
 * then everyone else; inside each tier, power-of-two-choices on load relative
 * to capacity, with the preferred region only breaking ties. (A region tier
 * let a client's declared region steer it: Sybil clients declaring the
 * attacker's region all landed on the attacker's host.) Every host not chosen
 * gets a reason too, so each decision can be explained.
 *
 * Service quality (rpc hosts, logic/hostQuality.ts): a host's score divides
 * its load ratio in the comparison, so of two equally loaded hosts the better
 * served wins. A host on probation takes at most one new client per trial
 * period (`probation` otherwise), is offered only as the last pick of a
 * request for two or more hosts, or when no host in good standing is left.
 *
 * Needs (rpc, `needs: ["beacon"]` in vipnode_requestHosts): hosts that offer
 * the capability rank above every host that does not, tier by tier, so a
 * client that asks gets as many of them as are eligible and the others only
 * fill the rest of its count (non-offering hosts passed over for them:
 * `no-beacon`). When the only eligible offering hosts are on probation, one
 * of them takes a pick even from a request for one host: the need outweighs
 * the trial rule's caution. A round that must add an offering host (the
 * client holds its count and none of them offers it) uses `only`, which
 * filters the others out.
 */
import { BEACON_CAPABILITY, RPC_REQUIRED_METHODS, type NodeId, type ServiceKind } from '../../protocol/index.ts'
import { isLagging } from './heads.ts'

export interface HostCandidate {
  nodeId: NodeId
  chainId: number
  kind: ServiceKind
  capacity: number
  /** Active assignments plus admissions in flight. */
  load: number
  /** Latest plausible head the host's agent reported; 0 until its first report. */
  blockNumber: number
  /** When the host's agent last reported (ms; the connect time until its first report). Undefined: not known, never stale. */
  lastReportAtMs?: number | undefined
  region: string | null
  /** Failed admissions keep the host out until this time (ms); 0 when it is not cooling down. */
  coolingUntilMs: number
  /** rpc hosts: the methods their node was probed to serve. */
  capabilities?: ReadonlySet<string> | undefined
  /** The host's score from its clients' reports, 0..1 (logic/hostQuality.ts rankingScore); 1 when unknown. */
  score?: number | undefined
  /** On probation (logic/hostQuality.ts): a little traffic only. */
  probation?: boolean | undefined
  /** Out of rotation: its clients caught it answering deterministic calls against the majority (logic/checkedAnswers.ts). */
  excluded?: boolean | undefined
  /** On probation: whether its trial slot is open (one new client per trial period). */
  trialOpen?: boolean | undefined
}

export interface SelectionRequest {
  /** The node asking; undefined for an anonymous HTTP preview. */
  clientId: NodeId | undefined
  chainId: number
  kind: ServiceKind
  count: number
  /** Hosts this client already has or is being admitted to. */
  exclude: ReadonlySet<NodeId>
  /** Hosts that failed to admit this client earlier in the same request. */
  tried: ReadonlySet<NodeId>
  /** The pool's best head on the client's chain; undefined when nobody has reported one. */
  bestHead: number | undefined
  maxBlockLag: number
  nowMs: number
  /**
   * Hosts whose last report is older than this (ms) are stale: their agent
   * stopped reporting, usually because its node hangs, which a quiet chain
   * never shows as lag. The caller passes nowMs - staleAfterMs; undefined
   * turns the check off.
   */
  staleBeforeMs?: number | undefined
  /** Preferred region; null for no preference. */
  region: string | null
  /** Hosts that served this client recently: given back first when they are eligible. */
  sticky: ReadonlySet<NodeId>
  /**
   * The client needs the beacon API (BEACON_CAPABILITY): `first` ranks hosts that offer it above all others,
   * `only` takes no other host. Undefined: no need, capabilities beyond the light-client methods do not matter.
   */
  beacon?: 'first' | 'only' | undefined
}

/**
 * Why a host was not chosen. The first group are filters (the host could not
 * serve this client); `other-region` and `outranked` are hosts that could have
 * but ranked below the ones chosen.
 */
export type SkipReason =
  | 'self'
  | 'already-assigned'
  | 'admit-failed'
  | 'wrong-network'
  | 'wrong-kind'
  | 'missing-methods'
  | 'lagging'
  | 'stale'
  | 'cooling-down'
  | 'probation'
  | 'bad-answers'
  | 'full'
  | 'no-beacon'
  | 'other-region'
  | 'outranked'

/** Every reason, in the order explanations list them when counts tie. */
export const SKIP_REASONS: readonly SkipReason[] = ['full', 'lagging', 'stale', 'cooling-down', 'probation', 'bad-answers', 'admit-failed', 'wrong-network', 'wrong-kind', 'missing-methods', 'self', 'already-assigned', 'no-beacon', 'other-region', 'outranked']

export interface Rejection {
  nodeId: NodeId
  reason: SkipReason
}

export interface Selection {
  /** In the order they were picked. */
  chosen: NodeId[]
  rejected: Rejection[]
}

/** A host whose agent last reported before `staleBeforeMs`; never when either is unknown. */
export function isStale(lastReportAtMs: number | undefined, staleBeforeMs: number | undefined): boolean {
  return lastReportAtMs !== undefined && staleBeforeMs !== undefined && lastReportAtMs < staleBeforeMs
}

/**
 * Why this host cannot serve this client, or undefined when it can. Identity
 * checks come first, then the network, then health, and capacity last: a
 * lagging host that is also full is reported as lagging, the reason an
 * operator can act on. A stale host is reported as stale even when its old
 * head also lags: not reporting is the cause, the lag its symptom.
 */
export function filterHost(h: HostCandidate, req: SelectionRequest): SkipReason | undefined {
  if (h.nodeId === req.clientId) return 'self'
  if (req.exclude.has(h.nodeId)) return 'already-assigned'
  if (req.tried.has(h.nodeId)) return 'admit-failed'
  if (h.chainId !== req.chainId) return 'wrong-network'
  if (h.kind !== req.kind) return 'wrong-kind'
  // rpc: a light client needs every one of these; a node without eth_getProof cannot serve it at all.
  if (req.kind === 'rpc' && !RPC_REQUIRED_METHODS.every((m) => h.capabilities?.has(m))) return 'missing-methods'
  if (isStale(h.lastReportAtMs, req.staleBeforeMs)) return 'stale'
  if (isLagging(h.blockNumber, req.bestHead, req.maxBlockLag)) return 'lagging'
  if (h.coolingUntilMs > req.nowMs) return 'cooling-down'
  if (h.excluded) return 'bad-answers'
  if (h.probation && !h.trialOpen) return 'probation'
  if (h.load >= h.capacity) return 'full'
  if (req.beacon === 'only' && !offersBeacon(h)) return 'no-beacon'
  return undefined
}

/** The host's relay serves the beacon light-client routes (it advertised BEACON_CAPABILITY). */
export function offersBeacon(h: Pick<HostCandidate, 'capabilities'>): boolean {
  return h.capabilities?.has(BEACON_CAPABILITY) === true
}

export function selectHosts(candidates: readonly HostCandidate[], req: SelectionRequest, random: () => number): Selection {
  const eligible: HostCandidate[] = []
  const rejected: Rejection[] = []
  for (const h of candidates) {
    const reason = filterHost(h, req)
    if (reason) rejected.push({ nodeId: h.nodeId, reason })
    else eligible.push(h)
  }

  // Hosts on probation with an open trial slot: one of them takes the last pick of a request for two or more
  // hosts (its client has another host to fall back on), more only when no host in good standing is left.
  const trial = eligible.filter((h) => h.probation)
  const good = eligible.filter((h) => !h.probation)
  const sticky = good.filter((h) => req.sticky.has(h.nodeId))
  const rest = good.filter((h) => !req.sticky.has(h.nodeId))
  // Region only breaks ties between equally loaded hosts: it can never draw a client to a host the load would not.
  const region = req.region
  const inRegion = region === null ? undefined : (h: HostCandidate) => h.region === region
  // A need splits every tier in two, offering hosts first: [sticky, rest] becomes [sticky B, rest B, sticky, rest].
  const needy = req.beacon !== undefined
  const split = (tiers: HostCandidate[][]) => (needy ? [...tiers.map((t) => t.filter(offersBeacon)), ...tiers.map((t) => t.filter((h) => !offersBeacon(h)))] : tiers)
  // Only hosts on probation offer what the client needs: one of them takes a pick whatever the count.
  const trialForNeed = needy && !good.some(offersBeacon) && trial.some(offersBeacon)

  const chosen: HostCandidate[] = []
  const goodWanted = trialForNeed ? req.count - 1 : trial.length > 0 && req.count >= 2 ? req.count - 1 : req.count
  for (const tier of split([sticky, rest])) {
    if (chosen.length >= goodWanted) break
    chosen.push(...powerOfTwoChoices(tier, goodWanted - chosen.length, random, inRegion))
  }
  for (const tier of split([trial])) {
    if (chosen.length >= req.count) break
    chosen.push(...powerOfTwoChoices(tier, req.count - chosen.length, random, inRegion))
  }
  const picked = new Set(chosen.map((h) => h.nodeId))
  const regionWon = inRegion !== undefined && chosen.some(inRegion)
  // Hosts without the capability were reached only when the offering ones ran out: until then the need passed them over.
  const needPassedOver = needy && !chosen.some((h) => !offersBeacon(h))
  for (const h of eligible) {
    if (picked.has(h.nodeId)) continue
    const reason: SkipReason = h.probation
      ? 'probation'
      : needPassedOver && !offersBeacon(h)
        ? 'no-beacon'
        : regionWon && !inRegion(h) && !req.sticky.has(h.nodeId)
          ? 'other-region'
          : 'outranked'
    rejected.push({ nodeId: h.nodeId, reason })
  }
  return { chosen: [...picked], rejected }
}

/**
 * Load relative to capacity once this client is added: the quantity the
 * policy compares. Comparing the ratio after the admission rather than
 * before favours the bigger host when two are equally loaded (3/5 and 30/50
 * become 0.8 and 0.62), which is where the next client disturbs the balance
 * least.
 */
export function ratioAfter(h: Pick<HostCandidate, 'load' | 'capacity'>): number {
  return (h.load + 1) / h.capacity
}

/** The lowest score a comparison divides by: a host scored near 0 counts as ten times as loaded, not infinitely. */
const MIN_RANKING_SCORE = 0.1

/**
 * What two drawn hosts are compared on: the load ratio after admission over
 * the host's score (1 unless its clients' reports say otherwise), so a host
 * scored 0.8 counts as a quarter more loaded than it is.
 */
export function rankAfter(h: Pick<HostCandidate, 'load' | 'capacity' | 'score'>): number {
  return ratioAfter(h) / Math.max(MIN_RANKING_SCORE, Math.min(1, h.score ?? 1))
}

/**
 * Pick `k` distinct hosts: each pick draws two of the remaining hosts at
 * random and keeps the less loaded one (by ratioAfter). This spreads clients
 * far more evenly than a random choice. With exact loads, always taking the
 * least loaded host spreads them better still, but when the load figures lag
 * behind (several coordinators, loads known from periodic reports) that
 * sends every arrival in between to the same host, and two choices do not
 * (bench/selection.ts has both cases).
 *
 * Draws are weighted by capacity. With uniform draws a host can win at most
 * the draws it is in, about 2/n of all picks, whatever its size: a 50-slot
 * host then cannot fill as fast as its share of clients leave it, stays
 * nearly empty, and the overflow piles onto 5-slot hosts (bench/selection.ts
 * showed this). Weighted by capacity, every host is drawn in proportion to
 * what it can take, and the comparison evens out the ratios.
 */
export function powerOfTwoChoices<T extends Pick<HostCandidate, 'load' | 'capacity' | 'score'>>(hosts: readonly T[], k: number, random: () => number, preferred?: (h: T) => boolean): T[] {
  const pool = [...hosts]
  let total = 0
  for (const h of pool) total += weight(h)
  const out: T[] = []
  while (out.length < k && pool.length > 0) {
    let pick: number
    if (pool.length === 1) pick = 0
    else {
      const i = draw(pool, total, random, -1)
      const j = draw(pool, total - weight(pool[i]!), random, i)
      pick = better(pool[i]!, pool[j]!, preferred) ? i : j
    }
    const [taken] = pool.splice(pick, 1)
    total -= weight(taken!)
    out.push(taken!)
  }
  return out
}

function weight(h: Pick<HostCandidate, 'capacity'>): number {
  return Math.max(h.capacity, 0)
}

/** One index, with probability proportional to capacity, never `skip`. `total` is the weight of all but `skip`. */
function draw(pool: readonly Pick<HostCandidate, 'capacity'>[], total: number, random: () => number, skip: number): number {
  let target = random() * total
  let last = -1
  for (let i = 0; i < pool.length; i++) {
    if (i === skip) continue
    last = i
    target -= weight(pool[i]!)
    if (target < 0) return i
  }
  // Only reached through rounding at the very top of the range (or all weights 0): the last candidate.
  return last
}

/** a is at least as good as b: lower ratio after admission (over the score), then the preferred (region), then more free slots, then a (the first drawn). */
function better<T extends Pick<HostCandidate, 'load' | 'capacity' | 'score'>>(a: T, b: T, preferred?: (h: T) => boolean): boolean {
  const d = rankAfter(a) - rankAfter(b)
  if (d !== 0) return d < 0
  if (preferred && preferred(a) !== preferred(b)) return preferred(a)
  return a.capacity - a.load >= b.capacity - b.load
}

/** "4 full, 1 lagging": counts by reason, most frequent first, ties in SKIP_REASONS order. */
export function summarizeReasons(reasons: Iterable<SkipReason>): string {
  const counts = new Map<SkipReason, number>()
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1)
  return [...counts]
    .sort(([ra, a], [rb, b]) => b - a || SKIP_REASONS.indexOf(ra) - SKIP_REASONS.indexOf(rb))
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ')
}

/** "no hosts with free slots on chain 1: 4 full, 1 lagging" */
export function explainNoHosts(rejected: readonly Rejection[], chainId: number, onlineHosts: number): string {
  if (onlineHosts === 0) return `no hosts online on chain ${chainId}`
  return `no hosts with free slots on chain ${chainId}: ${summarizeReasons(rejected.map((r) => r.reason))}`
}

/** "only 2 of 3 hosts on chain 1: 4 full, 1 lagging" (hosts that ranked lower are not a shortfall's cause, so they are left out). */
export function explainShortfall(got: number, wanted: number, rejected: readonly Rejection[], chainId: number): string {
  const causes = rejected.filter((r) => r.reason !== 'outranked' && r.reason !== 'other-region' && r.reason !== 'already-assigned' && r.reason !== 'no-beacon')
  const why = summarizeReasons(causes.map((r) => r.reason))
  return `only ${got} of ${wanted} hosts on chain ${chainId}${why ? `: ${why}` : ''}`
}

/** "no host acknowledged the admission (2 tried); 3 full" */
export function explainNoneAdmitted(tried: number, rejected: readonly Rejection[]): string {
  const others = summarizeReasons(rejected.filter((r) => r.reason !== 'admit-failed').map((r) => r.reason))
  return `no host acknowledged the admission (${tried} tried)${others ? `; ${others}` : ''}`
}
