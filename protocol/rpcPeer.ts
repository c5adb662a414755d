/**
 * One end of a bidirectional JSON-RPC 2.0 connection over any text transport.
 * Both the coordinator and the agents use it: either side may call the other.
 * It keeps one map of pending calls keyed by id, times each call out, and
 * fails every pending call with CONNECTION_CLOSED when the transport closes.
 */
import type { z } from 'zod'
import { RpcError, rpcError, fromWire } from './errors.ts'
import { parseFrame, encodeError, encodeNotification, encodeRequest, encodeSuccess, type NotificationFrame, type RequestFrame, type RpcId } from './envelope.ts'

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

interface Pending {
  resolve(value: unknown): void
  reject(error: RpcError): void
  timer: NodeJS.Timeout
}

export class RpcPeer {
  private nextId = 1
  private readonly pending = new Map<RpcId, Pending>()
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
        const waiting = id === null ? undefined : this.pending.get(id)
        if (!waiting) {
          // A reply nobody asked for (or one that arrived after its timeout). Nothing to answer.
          this.options.onProtocolError?.(rpcError('INVALID_REQUEST', 'response to an unknown request id'), { id })
          return
        }
        this.pending.delete(id!)
        clearTimeout(waiting.timer)
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
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.timeoutMs
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(rpcError('TIMEOUT', `${method} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      try {
        this.options.send(encodeRequest(id, method, params))
      } catch (err) {
        clearTimeout(timer)
        this.pending.delete(id)
        reject(rpcError('CONNECTION_CLOSED', `send failed: ${(err as Error).message}`))
      }
    })
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
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer)
      p.reject(rpcError('CONNECTION_CLOSED', reason))
      this.pending.delete(id)
    }
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
