import { test, expect } from 'vitest'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { Wallet } from 'ethers'
import { buildPayoutTree, PAYOUT_LEAF_ENCODING } from '../../contracts/merkle.ts'
import { proofFromDump } from './payoutTrees.ts'

test('behavior: proofs read from a stored dump equal the library\'s and verify, for every leaf of trees of 1 to 17 leaves', () => {
  for (let n = 1; n <= 17; n++) {
    const tree = buildPayoutTree(Array.from({ length: n }, (_, i) => ({ payee: Wallet.createRandom().address, cumulativeWei: BigInt(i + 1) })))
    const dump = tree.dump()
    const lib = StandardMerkleTree.load(dump)
    for (const { value, treeIndex } of dump.values) {
      const proof = proofFromDump(dump.tree, treeIndex)
      expect(proof).toEqual(lib.getProof(value))
      expect(StandardMerkleTree.verify(tree.root, PAYOUT_LEAF_ENCODING, value, proof)).toBe(true)
    }
  }
})
