/**
 * Per-counterparty activity for metering the rpc service, kept the same way
 * on both ends of a relay (the host's relay server per client node ID, the
 * client's proxy per host node ID) so the coordinator can corroborate them.
 *
 * - `requests`: JSON-RPC calls exchanged (each batch element counts once).
 * - `busyMs`: wall time during which at least one thing was in progress with
 *   that counterparty: a call in flight or an open WebSocket session (a
 *   subscription session is service even when no call is made). Overlapping
 *   work is counted once, so busyMs never exceeds the elapsed time.
 * - `lastActiveMs`: the last time anything happened (or, while something is
 *   still open, the drain time).
 *
 * Counts are since the previous drain; a drain never loses time that is in
 * progress: it is billed up to the drain and continues from there.
 */
import { systemClock, type Clock } from '../../lib/clock.ts'

export interface Activity {
  requests: number
  busyMs: number
  lastActiveMs: number
}

interface Entry extends Activity {
  /** Things in progress (calls in flight + open sessions). */
  open: number
  /** When `open` last went from 0 to 1, or the last drain while open. */
  busySince: number
}

export class ActivityMeter<K extends string = string> {
  readonly #entries = new Map<K, Entry>()
  readonly #clock: Clock

  constructor(clock: Clock = systemClock) {
    this.#clock = clock
  }

  #entry(key: K, now: number): Entry {
    let e = this.#entries.get(key)
    if (!e) {
      e = { requests: 0, busyMs: 0, lastActiveMs: now, open: 0, busySince: now }
      this.#entries.set(key, e)
    }
    return e
  }

  /** Count `n` calls (without opening anything). */
  count(key: K, n = 1): void {
    const now = this.#clock.now()
    const e = this.#entry(key, now)
    e.requests += n
    e.lastActiveMs = now
  }

  /** Something starts (a call in flight, a session); call the returned function exactly once when it ends. */
  begin(key: K): () => void {
    const start = this.#clock.now()
    const e = this.#entry(key, start)
    if (e.open === 0) e.busySince = start
    e.open++
    e.lastActiveMs = start
    let ended = false
    return () => {
      if (ended) return
      ended = true
      const now = this.#clock.now()
      // drain() keeps entries with something open, so this is the same entry begin() used.
      const cur = this.#entry(key, now)
      cur.open = Math.max(0, cur.open - 1)
      if (cur.open === 0) cur.busyMs += Math.max(0, now - cur.busySince)
      cur.lastActiveMs = now
    }
  }

  /** Activity since the last drain, per key; resets the counts. Keys with nothing to report and nothing open are forgotten. */
  drain(): Map<K, Activity> {
    const now = this.#clock.now()
    const out = new Map<K, Activity>()
    for (const [key, e] of this.#entries) {
      let busyMs = e.busyMs
      let lastActiveMs = e.lastActiveMs
      if (e.open > 0) {
        busyMs += Math.max(0, now - e.busySince)
        e.busySince = now
        lastActiveMs = now
      }
      if (e.requests > 0 || busyMs > 0 || e.open > 0) out.set(key, { requests: e.requests, busyMs, lastActiveMs })
      if (e.open > 0) {
        e.requests = 0
        e.busyMs = 0
        e.lastActiveMs = now
      } else this.#entries.delete(key)
    }
    return out
  }
}
