/**
 * The checks behind `vipnode verify-root`: anyone holding an epoch's published tree file (the
 * StandardMerkleTree dump at GET /v1/epochs/:n/tree), the previous epoch's, and what the chain says
 * can check a root without trusting the coordinator. Pure: the caller fetches, these judge.
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { getAddress } from 'ethers'
import { PAYOUT_LEAF_ENCODING } from '../../contracts/merkle.ts'

export interface CheckResult {
  ok: boolean
  check: string
  message: string
}

export interface ParsedTree {
  root: string
  totalWei: bigint
  /** Checksummed payee → cumulative wei. */
  leaves: Map<string, bigint>
}

/** What the chain says about a root: adapt `readChainRoot` in the command when the contract's reading of roots changes. */
export interface ChainRootView {
  /** The root claims are checked against now. */
  activeRoot: string
  /** The root's own proposal, when it was ever proposed. */
  posted: { chainEpoch: bigint; totalEntitledWei: bigint; txHash: string } | undefined
  /** The proposal waiting out its delay, if any (not yet claimable). */
  pending?: { root: string; claimableAtMs: number } | undefined
  /** The guardian's revocation of this root, if it was revoked. */
  revoked?: { txHash: string; guardian: string } | undefined
  /** Everything ever deposited into the contract. */
  totalReceivedWei: bigint
}

/**
 * Parses a tree file and rebuilds its root from the leaves alone. Throws an Error with a precise
 * message when the file is not a payout tree, a leaf is malformed or repeated, or the file's own
 * root is not the root of its leaves (the file was altered).
 */
export function parseTreeFile(text: string, label: string): ParsedTree {
  let dump: { format?: unknown; leafEncoding?: unknown; tree?: unknown; values?: unknown }
  try {
    dump = JSON.parse(text) as typeof dump
  } catch (err) {
    throw new Error(`${label}: not JSON (${(err as Error).message})`)
  }
  if (dump.format !== 'standard-v1') throw new Error(`${label}: format ${JSON.stringify(dump.format)} is not a StandardMerkleTree dump ("standard-v1")`)
  if (JSON.stringify(dump.leafEncoding) !== JSON.stringify(PAYOUT_LEAF_ENCODING)) throw new Error(`${label}: leaf encoding ${JSON.stringify(dump.leafEncoding)} is not ${JSON.stringify(PAYOUT_LEAF_ENCODING)}`)
  if (!Array.isArray(dump.tree) || typeof dump.tree[0] !== 'string') throw new Error(`${label}: no tree array`)
  if (!Array.isArray(dump.values) || dump.values.length === 0) throw new Error(`${label}: no leaves`)
  const leaves = new Map<string, bigint>()
  let totalWei = 0n
  const values: [string, string][] = []
  for (const [i, entry] of (dump.values as { value?: unknown }[]).entries()) {
    const v = entry?.value
    if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string') throw new Error(`${label}: leaf ${i} is not [address, decimal wei]`)
    let payee: string
    try {
      payee = getAddress(v[0])
    } catch {
      throw new Error(`${label}: leaf ${i} has no valid address (${v[0]})`)
    }
    if (!/^(0|[1-9][0-9]*)$/.test(v[1]) || BigInt(v[1]) >= 2n ** 256n) throw new Error(`${label}: leaf ${i} (${payee}) has no valid uint256 amount (${v[1]})`)
    if (leaves.has(payee)) throw new Error(`${label}: ${payee} has two leaves: one payee, one leaf`)
    leaves.set(payee, BigInt(v[1]))
    totalWei += BigInt(v[1])
    values.push([v[0], v[1]])
  }
  const rebuilt = StandardMerkleTree.of(values, PAYOUT_LEAF_ENCODING).root
  const stated = dump.tree[0] as string
  if (rebuilt.toLowerCase() !== stated.toLowerCase()) throw new Error(`${label}: the file says its root is ${stated} but its leaves give ${rebuilt}: the file was altered`)
  return { root: rebuilt, totalWei, leaves }
}

export function checkOnChain(epoch: number, tree: ParsedTree, chain: ChainRootView): CheckResult[] {
  const ZERO_ROOT = `0x${'0'.repeat(64)}`
  const active = chain.activeRoot.toLowerCase() === ZERO_ROOT ? 'none yet' : chain.activeRoot
  if (!chain.posted) {
    const pending = chain.pending ? `, pending ${chain.pending.root}` : ''
    return [{ ok: false, check: 'on chain', message: `the root of epoch ${epoch} (${tree.root}) was never proposed to the contract; its active root is ${active}${pending}` }]
  }
  const proposed = `root ${tree.root} proposed as contract epoch ${chain.posted.chainEpoch} (tx ${chain.posted.txHash})`
  // A revoked root is one the guardian refused: nobody can claim against it.
  if (chain.revoked) {
    return [{ ok: false, check: 'on chain', message: `${proposed} was revoked by the guardian ${chain.revoked.guardian} (tx ${chain.revoked.txHash}); its active root is ${active}` }]
  }
  const isActive = chain.activeRoot.toLowerCase() === tree.root.toLowerCase()
  const isPending = chain.pending?.root.toLowerCase() === tree.root.toLowerCase()
  const state = isActive
    ? ', the active root'
    : isPending
      ? `; pending, claimable from ${new Date(chain.pending!.claimableAtMs).toISOString()} unless the guardian revokes it (the active root is ${active})`
      : `; the active root is now ${active}`
  const out: CheckResult[] = [{ ok: true, check: 'on chain', message: `${proposed}${state}` }]
  out.push(
    chain.posted.totalEntitledWei === tree.totalWei
      ? { ok: true, check: 'posted total', message: `totalEntitled on chain ${chain.posted.totalEntitledWei} wei equals the sum of the leaves` }
      : { ok: false, check: 'posted total', message: `totalEntitled on chain is ${chain.posted.totalEntitledWei} wei but the leaves sum to ${tree.totalWei} wei` },
  )
  return out
}

/** No payee's cumulative entitlement may go down, nor a payee vanish, from one epoch's tree to the next. */
export function checkMonotonic(prevEpoch: number, prev: ParsedTree | undefined, epoch: number, cur: ParsedTree): CheckResult {
  if (!prev) return { ok: true, check: 'cumulative', message: `no payout tree before epoch ${epoch}: nothing to compare` }
  const problems: string[] = []
  for (const [payee, before] of prev.leaves) {
    const now = cur.leaves.get(payee)
    if (now === undefined) problems.push(`${payee} had ${before} wei in epoch ${prevEpoch} and has no leaf in epoch ${epoch}`)
    else if (now < before) problems.push(`${payee} cumulative went down: ${before} wei in epoch ${prevEpoch}, ${now} wei in epoch ${epoch}`)
  }
  if (problems.length > 0) return { ok: false, check: 'cumulative', message: problems.join('; ') }
  return { ok: true, check: 'cumulative', message: `no payee's cumulative went down from epoch ${prevEpoch} (${prev.leaves.size} payees) to epoch ${epoch} (${cur.leaves.size} payees)` }
}

/** The leaves may never promise more than the contract ever received. */
export function checkSolvent(epoch: number, tree: ParsedTree, totalReceivedWei: bigint): CheckResult {
  return tree.totalWei <= totalReceivedWei
    ? { ok: true, check: 'total', message: `epoch ${epoch} promises ${tree.totalWei} wei of the ${totalReceivedWei} wei the contract received` }
    : { ok: false, check: 'total', message: `epoch ${epoch} promises ${tree.totalWei} wei, more than the ${totalReceivedWei} wei the contract ever received` }
}
