/**
 * One relay request (an HTTP body or a WebSocket frame), from text to reply:
 * each call, batch elements one by one, is checked by RelayPolicy, the caps
 * (callCaps.ts: eth_getLogs range, gas) and the client's token bucket in
 * compute units (agent/relay/computeUnits.ts: each call takes its cost) before
 * anything is sent (a refused call never reaches the node); plain calls go to the node in one HTTP request, subscription
 * calls to the session's node socket. A request whose every call was rate
 * limited gives 429; a batch over the limit 413. Only served calls (judged as
 * the client's proxy judges them, agent/relay/replyVerdict.ts) are metered,
 * as calls, busy time and compute units.
 */
import type { Clock } from '../../lib/clock.ts'
import type { KeyedRateLimiter } from '../../lib/rateLimit.ts'
import type { NodeId } from '../../protocol/enode.ts'
import type { ActivityMeter } from '../../agent/relay/activity.ts'
import { replyVerdicts, servedCount } from '../../agent/relay/replyVerdict.ts'
import { RelayErrorCode } from '../../agent/relay/relayErrors.ts'
import { errorReply, parseBody, type RpcCall, type RpcItem, type RpcReply } from '../../agent/relay/rpcFrames.ts'
import type { RelayPolicy, RelayTransport } from './relayPolicy.ts'
import type { NodeForwarder } from './relayForward.ts'
import type { RelaySessions, Session } from './relaySessions.ts'
import type { CallCoster } from '../../agent/relay/computeUnits.ts'
import { capRefusal, INVALID_PARAMS, RANGE_METHODS } from './callCaps.ts'
import type { RelayCallOutcome, RelayMetrics } from './relayMetrics.ts'
import { qualityMethod } from '../../protocol/quality.ts'

export interface RelayRequestDeps {
  limits: { maxBatch: number; cuPerSec: number; cuBurst: number; maxLogsRange: number; gasCap: number }
  policy: RelayPolicy
  limiter: KeyedRateLimiter<NodeId>
  meter: ActivityMeter<NodeId>
  clock: Clock
  node: NodeForwarder
  sessions: RelaySessions
  /** Costs calls and knows the node's head (eth_getLogs tags resolve against it). */
  coster: CallCoster
  /** Prometheus: calls by method and outcome, served calls' time, compute units (relayMetrics.ts). */
  metrics?: Pick<RelayMetrics, 'calls' | 'callSeconds' | 'computeUnits'> | undefined
}

export type RelayRequestHandler = (text: string, client: NodeId, transport: RelayTransport, session?: Session) => Promise<{ status: number; body: string }>

type Routed = { index: number; call: RpcCall }

export function createRequestHandler(deps: RelayRequestDeps): RelayRequestHandler {
  const { limits, meter, node, sessions, coster } = deps
  /**
   * Ask the node for its head when a range call comes and none is known yet
   * (the host agent tells the relay its head at every report, so this is for
   * the first moments): one call shared by everyone waiting, not metered.
   */
  let headAsk: Promise<void> | undefined
  const learnHead = (): Promise<void> => {
    headAsk ??= node
      .forward([{ id: 0, hasId: true, method: 'eth_blockNumber', params: [] }])
      .then((r) => {
        if (r.ok) coster.served('eth_blockNumber', r.replies[0]?.result)
      })
      .finally(() => {
        headAsk = undefined
      })
    return headAsk
  }
  return async (text, client, transport, session) => {
    const parsed = parseBody(text)
    // Not service: nothing is metered for a request that is refused as a whole.
    if (!parsed.ok) return { status: 200, body: JSON.stringify(parsed.reply) }
    const { items, batch } = parsed
    if (items.length > limits.maxBatch) {
      return { status: 413, body: JSON.stringify(errorReply(null, RelayErrorCode.PAYLOAD_TOO_LARGE, `batch of ${items.length} calls is over this relay's limit of ${limits.maxBatch}`)) }
    }
    const endCall = meter.call(client)
    const startedAt = deps.clock.now()
    let served = 0
    let servedUnits = 0
    try {
      if (coster.range.head === undefined && items.some((item) => 'call' in item && RANGE_METHODS.has(item.call.method))) await learnHead()
      const { out, toNode, toSession, limited, cost, refusedAs } = route(deps, items, client, transport)
      let status = limited === items.length ? 429 : 200
      const work: Promise<void>[] = []
      if (toNode.length > 0) {
        work.push(
          node.forward(toNode.map((x) => x.call)).then((r) => {
            if (!r.ok) status = r.status
            toNode.forEach((x, k) => {
              out[x.index] = r.ok ? r.replies[k] : errorReply(x.call.id, r.code, r.message)
            })
          }),
        )
      }
      for (const x of toSession) work.push(sessions.subscriptionCall(session!, x.call).then((reply) => void (out[x.index] = reply)))
      await Promise.all(work)
      // Notifications (no id) get no reply.
      const answered = items.flatMap((item, i) => ('call' in item && !item.call.hasId ? [] : [i]))
      const replies = answered.map((i) => out[i]!)
      // Only results are service, judged as the client's proxy judges them, so both sides report the same calls.
      const verdicts = replyVerdicts(status, replies)
      served = servedCount(verdicts)
      const seconds = (deps.clock.now() - startedAt) / 1000
      verdicts.forEach((v, k) => {
        const i = answered[k]!
        const item = items[i]!
        const method = 'call' in item ? qualityMethod(item.call.method) : 'other'
        deps.metrics?.calls.inc({ method, outcome: refusedAs[i] ?? v })
        if (v !== 'served') return
        deps.metrics?.callSeconds.observe({ method }, seconds)
        servedUnits += cost[i]!
        if ('call' in item) coster.served(item.call.method, out[i]!.result)
      })
      deps.metrics?.computeUnits.inc(servedUnits)
      if (replies.length === 0) return { status, body: '' }
      return { status, body: JSON.stringify(batch ? replies : replies[0]) }
    } finally {
      endCall(served, servedUnits)
    }
  }
}

/**
 * Decide each call: an invalid item or a refused call (policy, rate) is
 * answered here in `out`; the rest go to the node or, for eth_subscribe and
 * eth_unsubscribe, to the session.
 */
function route(deps: RelayRequestDeps, items: RpcItem[], client: NodeId, transport: RelayTransport) {
  const { policy, limiter, limits, coster } = deps
  const now = deps.clock.now()
  const out: (RpcReply | undefined)[] = new Array(items.length)
  const toNode: Routed[] = []
  const toSession: Routed[] = []
  const cost: number[] = new Array(items.length).fill(0)
  /** Calls the relay answered itself, and why (for the metrics). */
  const refusedAs: (RelayCallOutcome | undefined)[] = new Array(items.length)
  let limited = 0
  items.forEach((item, index) => {
    if ('invalid' in item) {
      out[index] = item.invalid
      return
    }
    const { call } = item
    const decision = policy.check(call.method, transport)
    if (!decision.allowed) {
      out[index] = errorReply(call.id, decision.code, decision.message)
      refusedAs[index] = 'not-relayed'
      return
    }
    const refusal = capRefusal(call.method, call.params, limits, coster.range)
    if (refusal !== undefined) {
      out[index] = errorReply(call.id, INVALID_PARAMS, refusal)
      refusedAs[index] = 'over-cap'
      return
    }
    cost[index] = coster.cost(call.method, call.params)
    if (!limiter.take(client, now, cost[index])) {
      limited++
      refusedAs[index] = 'rate-limited'
      out[index] = errorReply(call.id, RelayErrorCode.RATE_LIMITED, `rate limited: this call costs ${cost[index]} compute units; at most ${limits.cuPerSec} per second per client (burst ${limits.cuBurst})`)
      return
    }
    if (call.method === 'eth_subscribe' || call.method === 'eth_unsubscribe') toSession.push({ index, call })
    else toNode.push({ index, call })
  })
  return { out, toNode, toSession, limited, cost, refusedAs }
}
