/**
 * The shim's local beacon API (`vipnode client --service rpc --beacon-listen
 * host:port`): a consensus light client (Helios `--consensus-rpc`, the Nimbus
 * verified proxy, the Lodestar prover) reads the light-client routes here,
 * and the shim relays each GET through an assigned host whose relay serves
 * them (the pool marks those grants `beacon`: the host runs `--relay-beacon`).
 *
 * - Checked here first (agent/relay/beaconRoutes.ts): other routes, other
 *   methods and out-of-bound parameters are refused locally with the reason
 *   (404/405/400, `{code, message}` as beacon nodes answer) and never leave
 *   the machine.
 * - Hosts: its own RelayTargets (targets.ts), with the JSON-RPC proxy's
 *   policy: sticky to the host that last served, a failed host tried last
 *   for the cool-down, benched by its health (hostHealth.ts). Apart from the
 *   JSON-RPC proxy's state on purpose: a host whose beacon node is down may
 *   serve execution calls well, so a beacon bench is not handed back to the
 *   pool, it only stops beacon requests going there.
 * - Failover (beaconClient.ts): connection errors, timeouts, 5xx, 3xx, 401
 *   go to the next host at once; with none left the light client gets 503
 *   `{code: 503, message: "no pool host with a beacon API available: …"}`
 *   with each host's reason.
 * - Guards as the JSON-RPC endpoint's: loopback by default, `Host` must be a
 *   local name, browser origins only when allowed.
 * - Metered like the JSON-RPC proxy's calls, into the activity the shim
 *   reports per host (`meter`: the shim passes the JSON-RPC proxy's, so time
 *   overlapping JSON-RPC calls counts once, as at the relay): each attempt on
 *   a host is a call, served with its compute units (agent/relay/
 *   computeUnits.ts beaconCost) only when the verdict on the relay's reply
 *   (agent/relay/replyVerdict.ts beaconVerdict: a 2xx) says so. The relay
 *   counts the same request the same way, so the pool's bilateral rule
 *   credits it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { systemClock, type Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { sendJson } from '../../agent/relay/httpBody.ts'
import { localGuard } from './localGuard.ts'
import { beaconError, checkBeaconRequest, forwardedAccept } from '../../agent/relay/beaconRoutes.ts'
import { ActivityMeter, type Activity } from '../../agent/relay/activity.ts'
import { beaconCost } from '../../agent/relay/computeUnits.ts'
import { beaconVerdict } from '../../agent/relay/replyVerdict.ts'
import type { HostHealthPolicy, HostOutcome } from './hostHealth.ts'
import { RelayAgents, type RelayAddressPolicy } from './relayAddresses.ts'
import { RelayTargets, type RpcTarget } from './targets.ts'
import { getFromRelay } from './beaconClient.ts'

export interface BeaconProxyOptions {
  /** Default 127.0.0.1. */
  host?: string
  port?: number
  logger: Logger
  relayAddresses: RelayAddressPolicy
  /** Per attempt on one host. Default 10 s. */
  requestTimeoutMs?: number
  /** A host that failed is tried after the others for this long. Default 30 s. */
  cooldownMs?: number
  hostHealth?: Partial<HostHealthPolicy>
  allowedHosts?: readonly string[]
  allowedOrigins?: readonly string[]
  clock?: Clock
  /** Where served requests are counted per host. Default: a meter of its own; the shim passes the JSON-RPC proxy's. */
  meter?: ActivityMeter<NodeId>
}

export interface BeaconProxy {
  readonly url: string
  readonly port: number
  /** The assigned hosts whose relay serves the beacon API. */
  setTargets(targets: readonly RpcTarget[]): void
  targets(): readonly RpcTarget[]
  /** Activity per host since the last drain (of `meter`: with a shared meter, one drain takes both proxies' counts). */
  drainActivity(): Map<NodeId, Activity>
  close(): Promise<void>
}


export async function startBeaconProxy(options: BeaconProxyOptions): Promise<BeaconProxy> {
  const log = options.logger
  const clock = options.clock ?? systemClock
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000
  const listenHost = options.host ?? '127.0.0.1'
  const targets = new RelayTargets(options.cooldownMs ?? 30_000, options.hostHealth)
  const meter = options.meter ?? new ActivityMeter<NodeId>(clock)
  const agents = new RelayAgents(options.relayAddresses)
  const { hostAllowed, originAllowed } = localGuard(listenHost, options)

  const record = (host: NodeId, outcome: HostOutcome) => {
    const benched = targets.recordOutcome(host, outcome, clock.now())
    if (benched) log.warn('pool host benched for beacon requests', { host, reason: benched })
  }

  async function relay(path: string, cost: number, accept: string, res: ServerResponse, cors: Record<string, string>): Promise<void> {
    const reasons: string[] = []
    const tried = new Set<NodeId>()
    for (const t of targets.order(clock.now())) {
      const target = targets.current(t.hostNodeId)
      if (!target) continue
      tried.add(target.hostNodeId)
      const endCall = meter.call(target.hostNodeId)
      const outcome = await getFromRelay(target, path, accept, requestTimeoutMs, agents)
      const verdict = outcome.ok ? beaconVerdict(outcome.status) : undefined
      endCall(verdict === 'served' ? 1 : 0, verdict === 'served' ? cost : 0)
      if (outcome.ok) {
        record(target.hostNodeId, verdict!)
        if (verdict === 'served') targets.succeeded(target.hostNodeId)
        const { status } = outcome
        if (res.destroyed) return
        res.writeHead(status, { 'content-type': 'application/json', ...outcome.headers, ...cors }).end(outcome.body)
        return
      }
      reasons.push(`host ${target.hostNodeId.slice(0, 8)}: ${outcome.reason}`)
      if (outcome.refused) {
        if (targets.recordOutcome(target.hostNodeId, 'refused', clock.now()) !== undefined) {
          log.warn('relay address refused: pool host benched, nothing sent to it', { host: target.hostNodeId, relayName: outcome.refused.hostname, address: outcome.refused.address })
        }
        continue
      }
      log.warn('pool host failed a beacon request; trying the next', { host: target.hostNodeId, reason: outcome.reason })
      record(target.hostNodeId, outcome.timedOut ? 'timeout' : 'host-error')
      targets.failed(target.hostNodeId, clock.now())
    }
    for (const id of targets.benched(clock.now())) {
      if (!tried.has(id)) reasons.push(`host ${id.slice(0, 8)}: benched (${targets.health.benchReason(id, clock.now())})`)
    }
    const message =
      reasons.length === 0
        ? 'no pool host with a beacon API available: none of the hosts the pool assigned to this client serves the beacon API (--relay-beacon)'
        : `no pool host with a beacon API available: ${reasons.join('; ')}`
    sendJson(res, 503, beaconError(503, message), cors)
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.resume()
    if (!hostAllowed(req)) return sendJson(res, 403, beaconError(403, `host ${JSON.stringify(req.headers.host ?? '')} is not allowed: use localhost or add it to the allowed hosts`))
    const origin = req.headers.origin
    if (originAllowed(req) === false) return sendJson(res, 403, beaconError(403, `origin ${JSON.stringify(origin)} is not allowed to use this pool proxy`))
    const cors: Record<string, string> = origin !== undefined ? { 'access-control-allow-origin': origin, vary: 'origin' } : {}
    if (req.method === 'OPTIONS' && origin !== undefined) {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET', 'access-control-max-age': '600' }).end()
      return
    }
    const route = checkBeaconRequest(req.method, req.url ?? '/')
    if (!route.ok) return sendJson(res, route.status, beaconError(route.status, route.message), { ...cors, ...(route.status === 405 ? { allow: 'GET' } : {}) })
    await relay(route.path, beaconCost(route), forwardedAccept(req.headers.accept), res, cors)
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      log.error('local beacon request failed', {}, err)
      sendJson(res, 500, beaconError(500, 'internal error in the pool proxy'))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, listenHost, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as { address: string; port: number }
  const url = `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`
  log.info('local beacon API listening', { url })

  return {
    url,
    port: address.port,
    setTargets(next) {
      const removed = targets.set(next)
      if (removed.length > 0) log.info('beacon hosts dropped', { hosts: removed })
    },
    targets: () => targets.list(),
    drainActivity: () => meter.drain(),
    async close() {
      agents.destroy()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

