/**
 * The ethstats-compatible tracker at /api: the composition of its parts and
 * its public face. Stock reporters (geth, Nethermind, Besu, Erigon
 * `--ethstats`, the classic eth-net-intelligence-api) log in as they would to
 * the classic ethstats server. Where things are (see docs/tracker.md for the
 * protocol):
 * - here: options and their defaults, the upgrade through the socket gate,
 *   one socket's life (connect, close), the sweep, events and the Tracker API;
 * - trackerCore.ts: what the parts share (settings, a socket's state, send,
 *   close, ignore a frame);
 * - trackerLogin.ts: hello, secrets, replacing an older login (4000);
 * - trackerDispatch.ts: one frame: rate and flood limits, heartbeats, topics;
 * - frames.ts parses, state.ts is the node table.
 *
 * A socket that has not logged in within helloTimeoutMs is closed (4002); one
 * silent for silenceTimeoutMs is closed (4001).
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { Registry } from 'prom-client'
import type { Logger } from '../../lib/logger.ts'
import type { Clock } from '../../lib/clock.ts'
import { TokenBucket } from '../../lib/rateLimit.ts'
import { whenClosed } from '../../lib/socketKit.ts'
import { SocketGate, setFrameLimit, type GateTicket } from '../server/socketGate.ts'
import { historyRequestFrame, pingFrame, validHistoryList } from './frames.ts'
import { TrackerState, type BestHead, type TrackedNode } from './state.ts'
import { createTrackerMetrics, type TrackerCounters, type TrackerMetricsSink } from './metrics.ts'
import { TrackerCloseCode, closeConn, send, type Conn, type NodeSecret, type SecretEntry, type TrackerCore, type TrackerSettings, type UpdateKind } from './trackerCore.ts'
import { reproveAll, secretChecker } from './trackerLogin.ts'
import { onFrame } from './trackerDispatch.ts'

export { TrackerCloseCode, type NodeSecret, type SecretEntry, type UpdateKind }

export interface TrackerOptions {
  /** The pool secret every reporter may log in with. */
  secret?: string
  /**
   * Per-node secrets by hello id; a name listed here may log in only with its own secret. An entry with a node ID
   * binds the name to it: only such a node's ID is proven (`nodeByNodeId`), and a hello claiming another is refused.
   */
  secrets?: Record<string, SecretEntry>
  /** Send `primus::ping::<ms>` this often after ready. Default 30 s. */
  pingIntervalMs?: number
  /** Close a socket that sent nothing at all for this long. Default 90 s. */
  silenceTimeoutMs?: number
  /** Close a socket that has not logged in after this long. Default 30 s. */
  helloTimeoutMs?: number
  /** Largest frame accepted; larger ones close the socket with 1009. Default 16 MiB. */
  maxFrameBytes?: number
  /** Sustained frames per second per socket; excess frames are dropped. Default 100. */
  rateLimitPerSecond?: number
  /** Frames a socket may send at once. Default 500. */
  rateLimitBurst?: number
  /** A socket that has this many frames dropped by the rate limit within one second is closed (1008). Default 2000. */
  floodDropsPerSecond?: number
  /** Upgrades beyond this many open sockets are refused with 503. Default 10 000. */
  maxSockets?: number
  /** Upgrades from an address (IPv4, or IPv6 /64) already holding this many sockets that have not logged in are refused with 429. Default 1024. */
  maxPendingPerAddress?: number
  /** Upgrades while this many sockets in all have not logged in are refused with 503. Default 10 000. */
  maxPending?: number
  /** Logged-in sockets one address (IPv4, or IPv6 /64) may hold; a further login is refused (1008). Default 1024. */
  maxLoggedInPerAddress?: number
  /** Largest frame before a good hello; larger ones close the socket with 1009 before they are buffered. Default 64 KiB. */
  maxPreLoginFrameBytes?: number
  /** The requester's address (trusted proxies' X-Forwarded-For); default the socket's own. */
  clientAddress?: (req: IncomingMessage) => string
  /** Disconnected nodes are forgotten after this long. Default 1 h. */
  forgetAfterMs?: number
  /** Most nodes remembered, connected or not; beyond it the longest-disconnected are forgotten first. Default 2 × maxSockets. */
  maxNodes?: number
}

export interface TrackerDeps {
  log: Logger
  clock: Clock
  /** A Registry to register the tracker's own metrics on, or existing metrics to feed. */
  metrics?: TrackerMetricsSink | Registry
}

export interface TrackerUpdate {
  name: string
  kind: UpdateKind
  node: TrackedNode
}

export interface TrackerEvents {
  /** A node logged in, reported something, or went away. The snapshot is shared by this update's listeners: read, don't mutate. */
  update: (update: TrackerUpdate) => void
  /** The best head changed (a higher block, or its holder went away). */
  head: (head: BestHead | undefined) => void
}

export interface Tracker {
  /** Hand over an HTTP upgrade for a path that `isTrackerPath` accepts. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void
  /** Every known node (connected, and disconnected within forgetAfterMs), sorted by name. */
  nodes(): TrackedNode[]
  node(name: string): TrackedNode | undefined
  /**
   * The node whose proven devp2p node ID (128 hex, any case, 0x or not) this is: logged in under a name the secrets
   * bind to this ID, with that name's own secret. Never a node that only claims the ID in its hello.
   */
  nodeByNodeId(nodeId: string): TrackedNode | undefined
  /** The highest block reported by any connected node. */
  bestHead(): BestHead | undefined
  /** best − node's block; undefined when either is unknown. */
  lag(name: string): number | undefined
  /**
   * Ask a connected node for these blocks (`{"emit":["history",{"list":[…]}]}`).
   * False if the node is not connected, did not say canUpdateHistory, or the
   * list is not up to 1000 non-negative integers.
   */
  requestHistory(name: string, list: readonly number[]): boolean
  /** Subscribe; returns the unsubscribe function. Listeners run synchronously; exceptions are logged. */
  on<E extends keyof TrackerEvents>(event: E, listener: TrackerEvents[E]): () => void
  /**
   * Replace the per-node secrets (a reloaded secrets file); logins from now on are checked against them, and
   * connected nodes' proven node IDs are judged again (reproveAll in trackerLogin.ts).
   */
  setSecrets(secrets: Record<string, SecretEntry> | undefined): void
  counters(): TrackerCounters
  /** Open sockets, logged in or not. */
  socketCount(): number
  close(): Promise<void>
}

/** The coordinator routes `/api`, `/api/` and either with any query string (primus adds `?_primuscb=…`) here. */
export function isTrackerPath(url: string): boolean {
  const q = url.search(/[?#]/)
  const path = q < 0 ? url : url.slice(0, q)
  return path === '/api' || path === '/api/'
}

const PRUNE_EVERY_MS = 60_000

export function createTracker(opts: TrackerOptions, deps: TrackerDeps): Tracker {
  const { log, clock } = deps
  const settings = trackerSettings(opts)
  const gate = new SocketGate(
    { maxPendingPerAddress: settings.maxPendingPerAddress, maxPending: settings.maxPending, maxAuthenticatedPerAddress: settings.maxLoggedInPerAddress },
    { log: log.child({ component: 'tracker' }), clock, name: 'tracker ' },
  )
  const clientAddress = opts.clientAddress ?? ((req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown')
  if (opts.secret === undefined && opts.secrets === undefined) log.warn('tracker has no secret configured: every login will be refused')
  const listeners: Listeners = { update: new Set(), head: new Set() }
  const metrics = createTrackerMetrics(deps.metrics)
  const state = new TrackerState()
  const core: TrackerCore = {
    settings,
    log,
    clock,
    metrics,
    state,
    conns: new Set(),
    connsByName: new Map(),
    checkSecret: secretChecker(opts),
    emitUpdate: updateEmitter(state, metrics, listeners, log),
  }
  const { conns, connsByName } = core
  let closed = false
  const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxFrameBytes, perMessageDeflate: false, clientTracking: false })
  const stopSweeping = startSweep(core)

  return {
    handleUpgrade(req, socket, head) {
      if (closed || conns.size >= settings.maxSockets) {
        socket.once('finish', () => socket.destroy())
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
        return
      }
      gate.upgrade(wss, req, socket, head, clientAddress(req), (ws, ticket) => onConnection(core, ws, clientAddress(req), ticket))
    },
    nodes: () => state.nodes(),
    node: (name) => state.node(name),
    nodeByNodeId: (nodeId) => state.nodeByNodeId(nodeId.replace(/^0x/i, '').toLowerCase()),
    bestHead: () => state.bestHead(),
    lag(name) {
      const best = state.bestHead()
      const block = state.node(name)?.block
      return best && block ? Math.max(0, best.number - block.number) : undefined
    },
    requestHistory(name, list) {
      const conn = connsByName.get(name)
      if (!conn || conn.closing || !validHistoryList(list) || !state.canUpdateHistory(name)) return false
      send(core, conn, historyRequestFrame(list))
      return true
    },
    on(event, listener) {
      const set = listeners[event] as Set<typeof listener>
      set.add(listener)
      return () => {
        set.delete(listener)
      }
    },
    setSecrets(secrets) {
      core.checkSecret = secretChecker({ ...(opts.secret !== undefined ? { secret: opts.secret } : {}), ...(secrets ? { secrets } : {}) })
      reproveAll(core)
    },
    counters: () => structuredClone(metrics.counters),
    socketCount: () => conns.size,
    async close() {
      if (closed) return
      closed = true
      stopSweeping()
      // Sockets already closing keep their own grace; each one is cut when its grace ends, so this wait is bounded.
      const closing = [...conns].map((conn) => {
        closeConn(core, conn, 1001, 'coordinator shutting down', 'shutdown')
        return whenClosed(conn.ws)
      })
      await Promise.all(closing)
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

function trackerSettings(opts: TrackerOptions): TrackerSettings {
  const maxFrameBytes = opts.maxFrameBytes ?? 16 * 1024 * 1024
  const maxSockets = opts.maxSockets ?? 10_000
  return {
    pingIntervalMs: opts.pingIntervalMs ?? 30_000,
    silenceTimeoutMs: opts.silenceTimeoutMs ?? 90_000,
    helloTimeoutMs: opts.helloTimeoutMs ?? 30_000,
    maxFrameBytes,
    ratePerSec: opts.rateLimitPerSecond ?? 100,
    burst: opts.rateLimitBurst ?? 500,
    floodDropsPerSecond: opts.floodDropsPerSecond ?? 2_000,
    maxSockets,
    maxPendingPerAddress: opts.maxPendingPerAddress ?? 1_024,
    maxPending: opts.maxPending ?? 10_000,
    maxLoggedInPerAddress: opts.maxLoggedInPerAddress ?? 1_024,
    maxPreLoginFrameBytes: Math.min(opts.maxPreLoginFrameBytes ?? 64 * 1024, maxFrameBytes),
    forgetAfterMs: opts.forgetAfterMs ?? 3_600_000,
    maxNodes: opts.maxNodes ?? 2 * maxSockets,
  }
}

type Listeners = { [E in keyof TrackerEvents]: Set<TrackerEvents[E]> }

/** Builds emitUpdate: listeners hear about the node, and about the best head when it moved. */
function updateEmitter(state: TrackerState, metrics: TrackerCore['metrics'], listeners: Listeners, log: Logger): TrackerCore['emitUpdate'] {
  let lastHead: BestHead | undefined
  const safeCall = (fn: () => void) => {
    try {
      fn()
    } catch (err) {
      log.error('tracker listener failed', {}, err)
    }
  }
  return (name, kind) => {
    if (listeners.update.size > 0) {
      // One snapshot per update, shared by all listeners; none is built when nobody listens.
      const node = state.node(name)
      if (node) for (const l of listeners.update) safeCall(() => l({ name, kind, node }))
    }
    const head = state.bestHead()
    if (head?.number !== lastHead?.number || head?.hash !== lastHead?.hash) {
      lastHead = head
      metrics.bestBlock(head?.number)
      for (const l of listeners.head) safeCall(() => l(head))
    }
  }
}

/** One upgraded socket: its state, a small frame limit until login, and its listeners. */
function onConnection(core: TrackerCore, ws: WebSocket, remoteAddress: string, ticket: GateTicket): void {
  const { settings, metrics, conns } = core
  const now = core.clock.now()
  // Until a good hello only a small frame is read (a hello is under 2 KB); larger ones close the socket with 1009.
  setFrameLimit(ws, settings.maxPreLoginFrameBytes)
  const conn: Conn = {
    ws,
    remoteAddress,
    log: core.log.child({ remote: remoteAddress }),
    bucket: new TokenBucket({ ratePerSec: settings.ratePerSec, burst: settings.burst }, now),
    ticket,
    connectedAtMs: now,
    lastSeenMs: now,
    lastPingSentMs: now,
    name: undefined,
    grant: undefined,
    closing: false,
    dropWindowStartMs: now,
    dropsInWindow: 0,
    loggedDrops: new Set(),
  }
  conns.add(conn)
  metrics.sockets(conns.size)
  ws.on('message', (data: RawData) => {
    try {
      onFrame(core, conn, data)
    } catch (err) {
      // Never let one reporter's frame take the coordinator down.
      metrics.dropped('internal')
      conn.log.error('tracker frame handler failed', { node: conn.name }, err)
    }
  })
  ws.on('close', (code: number) => onClosed(core, conn, code))
  // ws reports oversize frames (1009) and protocol errors here, then closes the socket itself.
  ws.on('error', (err) => conn.log.debug('tracker socket error', { error: err.message, node: conn.name }))
}

/** The socket closed: its gate slot goes back, and the node it owned is disconnected. */
function onClosed(core: TrackerCore, conn: Conn, code: number): void {
  core.conns.delete(conn)
  conn.ticket.release()
  core.metrics.sockets(core.conns.size)
  const name = conn.name
  if (name === undefined) return
  conn.name = undefined
  if (core.connsByName.get(name) === conn) core.connsByName.delete(name)
  if (core.state.disconnect(name, conn, core.clock.now())) {
    conn.log.info('tracker node disconnected', { node: name, code })
    core.metrics.nodes(core.state.connectedCount())
    core.emitUpdate(name, 'disconnect')
  }
}

/**
 * One sweep for all sockets instead of timers per socket: hello deadlines,
 * silence, and primus heartbeats (application pings: some reporters never
 * answer WebSocket pings, and any frame counts as life). Returns the stop.
 */
function startSweep(core: TrackerCore): () => void {
  const { pingIntervalMs, silenceTimeoutMs, helloTimeoutMs } = core.settings
  const tickMs = Math.max(10, Math.min(pingIntervalMs, silenceTimeoutMs, helloTimeoutMs) / 4)
  let lastPruneMs = core.clock.now()
  const sweeper = setInterval(() => {
    try {
      const now = core.clock.now()
      for (const conn of core.conns) sweepConn(core, conn, now)
      if (now - lastPruneMs >= PRUNE_EVERY_MS) {
        lastPruneMs = now
        core.state.prune(now, core.settings.forgetAfterMs, core.settings.maxNodes)
      }
    } catch (err) {
      core.log.error('tracker sweep failed', {}, err)
    }
  }, tickMs)
  sweeper.unref()
  return () => clearInterval(sweeper)
}

function sweepConn(core: TrackerCore, conn: Conn, now: number): void {
  const { pingIntervalMs, silenceTimeoutMs, helloTimeoutMs } = core.settings
  if (conn.closing) return
  if (conn.name === undefined && now - conn.connectedAtMs >= helloTimeoutMs) {
    conn.log.info('tracker socket never logged in: closed')
    closeConn(core, conn, TrackerCloseCode.HELLO_TIMEOUT, 'no hello', 'hello_timeout')
  } else if (now - conn.lastSeenMs >= silenceTimeoutMs) {
    conn.log.info('tracker socket silent: closed', { node: conn.name, silentMs: now - conn.lastSeenMs })
    closeConn(core, conn, TrackerCloseCode.SILENT, 'silent for too long', 'silence')
  } else if (conn.name !== undefined && now - conn.lastPingSentMs >= pingIntervalMs) {
    conn.lastPingSentMs = now
    send(core, conn, pingFrame(now))
  }
}
