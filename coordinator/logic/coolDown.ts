/**
 * Cool-down after failed admissions. A host that refuses or does not answer
 * vipnode_admit is left out for a while, so the next clients do not each wait
 * an admit timeout on it. The pause doubles with every failure in a row
 * (capped), a success halves the count, and quiet time forgives too, so a
 * host that failed once last week starts from scratch. Pure: time comes in.
 */

export interface CoolDownPolicy {
  /** The pause after a first failure. */
  baseMs: number
  /** The longest pause; also the quiet time that forgives one strike. */
  maxMs: number
}

export interface CoolDownState {
  /** Failures not yet forgiven. */
  strikes: number
  /** The host is left out until then. */
  untilMs: number
  lastFailureMs: number
}

/** Strikes left after quiet time: one is forgiven per `maxMs` since the last failure. */
export function strikesAt(state: CoolDownState | undefined, nowMs: number, policy: CoolDownPolicy): number {
  if (!state) return 0
  return Math.max(0, state.strikes - Math.floor(Math.max(0, nowMs - state.lastFailureMs) / policy.maxMs))
}

/** The pause for the n-th strike: base, 2×base, 4×base, … up to max. */
export function pauseFor(strikes: number, policy: CoolDownPolicy): number {
  if (strikes <= 0) return 0
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(strikes - 1, 52))
}

export function afterFailure(state: CoolDownState | undefined, nowMs: number, policy: CoolDownPolicy): CoolDownState {
  const strikes = strikesAt(state, nowMs, policy) + 1
  // Never shorten a pause already running (parallel failures land at once).
  const untilMs = Math.max(state?.untilMs ?? 0, nowMs + pauseFor(strikes, policy))
  return { strikes, untilMs, lastFailureMs: nowMs }
}

/**
 * A host that admitted someone is working: halve its strikes. At zero strikes
 * the cool-down ends at once; otherwise the running pause stands (a success
 * racing a failure does not prove the failure was a fluke) and only the next
 * pause gets shorter.
 */
export function afterSuccess(state: CoolDownState | undefined, nowMs: number, policy: CoolDownPolicy): CoolDownState | undefined {
  const strikes = Math.floor(strikesAt(state, nowMs, policy) / 2)
  return state && strikes > 0 ? { ...state, strikes } : undefined
}

/** The state carries nothing any more: no pause running and every strike forgiven. */
export function isSpent(state: CoolDownState, nowMs: number, policy: CoolDownPolicy): boolean {
  return state.untilMs <= nowMs && strikesAt(state, nowMs, policy) === 0
}
