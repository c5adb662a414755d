/**
 * Per-counterparty activity for metering the rpc service, kept the same way
 * on both ends of a relay (the host's relay server per client node ID, the
 * client's proxy per host node ID) so the coordinator can corroborate them.
 *
 * Only service counts (issue 16, attack 9: a relay that answers every call
 * with 429 or an error must not earn):
 * - `requests`: calls that were served, i.e. answered with a result
 *   (agent/relay/replyVerdict.ts). Errors, refusals and calls in flight do
 *   not count.
 * - `busyMs`: wall time covered by served calls (each from its start to its
 *   reply) or by a subscription session (a held subscription is service even
 *   when no call is made). Overlapping work is counted once, so busyMs never
 *   exceeds the elapsed time. A call's time is known to be service only when
 *   its reply comes, so it is counted at the reply, in whatever drain that
 *   falls; a session's time is counted up to each drain as it goes.
 * - `computeUnits`: the cost (agent/relay/computeUnits.ts) of the served
 *   calls, plus a notification's cost for each subscription notification
 *   delivered. Counted with the calls, at the reply.
 * - `lastActiveMs`: when service was last counted.
 *
 * Counts are since the previous drain; nothing is counted twice across
 * drains (covered time is remembered while work that could overlap it is
 * still open).
 */
import { systemClock, type Clock } from '../../lib/clock.ts'

export interface Activity {
  requests: number
  busyMs: number
  computeUnits: number
  lastActiveMs: number
}

interface Entry extends Activity {
  /** Open subscription sessions, and since when their time is not yet counted. */
  sessions: number
  sessionSince: number
  /** Start times of calls in flight. */
  calls: Map<symbol, number>
  /** Disjoint, sorted spans already counted that work still open might overlap. */
  covered: [number, number][]
}

/** Ends a call: `served` is how many of its calls got a result (0: none, nothing is counted), `computeUnits` what those served calls cost. */
export type EndCall = (served: number, computeUnits?: number) => void

export class ActivityMeter<K extends string = string> {
  readonly #entries = new Map<K, Entry>()
  readonly #clock: Clock

  constructor(clock: Clock = systemClock) {
    this.#clock = clock
  }

  #entry(key: K, now: number): Entry {
    let e = this.#entries.get(key)
    if (!e) {
      e = { requests: 0, busyMs: 0, computeUnits: 0, lastActiveMs: now, sessions: 0, sessionSince: now, calls: new Map(), covered: [] }
      this.#entries.set(key, e)
    }
    return e
  }

  /** A request (one call or a batch) starts; call the returned function exactly once with how many calls were served. */
  call(key: K): EndCall {
    const start = this.#clock.now()
    const token = Symbol('call')
    this.#entry(key, start).calls.set(token, start)
    let ended = false
    return (served, computeUnits = 0) => {
      if (ended) return
      ended = true
      const now = this.#clock.now()
      // drain() keeps entries with calls in flight, so this is the entry call() used.
      const e = this.#entry(key, now)
      e.calls.delete(token)
      if (served > 0) {
        this.#flushSessions(e, now)
        e.requests += served
        e.computeUnits += computeUnits
        this.#cover(e, start, now)
        e.lastActiveMs = now
      }
      this.#prune(e, now)
    }
  }

  /** A subscription session starts serving; call the returned function exactly once when it stops. */
  session(key: K): () => void {
    const start = this.#clock.now()
    const e = this.#entry(key, start)
    if (e.sessions === 0) e.sessionSince = start
    e.sessions++
    e.lastActiveMs = start
    let ended = false
    return () => {
      if (ended) return
      ended = true
      const now = this.#clock.now()
      const cur = this.#entry(key, now)
      this.#flushSessions(cur, now)
      cur.sessions = Math.max(0, cur.sessions - 1)
      this.#prune(cur, now)
    }
  }

  /** Service delivered outside a call (a subscription notification): its compute units, counted now. */
  units(key: K, computeUnits: number): void {
    if (computeUnits <= 0) return
    const now = this.#clock.now()
    const e = this.#entry(key, now)
    e.computeUnits += computeUnits
    e.lastActiveMs = now
  }

  /** Activity since the last drain, per key; resets the counts. Keys with nothing to report and nothing open are forgotten. */
  drain(): Map<K, Activity> {
    const now = this.#clock.now()
    const out = new Map<K, Activity>()
    for (const [key, e] of this.#entries) {
      this.#flushSessions(e, now)
      this.#prune(e, now)
      if (e.requests > 0 || e.busyMs > 0 || e.computeUnits > 0 || e.sessions > 0) out.set(key, { requests: e.requests, busyMs: e.busyMs, computeUnits: e.computeUnits, lastActiveMs: e.lastActiveMs })
      if (e.sessions > 0 || e.calls.size > 0) {
        e.requests = 0
        e.busyMs = 0
        e.computeUnits = 0
      } else this.#entries.delete(key)
    }
    return out
  }

  /** Count open sessions' time up to now. */
  #flushSessions(e: Entry, now: number): void {
    if (e.sessions === 0) return
    this.#cover(e, e.sessionSince, now)
    e.sessionSince = now
    e.lastActiveMs = now
  }

  /** Add [from, to] to busy time, minus what is already covered. */
  #cover(e: Entry, from: number, to: number): void {
    if (to <= from) return
    let uncovered = to - from
    for (const [s, t] of e.covered) uncovered -= Math.max(0, Math.min(t, to) - Math.max(s, from))
    e.busyMs += uncovered
    const merged: [number, number][] = []
    let span: [number, number] = [from, to]
    for (const c of e.covered) {
      if (c[1] < span[0] || c[0] > span[1]) merged.push(c)
      else span = [Math.min(c[0], span[0]), Math.max(c[1], span[1])]
    }
    merged.push(span)
    merged.sort((a, b) => a[0] - b[0])
    e.covered = merged
  }

  /** Forget covered spans that nothing open can overlap any more: all future spans start at or after the horizon. */
  #prune(e: Entry, now: number): void {
    let horizon = e.sessions > 0 ? e.sessionSince : now
    for (const start of e.calls.values()) horizon = Math.min(horizon, start)
    e.covered = e.covered.filter(([, t]) => t > horizon)
  }
}
