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
 *
 * `eth_getProof` is also called at `finalized` and at head − 120 (checked
 * answers, docs/rpcService.md#checked-answers): Helios and the Lodestar
 * prover read state at the finalized block (about 64 blocks back) and a
 * client a little behind reads further, so a node that keeps only the
 * latest state (a pruned node, an archive window too short) cannot serve
 * them even though it answers at `latest`. Any JSON-RPC error there (geth's
 * "missing trie node", "historical state … is not available", "header not
 * found") counts `eth_getProof` as missing, with the error in `failed`. One
 * exception: a chain with no finalized block at all (a clique or dev chain:
 * "finalized block not found") has nothing to serve at that tag and is not
 * held against the node.
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

/** How far below the head the probe reads a proof: past the finalized block (64) with room for a client a few minutes behind. */
export const PROOF_HISTORY_DEPTH = 120
/** The chain has no finality (pre-merge, clique, dev): nothing is finalized to read state at. */
const NO_FINALITY = /\b(finalized|safe) block not found\b|\bno finalized block\b/i

/** eth_getProof at `finalized` and at head − PROOF_HISTORY_DEPTH; the first JSON-RPC error, or undefined when both were served. */
async function probeProofHistory(call: RpcCall): Promise<{ code: number; message: string } | undefined> {
  let head: number | undefined
  try {
    const n = await call('eth_blockNumber', [])
    if (typeof n === 'string' && /^0x[0-9a-f]{1,13}$/i.test(n)) head = Number.parseInt(n, 16)
  } catch (err) {
    if (!asRpcError(err)) throw err
  }
  const reads: [string, string][] = [['finalized', 'finalized']]
  if (head !== undefined) reads.push([`head - ${PROOF_HISTORY_DEPTH} (block ${Math.max(0, head - PROOF_HISTORY_DEPTH)})`, `0x${Math.max(0, head - PROOF_HISTORY_DEPTH).toString(16)}`])
  for (const [where, tag] of reads) {
    try {
      await call('eth_getProof', [ZERO_ADDRESS, [], tag])
    } catch (err) {
      const e = asRpcError(err)
      if (!e) throw err
      if (tag === 'finalized' && NO_FINALITY.test(e.message)) continue
      return { code: e.code, message: `at ${where}: ${e.message}` }
    }
  }
  return undefined
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
  const history = outcomes.some((o) => o.method === 'eth_getProof' && o.ok) ? await probeProofHistory(call) : undefined
  for (const o of outcomes) {
    if (o.ok && o.method === 'eth_getProof' && history) {
      report.missing.push(o.method)
      report.failed.push({ method: o.method, ...history })
    } else if (o.ok) report.served.push(o.method)
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
