/**
 * Transport for /v1/agent: one WebSocket per agent carrying JSON-RPC in both
 * directions. This module owns framing, size and rate limits, the
 * authentication gate and liveness pings; the handlers own the semantics.
 */
import { WebSocketServer, type WebSocket, type RawData } from 'ws'
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
import { TokenBucket } from '../../lib/rateLimit.ts'
import { PingLiveness, closeAll, rawSize, rawText, sendBounded } from '../../lib/socketKit.ts'
import { SocketGate, setFrameLimit, type GateTicket } from './socketGate.ts'

/** A socket whose unsent data grows past this is a slow consumer and is dropped. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024
/** Time a socket gets at shutdown to finish the closing handshake before it is cut. */
const CLOSE_GRACE_MS = 1_000

export interface AgentSocketServer {
  wss: WebSocketServer
  handleUpgrade(req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void
  /** Close every socket with 1001 and stop pinging. */
  close(): Promise<void>
}

export function createAgentSocketServer(services: CoordinatorServices): AgentSocketServer {
  const { config, log, metrics, clock } = services
  const wss = new WebSocketServer({
    noServer: true,
    // Frames between maxFrameBytes and this hard cap get a PAYLOAD_TOO_LARGE reply; above it ws closes with 1009.
    maxPayload: config.maxFrameBytes * 4,
    perMessageDeflate: false,
  })
  // Half-open sockets (peer vanished without a FIN) are found by a missed ping.
  const liveness = new PingLiveness(config.pingIntervalMs)
  // Connection floods and address caps (socketGate.ts): pending per address and in all, authenticated per address.
  const gate = new SocketGate(
    { maxPendingPerAddress: config.maxPendingSocketsPerAddress, maxPending: config.maxPendingSockets, maxAuthenticatedPerAddress: config.maxAgentsPerAddress },
    { log, clock, name: '' },
  )
  const hardFrameCap = config.maxFrameBytes * 4

  function onConnection(ws: WebSocket, req: IncomingMessage, ticket: GateTicket): void {
    const remoteAddress = services.clientAddress(req)
    // Until vipnode_connect succeeds only a small frame is read; a larger one closes the socket (1009) before it is buffered.
    setFrameLimit(ws, Math.min(config.maxPreAuthFrameBytes, hardFrameCap))
    const socketId = randomUUID()
    const sockLog = log.child({ socket: socketId, remote: remoteAddress })
    const bucket = new TokenBucket({ ratePerSec: config.rateLimitPerSecond, burst: config.rateLimitBurst }, clock.now())
    let limitedLogged = false
    liveness.track(ws)
    metrics.pendingSockets.inc()

    const send = (text: string) => {
      const sent = sendBounded(ws, text, MAX_BUFFERED_BYTES, (buffered) => sockLog.warn('slow consumer dropped', { buffered }))
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

    const peer = new RpcPeer({
      send,
      requestTimeoutMs: config.admitTimeoutMs,
      // One frame at a time per socket: a burst of reports must not be metered concurrently (docs/security.md).
      serialDispatch: true,
      dispatch: async (method, params, kind) => {
        const handler = Object.hasOwn(handlers, method) ? handlers[method as keyof typeof handlers] : undefined
        let code = 0
        try {
          if (!handler) throw rpcError('METHOD_NOT_FOUND', `method ${method.slice(0, 64)} not found`)
          if (kind === 'notification') throw rpcError('INVALID_REQUEST', `${method} must be called with an id`)
          if (!conn.session && !publicMethods.has(method)) throw rpcError('UNAUTHORIZED')
          const wasAuthenticated = conn.session !== undefined
          if (!wasAuthenticated && ticket.authenticatedCount() >= config.maxAgentsPerAddress) {
            sockLog.warn('agents per address at the cap: login refused', { limit: config.maxAgentsPerAddress })
            setImmediate(() => ws.close(CloseCode.ADDRESS_FULL, 'too many agents from this address'))
            throw rpcError('RATE_LIMITED', `this address (${ticket.key}) already holds ${config.maxAgentsPerAddress} authenticated agents, the most allowed`)
          }
          const result = await handler(params, conn, services)
          if (!wasAuthenticated && conn.session) {
            metrics.pendingSockets.dec()
            setFrameLimit(ws, hardFrameCap)
            // Two logins from one address racing past the check above: the later one is cut.
            if (!ticket.authenticate()) ws.close(CloseCode.ADDRESS_FULL, 'too many agents from this address')
          }
          return result
        } catch (err) {
          const error = err instanceof RpcError ? err : rpcError('INTERNAL_ERROR')
          code = error.code
          if (error.code === ErrorCode.INTERNAL_ERROR) sockLog.error('handler failed', { method }, err)
          else sockLog.warn('request rejected', { method: method.slice(0, 64), code: error.code, reason: error.message, node: conn.session?.nodeId })
          throw error
        } finally {
          metrics.rpcRequests.inc({ method: handler ? method : 'unknown', code })
        }
      },
      onProtocolError: (error) => sockLog.warn('bad frame', { code: error.code, reason: error.message }),
    })

    const authTimer = setTimeout(() => {
      if (!conn.session) {
        sockLog.info('authentication timeout')
        ws.close(CloseCode.AUTH_TIMEOUT, 'authentication timeout: send vipnode_connect after the challenge')
      }
    }, config.challengeTtlMs)

    ws.on('message', (data: RawData, isBinary: boolean) => {
      metrics.frames.inc({ direction: 'in' })
      liveness.seen(ws)
      const size = rawSize(data)
      if (!bucket.take(clock.now())) {
        if (!limitedLogged) sockLog.warn('rate limited', { node: conn.session?.nodeId })
        limitedLogged = true
        send(encodeError(null, rpcError('RATE_LIMITED', `rate limited: at most ${config.rateLimitPerSecond} frames per second`)))
        return
      }
      limitedLogged = false
      if (size > config.maxFrameBytes) {
        sockLog.warn('frame too large', { bytes: size })
        send(encodeError(null, rpcError('PAYLOAD_TOO_LARGE', `frame of ${size} bytes exceeds the ${config.maxFrameBytes}-byte limit`)))
        return
      }
      if (isBinary) {
        sockLog.warn('binary frame')
        send(encodeError(null, rpcError('INVALID_REQUEST', 'binary frames are not supported: send JSON text')))
        return
      }
      void peer.receive(rawText(data))
    })

    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(authTimer)
      peer.close('agent disconnected')
      if (!conn.session) {
        metrics.pendingSockets.dec()
        return
      }
      const session = conn.session
      const wasCurrent = services.logins.logout(conn, `closed ${code}`)
      sockLog.info('agent disconnected', { node: session.nodeId, role: session.role, code, reason: reason.toString().slice(0, 120), current: wasCurrent })
    })

    ws.on('error', (err) => sockLog.warn('socket error', { error: err.message }))

    const challenge: ChallengeParams = { challenge: conn.auth.challenge, poolId: services.poolId, protocolVersion: PROTOCOL_VERSION, expiresAtMs: conn.auth.expiresAtMs }
    peer.notify('vipnode_challenge', challenge)
  }

  return {
    wss,
    handleUpgrade(req, socket, head) {
      gate.upgrade(wss, req, socket, head, services.clientAddress(req), (ws, ticket) => onConnection(ws, req, ticket))
    },
    async close() {
      liveness.stop()
      // Well-behaved peers get a moment to complete the closing handshake; the rest are cut.
      const closing = closeAll(wss.clients, CloseCode.GOING_AWAY, 'coordinator shutting down', CLOSE_GRACE_MS)
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      await closing
    },
  }
}
