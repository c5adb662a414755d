/**
 * Settlement: when an epoch ends, its revenue plus the carried remainder,
 * minus the pool fee, is split among payees by corroborated service time.
 * Everything is computed from stored data, then written in one store
 * transaction; a crash at any point leaves either nothing (run it again: the
 * same inputs give the same root) or the whole settlement (DUPLICATE_EPOCH).
 */
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import { StoreError, type EpochPayout, type EpochRecord, type EpochStore, type LedgerStore, type NodeStore, type ReportStore, type Transfer } from '../store/store.ts'
import { splitEpoch } from '../logic/splitEpoch.ts'
import { buildPayoutTree } from '../../contracts/merkle.ts'
import { AccountPrefix, Accounts, ownerOf } from '../logic/accounts.ts'
import type { EpochClock } from './epochClock.ts'

export interface SettlementOptions {
  feeBps: number
  /** Receives the pool fee as an ordinary leaf of the payout tree. */
  feeAddress: string | undefined
  /** --price-per-cu: when above zero, the split follows what clients paid each host (see settle). */
  pricePerCuWei?: bigint | undefined
}

export interface SettlementDeps {
  store: EpochStore & LedgerStore & ReportStore & NodeStore
  epochs: EpochClock
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
}

export const EMPTY_ROOT = `0x${'00'.repeat(32)}`

export class SettlementService {
  private running: Promise<number[]> | undefined

  constructor(
    private readonly opts: SettlementOptions,
    private readonly deps: SettlementDeps,
  ) {
    if (opts.feeBps > 0 && !opts.feeAddress) throw new Error('a pool fee needs a fee address (--fee-address)')
  }

  /** Settle every epoch that has ended and is not settled yet, oldest first. Never runs twice at once. */
  settleDue(): Promise<number[]> {
    this.running ??= this.settleAll().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async settleAll(): Promise<number[]> {
    const { store, epochs, clock } = this.deps
    // The newest epoch's number only: reading every epoch with its tree here made a catch-up after a long
    // outage quadratic in the number of epochs (500 empty epochs: 13 s on PostgreSQL).
    let next = (await store.lastSettledEpoch()) + 1
    const done: number[] = []
    while (epochs.bounds(next).endMs <= clock.now()) {
      await this.settle(next)
      done.push(next)
      next++
    }
    return done
  }

  async settle(epoch: number): Promise<EpochRecord> {
    const { store, epochs, clock, log, metrics } = this.deps
    const existing = await store.getEpoch(epoch)
    if (existing) return existing
    const { startMs, endMs } = epochs.bounds(epoch)
    const ownRevenueWei = await store.balanceOf(Accounts.revenue(epoch))
    // Charges for an earlier epoch written after that epoch was settled: an observation judged just before the
    // epoch's end whose charge was committed after its settlement read the revenue (a judge waiting on a balance
    // read here, or a sibling replica's commit). They are split now, with this epoch's revenue, never left behind.
    const late = [...(await store.balancesWithPrefix(AccountPrefix.revenue))]
      .map(([account, balance]) => ({ account, epoch: Number(ownerOf(AccountPrefix.revenue, account)), balance }))
      .filter((r) => r.epoch < epoch && r.balance > 0n)
    const lateRevenueWei = late.reduce((n, r) => n + r.balance, 0n)
    const revenueWei = ownRevenueWei + lateRevenueWei
    const carriedInWei = await store.balanceOf(Accounts.carry)

    // Service per payout address. Hosts without one cannot be paid: their share stays in the carry.
    const payoutOf = new Map((await store.listNodes({ role: 'host' })).map((n) => [n.nodeId, n.payout]))
    const serviceMsByPayee = new Map<string, number>()
    const chargedByPayee = new Map<string, bigint>()
    let unpaidServiceMs = 0
    let unpaidChargedWei = 0n
    for (const u of await store.usage({ epoch })) {
      const payee = payoutOf.get(u.hostId)?.toLowerCase()
      if (payee) {
        serviceMsByPayee.set(payee, (serviceMsByPayee.get(payee) ?? 0) + u.serviceMs)
        chargedByPayee.set(payee, (chargedByPayee.get(payee) ?? 0n) + u.chargedWei)
      } else {
        unpaidServiceMs += u.serviceMs
        unpaidChargedWei += u.chargedWei
      }
    }
    // A pool that prices compute units splits by what clients paid for each host's service (priced units and
    // priced time alike); otherwise by service time, as ever.
    const byCharges = (this.opts.pricePerCuWei ?? 0n) > 0n ? { weightByPayee: chargedByPayee, unpaidWeight: unpaidChargedWei } : {}
    const split = splitEpoch({ revenueWei, carriedInWei, feeBps: this.opts.feeBps, serviceMsByPayee, unpaidServiceMs, ...byCharges })

    const credits = new Map<string, bigint>(split.payouts.map((p) => [p.payee, p.amountWei]))
    if (split.feeWei > 0n) {
      const fee = this.opts.feeAddress!.toLowerCase()
      credits.set(fee, (credits.get(fee) ?? 0n) + split.feeWei)
    }
    // Client refunds accepted since the last settlement (services/refunds.ts): their unspent deposits, by refund
    // address. They are not revenue and not part of the split: they join the address's payee account, so an
    // address that is also a host or the fee address has one cumulative leaf for everything it is owed.
    const refunds = new Map<string, bigint>()
    for (const [account, balance] of await store.balancesWithPrefix(AccountPrefix.refund)) if (balance > 0n) refunds.set(ownerOf(AccountPrefix.refund, account)!, balance)
    const refundsWei = [...refunds.values()].reduce((a, b) => a + b, 0n)
    // Cumulative entitlement = everything ever credited to the payee, including this epoch.
    const cumulative = new Map<string, bigint>()
    for (const [account, balance] of await store.balancesWithPrefix(AccountPrefix.payee)) cumulative.set(ownerOf(AccountPrefix.payee, account)!, balance)
    for (const [payee, amount] of credits) cumulative.set(payee, (cumulative.get(payee) ?? 0n) + amount)
    for (const [payee, amount] of refunds) cumulative.set(payee, (cumulative.get(payee) ?? 0n) + amount)
    const entries = [...cumulative].filter(([, wei]) => wei > 0n).map(([payee, cumulativeWei]) => ({ payee, cumulativeWei }))
    const tree = entries.length > 0 ? buildPayoutTree(entries) : undefined

    const serviceOf = new Map(split.payouts.map((p) => [p.payee, p.serviceMs]))
    const payouts: EpochPayout[] = [...credits].map(([payee, amountWei]) => ({ payee, amountWei, serviceMs: serviceOf.get(payee) ?? 0, cumulativeWei: cumulative.get(payee)! }))
    const transfer: Transfer = {
      id: `settle:${epoch}`,
      atMs: endMs,
      memo: `settle epoch ${epoch}`,
      entries: [
        { account: Accounts.revenue(epoch), amountWei: -ownRevenueWei },
        ...late.map((r) => ({ account: r.account, amountWei: -r.balance })),
        { account: Accounts.carry, amountWei: split.carriedOutWei - carriedInWei },
        ...[...credits].map(([payee, amountWei]) => ({ account: Accounts.payee(payee), amountWei })),
        ...[...refunds].flatMap(([payee, amountWei]) => [
          { account: Accounts.refund(payee), amountWei: -amountWei },
          { account: Accounts.payee(payee), amountWei },
        ]),
      ],
    }
    const record: EpochRecord = {
      epoch,
      startMs,
      endMs,
      revenueWei,
      carriedInWei,
      feeWei: split.feeWei,
      carriedOutWei: split.carriedOutWei,
      totalEntitledWei: tree?.totalWei ?? 0n,
      root: tree?.root ?? EMPTY_ROOT,
      tree: tree ? JSON.stringify(tree.dump()) : '{}',
      settledAtMs: clock.now(),
      txHash: null,
      postedAtMs: null,
    }
    try {
      await store.settleEpoch(record, payouts, transfer)
    } catch (err) {
      // Another settle of the same epoch won the race: its result stands.
      if (err instanceof StoreError && err.code === 'DUPLICATE_EPOCH') return (await store.getEpoch(epoch))!
      throw err
    }
    metrics.epochsSettled.inc()
    metrics.lastEpochRevenue.set(Number(revenueWei))
    log.info('epoch settled', { epoch, revenueWei: revenueWei.toString(), ...(lateRevenueWei > 0n ? { lateRevenueWei: lateRevenueWei.toString() } : {}), feeWei: split.feeWei.toString(), payees: payouts.length, refundsWei: refundsWei.toString(), refundAddresses: refunds.size, root: record.root, carriedOutWei: split.carriedOutWei.toString() })
    return record
  }
}
