/**
 * Everything the coordinator persists goes through this interface, so a
 * PostgreSQL store can replace SQLite when one machine is not enough.
 * Stores are dumb: they never read the clock or decide expiry, billing or
 * selection; callers pass times in. One method is one transaction.
 */
import type { NodeId, Role, ServiceKind } from '../../protocol/index.ts'

export interface NodeRecord {
  nodeId: NodeId
  role: Role
  enode: string
  chainId: number
  kind: ServiceKind
  clientVersion: string
  payout: string | null
  capacity: number
  region: string | null
  firstSeenMs: number
  lastSeenMs: number
}

export interface SessionRecord {
  id: string
  nodeId: NodeId
  role: Role
  remoteAddress: string
  connectedAtMs: number
  closedAtMs: number | null
  closeReason: string | null
  /** The coordinator process that opened it; null for sessions from before replicas (and tests that give none). */
  replicaId?: string | null
}

export interface AssignmentRecord {
  id: number
  clientId: NodeId
  hostId: NodeId
  kind: ServiceKind
  assignedAtMs: number
  releasedAtMs: number | null
  releaseReason: string | null
}

export interface PeerReport {
  nodeId: NodeId
  sessionId: string
  observedAtMs: number
  blockNumber: number
  blockHash: string
  /** Node IDs the reporter's node is peered with. */
  peers: readonly NodeId[]
}

export interface StoredReport extends PeerReport {
  id: number
}

/** A movement of money: entries must sum to zero (every credit has its debit). */
export interface Transfer {
  /** Idempotency key: posting the same transfer id twice is refused with DUPLICATE_TRANSFER. */
  id: string
  atMs: number
  memo: string
  entries: readonly { account: string; amountWei: bigint }[]
}

export interface MetaStore {
  getMeta(key: string): Promise<string | undefined>
  setMeta(key: string, value: string): Promise<void>
}

export interface NodeStore {
  upsertNode(node: NodeRecord): Promise<void>
  getNode(nodeId: NodeId): Promise<NodeRecord | undefined>
  /**
   * Nodes, in node ID order; with `limit`, one page of them after `after`: a reader that must not hold the
   * event loop for the whole table (the dashboard at thousands of agents) reads it a page at a time.
   */
  listNodes(filter?: { role?: Role; after?: NodeId; limit?: number }): Promise<NodeRecord[]>
}

export interface SessionStore {
  openSession(session: Omit<SessionRecord, 'closedAtMs' | 'closeReason'>): Promise<void>
  closeSession(id: string, closedAtMs: number, reason: string): Promise<void>
  /**
   * After a crash, sessions left open are closed at the given time: all of them, or (`replicaId`) only those one
   * coordinator process opened (null: those opened before replicas). Returns how many.
   */
  closeOpenSessions(closedAtMs: number, reason: string, opts?: { replicaId: string | null }): Promise<number>
  /** The coordinator processes (replica ids, null for older sessions) that have sessions open. */
  openSessionReplicas(): Promise<(string | null)[]>
  /** Nodes with a session open, by the coordinator process that holds it. */
  openSessionNodes(): Promise<{ nodeId: NodeId; replicaId: string | null }[]>
  getSession(id: string): Promise<SessionRecord | undefined>
}

export interface AssignmentStore {
  addAssignment(a: Omit<AssignmentRecord, 'id' | 'releasedAtMs' | 'releaseReason'>): Promise<AssignmentRecord>
  /** Releases the active (client, host) assignment, if any, and deletes the pair's metering state with it. Returns whether one was released. */
  releaseAssignment(clientId: NodeId, hostId: NodeId, atMs: number, reason: string): Promise<boolean>
  activeAssignments(filter?: { clientId?: NodeId; hostId?: NodeId }): Promise<AssignmentRecord[]>
}

export interface PairMeter {
  clientId: NodeId
  hostId: NodeId
  lastCorroboratedAtMs: number | null
}

/** Service and money that one report moved: written with the report, atomically. */
export interface MeteringDelta {
  pairs: readonly PairMeter[]
  /** `addComputeUnits`: corroborated compute units of an rpc pair (absent: none). */
  usage: readonly { epoch: number; clientId: NodeId; hostId: NodeId; addMs: number; chargedWei: bigint; addComputeUnits?: number }[]
  transfers: readonly Transfer[]
  /**
   * The clients these transfers charge, each with the account it pays from. At commit the store keeps a payer's
   * transfers and its usage rows only while the account's balance covers them (another coordinator on the same
   * database may have charged it since metering read it); a payer it no longer covers is left out of this report's
   * write whole, the rest of the report lands (store/chargeCover.ts).
   */
  payers?: readonly { clientId: NodeId; account: string }[]
}

export interface UsageRecord {
  epoch: number
  clientId: NodeId
  hostId: NodeId
  serviceMs: number
  chargedWei: bigint
  /** Corroborated compute units (rpc pairs; 0 for peer pairs and before issue 21). */
  computeUnits: number
}

export interface ReportStore {
  /**
   * One transaction: the reporter's latest report and last-seen time, any metering it caused, and (unless
   * `history` is false: logic/reportHistory.ts decides) a history row. Resolves with the id of the node's latest
   * history row: the new one, or the one still describing it.
   */
  recordReport(report: PeerReport, metering?: MeteringDelta, options?: { history?: boolean }): Promise<number>
  /** The node's latest report: kept on the node, whatever the history retention. */
  latestReport(nodeId: NodeId): Promise<StoredReport | undefined>
  /** Every report of a node still in the history (observed at or after `sinceMs`), oldest first. */
  reportHistory(nodeId: NodeId, sinceMs: number): Promise<StoredReport[]>
  pairMeters(): Promise<PairMeter[]>
  /** `clientId`/`hostId` narrow to one node's pairs (the public node lookup: its cost must not grow with the pool). */
  usage(filter?: { epoch?: number; clientId?: NodeId; hostId?: NodeId }): Promise<UsageRecord[]>
}

export interface EpochPayout {
  payee: string
  serviceMs: number
  amountWei: bigint
  cumulativeWei: bigint
}

export interface EpochRecord {
  epoch: number
  startMs: number
  endMs: number
  revenueWei: bigint
  carriedInWei: bigint
  feeWei: bigint
  carriedOutWei: bigint
  totalEntitledWei: bigint
  root: string
  tree: string
  settledAtMs: number
  txHash: string | null
  postedAtMs: number | null
}

export interface EpochStore {
  /** One transaction: the settlement transfer, the epoch row and its payouts. DUPLICATE_EPOCH if already settled. */
  settleEpoch(epoch: EpochRecord, payouts: readonly EpochPayout[], transfer: Transfer): Promise<void>
  getEpoch(epoch: number): Promise<EpochRecord | undefined>
  /** Every settled epoch with its tree: for audits and migrations, never for a page or a loop that runs per epoch. */
  listEpochs(): Promise<EpochRecord[]>
  /** Settled epochs without their trees, oldest first; with `last`, only the newest that many. For pages. */
  epochHeaders(opts?: { last?: number }): Promise<EpochHeader[]>
  /** The newest settled epoch's number, 0 before the first: one indexed read, whatever the history. */
  lastSettledEpoch(): Promise<number>
  epochPayouts(epoch: number): Promise<EpochPayout[]>
  markEpochPosted(epoch: number, txHash: string, atMs: number): Promise<void>
  /**
   * The newest settled epoch with a payout tree (root not all zeros), optionally only among those posted
   * on chain, without its tree. Cost independent of the number of epochs (public lookups call it).
   */
  latestPayoutEpoch(filter?: { posted?: boolean }): Promise<EpochSummary | undefined>
}

/** A settled epoch without its payout tree (which grows with the payees: megabytes at thousands of hosts). */
export type EpochHeader = Omit<EpochRecord, 'tree'>

export interface EpochSummary {
  epoch: number
  root: string
  totalEntitledWei: bigint
  txHash: string | null
}

export interface LedgerStore {
  /**
   * Rejects with UNBALANCED if the entries do not sum to zero, DUPLICATE_TRANSFER on a reused id, and
   * INSUFFICIENT_FUNDS if it would take an account of `notBelowZero` below zero at commit (another coordinator on
   * the same database may have moved it since the caller read it); a refused transfer writes nothing.
   */
  post(transfer: Transfer, options?: { notBelowZero?: readonly string[] }): Promise<void>
  balanceOf(account: string): Promise<bigint>
  /** Sum over every account: zero, always. */
  sumAll(): Promise<bigint>
  /** Every account whose name starts with `prefix`, with its balance. */
  balancesWithPrefix(prefix: string): Promise<Map<string, bigint>>
  /**
   * Ledger entries in the order they were written (queued reports committed
   * first), filtered by account and/or by the start of their transfer id.
   * The history a refund is judged on (`logic/refunds.ts`).
   */
  ledgerEntries(filter: { account?: string; transferIdPrefix?: string }): Promise<LedgerEntry[]>
}

export interface LedgerEntry {
  transferId: string
  account: string
  amountWei: bigint
  atMs: number
}

/** Rows deleted by one pruneHistory call, per table. */
export interface PrunedRows {
  reports: number
  sessions: number
  assignments: number
}

/**
 * Which transfers are charges and which accounts pay and receive them, for
 * `foldCharges`: the caller's (logic/accounts.ts `chargeRule`), so the store
 * knows no account names.
 */
export interface ChargeRule {
  isCharge(transferId: string): boolean
  /** Accounts whose history a refund replays in order (clients): only runs of charges with nothing else between fold. */
  isPayer(account: string): boolean
  isPayee(account: string): boolean
}

/** The meta key of the ledger folding cursor: every entry up to this id has been looked at. */
export const LEDGER_FOLDED_THROUGH_KEY = 'ledgerFoldedThroughId'
/** The memo of a charge that later charges were folded into. */
export const FOLDED_MEMO = 'charges folded after the retention window'

/**
 * History that only serves disputes and audits: report rows, closed sessions,
 * released assignments, the rows of keys that hold nothing, and the detail of
 * old charges (folded, not deleted). The caller decides the window; the store
 * never reads the clock. The latest report of a node that holds anything,
 * active assignments, open sessions, metering state, balances and every
 * entry other than charges are never pruned.
 */
export interface HistoryStore {
  /**
   * Delete at most `limit` rows per table of history older than `beforeMs`:
   * reports observed before it, sessions closed before it, assignments
   * released before it. One short transaction; call it again until it
   * returns zeros.
   */
  pruneHistory(beforeMs: number, limit: number): Promise<PrunedRows>
  /** Rows held now (what pruning keeps bounded): history, every node row and every ledger entry. */
  historyCounts(): Promise<PrunedRows & { nodes: number; ledgerEntries: number }>
  /**
   * Forget keys that hold nothing: delete the rows of nodes last seen before
   * `beforeMs` with no ledger account named after them (a prefix of
   * `accountPrefixes` + node ID), no open session and no assignment active or
   * released at or after `beforeMs` (so no usage of an epoch not yet settled,
   * when the caller passes a time before the first unsettled epoch). Looks at
   * the next `limit` nodes after `after` in node ID order (a walk by primary
   * key: no index on last seen, which every report updates); `next` is the last
   * node looked at, `done` whether the walk reached the end. One short
   * transaction.
   */
  pruneNodes(beforeMs: number, limit: number, opts: { after?: NodeId | undefined; accountPrefixes: readonly string[] }): Promise<{ deleted: number; next: NodeId | undefined; done: boolean }>
  /**
   * Fold old charges (store/chargeFolding.ts): looks at up to `limit` ledger
   * entries after the folding cursor (meta `ledgerFoldedThroughId`), folds
   * runs of charges written before `beforeMs` into their first charge, and
   * moves the cursor. No balance changes. One short transaction; `done` when
   * the cursor could not move (nothing old is left to look at).
   */
  foldCharges(beforeMs: number, limit: number, rule: ChargeRule): Promise<{ folded: number; done: boolean }>
}

/** A singleton duty's lease: held until released or lost. */
export interface Lease {
  /** Resolves when the lease is lost without a release (its database session ended or stopped answering). */
  readonly lost: Promise<void>
  release(): Promise<void>
}

/**
 * Duties only one of the coordinators sharing a database may do at a time
 * (settlement, the chain, retention). SQLite: one holder per store (a file
 * has one coordinator). PostgreSQL: a session advisory lock on a connection
 * of its own, so the server frees it when the holder dies, kill -9 included.
 */
export interface LeaseStore {
  /** Take the named lease, or undefined when another holder has it. */
  tryLease(name: string): Promise<Lease | undefined>
}

export type Store = MetaStore & HistoryStore & NodeStore & SessionStore & AssignmentStore & ReportStore & LedgerStore & EpochStore & LeaseStore & { close(): Promise<void> }

export type StoreErrorCode = 'UNBALANCED' | 'DUPLICATE_TRANSFER' | 'DUPLICATE_EPOCH' | 'UNKNOWN_NODE' | 'INVALID_AMOUNT' | 'INSUFFICIENT_FUNDS' | 'CLOSED'

export class StoreError extends Error {
  override name = 'StoreError'
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/** Refuse a transfer that does not balance before any row is written. */
export function checkTransfer(transfer: Transfer): void {
  if (transfer.entries.length === 0) throw new StoreError('UNBALANCED', `transfer ${transfer.id} has no entries`)
  let sum = 0n
  for (const e of transfer.entries) {
    if (typeof e.amountWei !== 'bigint') throw new StoreError('INVALID_AMOUNT', `transfer ${transfer.id}: amounts must be bigint wei`)
    sum += e.amountWei
  }
  if (sum !== 0n) throw new StoreError('UNBALANCED', `transfer ${transfer.id} does not balance: entries sum to ${sum} wei`)
}

/**
 * Add (sign 1n) or take back (sign -1n) transfers' entries into per-account sums: the balance moves of a batch of
 * ledger writes, and what group-committing drivers keep of the batches queued or in flight so that `balanceOf`
 * counts them before they commit.
 */
export function addAmounts(into: Map<string, bigint>, transfers: readonly Transfer[], sign: 1n | -1n = 1n): void {
  for (const t of transfers) for (const e of t.entries) into.set(e.account, (into.get(e.account) ?? 0n) + sign * e.amountWei)
}
