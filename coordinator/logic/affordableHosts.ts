/**
 * What a paying client must be able to afford to hold hosts
 * (vipnode_requestHosts): every host it holds, paid for one update interval.
 *
 * - Time (`--price`, wei per host-minute): one interval of a host's time.
 * - Compute units (`--price-per-cu`, rpc hosts only): what one host's relay
 *   may serve it in one interval at `holdCuRate` units per second
 *   (`--hold-cu-rate`; by default the rate a relay serves one client at,
 *   `--relay-cu-rate`'s default). Units are billed after they are served, so
 *   a client with any balance at all would otherwise be given hosts whose
 *   service it cannot pay for, and a key with dust could hold slots in a
 *   pool that prices only units. Peer hosts serve no units: only their time
 *   counts.
 *
 * The client holds at most as many hosts as its balance pays this for, and
 * none when it cannot pay one. Metering still bills only what is served and
 * never takes a balance below zero (services/metering.ts); this decides only
 * who is given hosts. Pure: the hold period comes in as `holdMs`.
 */
import type { ServiceKind } from '../../protocol/index.ts'

export interface HoldPrices {
  /** Wei per host-minute (--price). */
  priceWeiPerMinute: bigint
  /** Wei per compute unit (--price-per-cu). */
  pricePerCuWei: bigint
  /** Compute units per second of one host's service a client must be able to pay (--hold-cu-rate). */
  holdCuRate: number
}

export interface HoldCost {
  /** One interval of one host's time. */
  timeWei: bigint
  /** The units one host may serve in one interval at the hold rate (0 when units are not priced or the host serves none). */
  units: bigint
  unitsWei: bigint
  /** What holding one host for one interval costs: time and units. */
  totalWei: bigint
}

/** What one host of `kind` costs a client for `holdMs`. */
export function holdCost(prices: HoldPrices, holdMs: number, kind: ServiceKind): HoldCost {
  const timeWei = (prices.priceWeiPerMinute * BigInt(holdMs)) / 60_000n
  // Whole units, rounded up: a hold never covers less than the rate says.
  const units = kind === 'rpc' && prices.pricePerCuWei > 0n ? (BigInt(prices.holdCuRate) * BigInt(holdMs) + 999n) / 1000n : 0n
  const unitsWei = units * prices.pricePerCuWei
  return { timeWei, units, unitsWei, totalWei: timeWei + unitsWei }
}

/**
 * How many hosts of `kind` a client with `balanceWei` can hold for `holdMs`
 * each: unlimited in a free pool; in a paying pool the hosts its balance pays
 * for (unlimited when a hold rounds to nothing, as long as the balance is
 * above zero).
 */
export function affordableHosts(balanceWei: bigint, prices: HoldPrices, holdMs: number, kind: ServiceKind): number {
  if (prices.priceWeiPerMinute === 0n && prices.pricePerCuWei === 0n) return Infinity
  const perHostWei = holdCost(prices, holdMs, kind).totalWei
  if (perHostWei <= 0n) return balanceWei > 0n ? Infinity : 0
  if (balanceWei <= 0n) return 0
  const n = balanceWei / perHostWei
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(n)
}

/** Why a client that can afford no host is refused, with the figures it needs to top up. */
export function explainUnaffordable(balanceWei: bigint, prices: HoldPrices, holdMs: number, kind: ServiceKind): string {
  const cost = holdCost(prices, holdMs, kind)
  const base = `balance ${balanceWei} wei cannot pay a host for one update interval (${holdMs} ms)`
  if (cost.units === 0n) return base
  const parts = [...(cost.timeWei > 0n ? [`${cost.timeWei} wei of time`] : []), `${cost.units} compute units at ${prices.pricePerCuWei} wei (${prices.holdCuRate} per second)`]
  return `${base}: ${parts.join(' and ')}, ${cost.totalWei} wei in all`
}
