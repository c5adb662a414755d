/**
 * The gate in front of both socket servers (/v1/agent and the tracker's
 * /api): how many sockets may wait to authenticate, per address and in all,
 * and how many authenticated sockets one address may hold. Addresses are
 * counted by `addressKey` (IPv4 address or IPv6 /64) of the client address
 * (`clientAddress.ts`, which honours X-Forwarded-For only from trusted
 * proxies). Refusals happen at the HTTP upgrade, before any WebSocket exists.
 *
 * - A socket takes a pending slot at the upgrade and gives it back when it
 *   authenticates or closes.
 * - Beyond `maxPendingPerAddress` for its address: HTTP 429.
 * - Beyond `maxPending` in all: HTTP 503 (the server is full, not the caller at fault).
 * - Authenticating when its address already holds `maxAuthenticatedPerAddress`
 *   authenticated sockets: refused (the server decides how to say so).
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocket, WebSocketServer } from 'ws'
import type { Logger } from '../../lib/logger.ts'
import type { Clock } from '../../lib/clock.ts'
import { addressKey } from './clientAddress.ts'

export interface SocketGateLimits {
  /** Sockets one address (IPv4, or IPv6 /64) may hold open before authenticating. */
  maxPendingPerAddress: number
  /** Sockets waiting to authenticate, all addresses together. */
  maxPending: number
  /** Authenticated sockets one address (IPv4, or IPv6 /64) may hold. */
  maxAuthenticatedPerAddress: number
}

export interface GateTicket {
  /** The address key this socket counts under. */
  readonly key: string
  /** Authenticated sockets its address holds now (check before a login that would change state). */
  authenticatedCount(): number
  /** Move from pending to authenticated; false (and still pending) when the address is at its authenticated cap. */
  authenticate(): boolean
  /** The socket closed: give back whatever slot it holds. Idempotent. */
  release(): void
}

export type GateDecision = { ok: true; ticket: GateTicket } | { ok: false; status: 429 | 503; key: string; why: 'address' | 'global' }

/** Warnings about one address at most this often, so a flood cannot flood the log. */
const LOG_EVERY_MS = 10_000

export class SocketGate {
  private readonly pendingByKey = new Map<string, number>()
  private readonly authByKey = new Map<string, number>()
  private pendingTotal = 0
  private readonly loggedAtMs = new Map<string, number>()

  constructor(
    private readonly limits: SocketGateLimits,
    private readonly deps: { log: Logger; clock: Clock; /** Prefix of log messages ('' or 'tracker '). */ name: string },
  ) {}

  /** Take a pending slot for a socket from `clientAddress`, or say why not. */
  admit(clientAddress: string): GateDecision {
    const key = addressKey(clientAddress)
    const pending = this.pendingByKey.get(key) ?? 0
    if (pending >= this.limits.maxPendingPerAddress) return { ok: false, status: 429, key, why: 'address' }
    if (this.pendingTotal >= this.limits.maxPending) return { ok: false, status: 503, key, why: 'global' }
    this.pendingByKey.set(key, pending + 1)
    this.pendingTotal++
    let state: 'pending' | 'authenticated' | 'released' = 'pending'
    const leavePending = () => {
      this.pendingTotal--
      dec(this.pendingByKey, key)
      if (!this.pendingByKey.has(key)) this.loggedAtMs.delete(key)
    }
    return {
      ok: true,
      ticket: {
        key,
        authenticatedCount: () => this.authByKey.get(key) ?? 0,
        authenticate: () => {
          if (state !== 'pending') return state === 'authenticated'
          const auth = this.authByKey.get(key) ?? 0
          if (auth >= this.limits.maxAuthenticatedPerAddress) return false
          this.authByKey.set(key, auth + 1)
          leavePending()
          state = 'authenticated'
          return true
        },
        release: () => {
          if (state === 'pending') leavePending()
          else if (state === 'authenticated') dec(this.authByKey, key)
          state = 'released'
        },
      },
    }
  }

  /** Refuse an upgrade with the decision's status (and log it, once per address per 10 s). */
  refuse(socket: Duplex, decision: Extract<GateDecision, { ok: false }>): void {
    const now = this.deps.clock.now()
    const logKey = decision.why === 'global' ? '*' : decision.key
    if (now - (this.loggedAtMs.get(logKey) ?? -Infinity) >= LOG_EVERY_MS) {
      this.loggedAtMs.set(logKey, now)
      if (decision.why === 'address') {
        this.deps.log.warn(`${this.deps.name}connection flood: upgrade refused`, { remote: decision.key, limit: this.limits.maxPendingPerAddress })
      } else {
        this.deps.log.warn(`${this.deps.name}pending sockets at the global cap: upgrade refused`, { pending: this.pendingTotal, limit: this.limits.maxPending })
      }
    }
    refuseUpgrade(socket, decision.status)
  }

  /**
   * Hand an HTTP upgrade from `clientAddress` to `wss`, or refuse it (429/503).
   * The pending slot is given back when the TCP socket closes (a failed
   * handshake closes it too); `onOpen` gets the socket with its ticket, which
   * moves to the authenticated count at login.
   */
  upgrade(
    wss: WebSocketServer,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    clientAddress: string,
    onOpen: (ws: WebSocket, ticket: GateTicket) => void,
  ): void {
    const decision = this.admit(clientAddress)
    if (!decision.ok) {
      this.refuse(socket, decision)
      return
    }
    const { ticket } = decision
    socket.once('close', () => ticket.release())
    wss.handleUpgrade(req, socket, head, (ws) => onOpen(ws, ticket))
  }

  /** Authenticated sockets of this address's key (for logs and tests). */
  authenticatedOf(clientAddress: string): number {
    return this.authByKey.get(addressKey(clientAddress)) ?? 0
  }

  get pending(): number {
    return this.pendingTotal
  }

  get limitsInForce(): Readonly<SocketGateLimits> {
    return this.limits
  }
}

/**
 * Change the largest frame one socket accepts from now on. `ws` takes its
 * limit per server (maxPayload); its receiver reads the limit per frame
 * header, so lowering it before authentication refuses an oversize frame
 * (close 1009) as soon as its header arrives, without buffering it, and
 * raising it after authentication lets normal frames through. The receiver
 * field is private to ws (8.x): if it is ever missing this throws, and the
 * socket tests fail, rather than silently accepting 4 MiB frames.
 */
export function setFrameLimit(ws: WebSocket, bytes: number): void {
  const receiver = (ws as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver
  if (!receiver || typeof receiver._maxPayload !== 'number') throw new Error('ws internals changed: cannot set a per-socket frame limit')
  receiver._maxPayload = bytes
}

const STATUS_TEXT = { 429: 'Too Many Requests', 503: 'Service Unavailable' } as const

/** Answer an upgrade with a bare HTTP status (and Retry-After) and close the TCP connection. */
export function refuseUpgrade(socket: Duplex, status: 429 | 503, retryAfterS = 5): void {
  socket.once('finish', () => socket.destroy())
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nRetry-After: ${retryAfterS}\r\nContent-Length: 0\r\n\r\n`)
}

function dec(map: Map<string, number>, key: string): void {
  const left = (map.get(key) ?? 1) - 1
  if (left > 0) map.set(key, left)
  else map.delete(key)
}
