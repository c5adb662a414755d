/**
 * Login pacing: how many agents may start a login per second, and when a
 * refused one should come back. A restarted pool's agents all dial within a
 * second or two; admitting them at the rate the coordinator can log them in
 * (and telling the rest when their turn is) keeps the restart from stalling
 * the agents already back, and gives every agent a bounded wait.
 *
 * A generic cell rate algorithm with reservations: logins conform to
 * `ratePerSecond` with bursts of `burst`. A login that does not conform is
 * given the next free slot, which is booked at once, so the agent that comes
 * back at its slot (with the slot's token, checked by the caller) is admitted
 * without being measured again, and no later arrival can take its turn. The
 * n-th agent refused in a storm therefore waits about n / ratePerSecond.
 * Pure: the clock is an argument.
 */
/**
 * Logins per second (and the burst) a coordinator admits by default. With libsecp256k1 one login costs the
 * coordinator well under a millisecond, so this leaves room for the agents already back (docs/benchmarks.md).
 */
export const DEFAULT_LOGIN_RATE = 1_000

export interface LoginPacingOptions {
  ratePerSecond: number
  burst: number
}

export type PacingDecision = { admit: true } | { admit: false; slotAtMs: number }

export class LoginSchedule {
  /** Theoretical arrival time of the next conforming login. */
  private tatMs = Number.NEGATIVE_INFINITY
  private readonly stepMs: number
  private readonly toleranceMs: number

  constructor(opts: LoginPacingOptions) {
    if (!(opts.ratePerSecond > 0) || !(opts.burst >= 1)) throw new RangeError('login pacing needs a positive rate and a burst of at least 1')
    this.stepMs = 1_000 / opts.ratePerSecond
    this.toleranceMs = (opts.burst - 1) * this.stepMs
  }

  /** A login without a reservation at `nowMs`: admitted, or given the slot to come back at (booked now). */
  request(nowMs: number): PacingDecision {
    const tat = Math.max(this.tatMs, nowMs)
    this.tatMs = tat + this.stepMs
    const conformsAtMs = tat - this.toleranceMs
    return conformsAtMs <= nowMs ? { admit: true } : { admit: false, slotAtMs: Math.ceil(conformsAtMs) }
  }

  /** Milliseconds of logins booked ahead of `nowMs` (0 when idle): the wait a login refused now would get, at most. */
  backlogMs(nowMs: number): number {
    return Math.max(0, this.tatMs - nowMs)
  }
}
