/**
 * How an epoch's money is divided. Pure integer arithmetic on bigint wei:
 * the pool fee first, then the rest in proportion to each payee's
 * corroborated service time, rounded down; what rounding leaves over is
 * carried into the next epoch, so fee + payouts + carriedOut always equals
 * revenue + carriedIn exactly. The share of service by hosts that cannot be
 * paid (no payout address) is carried too.
 */
export interface SplitInput {
  revenueWei: bigint
  carriedInWei: bigint
  feeBps: number
  /** Service milliseconds per payee address (lowercase 0x…). */
  serviceMsByPayee: ReadonlyMap<string, number>
  /**
   * Service by hosts without a payout address. It counts toward the total, so
   * their share is computed like anyone's and stays in the carry: dividing it
   * among the others would pay them for time they did not serve.
   */
  unpaidServiceMs?: number | undefined
}

export interface SplitResult {
  feeWei: bigint
  payouts: { payee: string; serviceMs: number; amountWei: bigint }[]
  carriedOutWei: bigint
}

export function splitEpoch(input: SplitInput): SplitResult {
  const { revenueWei, carriedInWei, feeBps } = input
  if (revenueWei < 0n || carriedInWei < 0n) throw new RangeError('revenue and carry must not be negative')
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > 10_000) throw new RangeError('feeBps must be an integer in 0..10000')
  const pot = revenueWei + carriedInWei
  const entries = [...input.serviceMsByPayee].filter(([, ms]) => ms > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const unpaidMs = input.unpaidServiceMs ?? 0
  if (!Number.isInteger(unpaidMs) || unpaidMs < 0) throw new RangeError('unpaidServiceMs must be a non-negative integer')
  const totalMs = entries.reduce((n, [, ms]) => n + BigInt(ms), BigInt(unpaidMs))
  // Nobody served: no fee is earned and everything waits for the next epoch.
  if (totalMs === 0n) return { feeWei: 0n, payouts: [], carriedOutWei: pot }
  const feeWei = (pot * BigInt(feeBps)) / 10_000n
  const distributable = pot - feeWei
  const payouts = entries.map(([payee, serviceMs]) => ({ payee, serviceMs, amountWei: (distributable * BigInt(serviceMs)) / totalMs }))
  const paid = payouts.reduce((n, p) => n + p.amountWei, 0n)
  return { feeWei, payouts: payouts.filter((p) => p.amountWei > 0n || p.serviceMs > 0), carriedOutWei: distributable - paid }
}

/** What a client pays for `addMs` of one host's time, limited to what it has. */
export function chargeFor(addMs: number, priceWeiPerMinute: bigint, balanceWei: bigint): { chargeWei: bigint; paidMs: number } {
  if (priceWeiPerMinute === 0n) return { chargeWei: 0n, paidMs: addMs }
  const cost = (BigInt(addMs) * priceWeiPerMinute) / 60_000n
  if (cost <= balanceWei) return { chargeWei: cost, paidMs: addMs }
  const chargeWei = balanceWei > 0n ? balanceWei : 0n
  // Only the time the client paid for is credited to the host: hosts never earn more than clients paid.
  return { chargeWei, paidMs: Number((chargeWei * 60_000n) / priceWeiPerMinute) }
}
