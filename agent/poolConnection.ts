/**
 * The agents' side of /v1/agent, shared by the host agent and the client shim:
 * connect, answer the challenge with a signed vipnode_connect, serve the
 * coordinator's calls, and reconnect with jittered exponential backoff
 * (re-authenticating each time) until closed.
 */
import { EventEmitter } from 'node:events'
import WebSocket from 'ws'
import {
  AGENT_PATH,
  LOGIN_SLOT_HEADER,
  RETRY_AFTER_MS_HEADER,
  ErrorCode,
  RpcError,
  RpcPeer,
  rpcError,
  agentToCoordinator,
  challengeParamsSchema,
  signEnvelope,
  parseParams,
  assertSecureCoordinatorUrl,
  coordinatorUrls,
  normaliseOrigin,
  type AgentMethod,
  type ConnectHello,
  type ConnectResult,
  type NodeKey,
} from '../protocol/index.ts'
import type { Logger } from '../lib/logger.ts'
import { KnownPoolError, type KnownPools } from './knownPools.ts'
import type { z } from 'zod'

export type InboundHandler = (params: unknown) => Promise<unknown> | unknown

export interface PoolConnectionOptions {
  /**
   * Coordinator base URL: http(s):// or ws(s)://; the agent path is added. Several replicas of one pool are
   * separated by commas: the agent stays on one while it works and moves to the next when it goes away.
   */
  coordinatorUrl: string
  nodeKey: NodeKey
  /** The signed connect body (the origin is added here), computed afresh for every (re)connect. */
  hello(): Promise<ConnectHello>
  /** Pool ids remembered per origin (trust on first use); without it any announced pool id is signed. */
  knownPools?: KnownPools
  /** --insecure-coordinator: allow plain ws:// to a coordinator that is not on loopback. */
  allowInsecureCoordinator?: boolean
  /** Coordinator -> agent methods (requests and notifications). */
  handlers: Record<string, InboundHandler>
  log: Logger
  minReconnectDelayMs?: number
  maxReconnectDelayMs?: number
  requestTimeoutMs?: number
}

/** A Retry-After longer than this is not believed (a misconfigured or hostile server could park agents for days). */
const MAX_RETRY_AFTER_MS = 10 * 60_000

/** Errors that reconnecting cannot fix: the operator must change something. */
const FATAL_CODES: ReadonlySet<number> = new Set([ErrorCode.BAD_SIGNATURE, ErrorCode.ENODE_MISMATCH, ErrorCode.WRONG_NETWORK, ErrorCode.UNSUPPORTED_VERSION, ErrorCode.INVALID_PARAMS, ErrorCode.WRONG_ORIGIN])

export function agentUrl(base: string): string {
  const u = new URL(base)
  if (u.protocol === 'http:') u.protocol = 'ws:'
  else if (u.protocol === 'https:') u.protocol = 'wss:'
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`coordinator URL must be http(s):// or ws(s)://, got ${u.protocol}`)
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${AGENT_PATH}`
  return u.toString()
}

export interface PoolConnectionEvents {
  connected: [ConnectResult]
  disconnected: [{ code: number; reason: string }]
  /** A refusal reconnecting cannot fix: the pool's (RpcError) or this agent's own (KnownPoolError). */
  fatal: [RpcError | KnownPoolError]
}

export class PoolConnection extends EventEmitter<PoolConnectionEvents> {
  private ws: WebSocket | undefined
  private peer: RpcPeer | undefined
  private session: ConnectResult | undefined
  private closed = false
  private attempt = 0
  private retryTimer: NodeJS.Timeout | undefined
  /** The login slot the coordinator booked for this agent, for the next upgrade. */
  private slot: { token: string } | undefined
  /** When the coordinator asked us to come back (its last refusal at the upgrade), and whether that was a booked slot. */
  private retryAfter: { atMs: number; paced: boolean } | undefined
  /** The agent endpoints of the pool's replicas, in the order given; `index` is the one in use. */
  private readonly urls: string[]
  private index = 0
  /** Replicas tried without a login since the last full round: backoff grows per round, not per replica. */
  private failedInRound = 0

  /** Throws when a URL is not http(s)/ws(s), or is unencrypted off loopback without allowInsecureCoordinator. */
  constructor(private readonly opts: PoolConnectionOptions) {
    super()
    const bases = coordinatorUrls(opts.coordinatorUrl)
    for (const base of bases) assertSecureCoordinatorUrl(base, opts.allowInsecureCoordinator ?? false)
    this.urls = bases.map(agentUrl)
  }

  /** The replica in use: its agent URL. */
  get url(): string {
    return this.urls[this.index]!
  }

  /** Signed into every login, so that no other pool can replay it (protocol/origin.ts): the replica dialled. */
  get origin(): string {
    return normaliseOrigin(this.url)
  }

  get current(): ConnectResult | undefined {
    return this.session
  }

  start(): void {
    this.open()
  }

  /** Resolves with the session once authenticated (now or after the next reconnect). */
  ready(): Promise<ConnectResult> {
    if (this.session) return Promise.resolve(this.session)
    return new Promise((resolve, reject) => {
      const onFatal = (e: RpcError | KnownPoolError) => {
        this.off('connected', onConnected)
        reject(e)
      }
      const onConnected = (s: ConnectResult) => {
        this.off('fatal', onFatal)
        resolve(s)
      }
      this.once('connected', onConnected)
      this.once('fatal', onFatal)
    })
  }

  async call<M extends AgentMethod>(method: M, params: z.input<(typeof agentToCoordinator)[M]['params']>): Promise<z.output<(typeof agentToCoordinator)[M]['result']>> {
    if (!this.peer || !this.session) throw rpcError('CONNECTION_CLOSED', 'not connected to the coordinator')
    return this.peer.callTyped(agentToCoordinator[method], method, params)
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.retryTimer)
    const ws = this.ws
    if (!ws || ws.readyState === WebSocket.CLOSED) return
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve())
      ws.close(1000, 'agent shutting down')
      setTimeout(() => {
        ws.terminate()
        resolve()
      }, 1_000).unref()
    })
  }

  private open(): void {
    if (this.closed) return
    const { log } = this.opts
    // A login slot the coordinator booked for us (it paces logins after a restart): presented once, then forgotten.
    const slot = this.slot
    this.slot = undefined
    const ws = new WebSocket(this.url, { perMessageDeflate: false, handshakeTimeout: 10_000, ...(slot ? { headers: { [LOGIN_SLOT_HEADER]: slot.token } } : {}) })
    this.ws = ws
    ws.on('unexpected-response', (_req, res) => {
      // 429/503 at the upgrade: the pool says when to come back. A paced login carries its booked slot.
      const token = res.headers[LOGIN_SLOT_HEADER]
      const waitMs = Number(res.headers[RETRY_AFTER_MS_HEADER] ?? Number(res.headers['retry-after'] ?? 0) * 1_000)
      this.retryAfter = { atMs: Date.now() + (Number.isFinite(waitMs) ? Math.min(waitMs, MAX_RETRY_AFTER_MS) : 0), paced: typeof token === 'string' }
      if (typeof token === 'string') this.slot = { token }
      log.debug('coordinator asked us to come back later', { status: res.statusCode, inMs: waitMs })
      res.resume()
      ws.terminate()
    })
    const peer = new RpcPeer({
      send: (text) => ws.send(text),
      requestTimeoutMs: this.opts.requestTimeoutMs ?? 10_000,
      dispatch: (method, params) => this.dispatch(method, params),
      onProtocolError: (e) => log.warn('bad frame from coordinator', { code: e.code, reason: e.message }),
    })
    this.peer = peer
    ws.on('message', (data) => void peer.receive(data.toString()))
    ws.on('error', (err) => log.debug('coordinator socket error', { error: err.message }))
    ws.on('close', (code, reasonBuf) => {
      const reason = reasonBuf.toString()
      peer.close('coordinator connection closed')
      const wasConnected = this.session !== undefined
      this.session = undefined
      if (this.peer === peer) this.peer = undefined
      if (wasConnected) {
        log.warn('disconnected from coordinator', { code, reason })
        this.emit('disconnected', { code, reason })
      }
      this.scheduleReconnect()
    })
  }

  private async dispatch(method: string, params: unknown): Promise<unknown> {
    if (method === 'vipnode_challenge') {
      const challenge = parseParams(challengeParamsSchema, params, method)
      void this.authenticate(challenge.challenge, challenge.poolId)
      return undefined
    }
    const handler = Object.hasOwn(this.opts.handlers, method) ? this.opts.handlers[method] : undefined
    if (!handler) throw rpcError('METHOD_NOT_FOUND', `method ${method.slice(0, 64)} not found`)
    return handler(params)
  }

  private async authenticate(challenge: string, poolId: string): Promise<void> {
    const { log } = this.opts
    const peer = this.peer
    if (!peer) return
    try {
      this.opts.knownPools?.accept(this.origin, poolId, { replicas: this.urls.map(normaliseOrigin) })
      const body = { ...(await this.opts.hello()), origin: this.origin }
      const signature = signEnvelope(this.opts.nodeKey, { method: 'vipnode_connect', poolId, chainId: body.chainId, challenge, body })
      const result = await peer.callTyped(agentToCoordinator.vipnode_connect, 'vipnode_connect', { ...body, challenge, signature })
      this.session = result
      this.attempt = 0
      this.failedInRound = 0
      log.info('connected to coordinator', { poolId: result.poolId, role: result.role, session: result.sessionId, ...(this.urls.length > 1 ? { coordinator: this.origin } : {}) })
      this.emit('connected', result)
    } catch (err) {
      if (err instanceof KnownPoolError) {
        log.error('refusing to log in to this pool', { reason: err.message })
        this.closed = true
        this.emit('fatal', err)
        this.ws?.close(1000, 'unknown pool id')
        return
      }
      const error = err instanceof RpcError ? err : rpcError('INTERNAL_ERROR', (err as Error).message)
      if (FATAL_CODES.has(error.code)) {
        log.error('coordinator refused this agent', { code: error.code, reason: error.message })
        this.closed = true
        this.emit('fatal', error)
        this.ws?.close(1000, 'refused')
        return
      }
      log.warn('authentication failed, will retry', { code: error.code, reason: error.message })
      this.ws?.close(1000, 'authentication failed')
    }
  }

  private scheduleReconnect(): void {
    if (this.closed) return
    const retryAfter = this.retryAfter
    this.retryAfter = undefined
    if (retryAfter?.paced) {
      // A booked turn: come back at it, not later (the slot is ours for SLOT_LATE_MS), and it is no failure.
      const delay = Math.max(0, retryAfter.atMs - Date.now())
      this.opts.log.debug('reconnecting at our login slot', { inMs: delay })
      this.retryTimer = setTimeout(() => this.open(), delay)
      return
    }
    const min = this.opts.minReconnectDelayMs ?? 500
    const max = this.opts.maxReconnectDelayMs ?? 30_000
    if (this.urls.length > 1) {
      // This replica went away or would not take us: the next one, soon (jittered below the minimum delay, so
      // the agents of a dead replica do not all land on the next one in the same millisecond); backoff only
      // once every replica has been tried.
      this.index = (this.index + 1) % this.urls.length
      this.failedInRound++
      if (this.failedInRound < this.urls.length) {
        const delay = Math.max(Math.round(Math.random() * min), (retryAfter?.atMs ?? 0) - Date.now())
        this.opts.log.debug('reconnecting to the next coordinator replica', { coordinator: this.origin, inMs: delay })
        this.retryTimer = setTimeout(() => this.open(), delay)
        return
      }
      this.failedInRound = 0
    }
    const ceiling = Math.min(max, min * 2 ** this.attempt)
    // Full jitter: a restarted coordinator is not hit by every agent at once; never sooner than it asked.
    const delay = Math.max(Math.round(min / 2 + Math.random() * (ceiling - min / 2)), (retryAfter?.atMs ?? 0) - Date.now())
    this.attempt++
    this.opts.log.debug('reconnecting', { inMs: delay, attempt: this.attempt })
    this.retryTimer = setTimeout(() => this.open(), delay)
  }
}
