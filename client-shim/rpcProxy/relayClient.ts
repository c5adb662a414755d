/**
 * One attempt to have a host's relay answer a list of calls over HTTP. The
 * outcome says whether to fail over: a connection error, a timeout, a 5xx
 * (the relay's node is down, or a proxy in front of it) or a 401 (the token
 * is stale or revoked) mean "try another host"; any other reply, including
 * 429 and 413, is the answer (another host would say the same to the same
 * request, and spreading a flood over all hosts would only hurt them all).
 * A host that keeps answering that way is benched by its health instead
 * (hostHealth.ts), not per request.
 */
import { alignReplies, callFrame, type RpcCall, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import type { RpcTarget } from './targets.ts'

export type RelayOutcome =
  /** `replies` aligned with the calls (undefined for notifications); `status`: the relay's HTTP status. */
  | { ok: true; replies: (RpcReply | undefined)[]; status: number }
  /** Fail over; `timedOut`: no answer in time (the host's health counts these apart). */
  | { ok: false; reason: string; timedOut: boolean }

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
    if ((err as Error)?.name === 'TimeoutError') return { ok: false, reason: `no answer within ${timeoutMs} ms`, timedOut: true }
    const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } }
    return { ok: false, reason: String(e?.cause?.code ?? e?.cause?.message ?? e?.message ?? err), timedOut: false }
  }
  if (status === 401) return { ok: false, reason: 'relay token refused (HTTP 401)', timedOut: false }
  if (status >= 500) return { ok: false, reason: `${describeRelayError(text) ?? 'relay failed'} (HTTP ${status})`, timedOut: status === 504 }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // 200 with no body: only notifications were sent.
    if (text === '' && status < 300) return { ok: true, replies: calls.map(() => undefined), status }
    return { ok: false, reason: `relay reply is not JSON (HTTP ${status})`, timedOut: false }
  }
  // The relay answers a refused whole request (413, 429 on a batch limit) with one error: it answers every call.
  const aligned = alignReplies(parsed, calls, 'the pool host')
  const replies = calls.map((c, i) => (c.hasId ? aligned[i] : undefined))
  return { ok: true, replies, status }
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
