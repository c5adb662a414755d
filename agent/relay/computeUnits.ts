/**
 * Compute units (CUs): what a relayed call costs, so a relay can rate-limit
 * by cost rather than by count and both ends of a relay can report the same
 * measure of service (issue 21). Pure: no I/O, no clock.
 *
 * The default table is in protocol/costTable.ts (the coordinator prices
 * and explains the same units). Every method the relay policy allows
 * (host-agent/relay/relayPolicy.ts: any `eth_*` not denied, and four
 * `net_`/`web3_` calls) has a cost: a method not in the table costs
 * `defaultCost`.
 *
 * - `eth_getLogs` costs `methods.eth_getLogs + getLogsPerBlock × blocks`,
 *   where `blocks` is the number of blocks in the filter's range (1 for a
 *   `blockHash` filter). Tags resolve against the head the caller knows:
 *   `latest`/`pending` = head, `safe` = head − 32, `finalized` = head − 64,
 *   `earliest` = 0. With no known head, a range with a tag at one end counts
 *   as `maxRangeBlocks` (the relay passes its range cap: the worst case it
 *   would let through). No range costs more than `maxRangeBlocks` blocks: the
 *   head comes from the other end (a host's replies, for the client's proxy),
 *   and a host that lies about its head must not make a call cost the client
 *   more than the widest range a relay relays.
 * - A subscription costs `methods.eth_subscribe` to open and `notification`
 *   for every notification delivered on it.
 * - A beacon API request (agent/relay/beaconRoutes.ts) costs BEACON_REQUEST_CU,
 *   times `count` for light-client updates.
 */
import { DEFAULT_COST_TABLE, type CostTable } from '../../protocol/costTable.ts'
import type { BeaconRoute } from './beaconRoutes.ts'

/** Compute units per beacon API request, and per light-client update asked for (`count`). */
export const BEACON_REQUEST_CU = 20

/**
 * What one allowed beacon request costs: what the relay takes from the client's bucket and what both ends count as
 * service when it is served, so the pool's min(both sides) finds the same figure on each.
 */
export function beaconCost(route: Pick<BeaconRoute, 'count'>): number {
  return BEACON_REQUEST_CU * (route.count ?? 1)
}

/** What a caller knows when costing an eth_getLogs range. */
export interface RangeContext {
  /** The newest block the caller knows of, if any. */
  head?: number | undefined
  /** The most blocks a range is counted as (the relay's range cap); also a range a tag leaves open when the head is unknown. */
  maxRangeBlocks: number
}

export type BlockSpan = { ok: true; blocks: number } | { ok: false; message: string }

const TAG_BEHIND_HEAD: Readonly<Record<string, number>> = { latest: 0, pending: 0, safe: 32, finalized: 64 }
const HEX_QUANTITY = /^0x(0|[1-9a-f][0-9a-f]*)$/i

/** A block tag or quantity: a number, 'head-relative' (needs a head), or an error message. */
function blockRef(value: unknown, field: string): { n: number } | { behind: number } | { message: string } {
  if (value === undefined || value === null) return { behind: 0 } // default: latest
  if (typeof value !== 'string') return { message: `${field} must be a block tag or a hex quantity` }
  if (value === 'earliest') return { n: 0 }
  if (value in TAG_BEHIND_HEAD) return { behind: TAG_BEHIND_HEAD[value]! }
  if (!HEX_QUANTITY.test(value) || value.length > 18) return { message: `${field} must be a block tag or a hex quantity, got ${JSON.stringify(value.slice(0, 20))}` }
  return { n: Number.parseInt(value, 16) }
}

/**
 * How many blocks an eth_getLogs (or eth_newFilter) filter spans, inclusive.
 * `params` are the call's params (`[filter]`). A malformed filter is an
 * error (the node would refuse it too); a reversed range spans 0 blocks.
 */
export function logsBlockSpan(params: unknown, ctx: RangeContext): BlockSpan {
  const filter = Array.isArray(params) ? params[0] : undefined
  if (filter === undefined || filter === null) return { ok: true, blocks: 1 } // no filter: the latest block
  if (typeof filter !== 'object' || Array.isArray(filter)) return { ok: false, message: 'the filter must be an object' }
  const f = filter as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown }
  if (f.blockHash !== undefined && f.blockHash !== null) {
    if (f.fromBlock !== undefined || f.toBlock !== undefined) return { ok: false, message: 'a filter with blockHash cannot have fromBlock or toBlock' }
    return { ok: true, blocks: 1 }
  }
  const from = blockRef(f.fromBlock, 'fromBlock')
  if ('message' in from) return { ok: false, message: from.message }
  const to = blockRef(f.toBlock, 'toBlock')
  if ('message' in to) return { ok: false, message: to.message }
  const head = ctx.head
  const resolve = (r: { n: number } | { behind: number }): number | undefined => ('n' in r ? r.n : head === undefined ? undefined : Math.max(0, head - r.behind))
  const a = resolve(from)
  const b = resolve(to)
  if (a === undefined || b === undefined) {
    // Both relative to the same unknown head: their distance is known anyway.
    if ('behind' in from && 'behind' in to) return { ok: true, blocks: Math.max(0, from.behind - to.behind + 1) }
    return { ok: true, blocks: ctx.maxRangeBlocks }
  }
  return { ok: true, blocks: Math.max(0, b - a + 1) }
}

/** The cost of one call, before it is made. A malformed eth_getLogs filter costs the base (the node refuses it). */
export function callCost(table: CostTable, method: string, params: unknown, ctx: RangeContext): number {
  const base = Object.hasOwn(table.methods, method) ? table.methods[method]! : table.defaultCost
  if (method !== 'eth_getLogs') return base
  const span = logsBlockSpan(params, ctx)
  return span.ok ? base + table.getLogsPerBlock * Math.min(span.blocks, ctx.maxRangeBlocks) : base
}

// ---------------------------------------------------------------- override file

/** Largest cost accepted for one entry: a typo of a few zeros is caught, every sane table fits. */
export const MAX_ENTRY_COST = 1_000_000

const OVERRIDE_METHOD = /^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+$/

/**
 * The table from an override file's text: JSON `{ "method": cost, ... }`,
 * optionally with `getLogsPerBlock`, `notification` and `default` (the cost
 * of methods not listed). Entries replace the default table's; methods not
 * named keep their default cost. Costs are non-negative integers. `source`
 * names the file in errors. Throws a RangeError naming the bad entry.
 */
export function parseCostTable(text: string, source: string, base: CostTable = DEFAULT_COST_TABLE): CostTable {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new RangeError(`${source}: not valid JSON (${(err as Error).message})`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RangeError(`${source}: expected a JSON object of method names to costs, e.g. {"eth_call": 20}`)
  const methods: Record<string, number> = { ...base.methods }
  let { defaultCost, getLogsPerBlock, notification } = base
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_ENTRY_COST) {
      throw new RangeError(`${source}: "${key.slice(0, 64)}" must be a whole number of compute units from 0 to ${MAX_ENTRY_COST}, got ${JSON.stringify(value)?.slice(0, 40)}`)
    }
    if (key === 'getLogsPerBlock') getLogsPerBlock = value
    else if (key === 'notification') notification = value
    else if (key === 'default') defaultCost = value
    else if (key.length <= 64 && OVERRIDE_METHOD.test(key)) methods[key] = value
    else throw new RangeError(`${source}: "${key.slice(0, 64)}" is not a JSON-RPC method name (nor getLogsPerBlock, notification or default)`)
  }
  return { methods, defaultCost, getLogsPerBlock, notification }
}

// ---------------------------------------------------------------- one end's costing

/** The relay's default eth_getLogs range cap, in blocks; also what a proxy counts for a range a tag leaves open with no head known. */
export const DEFAULT_LOGS_RANGE_CAP = 10_000

const HEAD_NUMBER = /^0x[0-9a-f]{1,13}$/i

/**
 * What one end of a relay (the host's relay, the client's proxy) uses to cost
 * calls: the table and the newest head it has seen. Both ends learn the head
 * the same way (relayed eth_blockNumber results, newHeads notifications; the
 * relay also from its host agent's reports), so they cost the same calls alike.
 */
export class CallCoster {
  readonly range: RangeContext

  constructor(
    readonly table: CostTable = DEFAULT_COST_TABLE,
    maxRangeBlocks: number = DEFAULT_LOGS_RANGE_CAP,
  ) {
    this.range = { head: undefined, maxRangeBlocks }
  }

  cost(method: string, params: unknown): number {
    return callCost(this.table, method, params, this.range)
  }

  noteHead(blockNumber: number): void {
    if (Number.isSafeInteger(blockNumber) && blockNumber >= 0 && (this.range.head === undefined || blockNumber > this.range.head)) this.range.head = blockNumber
  }

  /** A served call's result: eth_blockNumber tells the head, and so does a block read by number or tag. */
  served(method: string, result: unknown): void {
    if (method === 'eth_blockNumber' && typeof result === 'string' && HEAD_NUMBER.test(result)) this.noteHead(Number.parseInt(result, 16))
    else if (method === 'eth_getBlockByNumber') this.#fromHeader(result)
  }

  /** A subscription notification's `result` (a newHeads header tells the head); returns what delivering it costs. */
  notification(result: unknown): number {
    this.#fromHeader(result)
    return this.table.notification
  }

  #fromHeader(header: unknown): void {
    const number = typeof header === 'object' && header !== null ? (header as { number?: unknown }).number : undefined
    if (typeof number === 'string' && HEAD_NUMBER.test(number)) this.noteHead(Number.parseInt(number, 16))
  }

}
