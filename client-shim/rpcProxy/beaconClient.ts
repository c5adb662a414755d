/**
 * One attempt to have a host's relay answer a beacon API GET
 * (agent/relay/beaconRoutes.ts). The same connection path as the JSON-RPC
 * posts (relayClient.ts): the proxy's relay agents, which resolve and check a
 * relay name for every connection (relayAddresses.ts), and no redirects.
 *
 * Fail over on a connection error, a timeout, a 5xx (the host's beacon node
 * is down or slow: 502/504; the host has none: 501), a 3xx or a 401. Any
 * other reply is the answer: a 404 for a block root the beacon node does not
 * have would be the same elsewhere.
 */
import { BEACON_REPLY_HEADERS, MAX_BEACON_REPLY_BYTES } from '../../agent/relay/beaconRoutes.ts'
import { refusalOf, type RelayAddressRefusedError, type RelayAgents } from './relayAddresses.ts'
import type { RpcTarget } from './targets.ts'
import { ExchangeTimeout, httpExchange } from '../../agent/relay/httpExchange.ts'

export type BeaconRelayOutcome =
  | { ok: true; status: number; body: Buffer; headers: Record<string, string> }
  | { ok: false; reason: string; timedOut: boolean; refused?: RelayAddressRefusedError }

const PASSED_HEADERS: readonly string[] = BEACON_REPLY_HEADERS

export async function getFromRelay(target: RpcTarget, path: string, accept: string, timeoutMs: number, agents: RelayAgents): Promise<BeaconRelayOutcome> {
  const url = new URL(path, target.relayUrl)
  let reply: { status: number; body: Buffer; headers: Record<string, string> }
  try {
    const got = await httpExchange(url, { method: 'GET', headers: { authorization: `Bearer ${target.token}`, accept }, agent: agents.for(url), deadline: Date.now() + timeoutMs, maxBytes: MAX_BEACON_REPLY_BYTES })
    const passed: Record<string, string> = {}
    for (const h of PASSED_HEADERS) {
      const v = got.headers[h]
      if (typeof v === 'string') passed[h] = v
    }
    reply = { status: got.status, body: got.body, headers: passed }
  } catch (err) {
    const refused = refusalOf(err)
    if (refused) return { ok: false, reason: refused.message, timedOut: false, refused }
    if (err instanceof ExchangeTimeout) return { ok: false, reason: `no answer within ${timeoutMs} ms`, timedOut: true }
    const e = err as { code?: unknown; message?: unknown }
    return { ok: false, reason: String(e?.code ?? e?.message ?? err), timedOut: false }
  }
  const { status } = reply
  if (status === 401) return { ok: false, reason: 'relay token refused (HTTP 401)', timedOut: false }
  if (status >= 300 && status < 400) return { ok: false, reason: `relay redirected (HTTP ${status}): redirects are not followed`, timedOut: false }
  if (status >= 500) return { ok: false, reason: `${errorMessage(reply.body) ?? 'relay failed'} (HTTP ${status})`, timedOut: status === 504 }
  return { ok: true, ...reply }
}

function errorMessage(body: Buffer): string | undefined {
  try {
    const m = (JSON.parse(body.toString('utf8')) as { message?: unknown }).message
    return typeof m === 'string' ? m.slice(0, 300) : undefined
  } catch {
    return undefined
  }
}
