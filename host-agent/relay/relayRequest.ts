/**
 * One relay request (an HTTP body or a WebSocket frame), from text to reply:
 * each call, batch elements one by one, is checked by RelayPolicy and the
 * client's token bucket before anything is sent (a refused call never reaches
 * the node); plain calls go to the node in one HTTP request, subscription
 * calls to the session's node socket. A request whose every call was rate
 * limited gives 429; a batch over the limit 413. Only served calls (judged as
 * the client's proxy judges them, agent/relay/replyVerdict.ts) are metered.
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

export interface RelayRequestDeps {
  limits: { maxBatch: number; ratePerSec: number; burst: number }
  policy: RelayPolicy
  limiter: KeyedRateLimiter<NodeId>
  meter: ActivityMeter<NodeId>
  clock: Clock
  node: NodeForwarder
  sessions: RelaySessions
}

export type RelayRequestHandler = (text: string, client: NodeId, transport: RelayTransport, session?: Session) => Promise<{ status: number; body: string }>

type Routed = { index: number; call: RpcCall }

export function createRequestHandler(deps: RelayRequestDeps): RelayRequestHandler {
  const { limits, meter, node, sessions } = deps
  return async (text, client, transport, session) => {
    const parsed = parseBody(text)
    // Not service: nothing is metered for a request that is refused as a whole.
    if (!parsed.ok) return { status: 200, body: JSON.stringify(parsed.reply) }
    const { items, batch } = parsed
    if (items.length > limits.maxBatch) {
      return { status: 413, body: JSON.stringify(errorReply(null, RelayErrorCode.PAYLOAD_TOO_LARGE, `batch of ${items.length} calls is over this relay's limit of ${limits.maxBatch}`)) }
    }
    const endCall = meter.call(client)
    let served = 0
    try {
      const { out, toNode, toSession, limited } = route(deps, items, client, transport)
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
      const replies = items.flatMap((item, i) => ('call' in item && !item.call.hasId ? [] : [out[i]!]))
      // Only results are service, judged as the client's proxy judges them, so both sides report the same calls.
      served = servedCount(replyVerdicts(status, replies))
      if (replies.length === 0) return { status, body: '' }
      return { status, body: JSON.stringify(batch ? replies : replies[0]) }
    } finally {
      endCall(served)
    }
  }
}

/**
 * Decide each call: an invalid item or a refused call (policy, rate) is
 * answered here in `out`; the rest go to the node or, for eth_subscribe and
 * eth_unsubscribe, to the session.
 */
function route(deps: RelayRequestDeps, items: RpcItem[], client: NodeId, transport: RelayTransport) {
  const { policy, limiter, limits } = deps
  const now = deps.clock.now()
  const out: (RpcReply | undefined)[] = new Array(items.length)
  const toNode: Routed[] = []
  const toSession: Routed[] = []
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
      return
    }
    if (!limiter.take(client, now)) {
      limited++
      out[index] = errorReply(call.id, RelayErrorCode.RATE_LIMITED, `rate limited: at most ${limits.ratePerSec} calls/s per client (burst ${limits.burst})`)
      return
    }
    if (call.method === 'eth_subscribe' || call.method === 'eth_unsubscribe') toSession.push({ index, call })
    else toNode.push({ index, call })
  })
  return { out, toNode, toSession, limited }
}
