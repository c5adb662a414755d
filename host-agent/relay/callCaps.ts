/**
 * Caps the relay applies to single calls before they reach the node (issue 21):
 *
 * - eth_getLogs (and eth_newFilter) ranges wider than `maxLogsRange` blocks
 *   are refused. Tags resolve against the relay's known head
 *   (agent/relay/computeUnits.ts `logsBlockSpan`); with no head known, a range
 *   open at one end by a tag counts as exactly the cap and passes.
 * - eth_call / eth_estimateGas / eth_createAccessList whose `gas` is above
 *   `gasCap` are refused, not clamped: a clamped call can run out of gas and
 *   answer differently from what the caller asked, and an estimate against a
 *   lowered limit is misleading. A call without `gas` is left to the node's
 *   own cap (geth's --rpc.gascap).
 *
 * Refusals are -32602 (invalid params, the request's fault: the client's proxy
 * does not hold them against the host's health, agent/relay/replyVerdict.ts),
 * with a message that says what to change.
 */
import { logsBlockSpan, type RangeContext } from '../../agent/relay/computeUnits.ts'

export const INVALID_PARAMS = -32602

export interface CallCaps {
  maxLogsRange: number
  gasCap: number
}

const GAS_METHODS = new Set(['eth_call', 'eth_estimateGas', 'eth_createAccessList'])
/** Calls whose cost and cap depend on a block range. */
export const RANGE_METHODS: ReadonlySet<string> = new Set(['eth_getLogs', 'eth_newFilter'])

/** Why the call is refused, or undefined when it may go to the node. Malformed params are left to the node. */
export function capRefusal(method: string, params: unknown, caps: CallCaps, ctx: RangeContext): string | undefined {
  if (RANGE_METHODS.has(method)) {
    const span = logsBlockSpan(params, ctx)
    if (span.ok && span.blocks > caps.maxLogsRange) {
      return `${method} range of ${span.blocks} blocks is over this pool host's limit of ${caps.maxLogsRange} blocks: ask for smaller ranges`
    }
    return undefined
  }
  if (GAS_METHODS.has(method)) {
    const tx = Array.isArray(params) ? params[0] : undefined
    const gas = typeof tx === 'object' && tx !== null ? (tx as { gas?: unknown }).gas : undefined
    if (typeof gas !== 'string' || !/^0x[0-9a-f]{1,64}$/i.test(gas)) return undefined
    const value = BigInt(gas)
    if (value > BigInt(caps.gasCap)) return `${method} gas ${value} is over this pool host's cap of ${caps.gasCap}: send less gas or none (the node then uses its own cap)`
  }
  return undefined
}
