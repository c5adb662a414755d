/**
 * Bilateral metering. A (client, host) pair accrues service time only while
 * both sides' latest reports list each other; time between two corroborated
 * observations counts only up to a cap, so a paused process or a lost link
 * does not bill for the gap. Pure and deterministic: no I/O, no clock.
 *
 * An observation happens whenever either side of an assigned pair reports.
 * The pair is corroborated at that moment when the reporter lists the other
 * side AND the other side's latest report (no older than the cap) lists the
 * reporter. Consecutive corroborated observations accrue the time between
 * them, capped. Evidence of a disconnect (either side's report omits the
 * other) breaks the chain; mere lack of evidence (the other side has not
 * reported lately, e.g. while the coordinator restarted) accrues nothing now
 * but keeps the chain, so the next corroboration credits the gap up to the cap.
 */
import type { NodeId } from '../../protocol/index.ts'

export interface LatestReport {
  atMs: number
  peers: ReadonlySet<NodeId>
}

export interface PairState {
  /** The last corroborated observation of this pair, if the chain is unbroken. */
  lastCorroboratedAtMs: number | undefined
}

export interface Accrual {
  clientId: NodeId
  hostId: NodeId
  /** Milliseconds of service to credit for this observation (0 starts a chain). */
  addMs: number
  /** The pair's new state. */
  state: PairState
}

export interface ObserveInput {
  reporter: NodeId
  atMs: number
  peers: ReadonlySet<NodeId>
  /** The reporter's previous report, if any: older or equal reports are ignored. */
  previous: LatestReport | undefined
  /** The counterparts assigned to the reporter (its clients or its hosts), with the role of the reporter. */
  role: 'host' | 'client'
  counterparts: readonly NodeId[]
  latestOf(nodeId: NodeId): LatestReport | undefined
  pairState(clientId: NodeId, hostId: NodeId): PairState
  capMs: number
}

/** Evidence of a disconnect: the reporter omits the other side, or the other side's latest report omits the reporter. */
export function isDenied(reporter: NodeId, peers: ReadonlySet<NodeId>, other: NodeId, theirs: LatestReport | undefined): boolean {
  return !peers.has(other) || (theirs !== undefined && !theirs.peers.has(reporter))
}

/**
 * The accruals caused by one report. Returns [] for a duplicate or
 * out-of-order report (not newer than the reporter's previous one).
 */
export function observe(input: ObserveInput): Accrual[] {
  const { reporter, atMs, peers, previous, role, counterparts, latestOf, pairState, capMs } = input
  if (previous && atMs <= previous.atMs) return []
  const out: Accrual[] = []
  for (const other of counterparts) {
    if (other === reporter) continue
    const clientId = role === 'client' ? reporter : other
    const hostId = role === 'host' ? reporter : other
    const theirs = latestOf(other)
    const state = pairState(clientId, hostId)
    if (isDenied(reporter, peers, other, theirs)) {
      if (state.lastCorroboratedAtMs !== undefined) out.push({ clientId, hostId, addMs: 0, state: { lastCorroboratedAtMs: undefined } })
      continue
    }
    // Listed by the reporter, but the other side's word is missing or too old to count.
    if (theirs === undefined || atMs - theirs.atMs > capMs) continue
    const last = state.lastCorroboratedAtMs
    const addMs = last === undefined || atMs <= last ? 0 : Math.min(atMs - last, capMs)
    out.push({ clientId, hostId, addMs, state: { lastCorroboratedAtMs: Math.max(atMs, last ?? atMs) } })
  }
  return out
}

/**
 * Replay a whole sequence of reports (for tests, audits and recovery): the
 * total accrued per pair. `assigned` says which pairs may accrue at all.
 */
export function replay(
  reports: readonly { reporter: NodeId; role: 'host' | 'client'; atMs: number; peers: readonly NodeId[] }[],
  assigned: readonly { clientId: NodeId; hostId: NodeId }[],
  capMs: number,
): Map<string, number> {
  const latest = new Map<NodeId, LatestReport>()
  const states = new Map<string, PairState>()
  const totals = new Map<string, number>()
  const key = (c: NodeId, h: NodeId) => `${c}:${h}`
  for (const r of reports) {
    const counterparts = assigned.filter((a) => (r.role === 'host' ? a.hostId === r.reporter : a.clientId === r.reporter)).map((a) => (r.role === 'host' ? a.clientId : a.hostId))
    const peers = new Set(r.peers)
    const previous = latest.get(r.reporter)
    const accruals = observe({
      reporter: r.reporter,
      atMs: r.atMs,
      peers,
      previous,
      role: r.role,
      counterparts,
      latestOf: (id) => latest.get(id),
      pairState: (c, h) => states.get(key(c, h)) ?? { lastCorroboratedAtMs: undefined },
      capMs,
    })
    if (previous && r.atMs <= previous.atMs) continue
    latest.set(r.reporter, { atMs: r.atMs, peers })
    for (const a of accruals) {
      states.set(key(a.clientId, a.hostId), a.state)
      totals.set(key(a.clientId, a.hostId), (totals.get(key(a.clientId, a.hostId)) ?? 0) + a.addMs)
    }
  }
  return totals
}
