/**
 * The host's relay endpoint for the rpc service: light clients (through their
 * client proxy) send JSON-RPC here with a coordinator-issued token, and the
 * allowed calls go on to this host's node.
 *
 * - Auth: `Authorization: Bearer <token>` on every HTTP POST and on the
 *   WebSocket upgrade; a missing, unknown or expired token gets 401 with a
 *   JSON-RPC error body. A token that leaves the book (revoked) or expires
 *   closes that client's open WebSocket sessions (close code 4001).
 * - Policy: each call, batch elements one by one, is checked by RelayPolicy
 *   before anything is sent; a refused call never reaches the node.
 * - Rate: one token bucket per client node ID, shared by all its connections,
 *   in compute units (agent/relay/computeUnits.ts): each call takes its cost.
 * - Caps (callCaps.ts): eth_getLogs ranges over `maxLogsRange` blocks and
 *   calls asking for more gas than `gasCap` are refused (-32602) before the
 *   node sees them.
 * - Forwarding: plain calls go to the node's HTTP endpoint (one request per
 *   client request, batches kept together, ids rewritten so a client cannot
 *   confuse the replies) with a timeout. eth_subscribe/eth_unsubscribe go over
 *   one node WebSocket per client session, opened on the first subscribe;
 *   notifications are passed on verbatim, and when the client goes, its
 *   subscriptions are unsubscribed and that node socket closed.
 * - Status codes: a node that does not answer gives 502 (504 on timeout), so
 *   a client proxy fails over to another host; a request whose every call was
 *   rate limited gives 429; a body over the limit 413.
 * - Beacon API (beaconRelay.ts): GETs under /eth/ are the consensus light
 *   client's routes, relayed to `beaconUrl` with the same token and bucket.
 * - Metering: per client node ID, only served calls (a result, judged by
 *   agent/relay/replyVerdict.ts as the client's proxy judges them) count as
 *   requests, busy time and compute units (their cost, plus the notification
 *   cost per notification delivered), and a WebSocket session while it holds
 *   a subscription. Refusals and errors are not service.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { systemClock, type Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { ActivityMeter, type Activity } from '../../agent/relay/activity.ts'
import { RelayErrorCode, WS_CLOSE_TOKEN_INVALID } from '../../agent/relay/relayErrors.ts'
import { errorReply, INTERNAL_ERROR, INVALID_REQUEST, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import { readBody, sendJson } from '../../agent/relay/httpBody.ts'
import { KeyedRateLimiter } from '../../lib/rateLimit.ts'
import { createRelayPolicy, type RelayPolicy } from './relayPolicy.ts'
import { DEFAULT_MAX_LOGS_RANGE, DEFAULT_RELAY_GAS_CAP, relayRateLimit } from './rateLimit.ts'
import { CallCoster } from '../../agent/relay/computeUnits.ts'
import { DEFAULT_COST_TABLE, DEFAULT_RELAY_CU_RATE, type CostTable } from '../../protocol/costTable.ts'
import { hashRelayToken, type RelayTokenBook } from './tokenBook.ts'
import { createNodeForwarder } from './relayForward.ts'
import { createRequestHandler, type RelayRequestHandler } from './relayRequest.ts'
import { RelaySessions } from './relaySessions.ts'
import { createRelayMetrics } from './relayMetrics.ts'
import type { Registry } from 'prom-client'
import { createBeaconForwarder, serveBeacon, type BeaconRelayDeps } from './beaconRelay.ts'
import { isBeaconPath } from '../../agent/relay/beaconRoutes.ts'

export interface RelayLimits {
  /** Largest request body (HTTP) or frame (WebSocket). */
  maxBodyBytes: number
  /** Most calls in one batch. */
  maxBatch: number
  /** How long the node has to answer one forwarded request. */
  requestTimeoutMs: number
  /** Per client: sustained compute units per second and burst (see rateLimit.ts relayRateLimit). */
  cuPerSec: number
  cuBurst: number
  /** Widest eth_getLogs / eth_newFilter range relayed, in blocks. */
  maxLogsRange: number
  /** Most gas an eth_call / eth_estimateGas / eth_createAccessList may ask for. */
  gasCap: number
  /** Open WebSocket sessions per client node ID. */
  maxSessionsPerClient: number
  /** Subscriptions per WebSocket session. */
  maxSubscriptionsPerSession: number
  /** How often open sessions' tokens are re-checked for expiry. */
  sweepMs: number
  /** WebSocket ping period; a session that misses a pong is closed (half-open sockets). */
  pingIntervalMs: number
  /** A client that does not read its notifications is cut off beyond this many buffered bytes. */
  maxBufferedBytes: number
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxBodyBytes: 1 << 20,
  maxBatch: 100,
  requestTimeoutMs: 10_000,
  cuPerSec: DEFAULT_RELAY_CU_RATE,
  cuBurst: relayRateLimit(DEFAULT_RELAY_CU_RATE).burst,
  maxLogsRange: DEFAULT_MAX_LOGS_RANGE,
  gasCap: DEFAULT_RELAY_GAS_CAP,
  maxSessionsPerClient: 8,
  maxSubscriptionsPerSession: 64,
  sweepMs: 1_000,
  pingIntervalMs: 30_000,
  maxBufferedBytes: 8 << 20,
}

export interface RelayServerOptions {
  /** Listen address; the relay is for remote clients, so the agent picks a public one. Default 127.0.0.1. */
  host?: string
  /** 0 or absent picks a free port. */
  port?: number
  /** The node's HTTP JSON-RPC (credentials in the URL become Basic auth). */
  nodeHttpUrl: string
  /** The node's WebSocket JSON-RPC, for eth_subscribe; without it subscriptions are refused. */
  nodeWsUrl?: string
  /** The consensus client's REST API, for the beacon light-client routes; without it they get 501. */
  beaconUrl?: string
  tokens: RelayTokenBook
  policy?: RelayPolicy
  /** What each method costs in compute units (default: protocol/costTable.ts DEFAULT_COST_TABLE). */
  costTable?: CostTable
  limits?: Partial<RelayLimits>
  logger: Logger
  clock?: Clock
  /** Where the relay's Prometheus metrics go (relayMetrics.ts; the agent serves it with --metrics-listen). Default: a registry of its own. */
  metricsRegistry?: Registry
}

export interface RelayServer {
  /** http://host:port/ as bound (the agent advertises its public address instead). */
  readonly url: string
  readonly wsUrl: string
  readonly port: number
  /** Activity per client node ID since the last drain. */
  drainActivity(): Map<NodeId, Activity>
  /** The node's head as the host agent knows it: eth_getLogs tags resolve against it (the relay also learns it from eth_blockNumber replies). */
  noteHead(blockNumber: number): void
  /** Open WebSocket sessions (all clients, or one). */
  sessionCount(clientNodeId?: NodeId): number
  close(): Promise<void>
}

type Auth = { ok: true; client: NodeId; tokenHash: string } | { ok: false; message: string }

/** What the HTTP and WebSocket paths share. */
interface RelayParts {
  limits: RelayLimits
  tokens: RelayTokenBook
  clock: Clock
  log: Logger
  handle: RelayRequestHandler
  sessions: RelaySessions
  beacon: BeaconRelayDeps
}

export async function startRelayServer(options: RelayServerOptions): Promise<RelayServer> {
  const costs = options.costTable ?? DEFAULT_COST_TABLE
  const limits: RelayLimits = { ...DEFAULT_RELAY_LIMITS, ...options.limits }
  if (options.limits?.cuBurst === undefined) limits.cuBurst = relayRateLimit(limits.cuPerSec, costs, limits.maxLogsRange).burst
  const clock = options.clock ?? systemClock
  const log = options.logger
  const tokens = options.tokens
  const limiter = new KeyedRateLimiter<NodeId>({ ratePerSec: limits.cuPerSec, burst: limits.cuBurst })
  // Knows the head eth_getLogs tags resolve against; a range a tag leaves open with no head known counts as the cap.
  const coster = new CallCoster(costs, limits.maxLogsRange)
  const meter = new ActivityMeter<NodeId>(clock)
  const node = createNodeForwarder(options.nodeHttpUrl, { requestTimeoutMs: limits.requestTimeoutMs, log, clock, nodeWsUrl: options.nodeWsUrl })
  // The session count is read when metrics are scraped; `sessions` exists by then.
  const metrics = createRelayMetrics(options.metricsRegistry, () => sessions.count())
  const sessions = new RelaySessions(limits, { nodeWsUrl: options.nodeWsUrl, meter, log, coster, metrics })
  const handle = createRequestHandler({ limits, policy: options.policy ?? createRelayPolicy(), limiter, meter, clock, node, sessions, coster, metrics })
  const beacon: BeaconRelayDeps = {
    authenticate: (req) => authenticate({ tokens, clock }, req),
    forwarder: options.beaconUrl !== undefined ? createBeaconForwarder(options.beaconUrl, { timeoutMs: limits.requestTimeoutMs, log, clock }) : undefined,
    take: (client, cost) => limiter.take(client, clock.now(), cost),
    limits,
    meter,
  }
  const parts: RelayParts = { limits, tokens, clock, log, handle, sessions, beacon }

  const server = createServer((req, res) => {
    onHttp(parts, req, res).catch((err: unknown) => {
      log.error('relay request failed', { path: req.url }, err)
      sendJson(res, 500, errorReply(null, INTERNAL_ERROR, 'internal error in the relay'))
    })
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxBodyBytes })
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => onUpgrade(parts, wss, req, socket, head))

  const unsubscribeRevoke = tokens.onRevoke((_client, hash) => sessions.closeWhere((s) => s.tokenHash === hash, WS_CLOSE_TOKEN_INVALID, 'relay token revoked'))
  const sweep = setInterval(() => {
    const now = clock.now()
    sessions.closeWhere((s) => tokens.lookupHash(s.tokenHash, now) !== s.client, WS_CLOSE_TOKEN_INVALID, 'relay token expired')
    limiter.prune(now)
  }, limits.sweepMs)
  sweep.unref()

  const { hostPart, port } = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1')
  log.info('rpc relay listening', { url: `http://${hostPart}:${port}/`, node: node.where, subscriptions: options.nodeWsUrl !== undefined, beacon: beacon.forwarder?.where })

  return {
    url: `http://${hostPart}:${port}/`,
    wsUrl: `ws://${hostPart}:${port}/`,
    port,
    drainActivity: () => meter.drain(),
    noteHead: (n) => coster.noteHead(n),
    sessionCount: (clientNodeId) => sessions.count(clientNodeId),
    async close() {
      clearInterval(sweep)
      unsubscribeRevoke()
      node.close()
      await sessions.close(1001, 'relay shutting down')
      wss.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

/** The token from `Authorization: Bearer …`, looked up in the book. */
function authenticate({ tokens, clock }: Pick<RelayParts, 'tokens' | 'clock'>, req: IncomingMessage): Auth {
  const header = req.headers.authorization
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  if (!m) return { ok: false, message: 'relay token required: send "Authorization: Bearer <token>" with the token the pool issued' }
  const tokenHash = hashRelayToken(m[1]!)
  const client = tokens.lookup(m[1]!, clock.now())
  // One message for unknown and expired: no oracle for which tokens ever existed.
  if (!client) return { ok: false, message: 'relay token unknown or expired: ask the pool for a fresh one' }
  return { ok: true, client, tokenHash }
}

/** The HTTP path: POST only, a valid token, a body within the limit; the reply's status comes from the request. */
async function onHttp(parts: RelayParts, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (isBeaconPath(req.url)) return serveBeacon(parts.beacon, req, res)
  if (req.method !== 'POST') {
    sendJson(res, 405, errorReply(null, INVALID_REQUEST, 'the relay takes JSON-RPC as HTTP POST or over a WebSocket'), { allow: 'POST' })
    req.resume()
    return
  }
  const auth = authenticate(parts, req)
  if (!auth.ok) {
    req.resume()
    sendJson(res, 401, errorReply(null, RelayErrorCode.UNAUTHORIZED, auth.message), { 'www-authenticate': 'Bearer realm="vipnode relay"' })
    return
  }
  const { maxBodyBytes } = parts.limits
  const body = await readBody(req, maxBodyBytes)
  if (body === undefined) {
    sendJson(res, 413, errorReply(null, RelayErrorCode.PAYLOAD_TOO_LARGE, `request body is over this relay's limit of ${maxBodyBytes} bytes`), { connection: 'close' })
    return
  }
  const { status, body: reply } = await parts.handle(body, auth.client, 'http')
  if (res.destroyed) return
  res.writeHead(status, { 'content-type': 'application/json' }).end(reply)
}

/** The WebSocket path: a valid token and room in the client's session count, else 401/429 before the handshake. */
function onUpgrade(parts: RelayParts, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => {})
  const auth = authenticate(parts, req)
  if (!auth.ok) return refuseUpgrade(socket, 401, errorReply(null, RelayErrorCode.UNAUTHORIZED, auth.message))
  const { maxSessionsPerClient } = parts.limits
  if (parts.sessions.count(auth.client) >= maxSessionsPerClient) {
    return refuseUpgrade(socket, 429, errorReply(null, RelayErrorCode.RATE_LIMITED, `too many WebSocket sessions for this client (at most ${maxSessionsPerClient})`))
  }
  wss.handleUpgrade(req, socket, head, (ws) => onSession(parts, ws, auth.client, auth.tokenHash))
}

/** One WebSocket session: each text frame is a request, answered on the socket; the token is checked per frame. */
function onSession(parts: RelayParts, ws: WebSocket, client: NodeId, tokenHash: string): void {
  const { sessions, tokens, clock, log } = parts
  const s = sessions.open(ws, client, tokenHash)
  ws.on('message', (data, isBinary) => {
    if (s.closed) return
    // Checked per frame as well as by the sweep: an expired token stops at once.
    if (tokens.lookupHash(s.tokenHash, clock.now()) !== s.client) return sessions.closeWhere((x) => x === s, WS_CLOSE_TOKEN_INVALID, 'relay token expired or revoked')
    if (isBinary) {
      ws.send(JSON.stringify(errorReply(null, INVALID_REQUEST, 'invalid request: binary frames are not JSON-RPC')))
      return
    }
    parts.handle(data.toString(), client, 'ws', s).then(
      ({ body }) => {
        if (body && ws.readyState === ws.OPEN) ws.send(body)
      },
      (err: unknown) => log.error('relay frame failed', { client }, err),
    )
  })
  ws.on('error', () => {})
}

async function listen(server: Server, port: number, host: string): Promise<{ hostPart: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as { address: string; port: number }
  return { hostPart: address.address.includes(':') ? `[${address.address}]` : address.address, port: address.port }
}


function refuseUpgrade(socket: Duplex, status: number, body: RpcReply): void {
  const text = JSON.stringify(body)
  const extra = status === 401 ? 'WWW-Authenticate: Bearer realm="vipnode relay"\r\n' : ''
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n${extra}\r\n${text}`)
}
