/**
 * The relay's per-client limits in compute units (agent/relay/computeUnits.ts):
 * a `KeyedRateLimiter` (lib/rateLimit.ts) whose tokens are CUs, so a call
 * takes its cost out of the client's bucket. A Helios start-up (test/harness/
 * jsonRpcClient.ts HELIOS_START) costs 266 CUs with the default table.
 */
import type { RateLimit } from '../../lib/rateLimit.ts'
import { DEFAULT_LOGS_RANGE_CAP } from '../../agent/relay/computeUnits.ts'
import { DEFAULT_COST_TABLE, type CostTable } from '../../protocol/costTable.ts'

/** The widest eth_getLogs range relayed, in blocks (`--relay-max-logs-range`). */
export const DEFAULT_MAX_LOGS_RANGE = DEFAULT_LOGS_RANGE_CAP

/** The most gas an eth_call / eth_estimateGas may ask for (`--relay-gas-cap`); geth's own --rpc.gascap default. */
export const DEFAULT_RELAY_GAS_CAP = 50_000_000

/**
 * The bucket: `cuPerSec` sustained; the burst is twice that, but never less
 * than the costliest call the relay lets through (a full-range eth_getLogs, or
 * the dearest entry of the table), so every allowed call can pass after a
 * quiet period.
 */
export function relayRateLimit(cuPerSec: number, table: CostTable = DEFAULT_COST_TABLE, maxLogsRange: number = DEFAULT_MAX_LOGS_RANGE): RateLimit {
  const logs = (table.methods.eth_getLogs ?? table.defaultCost) + table.getLogsPerBlock * maxLogsRange
  const dearest = Math.max(table.defaultCost, logs, ...Object.values(table.methods))
  return { ratePerSec: cuPerSec, burst: Math.max(2 * cuPerSec, dearest) }
}
