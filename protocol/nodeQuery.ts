/**
 * Signed node queries: a node's balance, service and assignments are shown
 * only to the holder of its node key. The key signs a short-lived request
 * (expiry, path, the pool's origin) with the protocol's envelope
 * (protocol/session.ts), and the result travels as one query parameter:
 *
 *   GET /v1/nodes/<node id>?auth=<expiresAtMs>.<signature>
 *
 * Envelope: method `vipnode_nodeQuery`, the pool id, chainId 0 (no chain),
 * challenge = expiresAtMs in decimal, body = {nodeId, origin, path}. `origin`
 * is the pool's normalised origin (protocol/origin.ts) and `path` the
 * request path without the query, so a signature made for one pool, one node
 * or one endpoint is useless for another. Within its lifetime (at most
 * MAX_NODE_QUERY_TTL_MS) it may be used again: it grants reading, nothing else.
 */
import type { NodeKey } from './nodeKey.ts'
import { recoverSigner, signEnvelope, type SignedEnvelope } from './session.ts'
import type { NodeId } from './enode.ts'

export const NODE_QUERY_METHOD = 'vipnode_nodeQuery'
/** The longest a signed query may live: long enough to open a printed link, short enough to be worthless once leaked. */
export const MAX_NODE_QUERY_TTL_MS = 60 * 60_000
export const DEFAULT_NODE_QUERY_TTL_MS = 15 * 60_000

export interface NodeQuery {
  poolId: string
  /** Normalised origin of the pool (normaliseOrigin). */
  origin: string
  nodeId: NodeId
  /** The request path, e.g. `/v1/nodes/<id>`. */
  path: string
  expiresAtMs: number
}

export function nodeQueryEnvelope(q: NodeQuery): SignedEnvelope {
  return { method: NODE_QUERY_METHOD, poolId: q.poolId, chainId: 0, challenge: String(q.expiresAtMs), body: { nodeId: q.nodeId, origin: q.origin, path: q.path } }
}

/** The `auth` parameter for a query: `<expiresAtMs>.<signature>`. */
export function signNodeQuery(key: NodeKey, q: NodeQuery): string {
  return `${q.expiresAtMs}.${signEnvelope(key, nodeQueryEnvelope(q))}`
}

export type NodeQueryVerdict = { ok: true } | { ok: false; code: 'MALFORMED' | 'EXPIRED' | 'TOO_LONG' | 'BAD_SIGNATURE'; message: string }

/**
 * Check an `auth` parameter for `nodeId` at `path`, against each origin the pool answers to. Pure but for
 * signature recovery; `nowMs` from the caller's clock.
 */
export function verifyNodeQuery(auth: string, expect: { poolId: string; origins: readonly string[]; nodeId: NodeId; path: string; nowMs: number }): NodeQueryVerdict {
  const m = /^(\d{1,16})\.(0x[0-9a-fA-F]{130})$/.exec(auth)
  if (!m) return { ok: false, code: 'MALFORMED', message: 'auth must be <expiresAtMs>.<0x-prefixed 65-byte signature>' }
  const expiresAtMs = Number(m[1])
  if (expiresAtMs <= expect.nowMs) return { ok: false, code: 'EXPIRED', message: `the signed query expired ${expect.nowMs - expiresAtMs} ms ago: sign a fresh one (vipnode client status)` }
  if (expiresAtMs - expect.nowMs > MAX_NODE_QUERY_TTL_MS) {
    return { ok: false, code: 'TOO_LONG', message: `a signed query may live at most ${MAX_NODE_QUERY_TTL_MS / 60_000} minutes` }
  }
  for (const origin of expect.origins) {
    let signer: string
    try {
      signer = recoverSigner(nodeQueryEnvelope({ poolId: expect.poolId, origin, nodeId: expect.nodeId, path: expect.path, expiresAtMs }), m[2]!)
    } catch {
      return { ok: false, code: 'MALFORMED', message: 'the signature is malformed' }
    }
    if (signer === expect.nodeId) return { ok: true }
  }
  return { ok: false, code: 'BAD_SIGNATURE', message: `not signed by this node's key for ${expect.path} at ${expect.origins.join(', ')} (another key, node, path or pool)` }
}
