/**
 * The relay's beacon side (`vipnode host --relay-beacon URL`): consensus light
 * clients read the light-client sync protocol's REST routes and headers from
 * the host's consensus client through the same relay port and the same
 * tokens as the execution JSON-RPC.
 *
 * Per request, in order: the token (401, as the JSON-RPC relay), the route
 * allowlist (agent/relay/beaconRoutes.ts: read-only GETs of the light-client
 * routes, a bounded `count`; anything else 404/405/400 with the reason), the
 * host has a beacon node at all (501, which a client proxy fails over on),
 * the client's token bucket (the JSON-RPC relay's, in compute units: 20 per
 * request, 20 per update asked for; 429). Only then is the rebuilt path sent
 * to the beacon node, with a timeout. Errors are in the beacon API's shape,
 * `{code, message}`, which light clients already read.
 *
 * Status codes for the client proxy: the beacon node's own answers pass
 * through (200, and 404 for a root it does not have); a beacon node that does
 * not answer, answers 5xx or redirects gives 502, one that does not answer in
 * time 504, so the proxy fails over to another host.
 *
 * Metered as the JSON-RPC relay meters calls: a request that reached the
 * beacon node is one call in the client's activity (agent/relay/activity.ts,
 * the relay's one meter, so its time overlaps JSON-RPC calls only once), and
 * counts as served, with its compute units, only when the verdict on the reply
 * (agent/relay/replyVerdict.ts beaconVerdict: a 2xx) says so. The client's
 * proxy counts the same way, and the pool credits what both sides report.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import { ExchangeTimeout, httpExchange, httpTarget, ReplyTooLarge, type ExchangeReply } from '../../agent/relay/httpExchange.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { sendJson } from '../../agent/relay/httpBody.ts'
import { BEACON_REPLY_HEADERS, beaconError, checkBeaconRequest, forwardedAccept, MAX_BEACON_REPLY_BYTES } from '../../agent/relay/beaconRoutes.ts'
import { beaconCost } from '../../agent/relay/computeUnits.ts'
import { beaconVerdict } from '../../agent/relay/replyVerdict.ts'
import type { ActivityMeter } from '../../agent/relay/activity.ts'

export type BeaconOutcome =
  | { ok: true; status: number; body: Buffer; headers: Record<string, string> }
  | { ok: false; status: 502 | 504; message: string }

export interface BeaconForwarder {
  /** The beacon node's URL without credentials, for logs. */
  readonly where: string
  get(path: string, accept: string): Promise<BeaconOutcome>
}

/** Warnings about a beacon node that does not answer at most this often. */
const WARN_EVERY_MS = 10_000

export function createBeaconForwarder(beaconUrl: string, deps: { timeoutMs: number; log: Logger; clock: Clock }): BeaconForwarder {
  const beacon = httpTarget(beaconUrl, "--relay-beacon needs the consensus client's http(s) REST API")
  const prefix = beacon.url.href.replace(/\/+$/, '')
  const { where } = beacon
  const { timeoutMs, log, clock } = deps
  let lastWarn = 0
  const failure = (status: 502 | 504, reason: string): BeaconOutcome => {
    const now = clock.now()
    if (now - lastWarn >= WARN_EVERY_MS) {
      lastWarn = now
      log.warn('beacon node did not answer relayed requests', { beacon: where, reason })
    }
    return { ok: false, status, message: `the pool host's beacon node is unavailable: ${reason}` }
  }

  async function get(path: string, accept: string): Promise<BeaconOutcome> {
    let res: ExchangeReply
    try {
      res = await httpExchange(new URL(`${prefix}${path}`), { method: 'GET', headers: { ...beacon.headers, accept }, agent: beacon.agent, deadline: Date.now() + timeoutMs, maxBytes: MAX_BEACON_REPLY_BYTES })
    } catch (err) {
      if (err instanceof ExchangeTimeout) return failure(504, `no answer within ${timeoutMs} ms`)
      if (err instanceof ReplyTooLarge) return failure(502, err.message)
      return failure(502, String((err as NodeJS.ErrnoException)?.code ?? (err as Error)?.message ?? err))
    }
    if (res.status >= 300 && res.status < 400) return failure(502, `redirected (HTTP ${res.status}): redirects are not followed`)
    if (res.status >= 500) return failure(502, `HTTP ${res.status}${describe(res.body)}`)
    const out: Record<string, string> = {}
    for (const h of BEACON_REPLY_HEADERS) {
      const v = res.headers[h]
      if (typeof v === 'string') out[h] = v
    }
    return { ok: true, status: res.status, body: res.body, headers: out }
  }
  return { where, get }
}

/** ": <message>" from a beacon error body, when it has one. */
function describe(body: Buffer): string {
  try {
    const m = (JSON.parse(body.toString('utf8')) as { message?: unknown }).message
    return typeof m === 'string' ? `: ${m.slice(0, 200)}` : ''
  } catch {
    return ''
  }
}

export interface BeaconRelayDeps {
  /** The relay's token check: the client, or the message of a 401. */
  authenticate(req: IncomingMessage): { ok: true; client: NodeId } | { ok: false; message: string }
  /** Undefined when the host runs no beacon node (no --relay-beacon). */
  forwarder: BeaconForwarder | undefined
  /** Take `cost` compute units from the client's bucket (shared with its JSON-RPC calls). */
  take(client: NodeId, cost: number): boolean
  limits: { cuPerSec: number; cuBurst: number }
  /** The relay's activity per client (the one its JSON-RPC calls go into): what the host reports to the pool. */
  meter: ActivityMeter<NodeId>
}

/** One beacon request at the relay: checks, then the beacon node; always answers. */
export async function serveBeacon(deps: BeaconRelayDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume() // GETs carry no body worth reading; a body is ignored
  const auth = deps.authenticate(req)
  if (!auth.ok) return sendJson(res, 401, beaconError(401, auth.message), { 'www-authenticate': 'Bearer realm="vipnode relay"' })
  const route = checkBeaconRequest(req.method, req.url ?? '/')
  if (!route.ok) return sendJson(res, route.status, beaconError(route.status, route.message), route.status === 405 ? { allow: 'GET' } : {})
  if (!deps.forwarder) return sendJson(res, 501, beaconError(501, 'this pool host offers no beacon API (its operator did not pass --relay-beacon)'))
  const cost = beaconCost(route)
  if (!deps.take(auth.client, cost)) {
    return sendJson(res, 429, beaconError(429, `rate limited: this request costs ${cost} compute units; at most ${deps.limits.cuPerSec} per second per client (burst ${deps.limits.cuBurst})`))
  }
  const endCall = deps.meter.call(auth.client)
  const outcome = await deps.forwarder.get(route.path, forwardedAccept(req.headers.accept))
  const served = outcome.ok && beaconVerdict(outcome.status) === 'served'
  endCall(served ? 1 : 0, served ? cost : 0)
  if (!outcome.ok) return sendJson(res, outcome.status, beaconError(outcome.status, outcome.message))
  if (res.destroyed) return
  res.writeHead(outcome.status, { 'content-type': 'application/json', ...outcome.headers }).end(outcome.body)
}

