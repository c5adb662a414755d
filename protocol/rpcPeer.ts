/**
 * One end of a bidirectional JSON-RPC 2.0 connection over any text transport.
 * Both the coordinator and the agents use it: either side may call the other.
 * Its calls wait in the one pending-call core (lib/pendingCalls.ts): each is
 * timed out, and every waiting call fails with CONNECTION_CLOSED when the
 * transport closes.
 */
import type { z } from 'zod'
import { PendingCalls } from '../lib/pendingCalls.ts'
import { RpcError, rpcError, fromWire } from './errors.ts'
import { parseFrame, encodeError, encodeNotification, encodeRequest, encodeSuccess, type NotificationFrame, type RequestFrame } from './envelope.ts'

type InboundCall = RequestFrame | NotificationFrame
import type { MethodSpec } from './methods.ts'

/** Handles an inbound request or notification; throws RpcError to reply with an error. */
export type Dispatch = (method: string, params: unknown, kind: 'request' | 'notification') => Promise<unknown> | unknown

export interface RpcPeerOptions {
  send(text: string): void
  dispatch: Dispatch
  requestTimeoutMs?: number
  /** Called for frames this peer cannot use (bad JSON, unknown response ids, handler crashes). */
  onProtocolError?(error: RpcError, detail?: unknown): void
  /**
   * Dispatch inbound requests and notifications one at a time, in arrival
   * order; replies to our own calls still settle at once. The coordinator
   * needs it: frames that arrive in one TCP read would otherwise run
   * concurrently, and a burst of reports could be judged against the same
   * state twice (each billing the same interval).
   */
  serialDispatch?: boolean
}

export class RpcPeer {
  private readonly pending = new PendingCalls<unknown>()
  private closed = false
  private readonly timeoutMs: number
  /** The inbound request or notification being dispatched, when dispatch is serial. */
  private inbound: Promise<void> = Promise.resolve()

  constructor(private readonly options: RpcPeerOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? 10_000
  }

  get isClosed(): boolean {
    return this.closed
  }

  get pendingCount(): number {
    return this.pending.size
  }

  /** Feed one inbound text frame. Never throws. */
  async receive(text: string): Promise<void> {
    const parsed = parseFrame(text)
    if (!parsed.ok) {
      this.options.onProtocolError?.(parsed.error)
      this.sendRaw(encodeError(parsed.id, parsed.error))
      return
    }
    const frame = parsed.frame
    switch (frame.kind) {
      case 'success':
      case 'error': {
        const id = frame.id
        const waiting = this.pending.take(id)
        if (!waiting) {
          // A reply nobody asked for (or one that arrived after its timeout). Nothing to answer.
          this.options.onProtocolError?.(rpcError('INVALID_REQUEST', 'response to an unknown request id'), { id })
          return
        }
        if (frame.kind === 'success') waiting.resolve(frame.result)
        else waiting.reject(fromWire(frame.error))
        return
      }
      case 'notification':
      case 'request':
        if (!this.options.serialDispatch) return this.handle(frame)
        this.inbound = this.inbound.then(() => this.handle(frame))
        return this.inbound
    }
  }

  /** Run one inbound request or notification; a request gets exactly one reply. Never throws. */
  private async handle(frame: InboundCall): Promise<void> {
    switch (frame.kind) {
      case 'notification':
        try {
          await this.options.dispatch(frame.method, frame.params, 'notification')
        } catch (err) {
          this.options.onProtocolError?.(toRpcError(err), { method: frame.method })
        }
        return
      case 'request': {
        let reply: string
        try {
          const result = await this.options.dispatch(frame.method, frame.params, 'request')
          reply = encodeSuccess(frame.id, result)
        } catch (err) {
          const error = toRpcError(err)
          if (error.code === rpcError('INTERNAL_ERROR').code) this.options.onProtocolError?.(error, err)
          reply = encodeError(frame.id, error)
        }
        this.sendRaw(reply)
        return
      }
    }
  }

  call(method: string, params: unknown, options: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.closed) return Promise.reject(rpcError('CONNECTION_CLOSED'))
    const timeoutMs = options.timeoutMs ?? this.timeoutMs
    const { id, reply } = this.pending.open(timeoutMs, () => rpcError('TIMEOUT', `${method} timed out after ${timeoutMs} ms`))
    try {
      this.options.send(encodeRequest(id, method, params))
    } catch (err) {
      this.pending.fail(id, rpcError('CONNECTION_CLOSED', `send failed: ${(err as Error).message}`))
    }
    return reply
  }

  /** Call a method from a protocol table and validate the reply against its result schema. */
  async callTyped<S extends MethodSpec>(spec: S, method: string, params: z.input<S['params']>, options?: { timeoutMs?: number }): Promise<z.output<S['result']>> {
    const raw = await this.call(method, params, options)
    const parsed = spec.result.safeParse(raw)
    if (!parsed.success) throw rpcError('INVALID_REQUEST', `malformed ${method} result: ${describeZodError(parsed.error)}`)
    return parsed.data as z.output<S['result']>
  }

  notify(method: string, params: unknown): void {
    if (this.closed) return
    this.sendRaw(encodeNotification(method, params))
  }

  /** Fail every pending call; further calls fail at once. */
  close(reason = 'connection closed'): void {
    if (this.closed) return
    this.closed = true
    this.pending.failAll(rpcError('CONNECTION_CLOSED', reason))
  }

  private sendRaw(text: string): void {
    if (this.closed) return
    try {
      this.options.send(text)
    } catch {
      // The transport is going away; its close handler will close this peer.
    }
  }
}

export function toRpcError(err: unknown): RpcError {
  if (err instanceof RpcError) return err
  return rpcError('INTERNAL_ERROR')
}

/** One line naming each failing field: "count: Too big; peers.3.id: Required". */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(params)'}: ${i.message}`)
    .join('; ')
}

/** Validate params against a schema; throw INVALID_PARAMS with a precise message. */
export function parseParams<T extends z.ZodType>(schema: T, params: unknown, method: string): z.output<T> {
  const parsed = schema.safeParse(params ?? {})
  if (!parsed.success) throw rpcError('INVALID_PARAMS', `invalid params for ${method}: ${describeZodError(parsed.error)}`)
  return parsed.data
}
