/**
 * The relay's hop to the node's HTTP JSON-RPC: one HTTP request per client
 * request (a batch stays a batch), the relay's own ids on the node hop (the
 * client's may repeat or be null), a timeout, and failures said the way a
 * client proxy fails over on: 502 for a node that does not answer, 504 for
 * one that does not answer in time (agent/relay/httpExchange.ts: keep-alive,
 * a deadline for the whole reply).
 */
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import { ExchangeTimeout, httpExchange, httpTarget } from '../../agent/relay/httpExchange.ts'
import { RelayErrorCode } from '../../agent/relay/relayErrors.ts'
import { alignReplies, callFrame, type RpcCall, type RpcReply } from '../../agent/relay/rpcFrames.ts'

export type NodeOutcome = { ok: true; replies: RpcReply[] } | { ok: false; status: number; code: number; message: string }

export interface NodeForwarder {
  /** The node's URL without credentials, for logs. */
  readonly where: string
  /** Forward calls in one HTTP request; replies come back aligned with `calls`, ids restored. */
  forward(calls: RpcCall[]): Promise<NodeOutcome>
}

/** Warnings about a node that does not answer at most this often. */
const NODE_WARN_EVERY_MS = 10_000

export function createNodeForwarder(nodeHttpUrl: string, deps: { requestTimeoutMs: number; log: Logger; clock: Clock }): NodeForwarder {
  const node = httpTarget(nodeHttpUrl, "the relay needs the node's HTTP endpoint")
  const { requestTimeoutMs, log, clock } = deps
  let lastNodeWarn = 0

  function nodeFailure(status: number, code: number, reason: string): NodeOutcome {
    const now = clock.now()
    if (now - lastNodeWarn >= NODE_WARN_EVERY_MS) {
      lastNodeWarn = now
      log.warn('node did not answer relayed calls', { node: node.where, reason })
    }
    return { ok: false, status, code, message: `the pool host's node is unavailable: ${reason}` }
  }

  async function forward(calls: RpcCall[]): Promise<NodeOutcome> {
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

  return { where: node.where, forward }
}
