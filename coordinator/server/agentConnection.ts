/**
 * One agent's socket at /v1/agent, from the upgrade to `close`: the
 * challenge, the checks every frame passes (rate, size, text), the
 * authentication gate in front of the handlers, and logout on close.
 *
 * - Before vipnode_connect succeeds only a small frame is read, only public
 *   methods are served, and the socket is closed after the challenge TTL.
 * - A login from an address already holding its share of authenticated
 *   agents is refused (ADDRESS_FULL), also when two race past the check.
 * - Frames are dispatched one at a time per socket (serialDispatch).
 */
import type { WebSocket, RawData } from 'ws'
import type { IncomingMessage } from 'node:http'
import { randomUUID } from 'node:crypto'
import {
  RpcPeer,
  rpcError,
  encodeError,
  newChallenge,
  PROTOCOL_VERSION,
  RpcError,
  ErrorCode,
  type ChallengeParams,
  originFromHostHeader,
} from '../../protocol/index.ts'
import { handlers, publicMethods } from '../rpc/index.ts'
import type { CoordinatorServices, ServerConnection } from '../rpc/context.ts'
import { CloseCode } from '../services/sessions.ts'
import type { Logger } from '../../lib/logger.ts'
import { TokenBucket } from '../../lib/rateLimit.ts'
import { rawSize, rawText, sendBounded, type PingLiveness } from '../../lib/socketKit.ts'
import { setFrameLimit, type GateTicket } from './socketGate.ts'

/** A socket whose unsent data grows past this is a slow consumer and is dropped. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

export interface AgentConnectionParams {
  ws: WebSocket
  req: IncomingMessage
  ticket: GateTicket
  services: CoordinatorServices
  liveness: PingLiveness
  /** The server's maxPayload: the frame limit once authenticated. */
  hardFrameCap: number
  /** Set when the server closes every socket: each disconnect is then logged at debug, the server logs one line for all. */
  server: { stopping: boolean }
}

/** What the per-socket pieces below share. */
interface AgentSocket extends AgentConnectionParams {
  conn: ServerConnection
  log: Logger
  send(text: string): void
}

/** Wire one upgraded socket: limits, the RPC peer, timers and listeners; then send the challenge. */
export function openAgentConnection(params: AgentConnectionParams): void {
  const { ws, req, services, liveness } = params
  const { config, metrics, clock } = services
  // Until vipnode_connect succeeds only a small frame is read; a larger one closes the socket (1009) before it is buffered.
  setFrameLimit(ws, Math.min(config.maxPreAuthFrameBytes, params.hardFrameCap))
  const remoteAddress = services.clientAddress(req)
  const socketId = randomUUID()
  const log = services.log.child({ socket: socketId, remote: remoteAddress })
  liveness.track(ws)
  metrics.pendingSockets.inc()

  const send = (text: string) => {
    const sent = sendBounded(ws, text, MAX_BUFFERED_BYTES, (buffered) => log.warn('slow consumer dropped', { buffered }))
    if (sent === 'sent') metrics.frames.inc({ direction: 'out' })
  }
  const conn: ServerConnection = {
    socketId,
    remoteAddress,
    session: undefined,
    auth: {
      challenge: newChallenge(),
      expiresAtMs: clock.now() + config.challengeTtlMs,
      used: false,
      reachedOrigin: originFromHostHeader(req.headers.host, 'encrypted' in req.socket && req.socket.encrypted === true),
    },
    isOpen: () => ws.readyState === ws.OPEN,
    call: (method, params, options) => peer.call(method, params, options),
    notify: (method, params) => peer.notify(method, params),
    close: (code, reason) => ws.close(code, reason),
  }
  const socket: AgentSocket = { ...params, conn, log, send }
  const peer = new RpcPeer({
    send,
    requestTimeoutMs: config.admitTimeoutMs,
    // One frame at a time per socket: a burst of reports must not be metered concurrently (docs/security.md).
    serialDispatch: true,
    dispatch: (method, params, kind) => dispatch(socket, method, params, kind),
    onProtocolError: (error) => log.warn('bad frame', { code: error.code, reason: error.message }),
  })

  const authTimer = setTimeout(() => {
    if (!conn.session) {
      log.info('authentication timeout')
      ws.close(CloseCode.AUTH_TIMEOUT, 'authentication timeout: send vipnode_connect after the challenge')
    }
  }, config.challengeTtlMs)

  const admitFrame = frameChecks(socket)
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (admitFrame(data, isBinary)) void peer.receive(rawText(data))
  })
  ws.on('close', (code: number, reason: Buffer) => {
    clearTimeout(authTimer)
    peer.close('agent disconnected')
    onClosed(socket, code, reason)
  })
  ws.on('error', (err) => log.warn('socket error', { error: err.message }))

  const challenge: ChallengeParams = { challenge: conn.auth.challenge, poolId: services.poolId, protocolVersion: PROTOCOL_VERSION, expiresAtMs: conn.auth.expiresAtMs }
  peer.notify('vipnode_challenge', challenge)
}

/**
 * The checks every incoming frame passes before the RPC peer reads it: the
 * socket's token bucket, the size limit and text only. A refused frame gets
 * an error reply (id null) and goes no further; any frame counts as life.
 */
function frameChecks(socket: AgentSocket): (data: RawData, isBinary: boolean) => boolean {
  const { ws, services, log, send, conn } = socket
  const { config, metrics, clock } = services
  const bucket = new TokenBucket({ ratePerSec: config.rateLimitPerSecond, burst: config.rateLimitBurst }, clock.now())
  // One warning per run of refused frames, so a flood cannot flood the log.
  let limitedLogged = false
  return (data, isBinary) => {
    metrics.frames.inc({ direction: 'in' })
    socket.liveness.seen(ws)
    const size = rawSize(data)
    if (!bucket.take(clock.now())) {
      if (!limitedLogged) log.warn('rate limited', { node: conn.session?.nodeId })
      limitedLogged = true
      send(encodeError(null, rpcError('RATE_LIMITED', `rate limited: at most ${config.rateLimitPerSecond} frames per second`)))
      return false
    }
    limitedLogged = false
    if (size > config.maxFrameBytes) {
      log.warn('frame too large', { bytes: size })
      send(encodeError(null, rpcError('PAYLOAD_TOO_LARGE', `frame of ${size} bytes exceeds the ${config.maxFrameBytes}-byte limit`)))
      return false
    }
    if (isBinary) {
      log.warn('binary frame')
      send(encodeError(null, rpcError('INVALID_REQUEST', 'binary frames are not supported: send JSON text')))
      return false
    }
    return true
  }
}

/**
 * One request or notification from the agent: the method must exist, be
 * called with an id, and be public unless the socket is authenticated; a
 * login is refused when the address is at its cap. Every call is counted in
 * `rpcRequests` with its error code (0 for success).
 */
async function dispatch(socket: AgentSocket, method: string, params: unknown, kind: 'request' | 'notification'): Promise<unknown> {
  const { services, conn, log } = socket
  const handler = Object.hasOwn(handlers, method) ? handlers[method as keyof typeof handlers] : undefined
  let code = 0
  try {
    if (!handler) throw rpcError('METHOD_NOT_FOUND', `method ${method.slice(0, 64)} not found`)
    if (kind === 'notification') throw rpcError('INVALID_REQUEST', `${method} must be called with an id`)
    if (!conn.session && !publicMethods.has(method)) throw rpcError('UNAUTHORIZED')
    const wasAuthenticated = conn.session !== undefined
    if (!wasAuthenticated) refuseLoginAtAddressCap(socket)
    const result = await handler(params, conn, services)
    if (!wasAuthenticated && conn.session) onAuthenticated(socket)
    return result
  } catch (err) {
    const error = err instanceof RpcError ? err : rpcError('INTERNAL_ERROR')
    code = error.code
    if (error.code === ErrorCode.INTERNAL_ERROR) log.error('handler failed', { method }, err)
    else log.warn('request rejected', { method: method.slice(0, 64), code: error.code, reason: error.message, node: conn.session?.nodeId })
    throw error
  } finally {
    services.metrics.rpcRequests.inc({ method: handler ? method : 'unknown', code })
  }
}

/** Throws RATE_LIMITED (and closes the socket after the reply) when this address already holds its share of agents. */
function refuseLoginAtAddressCap({ ticket, services, log, ws }: AgentSocket): void {
  const limit = services.config.maxAgentsPerAddress
  if (ticket.authenticatedCount() < limit) return
  log.warn('agents per address at the cap: login refused', { limit })
  setImmediate(() => ws.close(CloseCode.ADDRESS_FULL, 'too many agents from this address'))
  throw rpcError('RATE_LIMITED', `this address (${ticket.key}) already holds ${limit} authenticated agents, the most allowed`)
}

/** The socket just logged in: it leaves the pending count and may send full-size frames. */
function onAuthenticated({ services, ws, ticket, hardFrameCap }: AgentSocket): void {
  services.metrics.pendingSockets.dec()
  setFrameLimit(ws, hardFrameCap)
  // Two logins from one address racing past the check in refuseLoginAtAddressCap: the later one is cut.
  if (!ticket.authenticate()) ws.close(CloseCode.ADDRESS_FULL, 'too many agents from this address')
}

/** The socket closed: a pending socket leaves the pending count, a session logs out. */
function onClosed({ services, conn, log, server }: AgentSocket, code: number, reason: Buffer): void {
  if (!conn.session) {
    services.metrics.pendingSockets.dec()
    return
  }
  const session = conn.session
  const wasCurrent = services.logins.logout(conn, `closed ${code}`)
  const context = { node: session.nodeId, role: session.role, code, reason: reason.toString().slice(0, 120), current: wasCurrent }
  if (server.stopping) log.debug('agent disconnected', context)
  else log.info('agent disconnected', context)
}
