/**
 * The store's last word on a report's charges: a client's charges are written only while its balance covers them.
 *
 * Metering reads a client's balance before it charges, and one coordinator judges reports one at a time, so alone it
 * never overdraws. Coordinators sharing one database each read the balance on their own: a client served by hosts
 * on two replicas could be charged by both against the same wei (docs/cluster.md). At commit, with the balance read
 * where no other writer can move it (a row lock on PostgreSQL; SQLite has one writer), the store keeps a payer's
 * transfers and usage only if the balance still covers them, and otherwise leaves out that payer's share of the
 * report whole: that interval goes unbilled and uncredited, the bound every lost observation already has.
 */
import { StoreError, type MeteringDelta, type Transfer } from './store.ts'

/** The delta to write, and what the kept charges move each payer's balance by (negative), for a caller's running view. */
export interface CoveredDelta {
  delta: MeteringDelta
  moved: { account: string; amountWei: bigint }[]
}

/** What `transfers` move `account` by, all entries summed. */
function netOn(transfers: readonly Transfer[], account: string): bigint {
  let net = 0n
  for (const t of transfers) for (const e of t.entries) if (e.account === account) net += e.amountWei
  return net
}

/** `balanceOf`: the payer account's balance now, inside the writing transaction, with this batch's earlier writes. */
export function coverCharges(delta: MeteringDelta, balanceOf: (account: string) => bigint): CoveredDelta {
  const payers = delta.payers ?? []
  if (payers.length === 0) return { delta, moved: [] }
  const moved: CoveredDelta['moved'] = []
  const uncovered = new Set<string>()
  const droppedAccounts = new Set<string>()
  for (const p of payers) {
    const net = netOn(delta.transfers, p.account)
    if (net >= 0n) continue
    if (balanceOf(p.account) + net < 0n) {
      uncovered.add(p.clientId)
      droppedAccounts.add(p.account)
    } else moved.push({ account: p.account, amountWei: net })
  }
  if (uncovered.size === 0) return { delta, moved }
  return {
    delta: {
      pairs: delta.pairs,
      usage: delta.usage.filter((u) => !uncovered.has(u.clientId)),
      transfers: delta.transfers.filter((t) => !t.entries.some((e) => droppedAccounts.has(e.account))),
      payers: payers.filter((p) => !uncovered.has(p.clientId)),
    },
    moved,
  }
}

/**
 * A posted transfer that must not take any of `notBelowZero` below zero (a refund of what metering read, a trial drawn
 * from an allowance another replica also draws from): refused whole, nothing written. `balanceOf` reads inside the
 * writing transaction, with the accounts locked.
 */
export function refuseUncovered(transfer: Transfer, notBelowZero: readonly string[], balanceOf: (account: string) => bigint): void {
  for (const account of notBelowZero) {
    const net = netOn([transfer], account)
    if (net >= 0n) continue
    const balance = balanceOf(account)
    if (balance + net < 0n) throw new StoreError('INSUFFICIENT_FUNDS', `transfer ${transfer.id} takes ${-net} wei from ${account}, which holds ${balance} wei`)
  }
}
