// Payout trees for VipnodePool.claim: thin helpers over @openzeppelin/merkle-tree, whose leaf
// encoding (double keccak of abi.encode(address, uint256), sorted pairs) is what the contract
// verifies with MerkleProof.verifyCalldata.
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { getAddress } from 'ethers'

export const PAYOUT_LEAF_ENCODING = ['address', 'uint256']

export interface PayoutEntry {
  payee: string
  /** Everything owed to `payee` since the pool began (not just this epoch). */
  cumulativeWei: bigint
}

/** Exactly the arguments of VipnodePool.claim. */
export interface PayoutProof {
  payee: string
  cumulativeWei: bigint
  proof: string[]
}

/** Tree values: checksummed address and decimal wei, so `dump()` is plain JSON that `StandardMerkleTree.load` accepts. */
export type PayoutLeaf = [string, string]

/** `StandardMerkleTree#dump()` output; the package does not export the type from its index. */
export type PayoutTreeDump = ReturnType<StandardMerkleTree<PayoutLeaf>['dump']>

export interface PayoutTree {
  root: string
  /** Sum of every leaf: the `totalEntitled` to post with `root`. */
  totalWei: bigint
  /** The claim arguments for `payee`; throws if it has no leaf. */
  proofFor(payee: string): PayoutProof
  dump(): PayoutTreeDump
}

/**
 * Builds the tree for one epoch. Entries are sorted by lowercase address first, so the same set of
 * entries gives the same root whatever order the caller listed them in. A payee may appear only
 * once: two leaves would let it claim the larger one and the smaller one would be dead weight.
 */
export function buildPayoutTree(entries: readonly PayoutEntry[]): PayoutTree {
  if (entries.length === 0) throw new Error('a payout tree needs at least one entry')
  const sorted = entries
    .map((e) => {
      if (e.cumulativeWei < 0n) throw new Error(`negative entitlement for ${e.payee}: ${e.cumulativeWei}`)
      return { payee: getAddress(e.payee), cumulativeWei: e.cumulativeWei }
    })
    .sort((a, b) => compareLower(a.payee, b.payee))

  const indexByPayee = new Map<string, number>()
  let totalWei = 0n
  sorted.forEach((e, i) => {
    if (indexByPayee.has(e.payee)) throw new Error(`duplicate payee ${e.payee}`)
    indexByPayee.set(e.payee, i)
    totalWei += e.cumulativeWei
  })

  const tree = StandardMerkleTree.of<PayoutLeaf>(
    sorted.map((e) => [e.payee, e.cumulativeWei.toString()]),
    PAYOUT_LEAF_ENCODING,
  )
  return {
    root: tree.root,
    totalWei,
    proofFor(payee) {
      const address = getAddress(payee)
      const index = indexByPayee.get(address)
      if (index === undefined) throw new Error(`no leaf for ${address}`)
      return { payee: address, cumulativeWei: sorted[index].cumulativeWei, proof: tree.getProof(index) }
    },
    dump: () => tree.dump(),
  }
}

function compareLower(a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  return x < y ? -1 : x > y ? 1 : 0
}
