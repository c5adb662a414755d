/**
 * PostgreSQL schema (drizzle), table for table and column for column the
 * SQLite one (../sqlite/schema.ts), so `vipnode migrate` copies rows as they
 * are. Amounts are numeric(78,0): exact to 2^256 wei, and SQL can add them
 * (balance updates are `balance + delta` in one statement, safe with several
 * coordinators on one database). Times are bigint milliseconds; ids are
 * bigserial (a busy pool writes thousands of reports a second: int4 would run
 * out within days). Every bigint column is read as a JS number: ms times and
 * ids stay far below 2^53.
 */
import { pgTable, text, integer, bigint, bigserial, numeric, index, primaryKey } from 'drizzle-orm/pg-core'

/** bigint milliseconds, ids and block numbers as JS numbers (safe below 2^53). */
const int8 = (name: string) => bigint(name, { mode: 'number' })
/** Wei: numeric(78,0), read and written as decimal strings (node-postgres never turns numeric into a float). */
const wei = (name: string) => numeric(name, { precision: 78, scale: 0 })

export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

export const nodes = pgTable(
  'nodes',
  {
    nodeId: text('node_id').primaryKey(),
    role: text('role', { enum: ['host', 'client'] }).notNull(),
    enode: text('enode').notNull(),
    chainId: int8('chain_id').notNull(),
    kind: text('kind', { enum: ['peer', 'rpc'] }).notNull(),
    clientVersion: text('client_version').notNull(),
    payout: text('payout'),
    capacity: integer('capacity').notNull(),
    region: text('region'),
    firstSeenMs: int8('first_seen_ms').notNull(),
    lastSeenMs: int8('last_seen_ms').notNull(),
    /** The node's latest report (see the SQLite schema): outlives the pruned history. Null until the first report. */
    latestReportId: int8('latest_report_id'),
    latestSessionId: text('latest_session_id'),
    latestObservedAtMs: int8('latest_observed_at_ms'),
    latestBlockNumber: int8('latest_block_number'),
    latestBlockHash: text('latest_block_hash'),
    /** JSON array of peer node IDs, as in SQLite. */
    latestPeers: text('latest_peers'),
  },
  // No index on last_seen_ms: every report updates it, and an index there costs every report a second B-tree
  // write (and PostgreSQL its HOT updates). Pruning keys that hold nothing walks nodes by primary key instead.
  (t) => [index('nodes_role_idx').on(t.role)],
)

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    nodeId: text('node_id').notNull(),
    role: text('role', { enum: ['host', 'client'] }).notNull(),
    remoteAddress: text('remote_address').notNull(),
    connectedAtMs: int8('connected_at_ms').notNull(),
    closedAtMs: int8('closed_at_ms'),
    closeReason: text('close_reason'),
    /** The coordinator process that opened it (several may share a database): a starting one closes only dead ones' sessions. Null before replicas. */
    replicaId: text('replica_id'),
  },
  (t) => [index('sessions_node_idx').on(t.nodeId), index('sessions_open_idx').on(t.closedAtMs)],
)

export const assignments = pgTable(
  'assignments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    clientId: text('client_id').notNull(),
    hostId: text('host_id').notNull(),
    kind: text('kind', { enum: ['peer', 'rpc'] }).notNull(),
    assignedAtMs: int8('assigned_at_ms').notNull(),
    releasedAtMs: int8('released_at_ms'),
    releaseReason: text('release_reason'),
  },
  (t) => [
    index('assignments_client_idx').on(t.clientId, t.releasedAtMs),
    index('assignments_host_idx').on(t.hostId, t.releasedAtMs),
    index('assignments_released_idx').on(t.releasedAtMs),
  ],
)

export const reports = pgTable(
  'reports',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    nodeId: text('node_id').notNull(),
    sessionId: text('session_id').notNull(),
    observedAtMs: int8('observed_at_ms').notNull(),
    blockNumber: int8('block_number').notNull(),
    blockHash: text('block_hash').notNull(),
    /** JSON array of peer node IDs. History: pruned after --report-retention (by id order). */
    peers: text('peers').notNull(),
  },
  (t) => [index('reports_node_idx').on(t.nodeId, t.id)],
)

export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    transferId: text('transfer_id').notNull(),
    account: text('account').notNull(),
    amountWei: wei('amount_wei').notNull(),
    atMs: int8('at_ms').notNull(),
    memo: text('memo').notNull(),
  },
  (t) => [index('ledger_account_idx').on(t.account), index('ledger_transfer_idx').on(t.transferId)],
)

/** Running balance per account, kept in the same transaction as its entries. */
export const accounts = pgTable('accounts', {
  account: text('account').primaryKey(),
  balanceWei: wei('balance_wei').notNull(),
})

/** Metering state per assigned pair, updated in the same transaction as the report that moved it. */
export const pairMeters = pgTable(
  'pair_meters',
  {
    clientId: text('client_id').notNull(),
    hostId: text('host_id').notNull(),
    lastCorroboratedAtMs: int8('last_corroborated_at_ms'),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.hostId] })],
)

/** Corroborated, paid-for service per pair and epoch; rpc pairs also their corroborated compute units (logic/corroborateUnits.ts). */
export const usage = pgTable(
  'usage',
  {
    epoch: integer('epoch').notNull(),
    clientId: text('client_id').notNull(),
    hostId: text('host_id').notNull(),
    serviceMs: int8('service_ms').notNull(),
    chargedWei: wei('charged_wei').notNull(),
    computeUnits: int8('compute_units').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.epoch, t.clientId, t.hostId] })],
)

/** One row per settled epoch; written in the same transaction as the settlement transfer. */
export const epochs = pgTable('epochs', {
  epoch: integer('epoch').primaryKey(),
  startMs: int8('start_ms').notNull(),
  endMs: int8('end_ms').notNull(),
  revenueWei: wei('revenue_wei').notNull(),
  carriedInWei: wei('carried_in_wei').notNull(),
  feeWei: wei('fee_wei').notNull(),
  carriedOutWei: wei('carried_out_wei').notNull(),
  totalEntitledWei: wei('total_entitled_wei').notNull(),
  root: text('root').notNull(),
  /** StandardMerkleTree dump, so proofs can be served without rebuilding. */
  tree: text('tree').notNull(),
  settledAtMs: int8('settled_at_ms').notNull(),
  txHash: text('tx_hash'),
  postedAtMs: int8('posted_at_ms'),
})

export const epochPayouts = pgTable(
  'epoch_payouts',
  {
    epoch: integer('epoch').notNull(),
    payee: text('payee').notNull(),
    serviceMs: int8('service_ms').notNull(),
    amountWei: wei('amount_wei').notNull(),
    cumulativeWei: wei('cumulative_wei').notNull(),
  },
  (t) => [primaryKey({ columns: [t.epoch, t.payee] })],
)
