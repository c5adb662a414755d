/**
 * How the proxy sends calls to a host's relay: single calls over one
 * WebSocket per relay, everything else as an HTTP POST (relayClient.ts).
 *
 * Why a socket: on the two cores this project measures on, the pool path is
 * three loopback hops (light client -> shim -> relay -> node) shared with
 * the node itself, and a frame each way costs each side about a third of
 * the CPU of an HTTP exchange (docs/benchmarks.md, relay throughput). The
 * relay already takes JSON-RPC frames on its WebSocket, checking the token
 * per frame and metering them as it meters posts.
 *
 * What keeps HTTP: batches (a relay refuses a whole batch with one id-less
 * error, which a shared socket cannot attribute to its batch),
 * notifications (no reply to wait for), requests over SOCKET_FRAME_LIMIT
 * (a frame over the relay's limit closes the socket, failing every call on
 * it; a post over it is answered 413 alone), and any call while the relay's
 * socket is not open: the first call to a relay opens one in the
 * background, and one that failed or closed is tried again at most once per
 * SOCKET_RETRY_MS. The socket goes through the same checked agents as posts
 * (relayAddresses.ts), so a relay name is checked for it too.
 *
 * Outcomes are those of a post, so failover, health and metering do not
 * know which way a call went: a frame answered with the relay's own "node
 * unavailable" or "timeout" error is the post's 502/504 (fail over), its
 * rate limit the post's 429 (the answer), a socket closed with calls in
 * flight a connection error (fail over), closed for the token (4001) the
 * post's 401.
 */
import type { IncomingMessage } from 'node:http'
import WebSocket from 'ws'
import { ConnectionClosedError, PendingCalls } from '../../lib/pendingCalls.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { RelayErrorCode, WS_CLOSE_TOKEN_INVALID } from '../../agent/relay/relayErrors.ts'
import { callFrame, replyWithId, type RpcCall } from '../../agent/relay/rpcFrames.ts'
import { postToRelay, MAX_RELAY_REPLY_BYTES, type RelayOutcome } from './relayClient.ts'
import type { RelayAgents } from './relayAddresses.ts'
import { relayWsUrl, type RpcTarget } from './targets.ts'

/** Larger requests are posted (see above); light-client calls are a few hundred bytes. */
export const SOCKET_FRAME_LIMIT = 64 << 10
/** A relay socket that failed or closed is tried again at most this often; its calls are posted meanwhile. */
export const SOCKET_RETRY_MS = 2_000

/** A call that timed out on a relay socket (a closed socket fails calls with ConnectionClosedError). */
class SocketCallTimeout extends Error {}

interface Link {
  /** The target it was opened for: a new token or URL for the host means a new socket. */
  relayUrl: string
  token: string
  ws: WebSocket | undefined
  open: boolean
  pending: PendingCalls<Record<string, unknown>>
  lastTryMs: number
  /** The relay closed the socket for its token (4001): calls in flight get the post's 401. */
  tokenRefused: boolean
  /** Its host was dropped: closed when nothing is in flight. */
  retired: boolean
}

export class RelayLinks {
  readonly #links = new Map<NodeId, Link>()
  #closed = false

  constructor(
    private readonly agents: RelayAgents,
    private readonly handshakeTimeoutMs: number,
  ) {}

  /** Send one request's calls to a host's relay, on its socket when it can go there, else as a post. */
  async send(target: RpcTarget, calls: readonly RpcCall[], timeoutMs: number): Promise<RelayOutcome> {
    const only = calls.length === 1 && calls[0]!.hasId ? calls[0]! : undefined
    const link = only ? this.#ready(target) : undefined
    if (!only || !link) return postToRelay(target, calls, timeoutMs, this.agents)
    const { id, reply } = link.pending.open(timeoutMs, () => new SocketCallTimeout())
    const frame = JSON.stringify(callFrame(only, id))
    if (frame.length > SOCKET_FRAME_LIMIT) {
      link.pending.take(id)
      return postToRelay(target, calls, timeoutMs, this.agents)
    }
    link.ws!.send(frame)
    let answer: Record<string, unknown>
    try {
      answer = await reply.finally(() => this.#closeIfIdle(link))
    } catch (err) {
      if (err instanceof SocketCallTimeout) return { ok: false, reason: `no answer within ${timeoutMs} ms`, timedOut: true, kind: 'timeout' }
      if (link.tokenRefused) return { ok: false, reason: 'relay token refused (WebSocket closed with 4001)', timedOut: false, kind: 'refused' }
      return { ok: false, reason: (err as Error).message, timedOut: false, kind: 'transport' }
    }
    const error = answer.error as { code?: unknown; message?: unknown } | undefined
    const said = typeof error?.message === 'string' ? error.message : 'relay failed'
    // The relay's own failures, said as its posts say them (502/504): fail over.
    if (error?.code === RelayErrorCode.NODE_UNAVAILABLE) return { ok: false, reason: `${said} (relay socket)`, timedOut: false, kind: 'node-error' }
    if (error?.code === RelayErrorCode.TIMEOUT) return { ok: false, reason: `${said} (relay socket)`, timedOut: true, kind: 'timeout' }
    const status = error?.code === RelayErrorCode.RATE_LIMITED ? 429 : 200
    return { ok: true, replies: [replyWithId(answer, only.id, 'the pool host')], status }
  }

  /** Hosts the pool took away: their sockets take no new calls and close once the calls in flight are answered. */
  forget(hostIds: readonly NodeId[]): void {
    for (const id of hostIds) {
      const link = this.#links.get(id)
      if (!link) continue
      this.#links.delete(id)
      link.retired = true
      this.#closeIfIdle(link)
    }
  }

  /** Close every socket (the proxy is stopping); calls in flight fail as connection errors. */
  close(): void {
    this.#closed = true
    for (const link of this.#links.values()) this.#drop(link)
    this.#links.clear()
  }

  /** The open link for this target, or undefined (one is opened in the background if it may be tried now). */
  #ready(target: RpcTarget): Link | undefined {
    let link = this.#links.get(target.hostNodeId)
    if (link && (link.relayUrl !== target.relayUrl || link.token !== target.token)) {
      this.#drop(link)
      link = undefined
    }
    if (link?.open) return link
    const now = Date.now()
    if (this.#closed || (link && (link.ws !== undefined || now - link.lastTryMs < SOCKET_RETRY_MS))) return undefined
    link ??= { relayUrl: target.relayUrl, token: target.token, ws: undefined, open: false, pending: new PendingCalls(), lastTryMs: now, tokenRefused: false, retired: false }
    link.lastTryMs = now
    this.#links.set(target.hostNodeId, link)
    this.#connect(link)
    return undefined
  }

  #connect(link: Link): void {
    const url = relayWsUrl(link.relayUrl)
    const ws = new WebSocket(url, {
      agent: this.agents.for(url),
      headers: { authorization: `Bearer ${link.token}` },
      handshakeTimeout: this.handshakeTimeoutMs,
      maxPayload: MAX_RELAY_REPLY_BYTES,
    })
    link.ws = ws
    link.tokenRefused = false
    const gone = (code: number) => {
      if (link.ws !== ws) return
      link.open = false
      link.ws = undefined
      link.lastTryMs = Date.now()
      link.tokenRefused = code === WS_CLOSE_TOKEN_INVALID
      link.pending.failAll(new ConnectionClosedError(`relay connection closed (code ${code})`))
    }
    // A refused upgrade (401, an old relay without sockets), a refused address or a dead relay: calls keep being
    // posted, and the posts say why to the proxy's failover and health.
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      res.resume()
      gone(0)
      ws.terminate()
    })
    ws.on('error', () => gone(0))
    ws.on('open', () => {
      if (link.ws === ws) link.open = true
    })
    ws.on('message', (data, isBinary) => {
      if (isBinary) return
      let msg: unknown
      try {
        msg = JSON.parse(data.toString())
      } catch {
        return
      }
      const rec = msg as Record<string, unknown> | null
      if (rec && typeof rec === 'object' && !Array.isArray(rec)) link.pending.take(rec.id)?.resolve(rec)
    })
    ws.on('close', (code) => gone(code))
  }

  #closeIfIdle(link: Link): void {
    if (link.retired && link.pending.size === 0) this.#drop(link)
  }

  #drop(link: Link): void {
    const ws = link.ws
    link.ws = undefined
    link.open = false
    link.pending.failAll(new ConnectionClosedError('relay connection replaced'))
    ws?.terminate()
  }
}
