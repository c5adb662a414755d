/**
 * Which of the methods today's light clients need a host's node serves.
 * Helios, the Nimbus verified proxy and the Lodestar prover verify what an
 * untrusted execution RPC returns, so they need the proof-carrying methods;
 * a node that lacks one (an old geth without eth_getBlockReceipts, Erigon 2
 * without eth_getProof) cannot serve them, and the balancer must not assign
 * it for the rpc service.
 *
 * Each method is called once with harmless, valid parameters at "latest".
 * Classification of the outcome:
 * - a result: served;
 * - an error that means "no such method" (-32601, -32004, Besu's -32604, or
 *   a text that says the *method* "does not exist", is "not supported",
 *   "not found", "not enabled" or "not implemented"): missing;
 * - any other JSON-RPC error (e.g. -32000 "header not found" because the head
 *   moved between calls, or "execution reverted"): served. The method exists
 *   and a light client's next call will most likely work; calling it missing
 *   would take a good host out of rotation for a transient state. The error
 *   is kept in `failed` so the agent can log it.
 * - no usable reply at all (node down, timeout, garbage): the probe rejects
 *   with that error: we learned nothing, and "all missing" would be a lie.
 */
import { NodeRpcError, NodeUnavailableError } from './errors.ts'
import type { NodeRpc } from './ethNode.ts'

/** The methods a verifying light client needs beyond the basics. */
export const LIGHT_CLIENT_METHODS = ['eth_getProof', 'eth_getBlockReceipts', 'eth_createAccessList', 'eth_getLogs'] as const

/** Every light client needs these too; a node that lacks them is not a usable execution RPC at all. */
export const BASIC_RPC_METHODS = ['eth_chainId', 'eth_getBlockByNumber'] as const

export type ProbedMethod = (typeof BASIC_RPC_METHODS)[number] | (typeof LIGHT_CLIENT_METHODS)[number]

export const PROBED_METHODS: readonly ProbedMethod[] = [...BASIC_RPC_METHODS, ...LIGHT_CLIENT_METHODS]

const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'

/** Harmless, valid parameters for each probed method: nothing here changes state or costs more than one block's work. */
const PROBE_PARAMS: Record<ProbedMethod, unknown[]> = {
  eth_chainId: [],
  eth_getBlockByNumber: ['latest', false],
  eth_getProof: [ZERO_ADDRESS, [], 'latest'],
  eth_getBlockReceipts: ['latest'],
  eth_createAccessList: [{ to: ZERO_ADDRESS, data: '0x' }, 'latest'],
  eth_getLogs: [{ fromBlock: 'latest', toBlock: 'latest' }],
}

/** A plain call function, or anything with NodeRpc's `request`. */
export type RpcCall = (method: string, params: unknown[]) => Promise<unknown>

export interface CapabilityReport {
  /** Probed methods the node serves, in PROBED_METHODS order. */
  served: ProbedMethod[]
  /** Probed methods the node does not have. */
  missing: ProbedMethod[]
  /** Served methods whose probe call failed anyway, with the node's error (for the log). */
  failed: { method: ProbedMethod; code: number; message: string }[]
}

/** JSON-RPC codes that mean "no such method": the standard one, EIP-1474's "method not supported", Besu's "method not enabled". */
const MISSING_CODES = new Set([-32601, -32004, -32604])
/** Texts must name the method: "header not found" is a served method failing, not a missing one. */
const MISSING_TEXT = /\bmethod\b.*\b(does not exist|not supported|not found|not enabled|not available|not implemented)\b|unsupported method/i

/** Whether a node's JSON-RPC error says the method itself is missing (not that this call failed). */
export function isMethodMissing(code: number, message: string): boolean {
  return MISSING_CODES.has(code) || MISSING_TEXT.test(message)
}

export async function probeCapabilities(rpc: RpcCall | Pick<NodeRpc, 'request'>): Promise<CapabilityReport> {
  const call: RpcCall = typeof rpc === 'function' ? rpc : (method, params) => rpc.request(method, params)
  const outcomes = await Promise.all(
    PROBED_METHODS.map(async (method) => {
      try {
        await call(method, PROBE_PARAMS[method])
        return { method, ok: true as const }
      } catch (err) {
        const rpcErr = asRpcError(err)
        if (!rpcErr) throw err // no reply: the probe cannot tell, so it does not guess
        return { method, ok: false as const, ...rpcErr }
      }
    }),
  )
  const report: CapabilityReport = { served: [], missing: [], failed: [] }
  for (const o of outcomes) {
    if (o.ok) report.served.push(o.method)
    else if (isMethodMissing(o.code, o.message)) report.missing.push(o.method)
    else {
      report.served.push(o.method)
      report.failed.push({ method: o.method, code: o.code, message: o.message })
    }
  }
  return report
}

/** A JSON-RPC error object's code and message, when `err` is a reply from the node rather than a transport failure. */
function asRpcError(err: unknown): { code: number; message: string } | undefined {
  if (err instanceof NodeUnavailableError) return undefined
  if (err instanceof NodeRpcError) return { code: err.code, message: err.message }
  // Other call functions (ethers, viem) carry the node's error as {code, message} too.
  const e = err as { code?: unknown; message?: unknown } | null
  if (e && typeof e.code === 'number' && typeof e.message === 'string') return { code: e.code, message: e.message }
  return undefined
}
