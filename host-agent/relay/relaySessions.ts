/**
 * The relay's WebSocket sessions and their subscriptions. eth_subscribe and
 * eth_unsubscribe go over one node WebSocket per session, opened on the first
 * subscribe; notifications are passed on verbatim (a client that does not
 * read them is cut), and when the session ends its subscriptions are
 * unsubscribed and that node socket closed. A session is metered as service
 * while it holds a subscription. Half-open sessions are found by a missed pong.
 */
import type { WebSocket } from 'ws'
import type { Logger } from '../../lib/logger.ts'
import { PingLiveness, sendBounded } from '../../lib/socketKit.ts'
import type { NodeId } from '../../protocol/enode.ts'
import type { ActivityMeter } from '../../agent/relay/activity.ts'
import { RelayErrorCode, WS_CLOSE_NODE_LOST } from '../../agent/relay/relayErrors.ts'
import { replyWithId, errorReply, type RpcCall, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import { openNodeSocket, type NodeSocket } from './nodeSocket.ts'
import type { RelayMetrics } from './relayMetrics.ts'
import type { CallCoster } from '../../agent/relay/computeUnits.ts'

export interface Session {
  ws: WebSocket
  client: NodeId
  tokenHash: string
  /** Opened on the first eth_subscribe. */
  upstream?: Promise<NodeSocket> | undefined
  /** Node-side subscription ids opened by this session. */
  subs: Set<string>
  closed: boolean
  /** Ends the metered span of service: set while the session holds a subscription. */
  endActivity(): void
}

export interface SessionLimits {
  requestTimeoutMs: number
  maxSubscriptionsPerSession: number
  maxBufferedBytes: number
  pingIntervalMs: number
}

export class RelaySessions {
  private readonly sessions = new Set<Session>()
  /** Unsubscribes in flight for ended sessions; close() waits for them. */
  private readonly cleanups = new Set<Promise<void>>()
  private readonly liveness: PingLiveness

  constructor(
    private readonly limits: SessionLimits,
    private readonly deps: { nodeWsUrl: string | undefined; meter: ActivityMeter<NodeId>; log: Logger; coster: CallCoster; metrics?: Pick<RelayMetrics, 'notifications' | 'computeUnits'> | undefined },
  ) {
    this.liveness = new PingLiveness(limits.pingIntervalMs)
  }

  open(ws: WebSocket, client: NodeId, tokenHash: string): Session {
    const s: Session = { ws, client, tokenHash, subs: new Set(), closed: false, endActivity: () => {} }
    this.sessions.add(s)
    this.liveness.track(ws)
    ws.on('close', () => this.end(s))
    return s
  }

  /** Open sessions (all clients, or one). */
  count(client?: NodeId): number {
    return [...this.sessions].filter((s) => client === undefined || s.client === client).length
  }

  /** Close the matching sessions with `code` and end them at once (their subscriptions go). */
  closeWhere(match: (s: Session) => boolean, code: number, reason: string): void {
    for (const s of [...this.sessions]) {
      if (!match(s)) continue
      this.deps.log.info('closing relay session', { client: s.client, reason })
      s.ws.close(code, reason)
      this.end(s)
    }
  }

  /** Close every session and wait until their subscriptions are gone. */
  async close(code: number, reason: string): Promise<void> {
    this.liveness.stop()
    this.closeWhere(() => true, code, reason)
    await Promise.all([...this.cleanups])
  }

  /** An eth_subscribe or eth_unsubscribe from this session, answered with the client's id. */
  async subscriptionCall(s: Session, call: RpcCall): Promise<RpcReply> {
    if (!this.deps.nodeWsUrl) return errorReply(call.id, RelayErrorCode.METHOD_NOT_RELAYED, `method ${call.method} is not available on this pool host: its node has no WebSocket endpoint`)
    const params = call.params ?? []
    if (call.method === 'eth_unsubscribe') {
      const id = Array.isArray(params) ? params[0] : undefined
      // Only this session's own subscriptions: the node socket is per session anyway, this just answers without a round trip.
      if (typeof id !== 'string' || !s.subs.has(id)) return errorReply(call.id, -32000, 'subscription not found')
      this.removeSub(s, id)
    } else if (s.subs.size >= this.limits.maxSubscriptionsPerSession) {
      return errorReply(call.id, RelayErrorCode.RATE_LIMITED, `too many subscriptions on this connection (at most ${this.limits.maxSubscriptionsPerSession})`)
    }
    let up: NodeSocket
    let reply: Awaited<ReturnType<NodeSocket['call']>>
    try {
      up = await this.upstream(s)
      reply = await up.call(call.method, params, this.limits.requestTimeoutMs)
    } catch (err) {
      return errorReply(call.id, RelayErrorCode.NODE_UNAVAILABLE, `the pool host's node is unavailable: ${(err as Error).message}`)
    }
    if (call.method === 'eth_subscribe' && typeof reply.result === 'string') {
      if (s.closed) void up.call('eth_unsubscribe', [reply.result], 1000).catch(() => {})
      else this.addSub(s, reply.result)
    }
    return replyWithId(reply as Record<string, unknown>, call.id, "the host's node")
  }

  /** A session is service while it holds a subscription (the proxy meters the same span from the same replies). */
  private addSub(s: Session, id: string): void {
    s.subs.add(id)
    if (s.subs.size === 1) s.endActivity = this.deps.meter.session(s.client)
  }

  private removeSub(s: Session, id: string): void {
    if (s.subs.delete(id) && s.subs.size === 0) s.endActivity()
  }

  /** The session's node WebSocket, opened on first use; a failed open is retried on the next subscribe. */
  private upstream(s: Session): Promise<NodeSocket> {
    if (s.upstream) return s.upstream
    const { log } = this.deps
    s.upstream = openNodeSocket(this.deps.nodeWsUrl!, this.limits.requestTimeoutMs, {
      notification: (frame) => {
        const id = frame.params.subscription
        if (typeof id !== 'string' || !s.subs.has(id)) return
        const sent = sendBounded(s.ws, JSON.stringify(frame), this.limits.maxBufferedBytes, () => log.warn('relay client does not read its notifications; closing', { client: s.client }))
        // A delivered notification is service in compute units (its cost by size, agent/relay/computeUnits.ts).
        if (sent !== 'sent') return
        const units = this.deps.coster.notification(frame.params.result)
        this.deps.meter.units(s.client, units)
        this.deps.metrics?.notifications.inc()
        this.deps.metrics?.computeUnits.inc(units)
      },
      closed: (reason) => {
        // The node dropped this connection's subscriptions with it: the client must re-subscribe, possibly elsewhere.
        log.warn("node's WebSocket closed under a relay session", { client: s.client, reason })
        if (!s.closed) s.ws.close(WS_CLOSE_NODE_LOST, "the pool host's node connection closed")
      },
    })
    s.upstream.catch(() => {
      s.upstream = undefined
    })
    return s.upstream
  }

  private end(s: Session): void {
    if (s.closed) return
    s.closed = true
    this.sessions.delete(s)
    this.liveness.forget(s.ws)
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
      .finally(() => this.cleanups.delete(done))
    this.cleanups.add(done)
  }
}
