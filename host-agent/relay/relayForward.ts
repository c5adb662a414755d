/**
 * The relay's hop to the node's JSON-RPC: one HTTP request per client
 * request (a batch stays a batch), the relay's own ids on the node hop (the
 * client's may repeat or be null), a timeout, and failures said the way a
 * client proxy fails over on: 502 for a node that does not answer, 504 for
 * one that does not answer in time (agent/relay/httpExchange.ts: keep-alive,
 * a deadline for the whole reply).
 *
 * With the node's WebSocket endpoint (`--relay-node-ws`), single calls go
 * over one shared socket instead: a frame each way costs each side about a
 * third of the CPU of an HTTP exchange, and on two cores shared by the
 * shim, the relay and the node that is the pool path's throughput
 * (docs/benchmarks.md, relay throughput). Three kinds of request keep HTTP:
 * batches (a node refuses a whole batch with one id-less error, which a
 * shared socket cannot attribute), notifications (no reply to wait for),
 * and `eth_getLogs` (a large reply would hold up every reply behind it on
 * the one socket). While the socket is down, calls take HTTP too, and a new
 * socket is tried at most once per NODE_SOCKET_RETRY_MS.
 */
import type { Clock } from '../../lib/clock.ts'
import { scrubUrl, type Logger } from '../../lib/logger.ts'
import { ExchangeTimeout, httpExchange, httpTarget } from '../../agent/relay/httpExchange.ts'
import { RelayErrorCode } from '../../agent/relay/relayErrors.ts'
import { alignReplies, callFrame, replyWithId, type RpcCall, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import { NodeCallTimeout, openNodeSocket, type NodeSocket } from './nodeSocket.ts'

export type NodeOutcome = { ok: true; replies: RpcReply[] } | { ok: false; status: number; code: number; message: string }

export interface NodeForwarder {
  /** The node's URL without credentials, for logs. */
  readonly where: string
  /** Forward one client request's calls; replies come back aligned with `calls`, ids restored. */
  forward(calls: RpcCall[]): Promise<NodeOutcome>
  /** Close the shared node socket (the relay is stopping). */
  close(): void
}

/** Warnings about a node that does not answer at most this often. */
const NODE_WARN_EVERY_MS = 10_000
/** A node socket that failed or closed is tried again at most this often; calls take HTTP meanwhile. */
export const NODE_SOCKET_RETRY_MS = 2_000
/** Methods that keep the HTTP hop when the node socket is up (their replies may be large: see above). */
const HTTP_ONLY_METHODS: ReadonlySet<string> = new Set(['eth_getLogs'])

export function createNodeForwarder(nodeHttpUrl: string, deps: { requestTimeoutMs: number; log: Logger; clock: Clock; nodeWsUrl?: string | undefined }): NodeForwarder {
  const node = httpTarget(nodeHttpUrl, "the relay needs the node's HTTP endpoint")
  const { requestTimeoutMs, log, clock } = deps
  let lastNodeWarn = 0
  const socket = deps.nodeWsUrl === undefined ? undefined : sharedNodeSocket(deps.nodeWsUrl, requestTimeoutMs, log)

  function nodeFailure(status: number, code: number, reason: string): NodeOutcome {
    const now = clock.now()
    if (now - lastNodeWarn >= NODE_WARN_EVERY_MS) {
      lastNodeWarn = now
      log.warn('node did not answer relayed calls', { node: node.where, reason })
    }
    return { ok: false, status, code, message: `the pool host's node is unavailable: ${reason}` }
  }

  async function forward(calls: RpcCall[]): Promise<NodeOutcome> {
    const only = calls.length === 1 ? calls[0]! : undefined
    const ws = only?.hasId && !HTTP_ONLY_METHODS.has(only.method) ? socket?.current() : undefined
    if (ws) {
      try {
        const reply = await ws.call(only!.method, only!.params, requestTimeoutMs)
        return { ok: true, replies: [replyWithId(reply as Record<string, unknown>, only!.id, "the host's node")] }
      } catch (err) {
        const timedOut = err instanceof NodeCallTimeout
        return nodeFailure(timedOut ? 504 : 502, timedOut ? RelayErrorCode.TIMEOUT : RelayErrorCode.NODE_UNAVAILABLE, timedOut ? `no answer within ${requestTimeoutMs} ms` : (err as Error).message)
      }
    }
    const frames = calls.map((c, i) => callFrame(c, i))
    const body = JSON.stringify(frames.length === 1 ? frames[0] : frames)
    let status: number
    let text: string
    try {
      // No size limit on the node's own replies (eth_getLogs may be large); the deadline covers the whole reply.
      const reply = await httpExchange(node.url, { method: 'POST', body, headers: node.headers, agent: node.agent, deadline: Date.now() + requestTimeoutMs, maxBytes: Infinity })
      status = reply.status
      text = reply.body.toString('utf8')
    } catch (err) {
      const timedOut = err instanceof ExchangeTimeout
      const reason = timedOut ? `no answer within ${requestTimeoutMs} ms` : String((err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? err)
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
    return { ok: true, replies: alignReplies(parsed, calls, "the host's node") }
  }

  return { where: node.where, forward, close: () => socket?.close() }
}

/**
 * The one node socket for single calls: opened at start and again, lazily, after it fails or closes (at most
 * once per NODE_SOCKET_RETRY_MS). `current()` is the open socket or undefined (the caller takes HTTP).
 */
function sharedNodeSocket(url: string, timeoutMs: number, log: Logger): { current(): NodeSocket | undefined; close(): void } {
  let open: NodeSocket | undefined
  let connecting = false
  let lastTry = 0
  let closed = false
  const where = scrubUrl(url)
  const connect = () => {
    connecting = true
    lastTry = Date.now()
    openNodeSocket(url, timeoutMs, { notification: () => {}, closed: (reason) => {
      open = undefined
      log.warn('node socket for relayed calls closed; calls take HTTP until it is back', { node: where, reason })
    } }, { maxPayload: 0 }).then(
      (s) => {
        connecting = false
        if (closed) return s.close()
        open = s
        log.info('relaying single calls over the node socket', { node: where })
      },
      (err: unknown) => {
        connecting = false
        log.warn('node socket for relayed calls failed; calls take HTTP', { node: where, reason: String((err as Error)?.message ?? err) })
      },
    )
  }
  connect()
  return {
    current() {
      if (!open && !connecting && !closed && Date.now() - lastTry >= NODE_SOCKET_RETRY_MS) connect()
      return open
    },
    close() {
      closed = true
      open?.close()
      open = undefined
    },
  }
}
