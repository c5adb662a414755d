/**
 * One WebSocket to the node for one relay session's subscriptions. Unlike
 * ethnode's NodeRpc it hands subscription notifications to the session, and
 * it is never reconnected: the node drops a connection's subscriptions with
 * it, so a lost connection ends the session (the client re-subscribes).
 */
import WebSocket from 'ws'
import { ConnectionClosedError, PendingCalls } from '../../lib/pendingCalls.ts'

/** The node did not answer a call on its socket in time (a closed socket fails calls with ConnectionClosedError). */
export class NodeCallTimeout extends Error {
  override readonly name = 'NodeCallTimeout'
}

export interface NodeSocket {
  /** Send a call; resolves with the node's whole reply object. */
  call(method: string, params: unknown, timeoutMs: number): Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }>
  close(): void
}

export interface NodeSocketHandlers {
  /** An `eth_subscription` notification, as the parsed frame. */
  notification(frame: { method: string; params: { subscription?: unknown; result?: unknown } }): void
  /** The connection is gone (not called after close()). */
  closed(reason: string): void
}

/** The largest frame a subscription socket takes from the node. */
export const NODE_FRAME_LIMIT_BYTES = 64 << 20

/** `maxPayload`: the largest frame taken from the node (0: no limit, as the HTTP hop, for the shared call socket). */
export function openNodeSocket(url: string, timeoutMs: number, h: NodeSocketHandlers, opts: { maxPayload?: number } = {}): Promise<NodeSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, maxPayload: opts.maxPayload ?? NODE_FRAME_LIMIT_BYTES })
    const pending = new PendingCalls<any>()
    let open = false
    let closing = false
    const failAll = (reason: string) => pending.failAll(new ConnectionClosedError(reason))
    ws.on('open', () => {
      open = true
      resolve({
        call(method, params, callTimeoutMs) {
          if (ws.readyState !== ws.OPEN) return Promise.reject(new ConnectionClosedError('node connection closed'))
          const { id, reply } = pending.open(callTimeoutMs, () => new NodeCallTimeout(`node did not answer ${method} within ${callTimeoutMs} ms`))
          ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
          return reply
        },
        close() {
          closing = true
          failAll('closed')
          ws.close()
          // A node that does not finish the closing handshake must not hold the socket.
          setTimeout(() => ws.terminate(), 1000).unref()
        },
      })
    })
    ws.on('message', (data, isBinary) => {
      if (isBinary) return
      let msg: any
      try {
        msg = JSON.parse(data.toString())
      } catch {
        return
      }
      for (const m of Array.isArray(msg) ? msg : [msg]) {
        const waiting = pending.take(m?.id)
        if (waiting) {
          waiting.resolve(m)
        } else if (m?.method === 'eth_subscription' && typeof m.params === 'object' && m.params !== null) {
          h.notification(m)
        }
      }
    })
    ws.on('error', (err) => {
      if (!open) reject(err)
    })
    ws.on('close', (code) => {
      failAll(`node connection closed (code ${code})`)
      if (!open) reject(new Error(`node connection closed during handshake (code ${code})`))
      else if (!closing) h.closed(`code ${code}`)
    })
  })
}
