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
} from '../../protocol/index.ts'
import { handlers, publicMethods } from '../rpc/index.ts'
import type { CoordinatorServices, ServerConnection } from '../rpc/context.ts'
import { CloseCode } from '../services/sessions.ts'
import { TokenBucket } from './rateLimiter.ts'

/** A socket whose unsent data grows past this is a slow consumer and is dropped. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

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
  const alive = new WeakMap<WebSocket, boolean>()
  // Connection floods: sockets not yet authenticated, per remote address (see maxPendingSocketsPerAddress).
  const pendingByAddress = new Map<string, number>()
  const releaseByRequest = new WeakMap<IncomingMessage, () => void>()
  const floodLoggedAtMs = new Map<string, number>()

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    const remoteAddress = req.socket.remoteAddress ?? 'unknown'
    const releaseAddress = releaseByRequest.get(req)
    const socketId = randomUUID()
    const sockLog = log.child({ socket: socketId, remote: remoteAddress })
    const bucket = new TokenBucket(config.rateLimitPerSecond, config.rateLimitBurst, clock.now())
    let limitedLogged = false
    alive.set(ws, true)
    metrics.pendingSockets.inc()

    const send = (text: string) => {
      if (ws.readyState !== ws.OPEN) return
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        sockLog.warn('slow consumer dropped', { buffered: ws.bufferedAmount })
        ws.terminate()
        return
      }
      metrics.frames.inc({ direction: 'out' })
      ws.send(text)
    }

    const conn: ServerConnection = {
      socketId,
      remoteAddress,
      session: undefined,
      auth: { challenge: newChallenge(), expiresAtMs: clock.now() + config.challengeTtlMs, used: false },
      call: (method, params, options) => peer.call(method, params, options),
      notify: (method, params) => peer.notify(method, params),
      close: (code, reason) => ws.close(code, reason),
    }

    const peer = new RpcPeer({
      send,
      requestTimeoutMs: config.admitTimeoutMs,
      dispatch: async (method, params, kind) => {
        const handler = Object.hasOwn(handlers, method) ? handlers[method as keyof typeof handlers] : undefined
        let code = 0
        try {
          if (!handler) throw rpcError('METHOD_NOT_FOUND', `method ${method.slice(0, 64)} not found`)
          if (kind === 'notification') throw rpcError('INVALID_REQUEST', `${method} must be called with an id`)
          if (!conn.session && !publicMethods.has(method)) throw rpcError('UNAUTHORIZED')
          const wasAuthenticated = conn.session !== undefined
          const result = await handler(params, conn, services)
          if (!wasAuthenticated && conn.session) {
            metrics.pendingSockets.dec()
            releaseAddress?.()
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
      alive.set(ws, true)
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

    ws.on('pong', () => alive.set(ws, true))

    ws.on('close', (code: number, reason: Buffer) => {
      clearTimeout(authTimer)
      peer.close('agent disconnected')
      if (!conn.session) {
        metrics.pendingSockets.dec()
        return
      }
      const session = conn.session
      const wasCurrent = services.sessions.detach(conn)
      metrics.agentSockets.set({ role: 'host' }, services.sessions.count('host'))
      metrics.agentSockets.set({ role: 'client' }, services.sessions.count('client'))
      sockLog.info('agent disconnected', { node: session.nodeId, role: session.role, code, reason: reason.toString().slice(0, 120), current: wasCurrent })
      services.store.closeSession(session.sessionId, clock.now(), `closed ${code}`).catch((err: unknown) => sockLog.error('closing session failed', {}, err))
    })

    ws.on('error', (err) => sockLog.warn('socket error', { error: err.message }))

    const challenge: ChallengeParams = { challenge: conn.auth.challenge, poolId: services.poolId, protocolVersion: PROTOCOL_VERSION, expiresAtMs: conn.auth.expiresAtMs }
    peer.notify('vipnode_challenge', challenge)
  })

  // Half-open sockets (peer vanished without a FIN) are found by a missed ping.
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate()
        continue
      }
      alive.set(ws, false)
      ws.ping()
    }
  }, config.pingIntervalMs)
  pinger.unref()

  return {
    wss,
    handleUpgrade(req, socket, head) {
      const address = req.socket.remoteAddress ?? 'unknown'
      const pending = pendingByAddress.get(address) ?? 0
      if (pending >= config.maxPendingSocketsPerAddress) {
        const now = clock.now()
        if (now - (floodLoggedAtMs.get(address) ?? -Infinity) >= 10_000) {
          floodLoggedAtMs.set(address, now)
          log.warn('connection flood: upgrade refused', { remote: address, pending, limit: config.maxPendingSocketsPerAddress })
        }
        socket.once('finish', () => socket.destroy())
        socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n')
        return
      }
      pendingByAddress.set(address, pending + 1)
      let held = true
      // Released when the socket authenticates or closes, whichever comes first (a failed handshake closes it too).
      const release = () => {
        if (!held) return
        held = false
        const left = (pendingByAddress.get(address) ?? 1) - 1
        if (left > 0) pendingByAddress.set(address, left)
        else {
          pendingByAddress.delete(address)
          floodLoggedAtMs.delete(address)
        }
      }
      socket.once('close', release)
      releaseByRequest.set(req, release)
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
    },
    async close() {
      clearInterval(pinger)
      for (const ws of wss.clients) ws.close(CloseCode.GOING_AWAY, 'coordinator shutting down')
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      // Give well-behaved peers a moment to complete the closing handshake, then cut the rest.
      const deadline = Date.now() + 1_000
      while ([...wss.clients].some((ws) => ws.readyState !== ws.CLOSED) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      for (const ws of wss.clients) ws.terminate()
    },
  }
}

function rawSize(data: RawData): number {
  if (Buffer.isBuffer(data)) return data.length
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0)
  return data.byteLength
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data).toString('utf8')
}
