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
import { request as httpRequest, type Agent } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { BEACON_REPLY_HEADERS, MAX_BEACON_REPLY_BYTES } from '../../agent/relay/beaconRoutes.ts'
import { refusalOf, type RelayAddressRefusedError, type RelayAgents } from './relayAddresses.ts'
import type { RpcTarget } from './targets.ts'

export type BeaconRelayOutcome =
  | { ok: true; status: number; body: Buffer; headers: Record<string, string> }
  | { ok: false; reason: string; timedOut: boolean; refused?: RelayAddressRefusedError }

const PASSED_HEADERS: readonly string[] = BEACON_REPLY_HEADERS

export async function getFromRelay(target: RpcTarget, path: string, accept: string, timeoutMs: number, agents: RelayAgents): Promise<BeaconRelayOutcome> {
  const url = new URL(path, target.relayUrl)
  const signal = AbortSignal.timeout(timeoutMs)
  let reply: { status: number; body: Buffer; headers: Record<string, string> }
  try {
    reply = await httpGet(url, { authorization: `Bearer ${target.token}`, accept }, agents.for(url), signal)
  } catch (err) {
    const refused = refusalOf(err)
    if (refused) return { ok: false, reason: refused.message, timedOut: false, refused }
    if (signal.aborted) return { ok: false, reason: `no answer within ${timeoutMs} ms`, timedOut: true }
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

/** GET and read the whole reply; a keep-alive socket the relay closed while idle is retried once on a new one (as relayClient.ts). */
async function httpGet(url: URL, headers: Record<string, string>, agent: Agent, signal: AbortSignal): Promise<{ status: number; body: Buffer; headers: Record<string, string> }> {
  try {
    return await getOnce(url, headers, agent, signal)
  } catch (err) {
    if (!(err as { reusedSocket?: boolean }).reusedSocket || (err as { code?: unknown }).code !== 'ECONNRESET' || signal.aborted) throw err
    return getOnce(url, headers, agent, signal)
  }
}

function getOnce(url: URL, headers: Record<string, string>, agent: Agent, signal: AbortSignal): Promise<{ status: number; body: Buffer; headers: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(url, { method: 'GET', agent, signal, headers }, (res) => {
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes > MAX_BEACON_REPLY_BYTES) {
          req.destroy(new Error(`relay reply is over ${MAX_BEACON_REPLY_BYTES} bytes`))
          return
        }
        chunks.push(chunk)
      })
      res.on('end', () => {
        const passed: Record<string, string> = {}
        for (const h of PASSED_HEADERS) {
          const v = res.headers[h]
          if (typeof v === 'string') passed[h] = v
        }
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: passed })
      })
      res.on('error', reject)
    })
    req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })))
    req.end()
  })
}
