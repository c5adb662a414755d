/**
 * JSON-RPC 2.0 framing shared by the host's relay server and the client's
 * rpc proxy: split a body into calls (single or batch), build error replies.
 * Only the envelope is checked here; params are the node's business.
 */

export type RpcId = string | number | null

export interface RpcCall {
  id: RpcId
  /** False for a notification (no `id` member): it gets no reply. */
  hasId: boolean
  method: string
  params: unknown
}

export interface RpcReply {
  jsonrpc: '2.0'
  id: RpcId
  result?: unknown
  error?: { code: number; message: string; data?: unknown }
}

/** One element of a request: a call, or the error reply for an element that is not one. */
export type RpcItem = { call: RpcCall } | { invalid: RpcReply }

export type ParsedBody = { ok: true; batch: boolean; items: RpcItem[] } | { ok: false; reply: RpcReply }

export const PARSE_ERROR = -32700
export const INVALID_REQUEST = -32600
export const INTERNAL_ERROR = -32603

export function errorReply(id: RpcId, code: number, message: string, data?: unknown): RpcReply {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } }
}

const isRpcId = (v: unknown): v is RpcId => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))

export function parseItem(value: unknown): RpcItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { invalid: errorReply(null, INVALID_REQUEST, 'invalid request: not a JSON-RPC request object') }
  const v = value as { id?: unknown; method?: unknown; params?: unknown }
  const hasId = 'id' in v
  const id = hasId && isRpcId(v.id) ? v.id : null
  if (hasId && !isRpcId(v.id)) return { invalid: errorReply(null, INVALID_REQUEST, 'invalid request: id must be a string, a number or null') }
  if (typeof v.method !== 'string') return { invalid: errorReply(id, INVALID_REQUEST, 'invalid request: method must be a string') }
  if (v.params !== undefined && (typeof v.params !== 'object' || v.params === null)) return { invalid: errorReply(id, INVALID_REQUEST, 'invalid request: params must be an array or an object') }
  return { call: { id, hasId, method: v.method, params: v.params } }
}

/** Parse a request body. An empty batch is an invalid request, as the spec says. */
export function parseBody(text: string): ParsedBody {
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch {
    return { ok: false, reply: errorReply(null, PARSE_ERROR, 'parse error: the request is not valid JSON') }
  }
  if (Array.isArray(msg)) {
    if (msg.length === 0) return { ok: false, reply: errorReply(null, INVALID_REQUEST, 'invalid request: empty batch') }
    return { ok: true, batch: true, items: msg.map(parseItem) }
  }
  return { ok: true, batch: false, items: [parseItem(msg)] }
}

/** The request object for a call, with the id to use on the next hop. */
export function callFrame(call: RpcCall, id: RpcId): Record<string, unknown> {
  const frame: Record<string, unknown> = { jsonrpc: '2.0', id, method: call.method }
  if (call.params !== undefined) frame.params = call.params
  return frame
}

/**
 * Match an upstream reply (one object or a batch) to the calls sent, which
 * carried their position as id; each reply gets the caller's own id back.
 * An error without a numeric id (a refusal of the whole request) answers
 * every call; a call with no reply gets `missing`.
 */
export function alignReplies(parsed: unknown, calls: readonly { id: RpcId }[], from: string): RpcReply[] {
  const byId = new Map<number, Record<string, unknown>>()
  let whole: Record<string, unknown> | undefined
  for (const r of Array.isArray(parsed) ? parsed : [parsed]) {
    if (typeof r !== 'object' || r === null) continue
    const rec = r as Record<string, unknown>
    if (typeof rec.id === 'number') byId.set(rec.id, rec)
    else if (rec.error) whole = rec
  }
  return calls.map((c, i) => {
    const r = byId.get(i) ?? whole
    return r ? replyWithId(r, c.id, from) : errorReply(c.id, INTERNAL_ERROR, `${from} sent no reply for this call`)
  })
}

/** An upstream reply object, cleaned to a spec reply carrying the caller's id. */
export function replyWithId(r: Record<string, unknown>, id: RpcId, from: string): RpcReply {
  const err = r.error as { code?: unknown; message?: unknown; data?: unknown } | undefined | null
  if (err !== undefined && err !== null) {
    return errorReply(id, typeof err.code === 'number' ? err.code : INTERNAL_ERROR, typeof err.message === 'string' ? err.message : 'error', err.data)
  }
  if (!('result' in r)) return errorReply(id, INTERNAL_ERROR, `malformed reply from ${from}`)
  return { jsonrpc: '2.0', id, result: r.result }
}
