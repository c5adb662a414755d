/**
 * The relay's per-client limit: a `KeyedRateLimiter` (lib/rateLimit.ts) with
 * these defaults. A light client's start-up is a burst of a few dozen calls.
 */
import type { RateLimit } from '../../lib/rateLimit.ts'

/** Relayed calls per second per client unless the host says otherwise (`vipnode host --relay-rate`). */
export const DEFAULT_RELAY_RATE_PER_SEC = 50

/** A client may burst twice its sustained rate. */
export function relayRateLimit(ratePerSec: number): RateLimit {
  return { ratePerSec, burst: 2 * ratePerSec }
}

export const DEFAULT_RATE_LIMIT: RateLimit = relayRateLimit(DEFAULT_RELAY_RATE_PER_SEC)
