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
  /**
   * Shares by these weights instead of service time (a pool that prices compute units, --price-per-cu: what
   * clients paid for each payee's service, so priced units count where they are priced). `serviceMs` is
   * still reported per payee; a payee with service but no weight gets nothing.
   */
  weightByPayee?: ReadonlyMap<string, bigint> | undefined
  /** With `weightByPayee`: the weight of hosts without a payout address (their share is carried). */
  unpaidWeight?: bigint | undefined
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
  const weights = input.weightByPayee
  if (weights) {
    for (const [payee, w] of weights) if (w < 0n) throw new RangeError(`weight of ${payee} must not be negative`)
    if ((input.unpaidWeight ?? 0n) < 0n) throw new RangeError('unpaidWeight must not be negative')
    const listed = new Set(entries.map(([payee]) => payee))
    for (const [payee, w] of weights) if (w > 0n && !listed.has(payee)) entries.push([payee, input.serviceMsByPayee.get(payee) ?? 0])
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }
  const weightOf = (payee: string, ms: number) => (weights ? (weights.get(payee) ?? 0n) : BigInt(ms))
  const total = entries.reduce((n, [payee, ms]) => n + weightOf(payee, ms), weights ? (input.unpaidWeight ?? 0n) : BigInt(unpaidMs))
  // Nobody served: no fee is earned and everything waits for the next epoch.
  if (total === 0n) return { feeWei: 0n, payouts: [], carriedOutWei: pot }
  const feeWei = (pot * BigInt(feeBps)) / 10_000n
  const distributable = pot - feeWei
  const payouts = entries.map(([payee, serviceMs]) => ({ payee, serviceMs, amountWei: (distributable * weightOf(payee, serviceMs)) / total }))
  const paid = payouts.reduce((n, p) => n + p.amountWei, 0n)
  return { feeWei, payouts: payouts.filter((p) => p.amountWei > 0n || p.serviceMs > 0), carriedOutWei: distributable - paid }
}

/** What a client pays for `units` corroborated compute units, limited to what it has: only the units it paid for are credited. */
export function chargeForUnits(units: number, priceWeiPerUnit: bigint, balanceWei: bigint): { chargeWei: bigint; paidUnits: number } {
  if (priceWeiPerUnit === 0n || units === 0) return { chargeWei: 0n, paidUnits: units }
  const cost = BigInt(units) * priceWeiPerUnit
  if (cost <= balanceWei) return { chargeWei: cost, paidUnits: units }
  const paidUnits = balanceWei > 0n ? Number(balanceWei / priceWeiPerUnit) : 0
  return { chargeWei: BigInt(paidUnits) * priceWeiPerUnit, paidUnits }
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
