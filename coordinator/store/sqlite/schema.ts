/**
 * SQLite schema (drizzle). Amounts are TEXT decimal wei: SQLite integers stop
 * at 2^63, about 9.2 ether. Times are integer milliseconds.
 */
import { sqliteTable, text, integer, index, primaryKey } from 'drizzle-orm/sqlite-core'

export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
})

export const nodes = sqliteTable(
  'nodes',
  {
    nodeId: text('node_id').primaryKey(),
    role: text('role', { enum: ['host', 'client'] }).notNull(),
    enode: text('enode').notNull(),
    chainId: integer('chain_id').notNull(),
    kind: text('kind', { enum: ['peer', 'rpc'] }).notNull(),
    clientVersion: text('client_version').notNull(),
    payout: text('payout'),
    capacity: integer('capacity').notNull(),
    region: text('region'),
    firstSeenMs: integer('first_seen_ms').notNull(),
    lastSeenMs: integer('last_seen_ms').notNull(),
    /**
     * The node's latest report, overwritten by every report in the same
     * statement that touches last_seen_ms: it outlives the report history
     * (`reports`, pruned after --report-retention). Null until the first report.
     */
    latestReportId: integer('latest_report_id'),
    latestSessionId: text('latest_session_id'),
    latestObservedAtMs: integer('latest_observed_at_ms'),
    latestBlockNumber: integer('latest_block_number'),
    latestBlockHash: text('latest_block_hash'),
    latestPeers: text('latest_peers'),
  },
  // No index on last_seen_ms: every report updates it, and an index there costs every report a second B-tree
  // write (and PostgreSQL its HOT updates). Pruning keys that hold nothing walks nodes by primary key instead.
  (t) => [index('nodes_role_idx').on(t.role)],
)

export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    nodeId: text('node_id').notNull(),
    role: text('role', { enum: ['host', 'client'] }).notNull(),
    remoteAddress: text('remote_address').notNull(),
    connectedAtMs: integer('connected_at_ms').notNull(),
    closedAtMs: integer('closed_at_ms'),
    closeReason: text('close_reason'),
    /** The coordinator process that opened it (several may share a database): a starting one closes only dead ones' sessions. Null before replicas. */
    replicaId: text('replica_id'),
  },
  (t) => [index('sessions_node_idx').on(t.nodeId), index('sessions_open_idx').on(t.closedAtMs)],
)

export const assignments = sqliteTable(
  'assignments',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    clientId: text('client_id').notNull(),
    hostId: text('host_id').notNull(),
    kind: text('kind', { enum: ['peer', 'rpc'] }).notNull(),
    assignedAtMs: integer('assigned_at_ms').notNull(),
    releasedAtMs: integer('released_at_ms'),
    releaseReason: text('release_reason'),
  },
  (t) => [
    index('assignments_client_idx').on(t.clientId, t.releasedAtMs),
    index('assignments_host_idx').on(t.hostId, t.releasedAtMs),
    // History pruning walks released assignments by time.
    index('assignments_released_idx').on(t.releasedAtMs),
  ],
)

export const reports = sqliteTable(
  'reports',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    nodeId: text('node_id').notNull(),
    sessionId: text('session_id').notNull(),
    observedAtMs: integer('observed_at_ms').notNull(),
    blockNumber: integer('block_number').notNull(),
    blockHash: text('block_hash').notNull(),
    /** JSON array of peer node IDs: one row per report, not one per peer. History: pruned after --report-retention (by id order). */
    peers: text('peers').notNull(),
  },
  (t) => [index('reports_node_idx').on(t.nodeId, t.id)],
)

export const ledgerEntries = sqliteTable(
  'ledger_entries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    transferId: text('transfer_id').notNull(),
    account: text('account').notNull(),
    amountWei: text('amount_wei').notNull(),
    atMs: integer('at_ms').notNull(),
    memo: text('memo').notNull(),
  },
  (t) => [index('ledger_account_idx').on(t.account), index('ledger_transfer_idx').on(t.transferId)],
)

/** Running balance per account, kept in the same transaction as its entries. */
export const accounts = sqliteTable('accounts', {
  account: text('account').primaryKey(),
  balanceWei: text('balance_wei').notNull(),
})

/** Metering state per assigned pair, updated in the same transaction as the report that moved it. */
export const pairMeters = sqliteTable(
  'pair_meters',
  {
    clientId: text('client_id').notNull(),
    hostId: text('host_id').notNull(),
    lastCorroboratedAtMs: integer('last_corroborated_at_ms'),
  },
  (t) => [primaryKey({ columns: [t.clientId, t.hostId] })],
)

/** Corroborated, paid-for service per pair and epoch; rpc pairs also their corroborated compute units (logic/corroborateUnits.ts). */
export const usage = sqliteTable(
  'usage',
  {
    epoch: integer('epoch').notNull(),
    clientId: text('client_id').notNull(),
    hostId: text('host_id').notNull(),
    serviceMs: integer('service_ms').notNull(),
    chargedWei: text('charged_wei').notNull(),
    computeUnits: integer('compute_units').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.epoch, t.clientId, t.hostId] })],
)

/** One row per settled epoch; written in the same transaction as the settlement transfer. */
export const epochs = sqliteTable('epochs', {
  epoch: integer('epoch').primaryKey(),
  startMs: integer('start_ms').notNull(),
  endMs: integer('end_ms').notNull(),
  revenueWei: text('revenue_wei').notNull(),
  carriedInWei: text('carried_in_wei').notNull(),
  feeWei: text('fee_wei').notNull(),
  carriedOutWei: text('carried_out_wei').notNull(),
  totalEntitledWei: text('total_entitled_wei').notNull(),
  root: text('root').notNull(),
  /** StandardMerkleTree dump, so proofs can be served without rebuilding. */
  tree: text('tree').notNull(),
  settledAtMs: integer('settled_at_ms').notNull(),
  txHash: text('tx_hash'),
  postedAtMs: integer('posted_at_ms'),
})

export const epochPayouts = sqliteTable(
  'epoch_payouts',
  {
    epoch: integer('epoch').notNull(),
    payee: text('payee').notNull(),
    serviceMs: integer('service_ms').notNull(),
    amountWei: text('amount_wei').notNull(),
    cumulativeWei: text('cumulative_wei').notNull(),
  },
  (t) => [primaryKey({ columns: [t.epoch, t.payee] })],
)
