/**
 * One local WebSocket client of the rpc proxy. Plain calls go through the
 * proxy's HTTP relaying (with failover); subscriptions live on one WebSocket
 * to one host's relay, opened on the first eth_subscribe.
 *
 * The client sees subscription ids the proxy made up, never the host's: when
 * that host goes away (its relay closes the socket: host down, node lost,
 * token revoked, or setTargets dropped it) every subscription is re-made on
 * another host and notifications continue under the same client-side id.
 * Notifications emitted while no host carried the subscription are lost
 * (newHeads resumes with the next block); there is no replay.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import WebSocket from 'ws'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import { ConnectionClosedError, PendingCalls } from '../../lib/pendingCalls.ts'
import type { NodeId } from '../../protocol/enode.ts'
import type { ActivityMeter } from '../../agent/relay/activity.ts'
import { RelayErrorCode } from '../../agent/relay/relayErrors.ts'
import { callVerdict } from '../../agent/relay/replyVerdict.ts'
import type { CallCoster } from '../../agent/relay/computeUnits.ts'
import { errorReply, INVALID_REQUEST, parseBody, type RpcCall, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import { relayWsUrl, type RelayTargets, type RpcTarget } from './targets.ts'
import { refusalOf, type RelayAddressRefusedError, type RelayAgents } from './relayAddresses.ts'
import { replyOutcomes } from './qualityMeter.ts'
import type { CallOutcome } from '../../protocol/quality.ts'

export interface ProxySessionDeps {
  targets: RelayTargets
  meter: ActivityMeter<NodeId>
  /** Costs calls and notifications in compute units, as the relay does. */
  coster: CallCoster
  clock: Clock
  log: Logger
  requestTimeoutMs: number
  /** After every host failed, how long to wait before trying to re-subscribe again. */
  resubscribeRetryMs: number
  maxBufferedBytes: number
  /** The proxy's relaying with failover, for calls that are not subscriptions. */
  relayCalls(calls: RpcCall[]): Promise<(RpcReply | undefined)[]>
  noHostMessage(reasons: string[]): string
  /** The proxy's connections to relays: a relay name is checked for every socket (relayAddresses.ts). */
  agents: RelayAgents
  /** A relay name resolved to a non-public address: the proxy benches the host and says so. */
  addressRefused(host: NodeId, refused: RelayAddressRefusedError): void
  /** One call's outcome on a host, for the quality report (latency for served calls). */
  noteCall(host: NodeId, method: string, outcome: CallOutcome, latencyMs?: number): void
}

interface Sub {
  /** What the client knows it by. */
  id: string
  params: unknown
  /** The host relay's id for it, while a host carries it. */
  upstreamId: string | undefined
}

type Reply = { result?: unknown; error?: { code: number; message: string; data?: unknown } }

interface Upstream {
  host: NodeId
  ws: WebSocket
  pending: PendingCalls<Reply>
  /** Host subscription id -> client subscription id. */
  bySub: Map<string, string>
  endActivity(): void
}

export class ProxySession {
  readonly #ws: WebSocket
  readonly #d: ProxySessionDeps
  readonly #subs = new Map<string, Sub>()
  #upstream: Upstream | undefined
  #connecting: Promise<Upstream> | undefined
  #resubscribing = false
  #again = false
  /** Hosts lost or refusing in a row while moving subscriptions: beyond one round of all hosts, wait before the next. */
  #failuresInRow = 0
  #retryTimer: NodeJS.Timeout | undefined
  #closed = false

  constructor(ws: WebSocket, deps: ProxySessionDeps) {
    this.#ws = ws
    this.#d = deps
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.#send(errorReply(null, INVALID_REQUEST, 'invalid request: binary frames are not JSON-RPC'))
      this.#handle(data.toString()).catch((err: unknown) => this.#d.log.error('local rpc frame failed', {}, err))
    })
    ws.on('error', () => {})
    ws.on('close', () => this.close())
  }

  /** The hosts the pool assigned changed: leave a dropped host at once, and retry now if we were waiting for hosts. */
  targetsChanged(removed: readonly NodeId[]): void {
    const up = this.#upstream
    if (up && removed.includes(up.host)) {
      this.#lost(up, 'host no longer assigned by the pool', false)
      up.ws.close(1000, 'host no longer assigned')
    }
    if (this.#retryTimer && this.#d.targets.list().length > 0) {
      clearTimeout(this.#retryTimer)
      this.#retryTimer = undefined
      void this.#resubscribe()
    }
  }

  /** Subscriptions this client holds (for tests and status). */
  get subscriptions(): number {
    return this.#subs.size
  }

  /** The host currently carrying this session's subscriptions. */
  get upstreamHost(): NodeId | undefined {
    return this.#upstream?.host
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#retryTimer) clearTimeout(this.#retryTimer)
    const up = this.#upstream
    this.#upstream = undefined
    if (up) {
      up.endActivity()
      up.ws.close(1000, 'client gone')
    }
    if (this.#ws.readyState === this.#ws.OPEN || this.#ws.readyState === this.#ws.CONNECTING) this.#ws.close(1001, 'proxy shutting down')
  }

  // ---- client frames ---------------------------------------------------------------
  async #handle(text: string): Promise<void> {
    const parsed = parseBody(text)
    if (!parsed.ok) return this.#send(parsed.reply)
    const out: (RpcReply | undefined)[] = new Array(parsed.items.length)
    const relayed: { index: number; call: RpcCall }[] = []
    const work: Promise<void>[] = []
    parsed.items.forEach((item, index) => {
      if ('invalid' in item) {
        out[index] = item.invalid
        return
      }
      const { call } = item
      if (call.method === 'eth_subscribe') work.push(this.#subscribe(call).then((r) => void (out[index] = r)))
      else if (call.method === 'eth_unsubscribe') work.push(this.#unsubscribe(call).then((r) => void (out[index] = r)))
      else relayed.push({ index, call })
    })
    if (relayed.length > 0) {
      work.push(
        this.#d.relayCalls(relayed.map((x) => x.call)).then((replies) => {
          relayed.forEach((x, k) => {
            out[x.index] = replies[k]
          })
        }),
      )
    }
    await Promise.all(work)
    const replies = parsed.items.flatMap((item, i) => ('call' in item && !item.call.hasId ? [] : [out[i]!]))
    if (replies.length > 0) this.#send(parsed.batch ? replies : replies[0])
  }

  #send(value: unknown): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return
    if (this.#ws.bufferedAmount > this.#d.maxBufferedBytes) {
      this.#d.log.warn('local rpc client does not read its messages; closing', {})
      this.#ws.terminate()
      return
    }
    this.#ws.send(JSON.stringify(value))
  }

  async #subscribe(call: RpcCall): Promise<RpcReply> {
    const sub: Sub = { id: `0x${randomBytes(16).toString('hex')}`, params: call.params ?? [], upstreamId: undefined }
    const reasons: string[] = []
    // Each failed host is dropped from the running, so this ends after at most one try per host.
    for (let tries = 0; tries <= this.#d.targets.list().length; tries++) {
      let up: Upstream
      try {
        up = await this.#ensureUpstream(reasons)
      } catch {
        break
      }
      let reply: Reply
      try {
        reply = await this.#call(up, 'eth_subscribe', sub.params)
      } catch (err) {
        reasons.push(`${short(up.host)}: ${(err as Error).message}`)
        continue // the socket is gone; #lost() cleared it, the next round picks another host
      }
      if (reply.error?.code === RelayErrorCode.METHOD_NOT_RELAYED && up.bySub.size === 0) {
        // This host cannot carry subscriptions (its node has no WebSocket): another host may.
        reasons.push(`${short(up.host)}: ${reply.error.message}`)
        this.#lost(up, 'cannot carry subscriptions', true)
        up.ws.close(1000, 'cannot carry subscriptions')
        continue
      }
      if (reply.error) return errorReply(call.id, reply.error.code, reply.error.message, reply.error.data)
      if (typeof reply.result !== 'string') return errorReply(call.id, -32603, 'malformed eth_subscribe reply from the pool host')
      if (this.#closed) {
        void this.#call(up, 'eth_unsubscribe', [reply.result]).catch(() => {})
        return errorReply(call.id, -32603, 'connection closed')
      }
      sub.upstreamId = reply.result
      this.#addSub(up, reply.result, sub.id)
      this.#subs.set(sub.id, sub)
      return { jsonrpc: '2.0', id: call.id, result: sub.id }
    }
    return errorReply(call.id, RelayErrorCode.NO_HOST_AVAILABLE, this.#d.noHostMessage(reasons))
  }

  async #unsubscribe(call: RpcCall): Promise<RpcReply> {
    const id = Array.isArray(call.params) ? call.params[0] : undefined
    const sub = typeof id === 'string' ? this.#subs.get(id) : undefined
    if (!sub) return errorReply(call.id, -32000, 'subscription not found')
    this.#subs.delete(sub.id)
    const up = this.#upstream
    if (up && sub.upstreamId) {
      this.#removeSub(up, sub.upstreamId)
      // The subscription is gone for the client either way; a host that fails to confirm drops it with the socket.
      await this.#call(up, 'eth_unsubscribe', [sub.upstreamId]).catch(() => {})
    }
    return { jsonrpc: '2.0', id: call.id, result: true }
  }

  // ---- the host side -------------------------------------------------------------------
  #ensureUpstream(reasons: string[]): Promise<Upstream> {
    const up = this.#upstream
    if (up && up.ws.readyState === up.ws.OPEN && this.#d.targets.current(up.host)) return Promise.resolve(up)
    if (!this.#connecting) {
      // Assigned before it can settle: an attempt that fails at once must not leave a stale rejection behind.
      const attempt = this.#connectAny(reasons)
      this.#connecting = attempt
      void attempt.then(
        () => this.#clearConnecting(attempt),
        () => this.#clearConnecting(attempt),
      )
    }
    return this.#connecting
  }

  #clearConnecting(attempt: Promise<Upstream>): void {
    if (this.#connecting === attempt) this.#connecting = undefined
  }

  /** Connect to the first host in the current order that accepts us. */
  async #connectAny(reasons: string[]): Promise<Upstream> {
    for (const t of this.#d.targets.order(this.#d.clock.now())) {
      const target = this.#d.targets.current(t.hostNodeId)
      if (!target || this.#closed) continue
      try {
        const opened = await this.#open(target)
        // setTargets may have dropped it while we connected.
        if (!this.#d.targets.current(target.hostNodeId) || this.#closed || opened.ws.readyState !== opened.ws.OPEN) {
          opened.endActivity()
          opened.ws.close(1000, this.#closed ? 'client gone' : 'host no longer assigned')
          continue
        }
        this.#upstream = opened
        return opened
      } catch (err) {
        reasons.push(`${short(target.hostNodeId)}: ${(err as Error).message}`)
        const refused = refusalOf(err)
        if (refused) this.#d.addressRefused(target.hostNodeId, refused)
        else this.#d.targets.failed(target.hostNodeId, this.#d.clock.now())
      }
    }
    throw new Error('no host')
  }

  #open(target: RpcTarget): Promise<Upstream> {
    return new Promise((resolve, reject) => {
      const url = relayWsUrl(target.relayUrl)
      const ws = new WebSocket(url, {
        agent: this.#d.agents.for(url),
        headers: { authorization: `Bearer ${target.token}` },
        handshakeTimeout: this.#d.requestTimeoutMs,
        maxPayload: 64 << 20,
      })
      let up: Upstream | undefined
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        res.resume()
        ws.terminate()
        reject(new Error(res.statusCode === 401 ? 'relay token refused (HTTP 401)' : `WebSocket upgrade refused (HTTP ${res.statusCode})`))
      })
      ws.on('error', (err) => {
        if (!up) reject(refusalOf(err) ?? new Error(describe(err)))
      })
      ws.on('open', () => {
        up = { host: target.hostNodeId, ws, pending: new PendingCalls<Reply>(), bySub: new Map(), endActivity: () => {} }
        resolve(up)
      })
      ws.on('message', (data) => {
        if (up) this.#fromHost(up, data.toString())
      })
      ws.on('close', (code, reason) => {
        if (!up) return reject(new Error(`closed during handshake (code ${code})`))
        // Closed by the relay (not by this session, which lets go of the upstream first): the calls in flight failed on the host.
        const byHost = this.#upstream === up && !this.#closed
        up.pending.failAll(Object.assign(new ConnectionClosedError(`relay connection closed (code ${code})`), { byHost }))
        this.#lost(up, `relay closed the connection (code ${code}${reason.length ? `: ${reason.toString()}` : ''})`, true)
      })
    })
  }

  #fromHost(up: Upstream, text: string): void {
    let msg: any
    try {
      msg = JSON.parse(text)
    } catch {
      return
    }
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      const waiting = up.pending.take(m?.id)
      if (waiting) {
        waiting.resolve(m as Reply)
      } else if (m?.method === 'eth_subscription' && up === this.#upstream) {
        const clientId = up.bySub.get(m.params?.subscription)
        if (clientId && this.#subs.has(clientId)) {
          this.#send({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription: clientId, result: m.params.result } })
          // Counted as the relay counts it: each notification delivered.
          this.#d.meter.units(up.host, this.#d.coster.notification(m.params.result))
        }
      }
    }
  }

  /** The upstream is service while it carries a subscription: metered from the first to the last, as the relay does. */
  #addSub(up: Upstream, upstreamId: string, clientId: string): void {
    up.bySub.set(upstreamId, clientId)
    if (up.bySub.size === 1) up.endActivity = this.#d.meter.session(up.host)
  }

  #removeSub(up: Upstream, upstreamId: string): void {
    if (up.bySub.delete(upstreamId) && up.bySub.size === 0) up.endActivity()
  }

  #call(up: Upstream, method: string, params: unknown): Promise<Reply> {
    if (up.ws.readyState !== up.ws.OPEN) return Promise.reject(new ConnectionClosedError('relay connection closed'))
    const { id, reply } = up.pending.open(this.#d.requestTimeoutMs, () => new Error(`no answer within ${this.#d.requestTimeoutMs} ms`))
    up.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
    // Metered as the relay meters it: served only with a result.
    const endCall = this.#d.meter.call(up.host)
    const cost = this.#d.coster.cost(method, params)
    const startedAt = this.#d.clock.now()
    return reply.then(
      (r) => {
        const answer = { jsonrpc: '2.0' as const, id, ...r }
        const verdict = callVerdict(answer)
        this.#d.noteCall(up.host, method, replyOutcomes(200, [answer], [verdict])[0]!, this.#d.clock.now() - startedAt)
        const served = verdict === 'served'
        endCall(served ? 1 : 0, served ? cost : 0)
        return r
      },
      (e: unknown) => {
        // A socket this session closed itself (moving on, or the client left) is not the host's failure.
        if (!(e instanceof ConnectionClosedError)) this.#d.noteCall(up.host, method, 'timeout')
        else if ((e as { byHost?: boolean }).byHost) this.#d.noteCall(up.host, method, 'transport')
        endCall(0)
        throw e
      },
    )
  }

  /** The upstream is gone: move every subscription to another host. `failed`: the host misbehaved (cool it down). */
  #lost(up: Upstream, reason: string, failed: boolean): void {
    if (this.#upstream !== up) return
    this.#upstream = undefined
    up.endActivity()
    if (this.#closed) return
    if (failed) this.#d.targets.failed(up.host, this.#d.clock.now())
    for (const sub of this.#subs.values()) sub.upstreamId = undefined
    if (this.#subs.size > 0) {
      this.#d.log.info('subscriptions lost their pool host; moving them', { host: up.host, reason, subscriptions: this.#subs.size })
      void this.#resubscribe()
    }
  }

  async #resubscribe(): Promise<void> {
    if (this.#closed || this.#subs.size === 0) return
    if (this.#resubscribing) {
      this.#again = true
      return
    }
    this.#resubscribing = true
    const retryLater = (reasons: string[]) => {
      this.#d.log.warn('no pool host to carry subscriptions; will retry', { reasons, retryMs: this.#d.resubscribeRetryMs })
      this.#failuresInRow = 0
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined
        void this.#resubscribe()
      }, this.#d.resubscribeRetryMs)
    }
    try {
      const reasons: string[] = []
      if (this.#failuresInRow > this.#d.targets.list().length) return retryLater(['every host failed in turn'])
      let up: Upstream
      try {
        up = await this.#ensureUpstream(reasons)
      } catch {
        return retryLater(reasons)
      }
      for (const sub of [...this.#subs.values()]) {
        if (sub.upstreamId || this.#upstream !== up) continue
        let reply: Reply
        try {
          reply = await this.#call(up, 'eth_subscribe', sub.params)
        } catch {
          this.#failuresInRow++
          return // that host went too; its close handler starts the next round
        }
        if (typeof reply.result !== 'string') {
          // This host will not carry it (e.g. its node has no WebSocket): try another.
          this.#d.log.warn('pool host refused to carry a subscription', { host: up.host, error: reply.error?.message })
          this.#failuresInRow++
          this.#lost(up, 'refused a subscription', true)
          up.ws.close(1000, 'moving subscriptions')
          return
        }
        if (!this.#subs.has(sub.id) || this.#upstream !== up) {
          void this.#call(up, 'eth_unsubscribe', [reply.result]).catch(() => {})
          continue
        }
        sub.upstreamId = reply.result
        this.#addSub(up, reply.result, sub.id)
      }
      this.#failuresInRow = 0
      this.#d.log.info('subscriptions moved to another pool host', { host: up.host, subscriptions: this.#subs.size })
    } finally {
      this.#resubscribing = false
      if (this.#again) {
        this.#again = false
        void this.#resubscribe()
      }
    }
  }
}

const short = (id: NodeId) => `host ${id.slice(0, 8)}`

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown }
  return String(e?.code ?? e?.message ?? err)
}
