/**
 * Rows as both drivers read them back, turned into the Store's records: the
 * SQLite and PostgreSQL schemas name their columns alike and keep amounts as
 * decimal strings (TEXT, NUMERIC), so one set of mappers serves both.
 */
import type { NodeId } from '../../protocol/index.ts'
import type { AssignmentRecord, EpochHeader, EpochRecord, NodeRecord, StoredReport, UsageRecord } from './store.ts'

type Wei = string | bigint

/** A nodes row: the node's record plus the latest-report columns (migration 0002), which are not part of it. */
export type NodeRow = Omit<NodeRecord, 'nodeId'> & {
  nodeId: string
  latestReportId: number | null
  latestSessionId: string | null
  latestObservedAtMs: number | null
  latestBlockNumber: number | null
  latestBlockHash: string | null
  /** The peers as JSON text. */
  latestPeers: string | null
}

export function toNode(row: NodeRow): NodeRecord {
  const { latestReportId: _i, latestSessionId: _s, latestObservedAtMs: _o, latestBlockNumber: _n, latestBlockHash: _h, latestPeers: _p, ...node } = row
  return { ...node, nodeId: row.nodeId as NodeId }
}

type EpochAmounts = 'revenueWei' | 'carriedInWei' | 'feeWei' | 'carriedOutWei' | 'totalEntitledWei'
export type EpochRow = Omit<EpochRecord, EpochAmounts> & Record<EpochAmounts, Wei>

export function toEpoch(row: EpochRow): EpochRecord {
  return { ...toEpochHeader(row), tree: row.tree }
}

export function toEpochHeader(row: Omit<EpochRow, 'tree'>): EpochHeader {
  return {
    ...row,
    revenueWei: BigInt(row.revenueWei),
    carriedInWei: BigInt(row.carriedInWei),
    feeWei: BigInt(row.feeWei),
    carriedOutWei: BigInt(row.carriedOutWei),
    totalEntitledWei: BigInt(row.totalEntitledWei),
  }
}

export type AssignmentRow = Omit<AssignmentRecord, 'clientId' | 'hostId'> & { clientId: string; hostId: string }

export function toAssignment(row: AssignmentRow): AssignmentRecord {
  return { ...row, clientId: row.clientId as NodeId, hostId: row.hostId as NodeId }
}

/** The node's latest report, kept on its row (migration 0002); undefined before its first. */
export function latestReportOf(row: NodeRow | undefined): StoredReport | undefined {
  if (!row || row.latestReportId === null) return undefined
  return {
    id: row.latestReportId,
    nodeId: row.nodeId as NodeId,
    sessionId: row.latestSessionId!,
    observedAtMs: row.latestObservedAtMs!,
    blockNumber: row.latestBlockNumber!,
    blockHash: row.latestBlockHash!,
    peers: JSON.parse(row.latestPeers!) as NodeId[],
  }
}

/** A reports row: the peers are stored as JSON text. */
export function toReport(row: Omit<StoredReport, 'nodeId' | 'peers'> & { nodeId: string; peers: string }): StoredReport {
  return { ...row, nodeId: row.nodeId as NodeId, peers: JSON.parse(row.peers) as NodeId[] }
}

export function toUsage(row: Omit<UsageRecord, 'clientId' | 'hostId' | 'chargedWei'> & { clientId: string; hostId: string; chargedWei: Wei }): UsageRecord {
  return { ...row, clientId: row.clientId as NodeId, hostId: row.hostId as NodeId, chargedWei: BigInt(row.chargedWei) }
}
