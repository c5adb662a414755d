/**
 * Folding old charges: what keeps the ledger from growing with every report.
 *
 * Metering posts one charge transfer (client -> revenue of the epoch) per
 * corroborated report of a paid pair: 5,000 reports/s of paying clients are
 * 10,000 ledger rows a second, for ever. Once a charge is older than the
 * dispute window, its own row proves nothing the sum does not: consecutive
 * charges of one client into one revenue account fold into the first of them
 * (its two entries grow by the others' amounts, the others are deleted).
 *
 * Folding must not change any balance, any transfer's sum, or what a refund
 * may pay. Refunds replay a client's entries in write order (gifts spent
 * before deposits: logic/refunds.ts), so only a run of charges with no other
 * entry of that client between them is folded: spending a then b is spending
 * a + b, but moving a spend across a gift, a deposit or a refund would move
 * money between "gift" and "deposit". A run is also cut where the revenue
 * account changes (an epoch boundary), so each revenue account keeps its sum.
 *
 * Pure, and free of account names (the store knows none): the caller's
 * ChargeRule (logic/accounts.ts `chargeRule`) says which transfers are
 * charges and which accounts pay and receive them. The store reads a batch of
 * entries after its cursor (in id order) and, for each payer whose first
 * entry in the batch is a charge, the charge transfer just before it (its
 * carrier, if that is a charge too); this module says which rows to delete,
 * which to add to, and how far the cursor may move.
 */
import type { ChargeRule } from './store.ts'

export interface LedgerRow {
  id: number
  transferId: string
  account: string
  amountWei: bigint
  atMs: number
}

/** A charge transfer that later charges of the same client and revenue account fold into. */
export interface ChargeCarrier {
  clientEntryId: number
  revenueEntryId: number
  revenueAccount: string
}

export interface FoldPlan {
  /** Entries of folded transfers (both sides). */
  deleteIds: number[]
  /** Amount to add to each carrier entry (negative on the client side). */
  addWei: Map<number, bigint>
  /** Carriers that received folds (their memo says so). */
  carrierClientEntryIds: number[]
  /** The cursor after this batch: every entry up to it has been looked at. */
  throughId: number
  /** Transfers folded away. */
  folded: number
}

/** The two entries of a charge transfer as metering writes it: a payer pays, a payee receives. Undefined for any other shape. */
export function chargeShape(entries: readonly LedgerRow[], rule: ChargeRule): { client: LedgerRow; revenue: LedgerRow } | undefined {
  if (entries.length !== 2 || !rule.isCharge(entries[0]!.transferId)) return undefined
  const client = entries.find((e) => rule.isPayer(e.account))
  const revenue = entries.find((e) => rule.isPayee(e.account))
  if (!client || !revenue || client.amountWei >= 0n || client.amountWei !== -revenue.amountWei) return undefined
  return { client, revenue }
}

/**
 * Plan one batch. `rows` are consecutive ledger entries in id order starting
 * right after the cursor; `full` says the batch hit its size limit (its last
 * transfer may continue beyond it). Entries at or after `beforeMs` and
 * everything after them are left for a later batch. `carriers` holds, per
 * client account, the foldable charge immediately before the batch (the
 * store supplies it only when that account's previous entry is one).
 */
export function planChargeFolding(rows: readonly LedgerRow[], opts: { beforeMs: number; full: boolean; carriers: ReadonlyMap<string, ChargeCarrier>; cursor: number; rule: ChargeRule }): FoldPlan {
  const plan: FoldPlan = { deleteIds: [], addWei: new Map(), carrierClientEntryIds: [], throughId: opts.cursor, folded: 0 }
  // Stop at the first entry that is too young (a transfer's entries share its time, so this is a transfer boundary).
  const young = rows.findIndex((r) => r.atMs >= opts.beforeMs)
  const old = young < 0 ? rows : rows.slice(0, young)
  const transfers = new Map<string, LedgerRow[]>()
  for (const r of old) transfers.set(r.transferId, [...(transfers.get(r.transferId) ?? []), r])
  // A charge cut by the end of a full batch is left whole for the next one. Other transfers may be seen in parts
  // (a settlement has an entry per payee): all they do here is end client runs, which a part does as well.
  const cutCharge = opts.full && young < 0 && opts.rule.isCharge(rows.at(-1)!.transferId) ? rows.at(-1)!.transferId : undefined
  const current = new Map<string, ChargeCarrier | null>()
  const carrierOf = (account: string) => (current.has(account) ? current.get(account)! : (opts.carriers.get(account) ?? null))
  for (const [transferId, entries] of transfers) {
    if (transferId === cutCharge) return { ...plan, throughId: Math.max(opts.cursor, entries[0]!.id - 1) }
    const charge = chargeShape(entries, opts.rule)
    if (charge) {
      const carrier = carrierOf(charge.client.account)
      if (carrier && carrier.revenueAccount === charge.revenue.account) {
        plan.deleteIds.push(charge.client.id, charge.revenue.id)
        add(plan.addWei, carrier.clientEntryId, charge.client.amountWei)
        add(plan.addWei, carrier.revenueEntryId, charge.revenue.amountWei)
        if (!plan.carrierClientEntryIds.includes(carrier.clientEntryId)) plan.carrierClientEntryIds.push(carrier.clientEntryId)
        plan.folded++
      } else {
        current.set(charge.client.account, { clientEntryId: charge.client.id, revenueEntryId: charge.revenue.id, revenueAccount: charge.revenue.account })
      }
    } else {
      // Anything else a client's account sees (deposit, gift, refund, an odd charge) ends its run.
      for (const e of entries) if (opts.rule.isPayer(e.account)) current.set(e.account, null)
    }
  }
  if (old.length > 0) plan.throughId = Math.max(opts.cursor, old.at(-1)!.id)
  return plan
}

function add(m: Map<number, bigint>, id: number, wei: bigint): void {
  m.set(id, (m.get(id) ?? 0n) + wei)
}
