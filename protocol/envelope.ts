/**
 * JSON-RPC 2.0 frames, one per WebSocket text message. Parsing never throws:
 * it returns either a typed frame or an RpcError that the caller sends back
 * (with `id: null` when the id could not be read, as the spec requires).
 */
import { RpcError, rpcError } from './errors.ts'

export type RpcId = string | number

export interface RequestFrame {
  kind: 'request'
  id: RpcId
  method: string
  params: unknown
}
export interface NotificationFrame {
  kind: 'notification'
  method: string
  params: unknown
}
export interface SuccessFrame {
  kind: 'success'
  id: RpcId
  result: unknown
}
export interface ErrorFrame {
  kind: 'error'
  id: RpcId | null
  error: { code: number; message: string; data?: unknown }
}
export type Frame = RequestFrame | NotificationFrame | SuccessFrame | ErrorFrame

export type ParseResult = { ok: true; frame: Frame } | { ok: false; error: RpcError; id: RpcId | null }

/**
 * Longest string id accepted. Ids are echoed in replies: with ids up to the
 * frame size, one agent could make the coordinator queue a frame's worth of
 * reply per request. A longer id is treated as no id (the reply has id null).
 */
export const MAX_ID_LENGTH = 256

const isId = (v: unknown): v is RpcId => (typeof v === 'string' && v.length <= MAX_ID_LENGTH) || (typeof v === 'number' && Number.isSafeInteger(v))

export function parseFrame(text: string): ParseResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, error: rpcError('PARSE_ERROR'), id: null }
  }
  if (Array.isArray(value)) {
    return { ok: false, error: rpcError('INVALID_REQUEST', 'batches are not supported on the agent socket'), id: null }
  }
  if (typeof value !== 'object' || value === null) {
    return { ok: false, error: rpcError('INVALID_REQUEST', 'frame must be a JSON object'), id: null }
  }
  const o = value as Record<string, unknown>
  const id = isId(o.id) ? o.id : null
  if (o.jsonrpc !== '2.0') {
    return { ok: false, error: rpcError('INVALID_REQUEST', 'jsonrpc must be "2.0"'), id }
  }
  if ('method' in o) {
    if (typeof o.method !== 'string' || o.method.length === 0 || o.method.length > 128) {
      return { ok: false, error: rpcError('INVALID_REQUEST', 'method must be a non-empty string'), id }
    }
    if ('id' in o && o.id !== undefined && !isId(o.id)) {
      return { ok: false, error: rpcError('INVALID_REQUEST', `id must be a string of at most ${MAX_ID_LENGTH} characters or an integer`), id: null }
    }
    const params = o.params
    if (params !== undefined && (typeof params !== 'object' || params === null)) {
      return { ok: false, error: rpcError('INVALID_REQUEST', 'params must be an object or an array'), id }
    }
    return id === null
      ? { ok: true, frame: { kind: 'notification', method: o.method, params } }
      : { ok: true, frame: { kind: 'request', id, method: o.method, params } }
  }
  if ('result' in o && 'error' in o) {
    return { ok: false, error: rpcError('INVALID_REQUEST', 'a response has either result or error, not both'), id }
  }
  if ('result' in o) {
    if (id === null) return { ok: false, error: rpcError('INVALID_REQUEST', 'response without id'), id: null }
    return { ok: true, frame: { kind: 'success', id, result: o.result } }
  }
  if ('error' in o) {
    const e = o.error as Record<string, unknown> | null
    if (typeof e !== 'object' || e === null || !Number.isInteger(e.code) || typeof e.message !== 'string') {
      return { ok: false, error: rpcError('INVALID_REQUEST', 'error must have an integer code and a message'), id }
    }
    const error = e.data === undefined ? { code: e.code as number, message: e.message } : { code: e.code as number, message: e.message, data: e.data }
    return { ok: true, frame: { kind: 'error', id, error } }
  }
  return { ok: false, error: rpcError('INVALID_REQUEST', 'frame is neither a request nor a response'), id }
}

export function encodeRequest(id: RpcId, method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params })
}

export function encodeNotification(method: string, params: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', method, params })
}

export function encodeSuccess(id: RpcId, result: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result: result ?? null })
}

/** Spec-clean: an error response carries no `result` member. */
export function encodeError(id: RpcId | null, error: RpcError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: error.toWire() })
}
