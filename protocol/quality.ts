/**
 * Service quality of the rpc service, as a client's proxy measures it per
 * host (issue 21, item 2) and reports it in `vipnode_update` (`quality`).
 * Both ends read the same constants from here: the latency buckets, the
 * methods whose latency is kept apart, and how a histogram gives a quantile.
 *
 * Latency is sent as a small fixed-bucket histogram per method, not as
 * percentiles: percentiles of two intervals (or two clients) cannot be
 * combined, bucket counts can. A quantile is read as the upper bound of the
 * bucket it falls in (coarse, never optimistic); one that falls above the last
 * bound is reported as that bound (10 s, the proxy's own request timeout).
 *
 * Pure: no I/O, no clock.
 */

/** Upper bounds (ms, inclusive) of the latency buckets; one more bucket counts everything slower. Part of the wire format. */
export const LATENCY_BUCKETS_MS = [10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000] as const

/** Counts per histogram: one per bound plus the overflow bucket. */
export const LATENCY_BUCKET_COUNT = LATENCY_BUCKETS_MS.length + 1

/**
 * Methods whose latency is kept apart (what light clients and wallets call);
 * every other method is counted under `other`. Bounds the memory per host on
 * both ends, whatever methods a client tries.
 */
export const QUALITY_METHODS = [
  'eth_chainId',
  'eth_blockNumber',
  'eth_getBlockByNumber',
  'eth_getBlockByHash',
  'eth_getBalance',
  'eth_getCode',
  'eth_getStorageAt',
  'eth_getTransactionCount',
  'eth_getProof',
  'eth_call',
  'eth_estimateGas',
  'eth_createAccessList',
  'eth_getLogs',
  'eth_getBlockReceipts',
  'eth_getTransactionReceipt',
  'eth_getTransactionByHash',
  'eth_sendRawTransaction',
  'eth_feeHistory',
  'eth_gasPrice',
  'eth_maxPriorityFeePerGas',
  'eth_subscribe',
  'net_version',
] as const

export const OTHER_METHOD = 'other'
export type QualityMethod = (typeof QUALITY_METHODS)[number] | typeof OTHER_METHOD

const KNOWN: ReadonlySet<string> = new Set(QUALITY_METHODS)

/** The name a method's latency is kept under: itself when listed, else `other`. */
export function qualityMethod(method: string): QualityMethod {
  return KNOWN.has(method) ? (method as QualityMethod) : OTHER_METHOD
}

/** The bucket a latency falls in. */
export function latencyBucket(ms: number): number {
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) if (ms <= LATENCY_BUCKETS_MS[i]!) return i
  return LATENCY_BUCKETS_MS.length
}

/**
 * The `q` quantile (0 < q ≤ 1) of a histogram: the upper bound of the bucket
 * holding it (the last bound for the overflow bucket). Undefined with no samples.
 */
export function latencyQuantile(buckets: ArrayLike<number>, q: number): number | undefined {
  let total = 0
  for (let i = 0; i < buckets.length; i++) total += buckets[i]!
  if (total <= 0) return undefined
  const rank = q * total
  let seen = 0
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i]!
    if (seen >= rank) return LATENCY_BUCKETS_MS[Math.min(i, LATENCY_BUCKETS_MS.length - 1)]!
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]
}

/** How a relayed call ended, as the client's proxy classifies it. */
export type CallOutcome = 'ok' | 'client-error' | 'node-error' | 'refused' | 'transport' | 'timeout'

/** The wire fields for each outcome, in one order. */
export const OUTCOME_FIELDS = {
  ok: 'ok',
  'client-error': 'clientErrors',
  'node-error': 'nodeErrors',
  refused: 'refused',
  transport: 'transport',
  timeout: 'timeouts',
} as const satisfies Record<CallOutcome, string>
