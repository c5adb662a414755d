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
 * - With login pacing (a token bucket that books turns, `TokenBucket.reserve`; /v1/agent only): beyond the
 *   login rate, HTTP 503 with the booked slot: `Retry-After` (seconds),
 *   `X-Vipnode-Retry-After-Ms` and `X-Vipnode-Login-Slot`, a token the agent
 *   sends back in the same header when it returns. A valid token (this
 *   process's HMAC over the slot and the address key, used once, presented
 *   from its slot time until SLOT_LATE_MS after) passes without being paced
 *   again: its turn was booked when it was handed out.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type { WebSocket, WebSocketServer } from 'ws'
import type { Logger } from '../../lib/logger.ts'
import type { Clock } from '../../lib/clock.ts'
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { addressKey } from './clientAddress.ts'
import { LOGIN_SLOT_HEADER, RETRY_AFTER_MS_HEADER } from '../../protocol/index.ts'
import { TokenBucket, type RateLimit } from '../../lib/rateLimit.ts'

/**
 * Logins per second (and the burst) a coordinator admits by default. With libsecp256k1 one login costs the
 * coordinator well under a millisecond, so this leaves room for the agents already back (docs/benchmarks.md).
 */
export const DEFAULT_LOGIN_RATE = 1_000
/** How long after its slot a token stays good (an agent busy elsewhere, a slow reconnect). */
const SLOT_LATE_MS = 30_000
/** How early before its slot a token is honoured (clock granularity of the agent's timer). */
const SLOT_EARLY_MS = 50

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

export type GateDecision =
  | { ok: true; ticket: GateTicket }
  | { ok: false; status: 429 | 503; key: string; why: 'address' | 'global' }
  | { ok: false; status: 503; key: string; why: 'paced'; slotAtMs: number; token: string }

/**
 * The login schedule with its slot tokens. The HMAC key lives in this process
 * only: after a restart old tokens are worthless and their holders are paced
 * afresh, which is what a restarted schedule wants. Each address may hold at
 * most `maxBookedPerAddress` booked slots: one that dials again and again
 * without its token would otherwise fill the schedule and push every honest
 * agent's turn back; beyond that it gets a plain 429 and books nothing.
 */
class LoginPacer {
  private readonly bucket: TokenBucket
  private readonly key = randomBytes(32)
  private seq = 0
  /** Slots handed out and not yet used or expired, by sequence number (sequence order is expiry order). */
  private readonly booked = new Map<number, { key: string; expiresAtMs: number }>()
  private readonly bookedByKey = new Map<string, number>()

  constructor(
    limit: RateLimit,
    private readonly maxBookedPerAddress: number,
    nowMs: number,
  ) {
    this.bucket = new TokenBucket(limit, nowMs)
  }

  /** Admit now (a good token, or the rate allows), the slot to come back at with its token, or 'flood'. */
  decide(key: string, presented: string | undefined, nowMs: number): { admit: true } | { admit: false; slotAtMs: number; token: string } | { admit: false; flood: true } {
    for (const [seq, b] of this.booked) {
      if (b.expiresAtMs > nowMs) break
      this.unbook(seq)
    }
    const slot = presented === undefined ? undefined : this.verify(presented, key)
    if (slot && this.booked.has(slot.seq)) {
      // Early: the same slot again (not a new one), so coming back too soon costs the agent only a round trip.
      if (nowMs < slot.slotAtMs - SLOT_EARLY_MS) return { admit: false, slotAtMs: slot.slotAtMs, token: presented! }
      this.unbook(slot.seq)
      return { admit: true }
    }
    if ((this.bookedByKey.get(key) ?? 0) >= this.maxBookedPerAddress) return { admit: false, flood: true }
    const waitMs = this.bucket.reserve(nowMs)
    if (waitMs === 0) return { admit: true }
    const slotAtMs = nowMs + waitMs
    const seq = ++this.seq
    this.booked.set(seq, { key, expiresAtMs: slotAtMs + SLOT_LATE_MS })
    this.bookedByKey.set(key, (this.bookedByKey.get(key) ?? 0) + 1)
    return { admit: false, slotAtMs, token: `${seq}.${slotAtMs}.${this.mac(seq, slotAtMs, key)}` }
  }

  private unbook(seq: number): void {
    const b = this.booked.get(seq)
    if (!b) return
    this.booked.delete(seq)
    dec(this.bookedByKey, b.key)
  }

  /** The wait a login refused now would get. */
  backlogMs(nowMs: number): number {
    return this.bucket.waitMs(nowMs)
  }

  private mac(seq: number, slotAtMs: number, key: string): string {
    return createHmac('sha256', this.key).update(`${seq}.${slotAtMs}.${key}`).digest('hex').slice(0, 32)
  }

  private verify(token: string, key: string): { seq: number; slotAtMs: number } | undefined {
    const m = /^(\d{1,15})\.(\d{1,15})\.([0-9a-f]{32})$/.exec(token)
    if (!m) return undefined
    const seq = Number(m[1])
    const slotAtMs = Number(m[2])
    const expected = Buffer.from(this.mac(seq, slotAtMs, key), 'hex')
    return timingSafeEqual(expected, Buffer.from(m[3]!, 'hex')) ? { seq, slotAtMs } : undefined
  }
}

/** Warnings about one address at most this often, so a flood cannot flood the log. */
const LOG_EVERY_MS = 10_000

export class SocketGate {
  private readonly pendingByKey = new Map<string, number>()
  private readonly authByKey = new Map<string, number>()
  private pendingTotal = 0
  private readonly loggedAtMs = new Map<string, number>()
  private readonly pacer: LoginPacer | undefined

  constructor(
    private readonly limits: SocketGateLimits,
    private readonly deps: { log: Logger; clock: Clock; /** Prefix of log messages ('' or 'tracker '). */ name: string; /** Login pacing (the agent server). */ pacing?: RateLimit },
  ) {
    this.pacer = deps.pacing ? new LoginPacer(deps.pacing, limits.maxPendingPerAddress, deps.clock.now()) : undefined
  }

  /** Take a pending slot for a socket from `clientAddress` (presenting `slotToken` if it has one), or say why not. */
  admit(clientAddress: string, slotToken?: string): GateDecision {
    const key = addressKey(clientAddress)
    if (this.pacer) {
      const paced = this.pacer.decide(key, slotToken, this.deps.clock.now())
      if ('flood' in paced) return { ok: false, status: 429, key, why: 'address' }
      if (!paced.admit) return { ok: false, status: 503, key, why: 'paced', slotAtMs: paced.slotAtMs, token: paced.token }
    }
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
    const logKey = decision.why === 'address' ? decision.key : `*${decision.why}`
    if (now - (this.loggedAtMs.get(logKey) ?? -Infinity) >= LOG_EVERY_MS) {
      this.loggedAtMs.set(logKey, now)
      if (decision.why === 'paced') {
        this.deps.log.info(`${this.deps.name}logins paced: agents told when to come back`, { backlogMs: Math.round(this.pacer?.backlogMs(now) ?? 0) })
      } else if (decision.why === 'address') {
        this.deps.log.warn(`${this.deps.name}connection flood: upgrade refused`, { remote: decision.key, limit: this.limits.maxPendingPerAddress })
      } else {
        this.deps.log.warn(`${this.deps.name}pending sockets at the global cap: upgrade refused`, { pending: this.pendingTotal, limit: this.limits.maxPending })
      }
    }
    if (decision.why === 'paced') {
      const waitMs = Math.max(0, decision.slotAtMs - now)
      refuseUpgrade(socket, 503, Math.ceil(waitMs / 1_000), { [RETRY_AFTER_MS_HEADER]: String(waitMs), [LOGIN_SLOT_HEADER]: decision.token })
    } else refuseUpgrade(socket, decision.status)
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
    const presented = req.headers[LOGIN_SLOT_HEADER]
    const decision = this.admit(clientAddress, typeof presented === 'string' ? presented : undefined)
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

/** Answer an upgrade with a bare HTTP status (and Retry-After, and any extra headers) and close the TCP connection. */
export function refuseUpgrade(socket: Duplex, status: 429 | 503, retryAfterS = 5, headers: Record<string, string> = {}): void {
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
  socket.once('finish', () => socket.destroy())
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nRetry-After: ${retryAfterS}\r\n${extra}Content-Length: 0\r\n\r\n`)
}

function dec(map: Map<string, number>, key: string): void {
  const left = (map.get(key) ?? 1) - 1
  if (left > 0) map.set(key, left)
  else map.delete(key)
}
