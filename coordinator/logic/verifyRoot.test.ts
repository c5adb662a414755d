import { test, expect } from 'vitest'
import { Wallet } from 'ethers'
import { buildPayoutTree } from '../../contracts/merkle.ts'
import { parseTreeFile, checkOnChain, checkMonotonic, checkSolvent, type ChainRootView } from './verifyRoot.ts'

// Fixed keys: checkMonotonic lists problems in the tree's leaf order, which depends on the addresses
// (random ones made the expected message below right about half the time).
const [a, b, c] = [3, 2, 1].map((n) => new Wallet(`0x${n.toString(16).padStart(64, '0')}`).address)
const file = (entries: [string, bigint][]) => JSON.stringify(buildPayoutTree(entries.map(([payee, cumulativeWei]) => ({ payee, cumulativeWei }))).dump())

test('behavior: a published tree parses and its root is rebuilt from the leaves', () => {
  const tree = buildPayoutTree([{ payee: a!, cumulativeWei: 5n }, { payee: b!, cumulativeWei: 7n }])
  const parsed = parseTreeFile(JSON.stringify(tree.dump()), 'epoch 1')
  expect(parsed.root).toBe(tree.root)
  expect(parsed.totalWei).toBe(12n)
  expect(parsed.leaves.get(a!)).toBe(5n)
})

test('attack: a tampered tree file (a raised leaf, a stated root, a repeated payee) is refused precisely', () => {
  const good = JSON.parse(file([[a!, 5n], [b!, 7n]])) as { tree: string[]; values: { value: [string, string] }[] }
  const raised = structuredClone(good)
  raised.values[0]!.value[1] = '500'
  expect(() => parseTreeFile(JSON.stringify(raised), 'epoch 1')).toThrow(/epoch 1: the file says its root is 0x[0-9a-f]{64} but its leaves give 0x[0-9a-f]{64}: the file was altered/)
  const rooted = structuredClone(good)
  rooted.tree[0] = `0x${'11'.repeat(32)}`
  expect(() => parseTreeFile(JSON.stringify(rooted), 'epoch 1')).toThrow(/the file was altered/)
  const twice = structuredClone(good)
  twice.values[1]!.value[0] = twice.values[0]!.value[0]
  expect(() => parseTreeFile(JSON.stringify(twice), 'epoch 1')).toThrow(/has two leaves/)
  const negative = structuredClone(good)
  negative.values[0]!.value[1] = '-1'
  expect(() => parseTreeFile(JSON.stringify(negative), 'epoch 1')).toThrow(/no valid uint256 amount \(-1\)/)
  expect(() => parseTreeFile('{"format":"simple-v1"}', 'epoch 1')).toThrow(/is not a StandardMerkleTree dump/)
  expect(() => parseTreeFile('<html>', 'epoch 1')).toThrow(/epoch 1: not JSON/)
})

test('attack: a root that is not on chain, or posted with another total, fails', () => {
  const tree = parseTreeFile(file([[a!, 5n]]), 'epoch 2')
  const absent: ChainRootView = { activeRoot: `0x${'22'.repeat(32)}`, posted: undefined, totalReceivedWei: 10n }
  expect(checkOnChain(2, tree, absent)).toEqual([{ ok: false, check: 'on chain', message: `the root of epoch 2 (${tree.root}) was never proposed to the contract; its active root is 0x${'22'.repeat(32)}` }])
  const otherTotal: ChainRootView = { activeRoot: tree.root, posted: { chainEpoch: 1n, totalEntitledWei: 6n, txHash: '0xaa' }, totalReceivedWei: 10n }
  const results = checkOnChain(2, tree, otherTotal)
  expect(results[0]!.ok).toBe(true)
  expect(results[1]).toEqual({ ok: false, check: 'posted total', message: 'totalEntitled on chain is 6 wei but the leaves sum to 5 wei' })
  expect(checkOnChain(2, tree, { ...otherTotal, posted: { ...otherTotal.posted!, totalEntitledWei: 5n } }).every((r) => r.ok)).toBe(true)
})

test('attack: a root the guardian revoked fails; a pending one passes and says when it becomes claimable', () => {
  const tree = parseTreeFile(file([[a!, 5n]]), 'epoch 2')
  const proposed: ChainRootView = { activeRoot: `0x${'00'.repeat(32)}`, posted: { chainEpoch: 1n, totalEntitledWei: 5n, txHash: '0xaa' }, totalReceivedWei: 10n }
  const revoked = checkOnChain(2, tree, { ...proposed, revoked: { txHash: '0xbb', guardian: '0xG' } })
  expect(revoked).toEqual([{ ok: false, check: 'on chain', message: `root ${tree.root} proposed as contract epoch 1 (tx 0xaa) was revoked by the guardian 0xG (tx 0xbb); its active root is none yet` }])
  const pending = checkOnChain(2, tree, { ...proposed, pending: { root: tree.root, claimableAtMs: Date.UTC(2026, 0, 1) } })
  expect(pending.every((r) => r.ok)).toBe(true)
  expect(pending[0]!.message).toContain('; pending, claimable from 2026-01-01T00:00:00.000Z unless the guardian revokes it (the active root is none yet)')
})

test('attack: a payee whose cumulative went down, or who vanished, fails the cumulative check', () => {
  const prev = parseTreeFile(file([[a!, 5n], [b!, 7n], [c!, 1n]]), 'epoch 1')
  const cur = parseTreeFile(file([[a!, 4n], [b!, 9n]]), 'epoch 2')
  const r = checkMonotonic(1, prev, 2, cur)
  expect(r.ok).toBe(false)
  // One part per payee, in the tree's leaf order (which follows the random addresses' hashes).
  expect(r.message.split('; ').sort()).toEqual([`${a} cumulative went down: 5 wei in epoch 1, 4 wei in epoch 2`, `${c} had 1 wei in epoch 1 and has no leaf in epoch 2`].sort())
  expect(checkMonotonic(1, prev, 2, parseTreeFile(file([[a!, 5n], [b!, 7n], [c!, 1n], [Wallet.createRandom().address, 3n]]), 'epoch 2')).ok).toBe(true)
  expect(checkMonotonic(0, undefined, 1, cur).ok).toBe(true)
})

test('attack: leaves that promise more than the contract ever received fail', () => {
  const tree = parseTreeFile(file([[a!, 5n], [b!, 7n]]), 'epoch 3')
  expect(checkSolvent(3, tree, 11n)).toEqual({ ok: false, check: 'total', message: 'epoch 3 promises 12 wei, more than the 11 wei the contract ever received' })
  expect(checkSolvent(3, tree, 12n).ok).toBe(true)
})
