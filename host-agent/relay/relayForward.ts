/**
 * The relay's hop to the node's HTTP JSON-RPC: one HTTP request per client
 * request (a batch stays a batch), the relay's own ids on the node hop (the
 * client's may repeat or be null), a timeout, and failures said the way a
 * client proxy fails over on: 502 for a node that does not answer, 504 for
 * one that does not answer in time. Keep-alive node:http(s), one agent per node.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { Clock } from '../../lib/clock.ts'
import { scrubUrl, type Logger } from '../../lib/logger.ts'
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
  const node = nodeHttpTarget(nodeHttpUrl)
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
      ;({ status, text } = await post(node, body, requestTimeoutMs))
    } catch (err) {
      const timedOut = err instanceof NodeTimeout
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

class NodeTimeout extends Error {}

/**
 * One POST to the node on a keep-alive connection (node:http, not fetch: fetch's web streams, abort signals and
 * per-request objects made the relay, not the node, the slow hop of the pool path: `npm run bench:relay`).
 */
function post(node: NodeTarget, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = node.request(
      node.url,
      { method: 'POST', agent: node.agent, headers: { ...node.headers, 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new NodeTimeout()))
    req.on('error', reject)
    req.end(body)
  })
}

interface NodeTarget {
  url: URL
  headers: Record<string, string>
  where: string
  request: typeof httpRequest
  agent: HttpAgent
}

/** Credentials in the URL become a Basic auth header; one keep-alive agent for the node. */
function nodeHttpTarget(raw: string): NodeTarget {
  const url = new URL(raw)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`the relay needs the node's HTTP endpoint, got ${scrubUrl(raw)}`)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
    url.username = ''
    url.password = ''
  }
  const https = url.protocol === 'https:'
  const agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
  return { url, headers, where: scrubUrl(raw), request: https ? httpsRequest : httpRequest, agent }
}
