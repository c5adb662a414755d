/**
 * The client's local JSON-RPC endpoint for the rpc service: point a light
 * client (Helios `--execution-rpc`, Nimbus verified proxy, Lodestar prover)
 * or a wallet at it. HTTP POST and WebSocket on one port, batches included.
 * Each request goes to one of the hosts the pool assigned (RelayTargets:
 * sticky to one healthy host), with the host's token.
 *
 * Failover: a connection error, timeout, 5xx or 401 from a host moves the
 * request to the next host, until one answers or all have failed; the client
 * then gets -32002 "no pool host available: <why, per host>". Every method is
 * retried, writes included: the only write a light client relays is
 * eth_sendRawTransaction, and sending the same signed bytes to a second host
 * is safe (same transaction hash; the network dedups it). If the second host
 * already has it ("already known"), the retry is answered with the hash, which
 * is what the first host would have said. Filters (eth_newFilter …) live on
 * one node and do not survive a failover: the client sees "filter not found"
 * and re-creates them, as it must after any node restart.
 *
 * A reply that is not a failover (429, a JSON-RPC error) is the answer, but
 * it is not service: only results count in the activity reported to the pool
 * (agent/relay/replyVerdict.ts) and make a host sticky, and a host whose
 * errors or timeouts cross hostHealth.ts's threshold is benched (not
 * contacted) and handed back to the pool by the shim.
 *
 * Only hosts in the current targets are ever contacted: setTargets takes
 * effect for every attempt after it, and subscriptions on a dropped host move
 * at once. Requests already in flight to a dropped host finish.
 *
 * Addresses: every connection to a relay, HTTP or WebSocket, goes through
 * the proxy's relay agents (relayAddresses.ts), which resolve a relay name
 * per connection and connect only to an address they checked. A name that
 * resolves to a non-public address outside development benches its host at
 * once (one log line: host, name, address), and the request moves on.
 *
 * Safety: the endpoint spends the client's pool balance, so it listens on
 * loopback by default and, like geth's --http.vhosts and --http.corsdomain,
 * refuses requests whose Host is not a local name and browser requests
 * (Origin header) from origins not explicitly allowed: a web page must not be
 * able to use it through the user's browser.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { keccak256 } from 'ethers'
import { WebSocketServer } from 'ws'
import { systemClock, type Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { ActivityMeter, type Activity } from '../../agent/relay/activity.ts'
import { replyVerdicts, servedCount } from '../../agent/relay/replyVerdict.ts'
import type { HostHealthPolicy, HostOutcome } from './hostHealth.ts'
import { RelayErrorCode } from '../../agent/relay/relayErrors.ts'
import { readBody, sendJson } from '../../agent/relay/httpBody.ts'
import { localGuard } from './localGuard.ts'
import { errorReply, INVALID_REQUEST, parseBody, type RpcCall, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import { ProxySession } from './proxySession.ts'
import { postToRelay } from './relayClient.ts'
import { RelayTargets, type RpcTarget } from './targets.ts'
import { CallCoster } from '../../agent/relay/computeUnits.ts'
import { RelayAgents, type RelayAddressPolicy, type RelayAddressRefusedError } from './relayAddresses.ts'
import { QualityMeter, replyOutcomes } from './qualityMeter.ts'
import type { HostQuality } from '../../protocol/methods.ts'
import { qualityMethod, type CallOutcome } from '../../protocol/quality.ts'
import { createProxyMetrics } from './proxyMetrics.ts'
import { checkableCall, checkAnswers, disputeCall, type AnswerCheckResult, type AskHost, type BadAnswer } from './answerCheck.ts'
import type { Registry } from 'prom-client'

export type { RpcTarget } from './targets.ts'

export interface RpcProxyOptions {
  /** Default 127.0.0.1: anyone who reaches this port spends the client's balance. */
  host?: string
  /** 0 or absent picks a free port. */
  port?: number
  logger: Logger
  /** Which addresses relay names may resolve to (public only, unless development), and the resolver. */
  relayAddresses: RelayAddressPolicy
  /** Per attempt on one host. Default 10 s. */
  requestTimeoutMs?: number
  /** A host that failed is tried after the others for this long. Default 30 s. */
  cooldownMs?: number
  /** Largest request body or WebSocket frame. Default 1 MiB (the relays' limit). */
  maxBodyBytes?: number
  /** Extra Host header names to accept besides localhost, 127.0.0.1, [::1] and the listen host; '*' accepts any. */
  allowedHosts?: readonly string[]
  /** Browser origins allowed to use the proxy (CORS and WebSocket Origin); '*' allows any. Default none. */
  allowedOrigins?: readonly string[]
  /** After every host failed, how long subscriptions wait before trying again. Default 1 s. */
  resubscribeRetryMs?: number
  /** When a host is benched for errors or timeouts (hostHealth.ts); defaults: 20 outcomes, 10 attempts, 50 %, 3 timeouts, 10 min. */
  hostHealth?: Partial<HostHealthPolicy>
  clock?: Clock
  /** A host found in the minority when a light client's report of a failed verification was checked (the shim reports it to the pool). */
  onBadAnswer?: (bad: BadAnswer) => Promise<unknown>
  /** Where the proxy's Prometheus metrics go (proxyMetrics.ts; the shim serves it with --metrics-listen). Default: a registry of its own. */
  metricsRegistry?: Registry
  /** Where served calls are counted per host (drainActivity). Default: a meter of its own; the shim shares one with its beacon proxy. */
  meter?: ActivityMeter<NodeId>
}

export interface RpcProxy {
  /** http://host:port/ for HTTP JSON-RPC. */
  readonly url: string
  /** ws://host:port/ for WebSocket JSON-RPC (subscriptions). */
  readonly wsUrl: string
  readonly port: number
  /** Replace the assigned hosts (from the pool's reply); a host left out is not contacted again. */
  setTargets(targets: readonly RpcTarget[]): void
  targets(): readonly RpcTarget[]
  /** Assigned hosts benched now for errors or timeouts: the shim gives them back to the pool. */
  benchedHosts(): NodeId[]
  /** Activity per host node ID since the last drain. */
  drainActivity(): Map<NodeId, Activity>
  /** Service quality per host since the last drain: calls by outcome, latency per method (qualityMeter.ts). */
  drainQuality(): HostQuality[]
  /**
   * Checked answers (answerCheck.ts): ask the usable hosts the same deterministic calls and compare; a host found
   * in the minority is benched at once (the shim reports it and hands it back). Metered like any relayed call.
   */
  checkAnswers(): Promise<AnswerCheckResult>
  /** Open local WebSocket clients. */
  sessionCount(): number
  close(): Promise<void>
}

const DEFAULTS = { requestTimeoutMs: 10_000, cooldownMs: 30_000, maxBodyBytes: 1 << 20, resubscribeRetryMs: 1_000 }
const MAX_BUFFERED_BYTES = 8 << 20
const ALREADY_KNOWN = /already known|known transaction|alreadyknown|already imported|already exists/i

export async function startRpcProxy(options: RpcProxyOptions): Promise<RpcProxy> {
  const log = options.logger
  const clock = options.clock ?? systemClock
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes
  const listenHost = options.host ?? '127.0.0.1'
  const targets = new RelayTargets(options.cooldownMs ?? DEFAULTS.cooldownMs, options.hostHealth)
  const meter = options.meter ?? new ActivityMeter<NodeId>(clock)
  const quality = new QualityMeter()
  const metrics = createProxyMetrics(options.metricsRegistry, { hosts: () => targets.list().length, benched: () => targets.benched(clock.now()).length, sessions: () => sessions.size })
  // Costs calls as the relays do (the default table: the pool credits the smaller of both ends' figures).
  const coster = new CallCoster()
  const sessions = new Set<ProxySession>()
  const agents = new RelayAgents(options.relayAddresses)
  const { hostAllowed, originAllowed } = localGuard(listenHost, options)

  const noHostMessage = (reasons: string[]) =>
    reasons.length === 0 ? 'no pool host available: the pool has not assigned any rpc host to this client yet' : `no pool host available: ${reasons.join('; ')}`

  /** Relay calls to the first host that answers; replies aligned with `calls` (undefined for notifications). */
  async function relayCalls(calls: RpcCall[]): Promise<(RpcReply | undefined)[]> {
    const reasons: string[] = []
    const tried = new Set<NodeId>()
    let retried = false
    for (const t of targets.order(clock.now())) {
      // The pool may have dropped it, or changed its token, since the order was taken.
      const target = targets.current(t.hostNodeId)
      if (!target) continue
      tried.add(target.hostNodeId)
      const endCall = meter.call(target.hostNodeId)
      let outcome: Awaited<ReturnType<typeof postToRelay>> | undefined
      let served = 0
      let servedUnits = 0
      // Costed before the call, as the relay costs it.
      const costs = calls.map((c) => coster.cost(c.method, c.params))
      const startedAt = clock.now()
      try {
        outcome = await postToRelay(target, calls, requestTimeoutMs, agents)
        if (outcome.ok) {
          // Judged as the host's relay judges it: only results are service, for the meter and for stickiness.
          const answered = calls.flatMap((c, i) => (c.hasId ? [i] : []))
          const replies = outcome.replies
          const answers = answered.map((i) => replies[i])
          const verdicts = replyVerdicts(outcome.status, answers)
          const latencyMs = clock.now() - startedAt
          replyOutcomes(outcome.status, answers, verdicts).forEach((o, k) => noteCall(target.hostNodeId, calls[answered[k]!]!.method, o, latencyMs))
          served = servedCount(verdicts)
          verdicts.forEach((v, k) => {
            if (v !== 'served') return
            const i = answered[k]!
            servedUnits += costs[i]!
            coster.served(calls[i]!.method, replies[i]?.result)
          })
          recordOutcome(target.hostNodeId, served > 0 ? 'served' : verdicts.includes('host-error') ? 'host-error' : 'client-error')
        } else {
          for (const c of calls) if (c.hasId) noteCall(target.hostNodeId, c.method, outcome.kind)
          if (outcome.refused) addressRefused(target.hostNodeId, outcome.refused)
          else recordOutcome(target.hostNodeId, outcome.timedOut ? 'timeout' : 'host-error')
        }
      } finally {
        endCall(served, servedUnits)
      }
      if (outcome.ok) {
        if (served > 0) targets.succeeded(target.hostNodeId)
        return retried ? settleRetriedSends(calls, outcome.replies) : outcome.replies
      }
      reasons.push(`host ${target.hostNodeId.slice(0, 8)}: ${outcome.reason}`)
      if (!outcome.refused) {
        log.warn('pool host failed a relayed request; trying the next', { host: target.hostNodeId, reason: outcome.reason })
        targets.failed(target.hostNodeId, clock.now())
        metrics.failovers.inc()
        retried = true
      }
    }
    for (const id of targets.benched(clock.now())) {
      if (!tried.has(id)) reasons.push(`host ${id.slice(0, 8)}: benched (${targets.health.benchReason(id, clock.now())})`)
    }
    const message = noHostMessage(reasons)
    metrics.noHost.inc()
    return calls.map((c) => (c.hasId ? errorReply(c.id, RelayErrorCode.NO_HOST_AVAILABLE, message) : undefined))
  }

  /** Which usable host the next check compares first: each round starts one further, so pairs rotate. */
  let checkRound = 0
  const usableHosts = () => targets.list().filter((t) => !targets.health.isBenched(t.hostNodeId, clock.now())).map((t) => t.hostNodeId)
  async function checkHostAnswers(): Promise<AnswerCheckResult> {
    const usable = usableHosts()
    const start = usable.length === 0 ? 0 : checkRound++ % usable.length
    const order = [...usable.slice(start), ...usable.slice(0, start)]
    const result = await checkAnswers(order, askForCheck)
    if (result.bad) benchLiar(result.bad)
    return result
  }

  function benchLiar(bad: BadAnswer): void {
    const { minority, call, answerDigest, majorityDigest, witnesses } = bad
    targets.bench(minority, `answered ${call.method} unlike ${witnesses.length} other hosts`, clock.now())
    log.warn('pool host answered against the majority: benched', { host: minority, method: call.method, block: String(call.method === 'eth_getProof' ? call.params[2] : call.params[0]), answerDigest, majorityDigest, witnesses: witnesses.length })
  }

  /**
   * vipnode_reportBadAnswer from the light client (params: [call, answer?]): its verification of that answer failed.
   * The shim asks every usable host the call and reports the host in the minority, if any; the light client's word
   * alone blames nobody. The reply says what the check found.
   */
  async function checkReportedCall(c: RpcCall): Promise<RpcReply> {
    const params = Array.isArray(c.params) ? c.params : [c.params]
    const call = checkableCall(params[0])
    if (typeof call === 'string') return errorReply(c.id, -32602, `vipnode_reportBadAnswer: ${call}`)
    const r = await disputeCall(usableHosts(), askForCheck, call)
    log.info('light client reported a failed verification: checked', { method: call.method, asked: r.asked, answered: r.answered, minority: r.bad?.minority ?? null })
    if (r.bad) {
      benchLiar(r.bad)
      await options.onBadAnswer?.(r.bad).catch((err: unknown) => log.warn('bad answer not reported to the pool', { host: r.bad!.minority, error: (err as Error).message }))
    }
    return { jsonrpc: '2.0', id: c.id, result: { asked: r.asked, answered: r.answered, minority: r.bad?.minority ?? null } }
  }

  /** One host's results for checked calls (undefined where it gave none); metered like any relayed call, not judged for health. */
  const askForCheck: AskHost = async (host, calls) => {
    const target = targets.current(host)
    if (!target) return undefined
    const relayed: RpcCall[] = calls.map((c, i) => ({ id: i, hasId: true, method: c.method, params: c.params }))
    const costs = relayed.map((c) => coster.cost(c.method, c.params))
    const endCall = meter.call(host)
    let served = 0
    let units = 0
    try {
      const outcome = await postToRelay(target, relayed, requestTimeoutMs, agents)
      if (!outcome.ok) return undefined
      // Metered as the relay meters them: only results are service.
      replyVerdicts(outcome.status, outcome.replies).forEach((v, i) => {
        if (v !== 'served') return
        served++
        units += costs[i]!
      })
      return outcome.replies.map((r) => r?.result)
    } finally {
      endCall(served, units)
    }
  }

  /** One relayed call's outcome on a host, for the quality report. */
  function noteCall(host: NodeId, method: string, outcome: CallOutcome, latencyMs?: number): void {
    quality.record(host, method, outcome, latencyMs)
    const name = qualityMethod(method)
    metrics.calls.inc({ method: name, outcome })
    if (outcome === 'ok' && latencyMs !== undefined) metrics.callSeconds.observe({ method: name }, latencyMs / 1000)
  }

  function recordOutcome(host: NodeId, outcome: HostOutcome): void {
    const benched = targets.recordOutcome(host, outcome, clock.now())
    if (benched) log.warn('pool host benched: its relay does not serve; moving to another host', { host, reason: benched })
  }

  /** A relay name resolved to a non-public address (nothing was sent): bench the host, said once per bench. */
  function addressRefused(host: NodeId, refused: RelayAddressRefusedError): void {
    if (targets.recordOutcome(host, 'refused', clock.now()) === undefined) return
    log.warn('relay address refused: pool host benched, nothing sent to it', { host, relayName: refused.hostname, address: refused.address, reason: refused.message })
  }

  /** A transaction re-sent after a failed attempt that the next host already has was sent: answer with its hash. */
  function settleRetriedSends(calls: RpcCall[], replies: (RpcReply | undefined)[]): (RpcReply | undefined)[] {
    return replies.map((r, i) => {
      const c = calls[i]!
      if (!r?.error || c.method !== 'eth_sendRawTransaction' || !ALREADY_KNOWN.test(r.error.message)) return r
      const raw = Array.isArray(c.params) ? c.params[0] : undefined
      if (typeof raw !== 'string' || !/^0x([0-9a-fA-F]{2})+$/.test(raw)) return r
      return { jsonrpc: '2.0', id: r.id, result: keccak256(raw) }
    })
  }

  /** One HTTP body: answered locally where we can, the rest relayed as one request. */
  async function handleHttp(text: string): Promise<string> {
    const parsed = parseBody(text)
    if (!parsed.ok) return JSON.stringify(parsed.reply)
    const out: (RpcReply | undefined)[] = new Array(parsed.items.length)
    const relayed: { index: number; call: RpcCall }[] = []
    const reported: { index: number; call: RpcCall }[] = []
    parsed.items.forEach((item, index) => {
      if ('invalid' in item) out[index] = item.invalid
      else if (item.call.method === 'eth_subscribe' || item.call.method === 'eth_unsubscribe') {
        out[index] = errorReply(item.call.id, -32601, `${item.call.method} needs a WebSocket: connect to ${wsUrl}`)
      } else if (item.call.method === 'vipnode_reportBadAnswer') reported.push({ index, call: item.call })
      else relayed.push({ index, call: item.call })
    })
    for (const x of reported) out[x.index] = await checkReportedCall(x.call)
    if (relayed.length > 0) {
      const replies = await relayCalls(relayed.map((x) => x.call))
      relayed.forEach((x, k) => {
        out[x.index] = replies[k]
      })
    }
    const replies = parsed.items.flatMap((item, i) => ('call' in item && !item.call.hasId ? [] : [out[i]!]))
    if (replies.length === 0) return ''
    return JSON.stringify(parsed.batch ? replies : replies[0])
  }

  // ---- servers ------------------------------------------------------------------------------
  const server = createServer((req, res) => {
    onHttp(req, res).catch((err: unknown) => {
      log.error('local rpc request failed', {}, err)
      sendJson(res, 500, errorReply(null, -32603, 'internal error in the pool proxy'))
    })
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBodyBytes })

  async function onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hostAllowed(req)) {
      req.resume()
      return sendJson(res, 403, errorReply(null, INVALID_REQUEST, `host ${JSON.stringify(req.headers.host ?? '')} is not allowed: use localhost or add it to the allowed hosts`))
    }
    const origin = originAllowed(req)
    if (origin === false) {
      req.resume()
      return sendJson(res, 403, errorReply(null, INVALID_REQUEST, `origin ${JSON.stringify(req.headers.origin)} is not allowed to use this pool proxy`))
    }
    const cors: Record<string, string> = origin ? { 'access-control-allow-origin': req.headers.origin!, vary: 'origin' } : {}
    if (req.method === 'OPTIONS' && origin) {
      req.resume()
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type', 'access-control-max-age': '600' }).end()
      return
    }
    if (req.method !== 'POST') {
      req.resume()
      return sendJson(res, 405, errorReply(null, INVALID_REQUEST, 'send JSON-RPC as HTTP POST, or connect a WebSocket'), { allow: 'POST', ...cors })
    }
    const body = await readBody(req, maxBodyBytes)
    if (body === undefined) return sendJson(res, 413, errorReply(null, RelayErrorCode.PAYLOAD_TOO_LARGE, `request body is over the limit of ${maxBodyBytes} bytes`), { connection: 'close', ...cors })
    const reply = await handleHttp(body)
    if (res.destroyed) return
    res.writeHead(200, { 'content-type': 'application/json', ...cors }).end(reply)
  }

  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {})
    if (!hostAllowed(req) || originAllowed(req) === false) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new ProxySession(ws, {
        targets,
        meter,
        coster,
        clock,
        log,
        requestTimeoutMs,
        resubscribeRetryMs: options.resubscribeRetryMs ?? DEFAULTS.resubscribeRetryMs,
        maxBufferedBytes: MAX_BUFFERED_BYTES,
        relayCalls,
        noHostMessage,
        agents,
        addressRefused,
        noteCall,
      })
      sessions.add(session)
      ws.on('close', () => sessions.delete(session))
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
  const hostPart = address.address.includes(':') ? `[${address.address}]` : address.address
  const url = `http://${hostPart}:${address.port}/`
  const wsUrl = `ws://${hostPart}:${address.port}/`
  log.info('local rpc proxy listening', { url, wsUrl })

  return {
    url,
    wsUrl,
    port: address.port,
    setTargets(next) {
      const removed = targets.set(next)
      if (removed.length > 0) log.info('rpc hosts dropped', { hosts: removed })
      for (const s of sessions) s.targetsChanged(removed)
    },
    targets: () => targets.list(),
    benchedHosts: () => targets.benched(clock.now()),
    drainActivity: () => meter.drain(),
    drainQuality: () => quality.drain(),
    checkAnswers: checkHostAnswers,
    sessionCount: () => sessions.size,
    async close() {
      for (const s of sessions) s.close()
      sessions.clear()
      wss.close()
      agents.destroy()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    },
  }
}

