/**
 * JSON-RPC 2.0 to the local execution client over HTTP(S), WebSocket or IPC.
 * Every failure is one of two classes: NodeUnavailableError (no usable reply)
 * or NodeRpcError (the node replied with an error object).
 */
import { connect as netConnect } from 'node:net'
import { isAbsolute } from 'node:path'
import WebSocket from 'ws'
import { scrubUrl } from '../lib/logger.ts'
import { PendingCalls } from '../lib/pendingCalls.ts'
import { NodeRpcError, NodeUnavailableError } from './errors.ts'
import type { NodeRpc } from './ethNode.ts'
import { createJsonStream } from './jsonStream.ts'

export interface NodeRpcOptions {
  /** Per request, including connecting. Default 10 s. */
  timeoutMs?: number
}

export const DEFAULT_NODE_TIMEOUT_MS = 10_000

/**
 * Returns at once; stream transports connect on the first request and again
 * on the next request after the socket dropped. `rpc.url` is scrubbed of
 * credentials, so it is safe to log.
 */
export function connectNodeRpc(url: string, options: NodeRpcOptions = {}): NodeRpc {
  const timeoutMs = options.timeoutMs ?? DEFAULT_NODE_TIMEOUT_MS
  if (/^https?:\/\//i.test(url)) return httpRpc(url, timeoutMs)
  if (/^wss?:\/\//i.test(url)) return streamRpc(scrubUrl(url), timeoutMs, (h) => openWebSocket(url, timeoutMs, h))
  if (url.endsWith('.ipc') || isAbsolute(url)) return streamRpc(url, timeoutMs, (h) => openIpc(url, h))
  throw new TypeError(`unsupported node URL ${scrubUrl(url)}: expected http(s)://, ws(s):// or an IPC socket path`)
}

type JsonRpcReply = { id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } }

/** The result of one reply object, or the error it stands for. */
function settle(reply: unknown, where: string): { ok: true; value: unknown } | { ok: false; error: Error } {
  if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
    return { ok: false, error: new NodeUnavailableError(`malformed reply from ${where}: not a JSON-RPC response object`) }
  }
  const r = reply as JsonRpcReply
  if (r.error !== undefined && r.error !== null) {
    const code = typeof r.error.code === 'number' ? r.error.code : -32603
    const message = typeof r.error.message === 'string' ? r.error.message : JSON.stringify(r.error)
    return { ok: false, error: new NodeRpcError(code, message, r.error.data) }
  }
  if (!('result' in r)) {
    return { ok: false, error: new NodeUnavailableError(`malformed reply from ${where}: no result and no error`) }
  }
  return { ok: true, value: r.result }
}

function unavailable(where: string, err: unknown): NodeUnavailableError {
  if (err instanceof NodeUnavailableError) return err
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } }
  // fetch wraps the socket error ("fetch failed") in `cause`; name the real one.
  const reason = e?.cause?.code ?? e?.cause?.message ?? e?.code ?? e?.message ?? String(err)
  return new NodeUnavailableError(`node at ${where} is unavailable: ${String(reason)}`, { cause: err })
}

function timedOut(where: string, method: string, timeoutMs: number): NodeUnavailableError {
  return new NodeUnavailableError(`node at ${where} timed out after ${timeoutMs} ms (${method})`)
}

function httpRpc(rawUrl: string, timeoutMs: number): NodeRpc {
  const where = scrubUrl(rawUrl)
  // fetch refuses URLs with credentials; move them into a Basic auth header.
  const target = new URL(rawUrl)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (target.username || target.password) {
    const user = decodeURIComponent(target.username)
    const pass = decodeURIComponent(target.password)
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
    target.username = ''
    target.password = ''
  }
  let nextId = 1
  return {
    url: where,
    async request(method, params = []) {
      const body = JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params })
      let status: number
      let text: string
      try {
        const res = await fetch(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) })
        status = res.status
        text = await res.text()
      } catch (err) {
        if ((err as Error)?.name === 'TimeoutError') throw timedOut(where, method, timeoutMs)
        throw unavailable(where, err)
      }
      let reply: unknown
      try {
        reply = JSON.parse(text)
      } catch {
        // A proxy's 502/503 page is "down", not "garbage"; a 200 with HTML is garbage.
        if (status >= 400) throw new NodeUnavailableError(`node at ${where} is unavailable: HTTP ${status}`)
        throw new NodeUnavailableError(`malformed reply from ${where}: not JSON (${JSON.stringify(text.slice(0, 40))})`)
      }
      const out = settle(reply, where)
      if (!out.ok) {
        if (status >= 400 && !(out.error instanceof NodeRpcError)) {
          throw new NodeUnavailableError(`node at ${where} is unavailable: HTTP ${status}`)
        }
        throw out.error
      }
      return out.value
    },
    async close() {},
  }
}

interface StreamHandlers {
  /** One parsed JSON value from the node. */
  value(value: unknown): void
  /** Bytes that are not JSON: the stream cannot be trusted any more. */
  garbage(reason: string): void
  closed(reason: string): void
}

interface StreamConn {
  send(text: string): void
  close(): void
}

/** Request/reply matching by id over any message stream (WebSocket, IPC). */
function streamRpc(where: string, timeoutMs: number, open: (h: StreamHandlers) => Promise<StreamConn>): NodeRpc {
  // Each call is tagged with the connection it went out on: only that connection's failure may fail it.
  const pending = new PendingCalls<unknown, Promise<StreamConn>>()
  let conn: Promise<StreamConn> | undefined
  let closed = false

  const fail = (error: Error, on?: Promise<StreamConn>) => pending.failAll(error, on ? (tag) => tag === on : undefined)

  const onValue = (value: unknown) => {
    for (const reply of Array.isArray(value) ? value : [value]) {
      const p = pending.take((reply as JsonRpcReply | null)?.id)
      if (!p) continue // a subscription notification or a reply we gave up on
      const out = settle(reply, where)
      if (out.ok) p.resolve(out.value)
      else p.reject(out.error)
    }
  }

  const connect = (): Promise<StreamConn> => {
    const opening = open({
      value: onValue,
      garbage(reason) {
        // Replies cannot be matched to ids any more; drop the socket and start clean next time.
        if (conn === opening) conn = undefined
        void opening.then((c) => c.close(), () => {})
        fail(new NodeUnavailableError(`malformed reply from ${where}: ${reason}`), opening)
      },
      closed(reason) {
        if (conn === opening) conn = undefined
        fail(new NodeUnavailableError(`node at ${where} is unavailable: connection closed (${reason})`), opening)
      },
    })
    opening.catch(() => {
      if (conn === opening) conn = undefined
    })
    return opening
  }

  return {
    url: where,
    async request(method, params = []) {
      if (closed) throw new NodeUnavailableError(`node client for ${where} is closed`)
      const opening = (conn ??= connect())
      let c: StreamConn
      try {
        c = await withTimeout(opening, timeoutMs, () => timedOut(where, method, timeoutMs))
      } catch (err) {
        throw unavailable(where, err)
      }
      const { id, reply } = pending.open(timeoutMs, () => timedOut(where, method, timeoutMs), opening)
      try {
        c.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
      } catch (err) {
        pending.fail(id, unavailable(where, err))
      }
      return reply
    },
    async close() {
      closed = true
      const c = conn
      conn = undefined
      fail(new NodeUnavailableError(`node client for ${where} is closed`))
      if (c) await c.then((s) => s.close(), () => {})
    },
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms)
    p.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (e: unknown) => {
        clearTimeout(timer)
        reject(e)
      },
    )
  })
}

function openWebSocket(url: string, timeoutMs: number, h: StreamHandlers): Promise<StreamConn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs })
    let open = false
    ws.on('open', () => {
      open = true
      resolve({ send: (text) => ws.send(text), close: () => ws.terminate() })
    })
    ws.on('message', (data, isBinary) => {
      if (isBinary) return h.garbage('binary frame')
      let value: unknown
      try {
        value = JSON.parse(data.toString())
      } catch {
        return h.garbage(`not JSON (${JSON.stringify(data.toString().slice(0, 40))})`)
      }
      h.value(value)
    })
    ws.on('error', (err) => {
      if (!open) reject(err) // after open, 'close' follows and reports it
    })
    ws.on('close', (code) => {
      if (open) h.closed(`code ${code}`)
      else reject(new Error(`closed during handshake (code ${code})`))
    })
  })
}

function openIpc(path: string, h: StreamHandlers): Promise<StreamConn> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(path)
    socket.setEncoding('utf8') // decodes multi-byte characters split across chunks
    const stream = createJsonStream((v) => h.value(v))
    let open = false
    socket.on('connect', () => {
      open = true
      resolve({ send: (text) => socket.write(text), close: () => socket.destroy() })
    })
    socket.on('data', (chunk: string) => {
      try {
        stream.push(chunk)
      } catch (err) {
        socket.destroy()
        h.garbage((err as Error).message)
      }
    })
    socket.on('error', (err) => {
      if (!open) reject(err)
    })
    socket.on('close', () => {
      if (open) h.closed('socket closed')
    })
  })
}
