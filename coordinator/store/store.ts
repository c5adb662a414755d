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
  /** Releases the active (client, host) assignment, if any. Returns whether one was released. */
  releaseAssignment(clientId: NodeId, hostId: NodeId, atMs: number, reason: string): Promise<boolean>
  activeAssignments(filter?: { clientId?: NodeId; hostId?: NodeId }): Promise<AssignmentRecord[]>
}

export interface ReportStore {
  /** One transaction: the report row and the reporter's last-seen time. */
  recordReport(report: PeerReport): Promise<number>
  latestReport(nodeId: NodeId): Promise<StoredReport | undefined>
}

export interface LedgerStore {
  /** Rejects with UNBALANCED if the entries do not sum to zero, DUPLICATE_TRANSFER on a reused id. */
  post(transfer: Transfer): Promise<void>
  balanceOf(account: string): Promise<bigint>
  /** Sum over every account: zero, always. */
  sumAll(): Promise<bigint>
}

export type Store = MetaStore & NodeStore & SessionStore & AssignmentStore & ReportStore & LedgerStore & { close(): Promise<void> }

export type StoreErrorCode = 'UNBALANCED' | 'DUPLICATE_TRANSFER' | 'UNKNOWN_NODE' | 'INVALID_AMOUNT' | 'CLOSED'

export class StoreError extends Error {
  override name = 'StoreError'
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message)
  }
}
