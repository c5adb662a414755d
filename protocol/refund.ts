/**
 * A client's request for its unspent deposits back, signed with its node key
 * (the key the pool bills, so only the client can ask). It is a stand-alone
 * HTTP call (`POST /v1/refunds`), not a socket method: a client that left the
 * pool, or whose node is gone, can still ask. Signed like a login
 * (`session.ts`: domain tag, canonical JSON, keccak256, secp256k1) over
 *
 *   {method: "vipnode_refund", poolId, chainId: 0, challenge: nonce,
 *    body: {nodeId, to, origin, contract, issuedAtMs}}
 *
 * - `poolId` and `origin` (the coordinator URL the signer used, normalised
 *   as in `origin.ts`) bind it to one pool; `contract` (the payout contract,
 *   lower case, or "" for a pool that settles off chain) to one contract;
 * - `nonce` (32 random bytes) makes each request single use: the coordinator
 *   books the refund under `refund:<nodeId>:<nonce>` and refuses that nonce
 *   again (REPLAY); `issuedAtMs` must be within REFUND_MAX_AGE_MS of the
 *   coordinator's clock (REQUEST_EXPIRED), so a request that was never sent
 *   cannot be used much later;
 * - `to` is where the money is paid: any address (default: the node key's own
 *   Ethereum address), lower case.
 * `chainId` is 0: the chain is fixed by the contract and the pool id.
 */
import { computeAddress, hexlify, randomBytes } from 'ethers'
import { z } from 'zod'
import { nodeIdSchema } from './methods.ts'
import { nodeIdOf, type NodeKey } from './nodeKey.ts'
import { normaliseOrigin } from './origin.ts'
import { recoverSigner, signEnvelope, type SignedEnvelope } from './session.ts'
import type { NodeId } from './enode.ts'

export const REFUND_METHOD = 'vipnode_refund'
/** How far `issuedAtMs` may be from the coordinator's clock, either way. */
export const REFUND_MAX_AGE_MS = 10 * 60_000
export const REFUNDS_PATH = '/v1/refunds'

export const refundRequestSchema = z
  .object({
    nodeId: nodeIdSchema,
    to: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 20-byte 0x-prefixed address'),
    poolId: z.string().min(1).max(128),
    origin: z.string().min(1).max(300),
    contract: z.union([z.literal(''), z.string().regex(/^0x[0-9a-f]{40}$/, 'must be the contract address in lower case, or "" for a pool without one')]),
    nonce: z.string().regex(/^[0-9a-f]{64}$/, 'must be 32 random bytes as 64 lowercase hex characters'),
    issuedAtMs: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte 0x-prefixed hex signature'),
  })
  .strict()
export type RefundRequest = z.infer<typeof refundRequestSchema>

export interface RefundResult {
  nodeId: NodeId
  to: string
  /** Moved out of the client's balance into the refund payable. */
  refundedWei: string
  /** Trial or credit money left in the client's account: never refunded. */
  keptGiftWei: string
  /** The epoch whose settlement puts it into the payout tree (the current one; or the next to settle). */
  settlesWithEpoch: number
  /** Hosts released from this client. */
  releasedHosts: number
}

/** The exact envelope a refund request is signed over. */
export function refundEnvelope(r: Omit<RefundRequest, 'signature'>): SignedEnvelope {
  return {
    method: REFUND_METHOD,
    poolId: r.poolId,
    chainId: 0,
    challenge: r.nonce,
    body: { nodeId: r.nodeId, to: r.to.toLowerCase(), origin: r.origin, contract: r.contract, issuedAtMs: r.issuedAtMs },
  }
}

/** The Ethereum address of a node key (the default refund address). */
export function nodeKeyAddress(key: NodeKey): string {
  return computeAddress(`0x${key}`).toLowerCase()
}

/** Build and sign a refund request with the client's node key. */
export function signRefundRequest(
  key: NodeKey,
  opts: { coordinatorUrl: string; poolId: string; contract: string | null; to?: string | undefined; nowMs: number; nonce?: string },
): RefundRequest {
  const unsigned = {
    nodeId: nodeIdOf(key),
    to: (opts.to ?? nodeKeyAddress(key)).toLowerCase(),
    poolId: opts.poolId,
    origin: normaliseOrigin(opts.coordinatorUrl),
    contract: opts.contract?.toLowerCase() ?? '',
    nonce: opts.nonce ?? hexlify(randomBytes(32)).slice(2),
    issuedAtMs: opts.nowMs,
  }
  return { ...unsigned, signature: signEnvelope(key, refundEnvelope(unsigned)) }
}

/** The node ID whose key signed the request; throws on a malformed signature. */
export function refundSigner(r: RefundRequest): NodeId {
  const { signature, ...unsigned } = r
  return recoverSigner(refundEnvelope(unsigned), signature)
}
