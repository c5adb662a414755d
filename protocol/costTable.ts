/**
 * What the pool's compute units (CUs) are: the default cost of every relayed
 * call (issue 21). Both ends of a relay cost calls with it
 * (agent/relay/computeUnits.ts: `callCost`, `CallCoster`), the client's proxy
 * always with this table, so it is also what a unit priced with
 * `--price-per-cu` buys; the coordinator shows it beside that price
 * (`computeUnitCosts`). A host may count its own relay's units with another
 * table (`--relay-cost-table`); the pool credits the smaller of both sides'.
 *
 * The table follows the shape of Lava's Ethereum spec (cheap reads 10, state
 * reads and calls 20, execution 100, logs by range), rounded to the figures in
 * issue 21.
 */

export interface CostTable {
  /** Cost per method name (exact spelling, as the relay policy's allowlist). */
  methods: Readonly<Record<string, number>>
  /** Any allowed method not in `methods`. */
  defaultCost: number
  /** eth_getLogs: added per block of the filter's range. */
  getLogsPerBlock: number
  /** Per subscription notification delivered. */
  notification: number
}

export const DEFAULT_COST_TABLE: CostTable = {
  methods: {
    // identity and cheap reads
    net_version: 5,
    net_listening: 5,
    web3_clientVersion: 5,
    web3_sha3: 10,
    eth_chainId: 5,
    eth_protocolVersion: 5,
    eth_syncing: 10,
    eth_blockNumber: 10,
    eth_gasPrice: 10,
    eth_maxPriorityFeePerGas: 10,
    eth_blobBaseFee: 10,
    eth_feeHistory: 20,
    // state and chain reads
    eth_getBalance: 20,
    eth_getCode: 20,
    eth_getStorageAt: 20,
    eth_getTransactionCount: 20,
    eth_getProof: 20,
    eth_getBlockByNumber: 20,
    eth_getBlockByHash: 20,
    eth_getBlockTransactionCountByNumber: 20,
    eth_getBlockTransactionCountByHash: 20,
    eth_getUncleCountByBlockNumber: 20,
    eth_getUncleCountByBlockHash: 20,
    eth_getUncleByBlockNumberAndIndex: 20,
    eth_getUncleByBlockHashAndIndex: 20,
    eth_getTransactionByHash: 20,
    eth_getTransactionByBlockNumberAndIndex: 20,
    eth_getTransactionByBlockHashAndIndex: 20,
    eth_getTransactionReceipt: 20,
    eth_getBlockReceipts: 40,
    // execution
    eth_call: 20,
    eth_estimateGas: 100,
    eth_createAccessList: 100,
    eth_sendRawTransaction: 50,
    // logs and filters
    eth_getLogs: 80,
    eth_getFilterLogs: 80,
    eth_newFilter: 20,
    eth_newBlockFilter: 20,
    eth_newPendingTransactionFilter: 20,
    eth_getFilterChanges: 20,
    eth_uninstallFilter: 10,
    // subscriptions (notifications cost `notification` each)
    eth_subscribe: 10,
    eth_unsubscribe: 10,
  },
  defaultCost: 20,
  getLogsPerBlock: 1,
  notification: 10,
}

/**
 * Compute units per second a relay serves one client unless its host says
 * otherwise (`vipnode host --relay-cu-rate`); also what the coordinator asks a
 * client to be able to pay each rpc host for, for one update interval, in a
 * pool that prices units (`--hold-cu-rate`, coordinator/logic/affordableHosts.ts).
 */
export const DEFAULT_RELAY_CU_RATE = 1_000

/** The calls a light client makes most, cheapest first with the default table: what a price per unit is explained by. */
export const PRICE_EXAMPLE_METHODS = ['eth_blockNumber', 'eth_getBalance', 'eth_call', 'eth_getProof', 'eth_getBlockReceipts', 'eth_sendRawTransaction', 'eth_estimateGas', 'eth_getLogs'] as const

/**
 * What a unit buys, for people: the cost of the calls in PRICE_EXAMPLE_METHODS
 * (eth_getLogs without its range), what each block of an eth_getLogs range
 * adds, and the cost of a subscription notification. `computeUnitCosts` in
 * /v1/status, /v1/join/config and the dashboard's snapshot, rendered by
 * `explainUnitCosts` (coordinator/dashboard/assets/format.js).
 */
export interface ComputeUnitCosts {
  methods: Record<string, number>
  getLogsPerBlock: number
  notification: number
}

export function computeUnitCosts(table: CostTable = DEFAULT_COST_TABLE): ComputeUnitCosts {
  const methods: Record<string, number> = {}
  for (const m of PRICE_EXAMPLE_METHODS) methods[m] = Object.hasOwn(table.methods, m) ? table.methods[m]! : table.defaultCost
  return { methods, getLogsPerBlock: table.getLogsPerBlock, notification: table.notification }
}
