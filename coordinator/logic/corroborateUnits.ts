/**
 * Bilateral metering of compute units (rpc service, issue 21). Both ends of a
 * relay report the compute units of the calls they saw served, per
 * counterpart, with every report (agent/relay/computeUnits.ts). A pair is
 * credited the smaller of the two sides' figures, so neither side's claim
 * alone earns or bills anything: a host that claims more than its client
 * confirms is credited the client's figure, and a client that claims less
 * pays for less (and its host can dispute the pair by the time rule,
 * logic/corroborate.ts, as for any other disagreement).
 *
 * The two sides drain their counters at their own reports, so the same calls
 * reach the coordinator at different moments. Each side's figures pile up per
 * pair (`pending`) and, at every corroborated observation of the pair (the
 * time rule's, in the same report), the pair is credited `min(host, client)`,
 * which is taken off both. What one side has and the other has not yet
 * reported is kept for the next observation, but at most that side's latest
 * report: honest skew is at most one report, and a side cannot bank over-claims
 * to be matched against the other side's later figures. A denied observation
 * (either side omits the other) drops both piles, as it breaks the time chain.
 * Pure: no I/O, no clock.
 */

export interface UnitsState {
  /** Reported by each side and not yet credited. */
  host: number
  client: number
  /** Each side's latest report for this pair: the most that may be carried for it. */
  hostLast: number
  clientLast: number
}

export const NO_UNITS: UnitsState = { host: 0, client: 0, hostLast: 0, clientLast: 0 }

/** One side reported `units` for the pair. */
export function addUnits(s: UnitsState, side: 'host' | 'client', units: number): UnitsState {
  // Exact integers only: a side claiming absurd figures is held at 2^53 - 1 (it is credited the other side's anyway).
  const add = (pile: number) => Math.min(Number.MAX_SAFE_INTEGER, pile + units)
  return side === 'host' ? { ...s, host: add(s.host), hostLast: units } : { ...s, client: add(s.client), clientLast: units }
}

/** A corroborated observation: the units both sides agree on, and what is carried to the next one. */
export function creditUnits(s: UnitsState): { credit: number; state: UnitsState } {
  const credit = Math.min(s.host, s.client)
  return {
    credit,
    state: { host: Math.min(s.host - credit, s.hostLast), client: Math.min(s.client - credit, s.clientLast), hostLast: s.hostLast, clientLast: s.clientLast },
  }
}

/** Replay reports of one pair (for tests): the total credited. `corroborated` says whether the report is a corroborated observation, false for denied. */
export function replayUnits(reports: readonly { side: 'host' | 'client'; units: number; observation: 'corroborated' | 'denied' | 'unknown' }[]): number {
  let s = NO_UNITS
  let total = 0
  for (const r of reports) {
    s = addUnits(s, r.side, r.units)
    if (r.observation === 'denied') s = NO_UNITS
    else if (r.observation === 'corroborated') {
      const c = creditUnits(s)
      total += c.credit
      s = c.state
    }
  }
  return total
}
