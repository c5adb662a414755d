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
 * - Metering: per client node ID, only served calls (a result, judged by
 *   agent/relay/replyVerdict.ts as the client's proxy judges them) count as
 *   requests, busy time and compute units (their cost, plus the notification
 *   cost per notification delivered), and a WebSocket session while it holds
 *   a subscription. Refusals and errors are not service.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { systemClock, type Clock } from '../../lib/clock.ts'
import { scrubUrl, type Logger } from '../../lib/logger.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { ActivityMeter, type Activity } from '../../agent/relay/activity.ts'
import { replyVerdicts, servedCount } from '../../agent/relay/replyVerdict.ts'
import { openNodeSocket, type NodeSocket } from './nodeSocket.ts'
import { RelayErrorCode, WS_CLOSE_NODE_LOST, WS_CLOSE_TOKEN_INVALID } from '../../agent/relay/relayErrors.ts'
import { createRelayPolicy, type RelayPolicy, type RelayTransport } from './relayPolicy.ts'
import { alignReplies, callFrame, replyWithId, errorReply, INTERNAL_ERROR, INVALID_REQUEST, parseBody, type RpcCall, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import { KeyedRateLimiter } from '../../lib/rateLimit.ts'
import { DEFAULT_MAX_LOGS_RANGE, DEFAULT_RELAY_CU_RATE, DEFAULT_RELAY_GAS_CAP, relayRateLimit } from './rateLimit.ts'
import { CallCoster, DEFAULT_COST_TABLE, type CostTable } from '../../agent/relay/computeUnits.ts'
import { capRefusal, INVALID_PARAMS, RANGE_METHODS } from './callCaps.ts'
import { readBody } from '../../agent/relay/httpBody.ts'
import { hashRelayToken, type RelayTokenBook } from './tokenBook.ts'

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
  tokens: RelayTokenBook
  policy?: RelayPolicy
  /** What each method costs in compute units (default: agent/relay/computeUnits.ts DEFAULT_COST_TABLE). */
  costTable?: CostTable
  limits?: Partial<RelayLimits>
  logger: Logger
  clock?: Clock
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

interface Session {
  ws: WebSocket
  client: NodeId
  tokenHash: string
  /** Opened on the first eth_subscribe. */
  upstream?: Promise<NodeSocket> | undefined
  /** Node-side subscription ids opened by this session. */
  subs: Set<string>
  alive: boolean
  closed: boolean
  /** Ends the metered span of service: set while the session holds a subscription. */
  endActivity(): void
}

type Auth = { ok: true; client: NodeId; tokenHash: string } | { ok: false; message: string }

const NODE_WARN_EVERY_MS = 10_000

export async function startRelayServer(options: RelayServerOptions): Promise<RelayServer> {
  const costs = options.costTable ?? DEFAULT_COST_TABLE
  const limits: RelayLimits = { ...DEFAULT_RELAY_LIMITS, ...options.limits }
  if (options.limits?.cuBurst === undefined) limits.cuBurst = relayRateLimit(limits.cuPerSec, costs, limits.maxLogsRange).burst
  const clock = options.clock ?? systemClock
  const log = options.logger
  const tokens = options.tokens
  const policy = options.policy ?? createRelayPolicy()
  const limiter = new KeyedRateLimiter<NodeId>({ ratePerSec: limits.cuPerSec, burst: limits.cuBurst })
  // Knows the head eth_getLogs tags resolve against; a range a tag leaves open with no head known counts as the cap.
  const coster = new CallCoster(costs, limits.maxLogsRange)
  const meter = new ActivityMeter<NodeId>(clock)
  const node = nodeHttpTarget(options.nodeHttpUrl)
  const nodeWsUrl = options.nodeWsUrl
  const sessions = new Set<Session>()
  const cleanups = new Set<Promise<void>>()
  let lastNodeWarn = 0

  // ---- auth ------------------------------------------------------------------
  function authenticate(req: IncomingMessage): Auth {
    const header = req.headers.authorization
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    if (!m) return { ok: false, message: 'relay token required: send "Authorization: Bearer <token>" with the token the pool issued' }
    const tokenHash = hashRelayToken(m[1]!)
    const client = tokens.lookup(m[1]!, clock.now())
    // One message for unknown and expired: no oracle for which tokens ever existed.
    if (!client) return { ok: false, message: 'relay token unknown or expired: ask the pool for a fresh one' }
    return { ok: true, client, tokenHash }
  }

  // ---- forwarding to the node -------------------------------------------------
  type NodeOutcome = { ok: true; replies: RpcReply[] } | { ok: false; status: number; code: number; message: string }

  /** Forward calls in one HTTP request; replies come back aligned with `calls`, ids restored. */
  async function forward(calls: RpcCall[]): Promise<NodeOutcome> {
    // Our own ids on the node hop: the client's may repeat or be null.
    const frames = calls.map((c, i) => callFrame(c, i))
    const body = JSON.stringify(frames.length === 1 ? frames[0] : frames)
    let status: number
    let text: string
    try {
      const res = await fetch(node.url, { method: 'POST', headers: node.headers, body, signal: AbortSignal.timeout(limits.requestTimeoutMs) })
      status = res.status
      text = await res.text()
    } catch (err) {
      const timedOut = (err as Error)?.name === 'TimeoutError'
      const reason = timedOut ? `no answer within ${limits.requestTimeoutMs} ms` : describeFetchError(err)
      return nodeFailure(timedOut ? 504 : 502, timedOut ? RelayErrorCode.TIMEOUT : RelayErrorCode.NODE_UNAVAILABLE, reason)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return nodeFailure(502, RelayErrorCode.NODE_UNAVAILABLE, status >= 400 ? `HTTP ${status}` : 'reply is not JSON')
    }
    if (status >= 500) return nodeFailure(502, RelayErrorCode.NODE_UNAVAILABLE, `HTTP ${status}`)
    // A node may refuse a whole batch with one error (id null): it answers every call.
    const replies = alignReplies(parsed, calls, "the host's node")
    return { ok: true, replies }
  }

  function nodeFailure(status: number, code: number, reason: string): NodeOutcome {
    const now = clock.now()
    if (now - lastNodeWarn >= NODE_WARN_EVERY_MS) {
      lastNodeWarn = now
      log.warn('node did not answer relayed calls', { node: node.where, reason })
    }
    return { ok: false, status, code, message: `the pool host's node is unavailable: ${reason}` }
  }

  /**
   * Ask the node for its head when a range call comes and none is known yet
   * (the host agent tells the relay its head at every report, so this is for
   * the first moments): one call shared by everyone waiting, not metered.
   */
  let headAsk: Promise<void> | undefined
  function learnHead(): Promise<void> {
    headAsk ??= forward([{ id: 0, hasId: true, method: 'eth_blockNumber', params: [] }])
      .then((r) => {
        if (r.ok) coster.served('eth_blockNumber', r.replies[0]?.result)
      })
      .finally(() => {
        headAsk = undefined
      })
    return headAsk
  }

  // ---- one request (HTTP body or WebSocket frame) -------------------------------
  async function handle(text: string, client: NodeId, transport: RelayTransport, session?: Session): Promise<{ status: number; body: string }> {
    const parsed = parseBody(text)
    // Not service: nothing is metered for a request that is refused as a whole.
    if (!parsed.ok) return { status: 200, body: JSON.stringify(parsed.reply) }
    const { items, batch } = parsed
    if (items.length > limits.maxBatch) {
      return { status: 413, body: JSON.stringify(errorReply(null, RelayErrorCode.PAYLOAD_TOO_LARGE, `batch of ${items.length} calls is over this relay's limit of ${limits.maxBatch}`)) }
    }
    const endCall = meter.call(client)
    let served = 0
    let servedUnits = 0
    try {
      if (coster.range.head === undefined && items.some((item) => 'call' in item && RANGE_METHODS.has(item.call.method))) await learnHead()
      const now = clock.now()
      const out: (RpcReply | undefined)[] = new Array(items.length)
      const toNode: { index: number; call: RpcCall }[] = []
      const toSession: { index: number; call: RpcCall }[] = []
      const cost: number[] = new Array(items.length).fill(0)
      let limited = 0
      items.forEach((item, index) => {
        if ('invalid' in item) {
          out[index] = item.invalid
          return
        }
        const { call } = item
        const decision = policy.check(call.method, transport)
        if (!decision.allowed) {
          out[index] = errorReply(call.id, decision.code, decision.message)
          return
        }
        const refusal = capRefusal(call.method, call.params, limits, coster.range)
        if (refusal !== undefined) {
          out[index] = errorReply(call.id, INVALID_PARAMS, refusal)
          return
        }
        cost[index] = coster.cost(call.method, call.params)
        if (!limiter.take(client, now, cost[index])) {
          limited++
          out[index] = errorReply(
            call.id,
            RelayErrorCode.RATE_LIMITED,
            `rate limited: this call costs ${cost[index]} compute units; at most ${limits.cuPerSec} per second per client (burst ${limits.cuBurst})`,
          )
          return
        }
        if (call.method === 'eth_subscribe' || call.method === 'eth_unsubscribe') toSession.push({ index, call })
        else toNode.push({ index, call })
      })
      let status = limited === items.length ? 429 : 200
      const work: Promise<void>[] = []
      if (toNode.length > 0) {
        work.push(
          forward(toNode.map((x) => x.call)).then((r) => {
            if (!r.ok) status = r.status
            toNode.forEach((x, k) => {
              out[x.index] = r.ok ? r.replies[k] : errorReply(x.call.id, r.code, r.message)
            })
          }),
        )
      }
      for (const x of toSession) {
        work.push(
          subscriptionCall(session!, x.call).then((reply) => {
            out[x.index] = reply
          }),
        )
      }
      await Promise.all(work)
      // Notifications (no id) get no reply.
      const answered = items.flatMap((item, i) => ('call' in item && !item.call.hasId ? [] : [i]))
      const replies = answered.map((i) => out[i]!)
      // Only results are service, judged as the client's proxy judges them, so both sides report the same calls.
      const verdicts = replyVerdicts(status, replies)
      served = servedCount(verdicts)
      verdicts.forEach((v, k) => {
        if (v !== 'served') return
        const i = answered[k]!
        servedUnits += cost[i]!
        const item = items[i]!
        if ('call' in item) coster.served(item.call.method, out[i]!.result)
      })
      if (replies.length === 0) return { status, body: '' }
      return { status, body: JSON.stringify(batch ? replies : replies[0]) }
    } finally {
      endCall(served, servedUnits)
    }
  }

  // ---- subscriptions ---------------------------------------------------------------
  async function subscriptionCall(s: Session, call: RpcCall): Promise<RpcReply> {
    if (!nodeWsUrl) return errorReply(call.id, RelayErrorCode.METHOD_NOT_RELAYED, `method ${call.method} is not available on this pool host: its node has no WebSocket endpoint`)
    const params = call.params ?? []
    if (call.method === 'eth_unsubscribe') {
      const id = Array.isArray(params) ? params[0] : undefined
      // Only this session's own subscriptions: the node socket is per session anyway, this just answers without a round trip.
      if (typeof id !== 'string' || !s.subs.has(id)) return errorReply(call.id, -32000, 'subscription not found')
      removeSub(s, id)
    } else if (s.subs.size >= limits.maxSubscriptionsPerSession) {
      return errorReply(call.id, RelayErrorCode.RATE_LIMITED, `too many subscriptions on this connection (at most ${limits.maxSubscriptionsPerSession})`)
    }
    let up: NodeSocket
    try {
      up = await upstream(s)
    } catch (err) {
      return errorReply(call.id, RelayErrorCode.NODE_UNAVAILABLE, `the pool host's node is unavailable: ${(err as Error).message}`)
    }
    let reply: Awaited<ReturnType<NodeSocket['call']>>
    try {
      reply = await up.call(call.method, params, limits.requestTimeoutMs)
    } catch (err) {
      return errorReply(call.id, RelayErrorCode.NODE_UNAVAILABLE, `the pool host's node is unavailable: ${(err as Error).message}`)
    }
    if (call.method === 'eth_subscribe' && typeof reply.result === 'string') {
      if (s.closed) void up.call('eth_unsubscribe', [reply.result], 1000).catch(() => {})
      else addSub(s, reply.result)
    }
    return replyWithId(reply as Record<string, unknown>, call.id, "the host's node")
  }

  /** A session is service while it holds a subscription (the proxy meters the same span from the same replies). */
  function addSub(s: Session, id: string): void {
    s.subs.add(id)
    if (s.subs.size === 1) s.endActivity = meter.session(s.client)
  }

  function removeSub(s: Session, id: string): void {
    if (s.subs.delete(id) && s.subs.size === 0) s.endActivity()
  }

  function upstream(s: Session): Promise<NodeSocket> {
    if (!s.upstream) {
      s.upstream = openNodeSocket(nodeWsUrl!, limits.requestTimeoutMs, {
        notification(frame) {
          const id = frame.params.subscription
          if (typeof id !== 'string' || !s.subs.has(id) || s.ws.readyState !== s.ws.OPEN) return
          if (s.ws.bufferedAmount > limits.maxBufferedBytes) {
            log.warn('relay client does not read its notifications; closing', { client: s.client })
            s.ws.terminate()
            return
          }
          s.ws.send(JSON.stringify(frame))
          meter.units(s.client, coster.notification(frame.params.result))
        },
        closed(reason) {
          // The node dropped this connection's subscriptions with it: the client must re-subscribe, possibly elsewhere.
          log.warn("node's WebSocket closed under a relay session", { client: s.client, reason })
          if (!s.closed) s.ws.close(WS_CLOSE_NODE_LOST, "the pool host's node connection closed")
        },
      })
      // A failed open is retried on the next subscribe.
      s.upstream.catch(() => {
        s.upstream = undefined
      })
    }
    return s.upstream
  }

  function endSession(s: Session): void {
    if (s.closed) return
    s.closed = true
    sessions.delete(s)
    s.endActivity()
    const up = s.upstream
    if (!up) return
    // Unsubscribe explicitly before closing: the node forgets them with the socket too, but not every client does so at once.
    const done = up
      .then(async (sock) => {
        await Promise.all([...s.subs].map((id) => sock.call('eth_unsubscribe', [id], 1000).catch(() => {})))
        s.subs.clear()
        sock.close()
      })
      .catch(() => {})
      .finally(() => cleanups.delete(done))
    cleanups.add(done)
  }

  function closeSessions(match: (s: Session) => boolean, code: number, reason: string): void {
    for (const s of [...sessions]) {
      if (!match(s)) continue
      log.info('closing relay session', { client: s.client, reason })
      s.ws.close(code, reason)
      endSession(s)
    }
  }

  // ---- servers -------------------------------------------------------------------
  const server = createServer((req, res) => {
    onHttp(req, res).catch((err: unknown) => {
      log.error('relay request failed', { path: req.url }, err)
      sendJson(res, 500, errorReply(null, INTERNAL_ERROR, 'internal error in the relay'))
    })
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxBodyBytes })

  async function onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      sendJson(res, 405, errorReply(null, INVALID_REQUEST, 'the relay takes JSON-RPC as HTTP POST or over a WebSocket'), { allow: 'POST' })
      req.resume()
      return
    }
    const auth = authenticate(req)
    if (!auth.ok) {
      req.resume()
      sendJson(res, 401, errorReply(null, RelayErrorCode.UNAUTHORIZED, auth.message), { 'www-authenticate': 'Bearer realm="vipnode relay"' })
      return
    }
    const body = await readBody(req, limits.maxBodyBytes)
    if (body === undefined) {
      sendJson(res, 413, errorReply(null, RelayErrorCode.PAYLOAD_TOO_LARGE, `request body is over this relay's limit of ${limits.maxBodyBytes} bytes`), { connection: 'close' })
      return
    }
    const { status, body: reply } = await handle(body, auth.client, 'http')
    if (res.destroyed) return
    res.writeHead(status, { 'content-type': 'application/json' }).end(reply)
  }

  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {})
    const auth = authenticate(req)
    if (!auth.ok) return refuseUpgrade(socket, 401, errorReply(null, RelayErrorCode.UNAUTHORIZED, auth.message))
    const open = [...sessions].filter((s) => s.client === auth.client).length
    if (open >= limits.maxSessionsPerClient) {
      return refuseUpgrade(socket, 429, errorReply(null, RelayErrorCode.RATE_LIMITED, `too many WebSocket sessions for this client (at most ${limits.maxSessionsPerClient})`))
    }
    wss.handleUpgrade(req, socket, head, (ws) => onSession(ws, auth.client, auth.tokenHash))
  })

  function onSession(ws: WebSocket, client: NodeId, tokenHash: string): void {
    const s: Session = { ws, client, tokenHash, subs: new Set(), alive: true, closed: false, endActivity: () => {} }
    sessions.add(s)
    ws.on('pong', () => {
      s.alive = true
    })
    ws.on('message', (data, isBinary) => {
      if (s.closed) return
      // Checked per frame as well as by the sweep: an expired token stops at once.
      if (tokens.lookupHash(s.tokenHash, clock.now()) !== s.client) return closeSessions((x) => x === s, WS_CLOSE_TOKEN_INVALID, 'relay token expired or revoked')
      if (isBinary) {
        ws.send(JSON.stringify(errorReply(null, INVALID_REQUEST, 'invalid request: binary frames are not JSON-RPC')))
        return
      }
      handle(data.toString(), client, 'ws', s).then(
        ({ body }) => {
          if (body && ws.readyState === ws.OPEN) ws.send(body)
        },
        (err: unknown) => log.error('relay frame failed', { client }, err),
      )
    })
    ws.on('error', () => {})
    ws.on('close', () => endSession(s))
  }

  const unsubscribeRevoke = tokens.onRevoke((_client, hash) => closeSessions((s) => s.tokenHash === hash, WS_CLOSE_TOKEN_INVALID, 'relay token revoked'))
  const sweep = setInterval(() => {
    const now = clock.now()
    closeSessions((s) => tokens.lookupHash(s.tokenHash, now) !== s.client, WS_CLOSE_TOKEN_INVALID, 'relay token expired')
    limiter.prune(now)
  }, limits.sweepMs)
  sweep.unref()
  const pinger = setInterval(() => {
    for (const s of sessions) {
      if (!s.alive) {
        s.ws.terminate()
        continue
      }
      s.alive = false
      s.ws.ping()
    }
  }, limits.pingIntervalMs)
  pinger.unref()

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as { address: string; port: number }
  const hostPart = address.address.includes(':') ? `[${address.address}]` : address.address
  log.info('rpc relay listening', { url: `http://${hostPart}:${address.port}/`, node: node.where, subscriptions: nodeWsUrl !== undefined })

  return {
    url: `http://${hostPart}:${address.port}/`,
    wsUrl: `ws://${hostPart}:${address.port}/`,
    port: address.port,
    drainActivity: () => meter.drain(),
    noteHead: (n) => coster.noteHead(n),
    sessionCount: (clientNodeId) => [...sessions].filter((s) => clientNodeId === undefined || s.client === clientNodeId).length,
    async close() {
      clearInterval(sweep)
      clearInterval(pinger)
      unsubscribeRevoke()
      closeSessions(() => true, 1001, 'relay shutting down')
      await Promise.all([...cleanups])
      wss.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

/** A reply object from the node with the client's id put back; anything but {result} or {error} is the node's fault. */

/** fetch wraps the socket error ("fetch failed") in `cause`; name the real one. */
function describeFetchError(err: unknown): string {
  const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } }
  return String(e?.cause?.code ?? e?.cause?.message ?? e?.message ?? err)
}

/** fetch refuses URLs with credentials: move them into a Basic auth header. */
function nodeHttpTarget(raw: string): { url: URL; headers: Record<string, string>; where: string } {
  const url = new URL(raw)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`the relay needs the node's HTTP endpoint, got ${scrubUrl(raw)}`)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
    url.username = ''
    url.password = ''
  }
  return { url, headers, where: scrubUrl(raw) }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

function refuseUpgrade(socket: Duplex, status: number, body: RpcReply): void {
  const text = JSON.stringify(body)
  const extra = status === 401 ? 'WWW-Authenticate: Bearer realm="vipnode relay"\r\n' : ''
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n${extra}\r\n${text}`)
}
