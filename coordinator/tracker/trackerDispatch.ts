/**
 * One frame from a reporter: rate (and flood) limits, then primus heartbeats,
 * then `emit` topics. Before a good hello only hello and heartbeats are acted
 * on; other frames are ignored and counted, not fatal, because Nethermind and
 * the classic reporter may send before they see `ready`. Frames whose `id` is
 * not the socket's own name are ignored and counted. Bad frames never close a
 * socket; floods (far beyond the token bucket) do.
 */
import type { RawData } from 'ws'
import { rawText } from '../../lib/socketKit.ts'
import {
  nodePingClientTime,
  nodePongFrame,
  parseBlockPayload,
  parseFrame,
  parseHistoryPayload,
  parseLatencyPayload,
  parsePeersPayload,
  parsePendingPayload,
  parseStatsPayload,
  payloadId,
  pongFrame,
} from './frames.ts'
import { closeConn, drop, send, type Conn, type TrackerCore } from './trackerCore.ts'
import { onHello } from './trackerLogin.ts'

export function onFrame(core: TrackerCore, conn: Conn, data: RawData): void {
  if (conn.closing) return
  const now = core.clock.now()
  core.metrics.frame('in')
  // Any frame is life: some reporters never answer our pings.
  conn.lastSeenMs = now
  if (conn.name !== undefined) core.state.seen(conn.name, now)
  if (!conn.bucket.take(now)) return onRateLimited(core, conn, now)
  // Binary frames are read as UTF-8 text too: leniency costs nothing here.
  const frame = parseFrame(rawText(data))
  switch (frame.kind) {
    case 'ping':
      send(core, conn, pongFrame(frame.token))
      return
    case 'pong':
      return
    case 'invalid':
      drop(core, conn, 'invalid', frame.reason)
      return
    case 'emit':
      onEmit(core, conn, frame.topic, frame.payload, now)
      return
  }
}

/** A frame over the token bucket is dropped; this many drops within one second close the socket (1008). */
function onRateLimited(core: TrackerCore, conn: Conn, now: number): void {
  drop(core, conn, 'rate_limited')
  if (now - conn.dropWindowStartMs >= 1_000) {
    conn.dropWindowStartMs = now
    conn.dropsInWindow = 0
  }
  if (++conn.dropsInWindow >= core.settings.floodDropsPerSecond) {
    conn.log.warn('tracker socket flooding: closed', { node: conn.name, dropsInWindow: conn.dropsInWindow })
    closeConn(core, conn, 1008, 'flooding: too many frames', 'flood')
  }
}

function onEmit(core: TrackerCore, conn: Conn, topic: string, payload: unknown, now: number): void {
  if (topic === 'hello') return onHello(core, conn, payload, now)
  const name = conn.name
  if (name === undefined) return drop(core, conn, 'unauthenticated', topic)
  // A missing id is taken as the socket's own; another id is never accepted from this socket.
  const id = payloadId(payload)
  if (id !== undefined && id !== name) return drop(core, conn, 'foreign_id', topic)
  const { state } = core
  switch (topic) {
    case 'node-ping':
      core.metrics.report('node-ping')
      return send(core, conn, nodePongFrame(nodePingClientTime(payload), now))
    case 'latency': {
      const r = parseLatencyPayload(payload)
      if (!r.ok) return drop(core, conn, 'bad_payload', r.reason)
      state.applyLatency(name, r.value)
      return accepted(core, name, 'latency')
    }
    case 'block': {
      const r = parseBlockPayload(payload)
      if (!r.ok) return drop(core, conn, 'bad_payload', r.reason)
      state.applyBlock(name, r.value, now)
      return accepted(core, name, 'block')
    }
    case 'pending': {
      const r = parsePendingPayload(payload)
      if (!r.ok) return drop(core, conn, 'bad_payload', r.reason)
      state.applyPending(name, r.value)
      return accepted(core, name, 'pending')
    }
    // `update` is what the first eth-net-intelligence-api versions called stats.
    case 'stats':
    case 'update': {
      const r = parseStatsPayload(payload)
      if (!r.ok) return drop(core, conn, 'bad_payload', r.reason)
      state.applyStats(name, r.value, now)
      return accepted(core, name, 'stats')
    }
    case 'history': {
      const r = parseHistoryPayload(payload)
      if (!r.ok) return drop(core, conn, 'bad_payload', r.reason)
      state.applyHistory(name, r.value.blocks, now)
      return accepted(core, name, 'history')
    }
    case 'peers': {
      const r = parsePeersPayload(payload)
      if (!r.ok) return drop(core, conn, 'bad_payload', r.reason)
      if (r.value.invalid > 0) core.metrics.invalidPeerIds(r.value.invalid)
      state.applyPeers(name, r.value.peers, now)
      return accepted(core, name, 'peers')
    }
    case 'end':
      // The reporter says goodbye; the close handler marks the node disconnected.
      return closeConn(core, conn, 1000, 'bye', 'end')
    default:
      return drop(core, conn, 'unknown_topic', topic.slice(0, 64))
  }
}

function accepted(core: TrackerCore, name: string, topic: 'latency' | 'block' | 'pending' | 'stats' | 'history' | 'peers'): void {
  core.metrics.report(topic)
  core.emitUpdate(name, topic)
}
