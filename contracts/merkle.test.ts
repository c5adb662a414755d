import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { dataSlice, getAddress, id } from 'ethers'
import { describe, expect, it } from 'vitest'
import { PAYOUT_LEAF_ENCODING, buildPayoutTree } from './merkle.ts'

// Fixed, mixed-case addresses: deterministic inputs, and case must not matter.
const payees = Array.from({ length: 7 }, (_, i) => ({ payee: getAddress(dataSlice(id(`payee-${i}`), 12)), cumulativeWei: BigInt(i * 1000 + 1) }))

describe('buildPayoutTree', () => {
  it('default: root, total and proofs match an independently built StandardMerkleTree', () => {
    // StandardMerkleTree sorts leaves by hash, so the reference needs no sorting of its own.
    const payout = buildPayoutTree(payees)
    const reference = StandardMerkleTree.of(
      payees.map((e) => [e.payee, e.cumulativeWei]),
      PAYOUT_LEAF_ENCODING,
    )
    expect(payout.root).toBe(reference.root)
    expect(payout.totalWei).toBe(payees.reduce((s, e) => s + e.cumulativeWei, 0n))
    for (const e of payees) {
      const p = payout.proofFor(e.payee.toLowerCase())
      expect(p.payee).toBe(e.payee)
      expect(p.cumulativeWei).toBe(e.cumulativeWei)
      expect(StandardMerkleTree.verify(payout.root, PAYOUT_LEAF_ENCODING, [e.payee, e.cumulativeWei], p.proof)).toBe(true)
    }
  })

  it('behavior: the same entries in any order give the same root', () => {
    const reversed = buildPayoutTree([...payees].reverse())
    const lowercased = buildPayoutTree(payees.map((e) => ({ ...e, payee: e.payee.toLowerCase() })))
    expect(reversed.root).toBe(buildPayoutTree(payees).root)
    expect(lowercased.root).toBe(reversed.root)
  })

  it('behavior: dump() is plain JSON that StandardMerkleTree.load accepts', () => {
    const payout = buildPayoutTree(payees)
    const loaded = StandardMerkleTree.load(JSON.parse(JSON.stringify(payout.dump())) as ReturnType<typeof payout.dump>)
    expect(loaded.root).toBe(payout.root)
    loaded.validate()
  })

  it('error: empty, duplicate payee (any case), negative amount, unknown payee', () => {
    expect(() => buildPayoutTree([])).toThrow(/at least one/)
    const first = payees[0]!
    expect(() => buildPayoutTree([first, { ...first, payee: first.payee.toLowerCase() }])).toThrow(/duplicate payee/)
    expect(() => buildPayoutTree([{ payee: first.payee, cumulativeWei: -1n }])).toThrow(/negative/)
    expect(() => buildPayoutTree([first]).proofFor(payees[1]!.payee)).toThrow(/no leaf/)
  })
})
