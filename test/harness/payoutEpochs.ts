/** Settled epochs with real payout trees, written straight into a store: for route tests and the payouts bench. */
import { buildPayoutTree, type PayoutEntry } from '../../contracts/merkle.ts'
import type { Store, EpochRecord } from '../../coordinator/store/store.ts'

/** Settles `epoch` with the given cumulative entitlements (the ledger moves external → payee by the increase). */
export async function seedPayoutEpoch(store: Store, epoch: number, entries: readonly PayoutEntry[], epochMs = 3_600_000): Promise<EpochRecord> {
  const tree = buildPayoutTree(entries)
  const credits: { account: string; amountWei: bigint }[] = []
  let total = 0n
  for (const e of entries) {
    const account = `payee:${e.payee.toLowerCase()}`
    const delta = e.cumulativeWei - (await store.balanceOf(account))
    if (delta !== 0n) {
      credits.push({ account, amountWei: delta })
      total += delta
    }
  }
  const record: EpochRecord = {
    epoch,
    startMs: (epoch - 1) * epochMs,
    endMs: epoch * epochMs,
    revenueWei: total,
    carriedInWei: 0n,
    feeWei: 0n,
    carriedOutWei: 0n,
    totalEntitledWei: tree.totalWei,
    root: tree.root,
    tree: JSON.stringify(tree.dump()),
    settledAtMs: epoch * epochMs,
    txHash: null,
    postedAtMs: null,
  }
  await store.settleEpoch(record, [], { id: `settle:${epoch}`, atMs: record.endMs, memo: `seeded epoch ${epoch}`, entries: [{ account: 'external', amountWei: -total }, ...credits] })
  return record
}
