/**
 * Was a relayed call served? One judgement, used the same way by the host's
 * relay and the client's proxy (so both sides meter the same calls) and by
 * the proxy's per-host health (so a host that answers with errors loses the
 * light client). Pure: it looks only at the HTTP status and the reply.
 *
 * - `served`: a JSON-RPC `result`. Only this counts as service (requests and
 *   busy time in agent/relay/activity.ts).
 * - `client-error`: an error the request itself caused, which every honest
 *   host would give too (malformed request, unknown or not relayed method,
 *   invalid params, execution reverted, a nonce or fee the network refuses,
 *   an unknown filter, a body over the limit). Not service either (the host
 *   did not earn it), but not held against the host's health.
 * - `host-error`: the host did not deliver: HTTP 401/429/5xx, rate limited
 *   (-32005), node unavailable or timed out, an internal error, a reply that
 *   is missing or malformed, or any other error code (the host's node lacks
 *   the state: "header not found", "missing trie node" ...).
 *
 * A host can dress a refusal up as the client's mistake (answer everything
 * with -32602): it still earns nothing, since only results are service, and
 * the proxy benches a host that served nothing at all (client-shim/rpcProxy/
 * hostHealth.ts).
 */
import type { RpcReply } from './rpcFrames.ts'

export type CallVerdict = 'served' | 'client-error' | 'host-error'

/** Codes whose meaning is fixed by the request, whatever node answers it. */
const CLIENT_FAULT_CODES: ReadonlySet<number> = new Set([
  -32700, // parse error
  -32600, // invalid request
  -32601, // method not found, or not relayed by the pool's policy (the same on every host)
  -32602, // invalid params
  3, // execution reverted (geth, with revert data)
])

/** geth and others use -32000 for everything; these messages are about the request, not the node. */
const CLIENT_FAULT_MESSAGE = /revert|nonce too (low|high)|insufficient funds|already known|known transaction|underpriced|intrinsic gas|gas limit|exceeds block gas|filter not found|subscription not found|invalid (argument|sender|signature|transaction)/i

/** HTTP statuses that refuse the request as such (too large): the request's fault. */
const CLIENT_FAULT_STATUS: ReadonlySet<number> = new Set([400, 413])

/** The verdict on one reply; `undefined` (a call with no reply) is the host's fault. */
export function callVerdict(reply: RpcReply | undefined): CallVerdict {
  if (!reply) return 'host-error'
  if (reply.error === undefined || reply.error === null) return 'result' in reply ? 'served' : 'host-error'
  const { code, message } = reply.error
  if (CLIENT_FAULT_CODES.has(code)) return 'client-error'
  if (code === -32000 && typeof message === 'string' && CLIENT_FAULT_MESSAGE.test(message)) return 'client-error'
  return 'host-error'
}

/**
 * Verdicts for the calls of one HTTP request (or WebSocket frame: status
 * 200), aligned with `replies`. A status that refuses the whole request
 * decides for every call whatever the body says: a relay answering 429 with
 * a "result" is not serving.
 */
export function replyVerdicts(httpStatus: number, replies: readonly (RpcReply | undefined)[]): CallVerdict[] {
  if (CLIENT_FAULT_STATUS.has(httpStatus)) return replies.map(() => 'client-error')
  if (httpStatus < 200 || httpStatus >= 300) return replies.map(() => 'host-error')
  return replies.map(callVerdict)
}

/**
 * The verdict on a beacon API reply (agent/relay/beaconRoutes.ts), by its HTTP status: there is no JSON-RPC body to
 * read. Only a 2xx is service. 4xx the request earns on any host (400 out of bounds, 404 an unknown root or route,
 * 405) are the client's; a relay that refuses (401, 429), has no beacon node (501) or whose beacon node failed (502,
 * 504), and anything else, is the host's.
 */
export function beaconVerdict(httpStatus: number): CallVerdict {
  if (httpStatus >= 200 && httpStatus < 300) return 'served'
  if (httpStatus >= 400 && httpStatus < 500 && httpStatus !== 401 && httpStatus !== 429) return 'client-error'
  return 'host-error'
}

/** How many calls were served. */
export function servedCount(verdicts: readonly CallVerdict[]): number {
  let n = 0
  for (const v of verdicts) if (v === 'served') n++
  return n
}
