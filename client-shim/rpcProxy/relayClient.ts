/**
 * One attempt to have a host's relay answer a list of calls over HTTP. The
 * outcome says whether to fail over: a connection error, a timeout, a 5xx
 * (the relay's node is down, or a proxy in front of it) or a 401 (the token
 * is stale or revoked) mean "try another host"; any other reply, including
 * 429 and 413, is the answer (another host would say the same to the same
 * request, and spreading a flood over all hosts would only hurt them all).
 */
import { callFrame, errorReply, INTERNAL_ERROR, type RpcCall, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import type { RpcTarget } from './targets.ts'

export type RelayOutcome =
  /** `replies` aligned with the calls (undefined for notifications); `counted`: the relay saw and counted the calls. */
  | { ok: true; replies: (RpcReply | undefined)[]; counted: true }
  | { ok: false; reason: string; counted: boolean }

export async function postToRelay(target: RpcTarget, calls: readonly RpcCall[], timeoutMs: number): Promise<RelayOutcome> {
  // Our own ids on this hop: the client's may repeat, and position is not a promise the relay makes.
  const frames = calls.map((c, i) => callFrame(c, i))
  let status: number
  let text: string
  try {
    const res = await fetch(target.relayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${target.token}` },
      body: JSON.stringify(frames.length === 1 ? frames[0] : frames),
      signal: AbortSignal.timeout(timeoutMs),
    })
    status = res.status
    text = await res.text()
  } catch (err) {
    if ((err as Error)?.name === 'TimeoutError') return { ok: false, reason: `no answer within ${timeoutMs} ms`, counted: false }
    const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } }
    return { ok: false, reason: String(e?.cause?.code ?? e?.cause?.message ?? e?.message ?? err), counted: false }
  }
  if (status === 401) return { ok: false, reason: 'relay token refused (HTTP 401)', counted: false }
  if (status >= 500) return { ok: false, reason: `${describeRelayError(text) ?? 'relay failed'} (HTTP ${status})`, counted: true }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // 200 with no body: only notifications were sent.
    if (text === '' && status < 300) return { ok: true, replies: calls.map(() => undefined), counted: true }
    return { ok: false, reason: `relay reply is not JSON (HTTP ${status})`, counted: true }
  }
  const byId = new Map<number, Record<string, unknown>>()
  let whole: Record<string, unknown> | undefined
  for (const r of Array.isArray(parsed) ? parsed : [parsed]) {
    if (typeof r !== 'object' || r === null) continue
    const rec = r as Record<string, unknown>
    if (typeof rec.id === 'number') byId.set(rec.id, rec)
    else if (rec.error) whole = rec // the relay refused the whole request (413, 429 on a batch limit)
  }
  const replies = calls.map((c, i) => {
    if (!c.hasId) return undefined
    const r = byId.get(i) ?? whole
    if (!r) return errorReply(c.id, INTERNAL_ERROR, 'the pool host sent no reply for this call')
    return withId(r, c.id)
  })
  return { ok: true, replies, counted: true }
}

function withId(r: Record<string, unknown>, id: RpcReply['id']): RpcReply {
  const err = r.error as { code?: unknown; message?: unknown; data?: unknown } | undefined | null
  if (err !== undefined && err !== null) {
    return errorReply(id, typeof err.code === 'number' ? err.code : INTERNAL_ERROR, typeof err.message === 'string' ? err.message : 'error', err.data)
  }
  if (!('result' in r)) return errorReply(id, INTERNAL_ERROR, 'malformed reply from the pool host')
  return { jsonrpc: '2.0', id, result: r.result }
}

/** The first error message in a relay's JSON error body, to say why a host failed. */
function describeRelayError(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as unknown
    const first = (Array.isArray(v) ? v[0] : v) as { error?: { message?: unknown } } | undefined
    return typeof first?.error?.message === 'string' ? first.error.message : undefined
  } catch {
    return undefined
  }
}
