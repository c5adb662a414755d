/**
 * The ethstats-compatible tracker at /api: sockets, login, heartbeats and
 * limits. Stock reporters (geth, Nethermind, Besu, Erigon `--ethstats`, the
 * classic eth-net-intelligence-api) log in as they would to the classic
 * ethstats server. Parsing lives in frames.ts, node data in state.ts.
 *
 * Decisions (see docs/tracker.md for the full protocol):
 * - Before a good hello, only hello and primus heartbeats are acted on; other
 *   frames are ignored and counted, not fatal, because Nethermind and the
 *   classic reporter may send before they see `ready`. A socket that has not
 *   logged in within helloTimeoutMs is closed.
 * - A second login for a connected name with the right secret wins; the older
 *   socket is closed with 4000.
 * - Frames whose `id` is not the socket's own name are ignored and counted.
 * - Bad frames never close a socket; floods (far beyond the token bucket) do.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import type { Registry } from 'prom-client'
import type { Logger } from '../../lib/logger.ts'
import type { Clock } from '../../lib/clock.ts'
import { shortNodeId } from '../../protocol/enode.ts'
import { TokenBucket } from '../../lib/rateLimit.ts'
import { closeWithin, rawText, sendBounded, whenClosed } from '../../lib/socketKit.ts'
import { SocketGate, setFrameLimit, type GateTicket } from '../server/socketGate.ts'
import {
  READY_FRAME,
  SERVER_CLOSE_FRAME,
  historyRequestFrame,
  nodePingClientTime,
  nodePongFrame,
  parseBlockPayload,
  parseFrame,
  parseHello,
  parseHistoryPayload,
  parseLatencyPayload,
  parsePeersPayload,
  parsePendingPayload,
  parseStatsPayload,
  payloadId,
  pingFrame,
  pongFrame,
  validHistoryList,
} from './frames.ts'
import { TrackerState, type BestHead, type TrackedNode } from './state.ts'
import { createTrackerMetrics, type CloseReason, type DropReason, type TrackerCounters, type TrackerMetricsSink } from './metrics.ts'

export interface TrackerOptions {
  /** The pool secret every reporter may log in with. */
  secret?: string
  /** Per-node secrets by hello id; a name listed here may log in only with its own secret. */
  secrets?: Record<string, string>
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

export type UpdateKind = 'login' | 'block' | 'pending' | 'stats' | 'latency' | 'peers' | 'history' | 'disconnect'

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
  /** The node that claimed this devp2p node ID (128 hex) most recently. */
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
  /** Replace the per-node secrets (a reloaded secrets file); logins from now on are checked against them. */
  setSecrets(secrets: Record<string, string> | undefined): void
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

/** Close codes the tracker uses besides the standard ones (1001 shutdown, 1008 policy, 1009 too big). */
export const TrackerCloseCode = {
  REPLACED: 4000,
  SILENT: 4001,
  HELLO_TIMEOUT: 4002,
} as const

/** A socket whose unsent data grows past this does not read its pongs and is cut. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024
/** Time a closing socket gets to finish the closing handshake before it is cut. */
const CLOSE_GRACE_MS = 1_000
const PRUNE_EVERY_MS = 60_000

interface Conn {
  ws: WebSocket
  remoteAddress: string
  log: Logger
  bucket: TokenBucket
  ticket: GateTicket
  connectedAtMs: number
  lastSeenMs: number
  lastPingSentMs: number
  /** The name this socket logged in as, while it still owns it. */
  name: string | undefined
  closing: boolean
  dropWindowStartMs: number
  dropsInWindow: number
  /** Log each kind of ignored frame once per socket, so a misbehaving reporter cannot flood the log. */
  loggedDrops: Set<DropReason>
}

export function createTracker(opts: TrackerOptions, deps: TrackerDeps): Tracker {
  const { log, clock } = deps
  const pingIntervalMs = opts.pingIntervalMs ?? 30_000
  const silenceTimeoutMs = opts.silenceTimeoutMs ?? 90_000
  const helloTimeoutMs = opts.helloTimeoutMs ?? 30_000
  const maxFrameBytes = opts.maxFrameBytes ?? 16 * 1024 * 1024
  const rate = opts.rateLimitPerSecond ?? 100
  const burst = opts.rateLimitBurst ?? 500
  const floodDropsPerSecond = opts.floodDropsPerSecond ?? 2_000
  const maxSockets = opts.maxSockets ?? 10_000
  const gate = new SocketGate(
    { maxPendingPerAddress: opts.maxPendingPerAddress ?? 1_024, maxPending: opts.maxPending ?? 10_000, maxAuthenticatedPerAddress: opts.maxLoggedInPerAddress ?? 1_024 },
    { log: log.child({ component: 'tracker' }), clock, name: 'tracker ' },
  )
  const maxPreLoginFrameBytes = Math.min(opts.maxPreLoginFrameBytes ?? 64 * 1024, maxFrameBytes)
  const clientAddress = opts.clientAddress ?? ((req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown')
  const forgetAfterMs = opts.forgetAfterMs ?? 3_600_000
  const maxNodes = opts.maxNodes ?? 2 * maxSockets
  let checkSecret = secretChecker(opts)
  if (opts.secret === undefined && opts.secrets === undefined) log.warn('tracker has no secret configured: every login will be refused')

  const metrics = createTrackerMetrics(deps.metrics)
  const state = new TrackerState()
  const conns = new Set<Conn>()
  const connsByName = new Map<string, Conn>()
  const listeners: { [E in keyof TrackerEvents]: Set<TrackerEvents[E]> } = { update: new Set(), head: new Set() }
  let closed = false
  let lastHead: BestHead | undefined
  let lastPruneMs = clock.now()

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxFrameBytes, perMessageDeflate: false, clientTracking: false })

  function emitUpdate(name: string, kind: UpdateKind): void {
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

  function safeCall(fn: () => void): void {
    try {
      fn()
    } catch (err) {
      log.error('tracker listener failed', {}, err)
    }
  }

  function send(conn: Conn, text: string): void {
    const sent = sendBounded(conn.ws, text, MAX_BUFFERED_BYTES, (buffered) => {
      conn.log.warn('slow consumer cut', { buffered })
      metrics.closed('slow_consumer')
      conn.closing = true
    })
    if (sent === 'sent') metrics.frame('out')
  }

  function closeConn(conn: Conn, code: number, reason: string, why: CloseReason): void {
    if (conn.closing) return
    conn.closing = true
    metrics.closed(why)
    // A peer that is gone (the usual reason for silence) never completes the handshake: cut after the grace.
    void closeWithin(conn.ws, code, reason, CLOSE_GRACE_MS)
  }

  function drop(conn: Conn, reason: DropReason, detail?: string): void {
    metrics.dropped(reason)
    if (!conn.loggedDrops.has(reason)) {
      conn.loggedDrops.add(reason)
      conn.log.debug('frame ignored', { reason, detail, node: conn.name })
    }
  }

  function onConnection(ws: WebSocket, req: IncomingMessage, ticket: GateTicket): void {
    const now = clock.now()
    const remoteAddress = clientAddress(req)
    // Until a good hello only a small frame is read (a hello is under 2 KB); larger ones close the socket with 1009.
    setFrameLimit(ws, maxPreLoginFrameBytes)
    const conn: Conn = {
      ws,
      remoteAddress,
      log: log.child({ remote: remoteAddress }),
      bucket: new TokenBucket({ ratePerSec: rate, burst }, now),
      ticket,
      connectedAtMs: now,
      lastSeenMs: now,
      lastPingSentMs: now,
      name: undefined,
      closing: false,
      dropWindowStartMs: now,
      dropsInWindow: 0,
      loggedDrops: new Set(),
    }
    conns.add(conn)
    metrics.sockets(conns.size)

    ws.on('message', (data: RawData) => {
      try {
        onFrame(conn, data)
      } catch (err) {
        // Never let one reporter's frame take the coordinator down.
        metrics.dropped('internal')
        conn.log.error('tracker frame handler failed', { node: conn.name }, err)
      }
    })
    ws.on('close', (code: number) => {
      conns.delete(conn)
      conn.ticket.release()
      metrics.sockets(conns.size)
      const name = conn.name
      if (name !== undefined) {
        conn.name = undefined
        if (connsByName.get(name) === conn) connsByName.delete(name)
        if (state.disconnect(name, conn, clock.now())) {
          conn.log.info('tracker node disconnected', { node: name, code })
          metrics.nodes(state.connectedCount())
          emitUpdate(name, 'disconnect')
        }
      }
    })
    // ws reports oversize frames (1009) and protocol errors here, then closes the socket itself.
    ws.on('error', (err) => conn.log.debug('tracker socket error', { error: err.message, node: conn.name }))
  }

  function onFrame(conn: Conn, data: RawData): void {
    if (conn.closing) return
    const now = clock.now()
    metrics.frame('in')
    // Any frame is life: some reporters never answer our pings.
    conn.lastSeenMs = now
    if (conn.name !== undefined) state.seen(conn.name, now)
    if (!conn.bucket.take(now)) {
      drop(conn, 'rate_limited')
      if (now - conn.dropWindowStartMs >= 1_000) {
        conn.dropWindowStartMs = now
        conn.dropsInWindow = 0
      }
      if (++conn.dropsInWindow >= floodDropsPerSecond) {
        conn.log.warn('tracker socket flooding: closed', { node: conn.name, dropsInWindow: conn.dropsInWindow })
        closeConn(conn, 1008, 'flooding: too many frames', 'flood')
      }
      return
    }
    // Binary frames are read as UTF-8 text too: leniency costs nothing here.
    const frame = parseFrame(rawText(data))
    switch (frame.kind) {
      case 'ping':
        send(conn, pongFrame(frame.token))
        return
      case 'pong':
        return
      case 'invalid':
        drop(conn, 'invalid', frame.reason)
        return
      case 'emit':
        onEmit(conn, frame.topic, frame.payload, now)
        return
    }
  }

  function onEmit(conn: Conn, topic: string, payload: unknown, now: number): void {
    if (topic === 'hello') return onHello(conn, payload, now)
    const name = conn.name
    if (name === undefined) return drop(conn, 'unauthenticated', topic)
    // A missing id is taken as the socket's own; another id is never accepted from this socket.
    const id = payloadId(payload)
    if (id !== undefined && id !== name) return drop(conn, 'foreign_id', topic)
    switch (topic) {
      case 'node-ping':
        metrics.report('node-ping')
        return send(conn, nodePongFrame(nodePingClientTime(payload), now))
      case 'latency': {
        const r = parseLatencyPayload(payload)
        if (!r.ok) return drop(conn, 'bad_payload', r.reason)
        state.applyLatency(name, r.value)
        return accepted(name, 'latency')
      }
      case 'block': {
        const r = parseBlockPayload(payload)
        if (!r.ok) return drop(conn, 'bad_payload', r.reason)
        state.applyBlock(name, r.value, now)
        return accepted(name, 'block')
      }
      case 'pending': {
        const r = parsePendingPayload(payload)
        if (!r.ok) return drop(conn, 'bad_payload', r.reason)
        state.applyPending(name, r.value)
        return accepted(name, 'pending')
      }
      // `update` is what the first eth-net-intelligence-api versions called stats.
      case 'stats':
      case 'update': {
        const r = parseStatsPayload(payload)
        if (!r.ok) return drop(conn, 'bad_payload', r.reason)
        state.applyStats(name, r.value, now)
        return accepted(name, 'stats')
      }
      case 'history': {
        const r = parseHistoryPayload(payload)
        if (!r.ok) return drop(conn, 'bad_payload', r.reason)
        state.applyHistory(name, r.value.blocks, now)
        return accepted(name, 'history')
      }
      case 'peers': {
        const r = parsePeersPayload(payload)
        if (!r.ok) return drop(conn, 'bad_payload', r.reason)
        if (r.value.invalid > 0) metrics.invalidPeerIds(r.value.invalid)
        state.applyPeers(name, r.value.peers, now)
        return accepted(name, 'peers')
      }
      case 'end':
        // The reporter says goodbye; the close handler marks the node disconnected.
        return closeConn(conn, 1000, 'bye', 'end')
      default:
        return drop(conn, 'unknown_topic', topic.slice(0, 64))
    }
  }

  function accepted(name: string, topic: 'latency' | 'block' | 'pending' | 'stats' | 'history' | 'peers'): void {
    metrics.report(topic)
    emitUpdate(name, topic)
  }

  function onHello(conn: Conn, payload: unknown, now: number): void {
    if (conn.name !== undefined) return drop(conn, 'duplicate_hello')
    const r = parseHello(payload)
    const by = r.ok ? checkSecret(r.value.id, r.value.secret) : undefined
    if (!r.ok || !by) {
      metrics.login(false)
      conn.log.warn('tracker login refused', { node: r.ok ? r.value.id.slice(0, 64) : undefined, reason: r.ok ? 'wrong secret' : r.reason })
      // What primus sends when the server ends a spark; the classic reporters stop retrying on it.
      send(conn, SERVER_CLOSE_FRAME)
      closeConn(conn, 1008, 'unauthorized', 'bad_secret')
      return
    }
    const hello = r.value
    if (conn.ticket.authenticatedCount() >= gate.limitsInForce.maxAuthenticatedPerAddress && connsByName.get(hello.id)?.ticket.key !== conn.ticket.key) {
      metrics.login(false)
      conn.log.warn('tracker logins per address at the cap: refused', { node: hello.id.slice(0, 64), limit: gate.limitsInForce.maxAuthenticatedPerAddress })
      send(conn, SERVER_CLOSE_FRAME)
      closeConn(conn, 1008, 'too many nodes from this address', 'bad_secret')
      return
    }
    // A node ID claimed under a node's own secret is not taken over by a login with the shared secret.
    const { replaced } = state.login(hello, conn, conn.remoteAddress, now, by === 'own')
    if (state.size() > maxNodes) state.prune(now, forgetAfterMs, maxNodes)
    conn.name = hello.id
    conn.lastPingSentMs = now
    if (!conn.ticket.authenticate()) {
      // A replacement login from the same address at the cap: the socket it replaces gives its slot back on close.
      conn.log.debug('tracker login over the address cap while replacing its own socket', { node: hello.id })
    }
    setFrameLimit(conn.ws, maxFrameBytes)
    // Nothing may go out between hello and this frame: geth reads exactly one frame and expects exactly this.
    send(conn, READY_FRAME)
    const previous = connsByName.get(hello.id)
    connsByName.set(hello.id, conn)
    if (replaced && previous && previous !== conn) {
      previous.name = undefined
      previous.log.info('tracker login replaced by a newer one', { node: hello.id })
      closeConn(previous, TrackerCloseCode.REPLACED, 'replaced by a newer login', 'replaced')
    }
    metrics.login(true)
    metrics.nodes(state.connectedCount())
    conn.log.info('tracker node logged in', {
      node: hello.id,
      software: hello.info.node,
      nodeId: hello.nodeId ? shortNodeId(hello.nodeId) : undefined,
      replaced: replaced !== null,
    })
    emitUpdate(hello.id, 'login')
  }

  // One sweep for all sockets instead of timers per socket: heartbeats, silence and hello deadlines.
  const tickMs = Math.max(10, Math.min(pingIntervalMs, silenceTimeoutMs, helloTimeoutMs) / 4)
  const sweeper = setInterval(() => {
    try {
      sweep(clock.now())
    } catch (err) {
      log.error('tracker sweep failed', {}, err)
    }
  }, tickMs)
  sweeper.unref()

  function sweep(now: number): void {
    for (const conn of conns) {
      if (conn.closing) continue
      if (conn.name === undefined && now - conn.connectedAtMs >= helloTimeoutMs) {
        conn.log.info('tracker socket never logged in: closed')
        closeConn(conn, TrackerCloseCode.HELLO_TIMEOUT, 'no hello', 'hello_timeout')
      } else if (now - conn.lastSeenMs >= silenceTimeoutMs) {
        conn.log.info('tracker socket silent: closed', { node: conn.name, silentMs: now - conn.lastSeenMs })
        closeConn(conn, TrackerCloseCode.SILENT, 'silent for too long', 'silence')
      } else if (conn.name !== undefined && now - conn.lastPingSentMs >= pingIntervalMs) {
        conn.lastPingSentMs = now
        send(conn, pingFrame(now))
      }
    }
    if (now - lastPruneMs >= PRUNE_EVERY_MS) {
      lastPruneMs = now
      state.prune(now, forgetAfterMs, maxNodes)
    }
  }

  return {
    handleUpgrade(req, socket, head) {
      if (closed || conns.size >= maxSockets) {
        socket.once('finish', () => socket.destroy())
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
        return
      }
      gate.upgrade(wss, req, socket, head, clientAddress(req), (ws, ticket) => onConnection(ws, req, ticket))
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
      send(conn, historyRequestFrame(list))
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
      checkSecret = secretChecker({ ...(opts.secret !== undefined ? { secret: opts.secret } : {}), ...(secrets ? { secrets } : {}) })
    },
    counters: () => structuredClone(metrics.counters),
    socketCount: () => conns.size,
    async close() {
      if (closed) return
      closed = true
      clearInterval(sweeper)
      // Sockets already closing keep their own grace; each one is cut when its grace ends, so this wait is bounded.
      const closing = [...conns].map((conn) => {
        closeConn(conn, 1001, 'coordinator shutting down', 'shutdown')
        return whenClosed(conn.ws)
      })
      await Promise.all(closing)
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

/**
 * A name listed in `secrets` must use its own secret; any other name the pool
 * secret. Compared in constant time over digests so neither length nor
 * content leaks through timing.
 */
function secretChecker(opts: TrackerOptions): (name: string, secret: string) => 'own' | 'shared' | undefined {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()
  const perNode = new Map<string, Buffer>(Object.entries(opts.secrets ?? {}).map(([name, s]) => [name, digest(s)]))
  const pool = opts.secret === undefined ? undefined : digest(opts.secret)
  return (name, secret) => {
    const own = perNode.get(name)
    const expected = own ?? pool
    if (expected === undefined || !timingSafeEqual(expected, digest(secret))) return undefined
    return own ? 'own' : 'shared'
  }
}
