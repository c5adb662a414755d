/**
 * Counters for the tracker. They are always kept in memory (tests and the
 * bench read them through `tracker.counters()`) and, when the coordinator
 * hands over a prom-client Registry, also exported to Prometheus. Labels take
 * values from fixed sets only, never node names.
 */
import { Counter, Gauge, Registry } from 'prom-client'

export const DROP_REASONS = [
  /** Over the per-socket token bucket. */
  'rate_limited',
  /** Not JSON, not an emit object, an unknown string, an over-long heartbeat token. */
  'invalid',
  'unknown_topic',
  /** Anything but hello and heartbeats before a successful hello. */
  'unauthenticated',
  /** A payload whose id belongs to another socket (or to nobody). */
  'foreign_id',
  /** A known topic whose payload could not be read. */
  'bad_payload',
  /** hello on a socket that is already logged in. */
  'duplicate_hello',
  /** A handler threw; should never happen, and is logged as an error. */
  'internal',
] as const
export type DropReason = (typeof DROP_REASONS)[number]

/** `wrong_node_id`: a login under a name bound to a node ID whose hello claimed another (refused like a bad secret). */
export const CLOSE_REASONS = ['bad_secret', 'wrong_node_id', 'replaced', 'silence', 'hello_timeout', 'flood', 'slow_consumer', 'end', 'shutdown'] as const
export type CloseReason = (typeof CLOSE_REASONS)[number]

export const REPORT_TOPICS = ['block', 'pending', 'stats', 'latency', 'history', 'peers', 'node-ping'] as const
export type ReportTopic = (typeof REPORT_TOPICS)[number]

export interface TrackerCounters {
  framesIn: number
  framesOut: number
  /** Accepted reports by topic. */
  reports: Record<ReportTopic, number>
  logins: number
  loginsRejected: number
  dropped: Record<DropReason, number>
  /** Sockets the tracker closed, by reason (closes by the peer are not counted). */
  closed: Record<CloseReason, number>
  /** Invalid node IDs dropped from `peers` frames. */
  invalidPeerIds: number
}

/**
 * What a caller may pass instead of a Registry: existing metrics the tracker
 * should feed. Structural, so a prom-client Counter with a `direction` label
 * and an unlabelled Gauge fit.
 */
export interface TrackerMetricsSink {
  frames?: { inc(labels: { direction: 'in' | 'out' }): void }
  nodes?: { set(value: number): void }
}

export interface TrackerMetrics {
  readonly counters: TrackerCounters
  frame(direction: 'in' | 'out'): void
  report(topic: ReportTopic): void
  dropped(reason: DropReason): void
  login(ok: boolean): void
  closed(reason: CloseReason): void
  invalidPeerIds(n: number): void
  nodes(connected: number): void
  sockets(open: number): void
  bestBlock(number: number | undefined): void
}

const zeroes = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>

export function createTrackerMetrics(target?: TrackerMetricsSink | Registry): TrackerMetrics {
  const counters: TrackerCounters = {
    framesIn: 0,
    framesOut: 0,
    reports: zeroes(REPORT_TOPICS),
    logins: 0,
    loginsRejected: 0,
    dropped: zeroes(DROP_REASONS),
    closed: zeroes(CLOSE_REASONS),
    invalidPeerIds: 0,
  }
  const prom = target instanceof Registry ? registerPrometheus(target) : undefined
  const sink = target instanceof Registry ? undefined : target
  return {
    counters,
    frame(direction) {
      if (direction === 'in') counters.framesIn++
      else counters.framesOut++
      prom?.frames.inc({ direction })
      sink?.frames?.inc({ direction })
    },
    report(topic) {
      counters.reports[topic]++
      prom?.reports.inc({ topic })
    },
    dropped(reason) {
      counters.dropped[reason]++
      prom?.dropped.inc({ reason })
    },
    login(ok) {
      if (ok) counters.logins++
      else counters.loginsRejected++
      prom?.logins.inc({ result: ok ? 'ok' : 'rejected' })
    },
    closed(reason) {
      counters.closed[reason]++
      prom?.closes.inc({ reason })
    },
    invalidPeerIds(n) {
      counters.invalidPeerIds += n
      prom?.invalidPeerIds.inc(n)
    },
    nodes(connected) {
      prom?.nodes.set(connected)
      sink?.nodes?.set(connected)
    },
    sockets(open) {
      prom?.sockets.set(open)
    },
    bestBlock(number) {
      if (number !== undefined) prom?.bestBlock.set(number)
    },
  }
}

function registerPrometheus(registry: Registry) {
  const registers = [registry]
  return {
    frames: new Counter({ name: 'vipnode_tracker_frames_total', help: 'Tracker WebSocket frames by direction.', labelNames: ['direction'] as const, registers }),
    reports: new Counter({ name: 'vipnode_tracker_reports_total', help: 'Reports accepted by the tracker, by ethstats topic.', labelNames: ['topic'] as const, registers }),
    dropped: new Counter({ name: 'vipnode_tracker_dropped_frames_total', help: 'Tracker frames ignored, by reason.', labelNames: ['reason'] as const, registers }),
    logins: new Counter({ name: 'vipnode_tracker_logins_total', help: 'Tracker hello attempts by result.', labelNames: ['result'] as const, registers }),
    closes: new Counter({ name: 'vipnode_tracker_closes_total', help: 'Tracker sockets closed by the tracker, by reason.', labelNames: ['reason'] as const, registers }),
    invalidPeerIds: new Counter({ name: 'vipnode_tracker_invalid_peer_ids_total', help: 'Invalid node IDs dropped from peers reports.', registers }),
    nodes: new Gauge({ name: 'vipnode_tracker_nodes', help: 'Nodes logged in to the tracker.', registers }),
    sockets: new Gauge({ name: 'vipnode_tracker_sockets', help: 'Open tracker WebSockets, logged in or not.', registers }),
    bestBlock: new Gauge({ name: 'vipnode_tracker_best_block', help: 'Highest block number reported by a connected node.', registers }),
  }
}
