/**
 * What the client's proxy measures of each host's service between two
 * reports (issue 21, item 2), sent to the pool in `vipnode_update` `quality`
 * (protocol/methods.ts hostQualitySchema; docs/rpcService.md#quality): calls
 * by outcome, and the latency of the served ones per method in the fixed
 * buckets of protocol/quality.ts.
 *
 * Outcomes, per call (a batch element counts once):
 * - `ok`: a result.
 * - `client-error`: an error the request itself caused (agent/relay/
 *   replyVerdict.ts): every honest host would say the same; not the host's.
 * - `refused`: the relay would not serve: HTTP 401 or 429, or a call
 *   answered -32005 (rate limited) or -32010 (token refused).
 * - `node-error`: any other error that is the host's fault: its node lacks the
 *   state or fails (-32000 "header not found", -32022/502 node unavailable),
 *   a missing or malformed reply.
 * - `transport`: no usable answer: connection refused or reset, a 3xx or 5xx
 *   without a JSON-RPC error, a reply that is not JSON, a relay name on a
 *   non-public address (nothing was sent).
 * - `timeout`: no answer within the proxy's timeout, or the relay's own 504.
 *
 * Latency is timed from the proxy's send to the relay's reply, the same for
 * every call of one request, and kept only for `ok` calls: a refusal is fast,
 * and a host must not look quick by refusing.
 *
 * Memory: per host, six counters and at most one histogram (11 counts) per
 * method of QUALITY_METHODS plus `other`; a host is forgotten at each drain.
 */
import { LATENCY_BUCKET_COUNT, OUTCOME_FIELDS, latencyBucket, qualityMethod, type CallOutcome, type QualityMethod } from '../../protocol/quality.ts'
import type { HostQuality } from '../../protocol/methods.ts'
import type { NodeId } from '../../protocol/enode.ts'
import type { CallVerdict } from '../../agent/relay/replyVerdict.ts'
import { RelayErrorCode } from '../../agent/relay/relayErrors.ts'
import type { RpcReply } from '../../agent/relay/rpcFrames.ts'

type Counts = Omit<HostQuality, 'nodeId' | 'latency'>

interface Tally extends Counts {
  latency: Map<QualityMethod, number[]>
}

/** How a failed attempt on a relay failed (relayClient.ts RelayOutcome): the outcome of each of its calls. */
export type FailureKind = Extract<CallOutcome, 'timeout' | 'transport' | 'refused' | 'node-error'>

export class QualityMeter {
  readonly #hosts = new Map<NodeId, Tally>()

  /** One call's outcome on a host; `latencyMs` is kept for served calls only. */
  record(host: NodeId, method: string, outcome: CallOutcome, latencyMs?: number): void {
    let t = this.#hosts.get(host)
    if (!t) {
      t = { ok: 0, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 0, latency: new Map() }
      this.#hosts.set(host, t)
    }
    t[OUTCOME_FIELDS[outcome]]++
    if (outcome !== 'ok' || latencyMs === undefined) return
    const name = qualityMethod(method)
    let buckets = t.latency.get(name)
    if (!buckets) t.latency.set(name, (buckets = new Array<number>(LATENCY_BUCKET_COUNT).fill(0)))
    buckets[latencyBucket(latencyMs)]!++
  }

  /** Everything since the last drain, one entry per host that had a call; resets. */
  drain(): HostQuality[] {
    const out: HostQuality[] = []
    for (const [nodeId, t] of this.#hosts) {
      const { latency, ...counts } = t
      out.push({ nodeId, ...counts, latency: [...latency].map(([method, buckets]) => ({ method, buckets })) })
    }
    this.#hosts.clear()
    return out
  }
}

/** Codes in a host-error reply that mean the relay refused to serve rather than failed. */
const REFUSAL_CODES: ReadonlySet<number> = new Set([RelayErrorCode.RATE_LIMITED, RelayErrorCode.UNAUTHORIZED])

/**
 * The outcome of each answered call of one request, from the relay's HTTP
 * status (200 for a WebSocket frame), the replies and their verdicts (aligned).
 */
export function replyOutcomes(httpStatus: number, replies: readonly (RpcReply | undefined)[], verdicts: readonly CallVerdict[]): CallOutcome[] {
  return verdicts.map((v, i) => {
    if (v === 'served') return 'ok'
    if (v === 'client-error') return 'client-error'
    if (httpStatus === 401 || httpStatus === 429) return 'refused'
    const code = replies[i]?.error?.code
    return code !== undefined && REFUSAL_CODES.has(code) ? 'refused' : 'node-error'
  })
}
