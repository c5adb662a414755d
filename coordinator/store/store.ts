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
  listNodes(filter?: { role?: Role }): Promise<NodeRecord[]>
}

export interface SessionStore {
  openSession(session: Omit<SessionRecord, 'closedAtMs' | 'closeReason'>): Promise<void>
  closeSession(id: string, closedAtMs: number, reason: string): Promise<void>
  /** After a crash, sessions left open are closed at the given time. Returns how many. */
  closeOpenSessions(closedAtMs: number, reason: string): Promise<number>
  getSession(id: string): Promise<SessionRecord | undefined>
}

export interface AssignmentStore {
  addAssignment(a: Omit<AssignmentRecord, 'id' | 'releasedAtMs' | 'releaseReason'>): Promise<AssignmentRecord>
  /** Releases the active (client, host) assignment, if any, and ends the pair's metering chain with it. Returns whether one was released. */
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
  usage: readonly { epoch: number; clientId: NodeId; hostId: NodeId; addMs: number; chargedWei: bigint }[]
  transfers: readonly Transfer[]
}

export interface UsageRecord {
  epoch: number
  clientId: NodeId
  hostId: NodeId
  serviceMs: number
  chargedWei: bigint
}

export interface ReportStore {
  /** One transaction: the report row, the reporter's last-seen time and any metering it caused. */
  recordReport(report: PeerReport, metering?: MeteringDelta): Promise<number>
  latestReport(nodeId: NodeId): Promise<StoredReport | undefined>
  pairMeters(): Promise<PairMeter[]>
  usage(filter?: { epoch?: number }): Promise<UsageRecord[]>
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
  listEpochs(): Promise<EpochRecord[]>
  epochPayouts(epoch: number): Promise<EpochPayout[]>
  markEpochPosted(epoch: number, txHash: string, atMs: number): Promise<void>
}

export interface LedgerStore {
  /** Rejects with UNBALANCED if the entries do not sum to zero, DUPLICATE_TRANSFER on a reused id. */
  post(transfer: Transfer): Promise<void>
  balanceOf(account: string): Promise<bigint>
  /** Sum over every account: zero, always. */
  sumAll(): Promise<bigint>
  /** Every account whose name starts with `prefix`, with its balance. */
  balancesWithPrefix(prefix: string): Promise<Map<string, bigint>>
}

export type Store = MetaStore & NodeStore & SessionStore & AssignmentStore & ReportStore & LedgerStore & EpochStore & { close(): Promise<void> }

export type StoreErrorCode = 'UNBALANCED' | 'DUPLICATE_TRANSFER' | 'DUPLICATE_EPOCH' | 'UNKNOWN_NODE' | 'INVALID_AMOUNT' | 'CLOSED'

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
