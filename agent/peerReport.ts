/**
 * How a report names the node's peers: the node IDs, or `samePeers` when the
 * last report this session's coordinator accepted named the same ones
 * (protocol/methods.ts). Nodes report every few seconds and their peers
 * change every few minutes: repeating 50 IDs was 95 % of each report's bytes.
 * A failed report forgets what was sent, so the next one names the peers
 * again; so does a new session (a reconnect, or a restarted coordinator).
 */
import { MAX_SAME_PEERS, type NodeId } from '../protocol/index.ts'

export type PeerParams = { peerIds: NodeId[] } | { samePeers: true }

export class PeerReportMemo {
  private accepted: { sessionId: string; key: string } | undefined
  private pending: { sessionId: string; key: string } | undefined

  /** The peer part of the next report for `sessionId` (undefined: not connected, IDs are sent). */
  params(sessionId: string | undefined, peerIds: readonly NodeId[]): PeerParams {
    const key = [...peerIds].sort().join(',')
    this.pending = sessionId === undefined || peerIds.length > MAX_SAME_PEERS ? undefined : { sessionId, key }
    const accepted = this.accepted
    const same = this.pending !== undefined && accepted !== undefined && accepted.sessionId === sessionId && accepted.key === key
    return same ? { samePeers: true } : { peerIds: [...peerIds] }
  }

  /** The report just sent was accepted: its peers are what `samePeers` repeats from now on. */
  sent(): void {
    this.accepted = this.pending
  }

  /** The report failed (or its answer is unknown): name the peers next time. */
  forget(): void {
    this.accepted = undefined
    this.pending = undefined
  }
}
