/**
 * One attempt to have a host's relay answer a list of calls over HTTP. The
 * outcome says whether to fail over: a connection error, a timeout, a 5xx
 * (the relay's node is down, or a proxy in front of it) or a 401 (the token
 * is stale or revoked) mean "try another host"; any other reply, including
 * 429 and 413, is the answer (another host would say the same to the same
 * request, and spreading a flood over all hosts would only hurt them all).
 * A host that keeps answering that way is benched by its health instead
 * (hostHealth.ts), not per request.
 *
 * Posts go through the proxy's relay agents (relayAddresses.ts): a relay
 * name is resolved and checked for every new connection, and a name that
 * resolves to a non-public address is `refused` (the proxy benches the host
 * at once). Redirects are not followed: a 3xx is a failover like a 5xx, so
 * a relay cannot send the calls and the token on to an address nobody
 * checked.
 */
import { alignReplies, callFrame, type RpcCall, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import { refusalOf, type RelayAddressRefusedError, type RelayAgents } from './relayAddresses.ts'
import type { RpcTarget } from './targets.ts'
import { ExchangeTimeout, httpExchange } from '../../agent/relay/httpExchange.ts'
import type { FailureKind } from './qualityMeter.ts'

export type RelayOutcome =
  /** `replies` aligned with the calls (undefined for notifications); `status`: the relay's HTTP status. */
  | { ok: true; replies: (RpcReply | undefined)[]; status: number }
  /**
   * Fail over; `timedOut`: no answer in time (the host's health counts these apart); `refused`: its name resolved
   * to a non-public address; `kind`: what each call's outcome was, for the quality report (qualityMeter.ts).
   */
  | { ok: false; reason: string; timedOut: boolean; kind: FailureKind; refused?: RelayAddressRefusedError }

/** The largest relay reply read (as the subscription socket's frames): beyond it the host has failed. */
export const MAX_RELAY_REPLY_BYTES = 64 << 20

export async function postToRelay(target: RpcTarget, calls: readonly RpcCall[], timeoutMs: number, agents: RelayAgents): Promise<RelayOutcome> {
  // Our own ids on this hop: the client's may repeat, and position is not a promise the relay makes.
  const frames = calls.map((c, i) => callFrame(c, i))
  // A deadline and one timer per attempt, cleared on the reply (AbortSignal.timeout left a timer behind every
  // call that fired 10 s later and built a DOMException).
  const deadline = Date.now() + timeoutMs
  let status: number
  let text: string
  try {
    const url = new URL(target.relayUrl)
    const body = JSON.stringify(frames.length === 1 ? frames[0] : frames)
    const reply = await httpExchange(url, { method: 'POST', body, headers: { authorization: `Bearer ${target.token}` }, agent: agents.for(url), deadline, maxBytes: MAX_RELAY_REPLY_BYTES })
    status = reply.status
    text = reply.body.toString('utf8')
  } catch (err) {
    const refused = refusalOf(err)
    if (refused) return { ok: false, reason: refused.message, timedOut: false, kind: 'transport', refused }
    if (err instanceof ExchangeTimeout) return { ok: false, reason: `no answer within ${timeoutMs} ms`, timedOut: true, kind: 'timeout' }
    const e = err as { code?: unknown; message?: unknown }
    return { ok: false, reason: String(e?.code ?? e?.message ?? err), timedOut: false, kind: 'transport' }
  }
  if (status === 401) return { ok: false, reason: 'relay token refused (HTTP 401)', timedOut: false, kind: 'refused' }
  if (status >= 300 && status < 400) return { ok: false, reason: `relay redirected (HTTP ${status}): redirects are not followed`, timedOut: false, kind: 'transport' }
  if (status >= 500) {
    // The relay's own 502/504 carry a JSON-RPC error: its node failed (or timed out); anything else is the way there.
    const said = describeRelayError(text)
    return { ok: false, reason: `${said ?? 'relay failed'} (HTTP ${status})`, timedOut: status === 504, kind: status === 504 ? 'timeout' : said !== undefined ? 'node-error' : 'transport' }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // 200 with no body: only notifications were sent.
    if (text === '' && status < 300) return { ok: true, replies: calls.map(() => undefined), status }
    return { ok: false, reason: `relay reply is not JSON (HTTP ${status})`, timedOut: false, kind: 'transport' }
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
