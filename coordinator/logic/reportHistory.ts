/**
 * Which reports go into the report history. Every report updates the node's
 * latest report (on its `nodes` row); a history row is written only when
 * what the node reports changes (a new session, another set of pool peers)
 * and at least once per heartbeat, so the history holds every change at
 * report resolution and the node's head at least once a minute.
 *
 * Why: a row per report was 400 million rows a day at 5,000 reports/s and the
 * largest single cost of the report path (an index insert on a 128-character
 * key, ~15 µs of ~20 µs of store work per report; issue 20). The metering
 * outcome of every report is stored anyway (pair states, usage, ledger), and
 * between two history rows the node reported the rows' peers throughout.
 * Pure: times are arguments.
 */
import type { NodeId } from '../../protocol/index.ts'

/** A history row at least this often per node, changed or not. */
export const HISTORY_HEARTBEAT_MS = 60_000

export interface HistoryMark {
  /** The session of the node's previous report. */
  sessionId: string
  /** The pool peers of the node's previous report. */
  peers: ReadonlySet<NodeId>
  /** When the node's last history row was observed. */
  historyAtMs: number
}

export function keepInHistory(previous: HistoryMark | undefined, report: { sessionId: string; peers: ReadonlySet<NodeId>; atMs: number }, heartbeatMs = HISTORY_HEARTBEAT_MS): boolean {
  if (!previous || previous.sessionId !== report.sessionId) return true
  if (report.atMs - previous.historyAtMs >= heartbeatMs) return true
  if (previous.peers.size !== report.peers.size) return true
  for (const id of report.peers) if (!previous.peers.has(id)) return true
  return false
}
