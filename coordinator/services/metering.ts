/**
 * Metering: turns each report into corroborated service time and client
 * charges, written in the same store transaction as the report. The latest
 * report per node and each pair's chain are mirrored in memory and restored
 * from the store at start, so a restart loses at most the outage beyond the cap.
 */
import PQueue from 'p-queue'
import type { NodeId, ServiceKind } from '../../protocol/index.ts'
import { DEFAULT_RELAY_CU_RATE } from '../../protocol/costTable.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import type { LedgerStore, MeteringDelta, NodeStore, PeerReport, ReportStore, Transfer } from '../store/store.ts'
import { StoreError } from '../store/store.ts'
import { isDenied, observe, type LatestReport, type PairState } from '../logic/corroborate.ts'
import { addUnits, creditUnits, NO_UNITS, type UnitsState } from '../logic/corroborateUnits.ts'
import { chargeFor, chargeForUnits } from '../logic/splitEpoch.ts'
import { affordableHosts, explainUnaffordable, holdCost, type HoldCost, type HoldPrices } from '../logic/affordableHosts.ts'
import { REFUND_TRANSFER_PREFIX } from '../logic/refunds.ts'
import type { AssignmentService } from './assignments.ts'
import type { AgentSession } from './sessions.ts'
import type { EpochClock } from './epochClock.ts'
import { Accounts, TransferPrefix } from '../logic/accounts.ts'
import { keepInHistory } from '../logic/reportHistory.ts'

export interface MeteringOptions {
  capMs: number
  priceWeiPerMinute: bigint
  /** rpc pairs: price per corroborated compute unit (--price-per-cu), charged as well as (or instead of) time. */
  pricePerCuWei?: bigint | undefined
  /** With pricePerCuWei: units per second a client must be able to pay each rpc host for one interval (--hold-cu-rate). */
  holdCuRate?: number | undefined
  minBalanceWei: bigint
  trialWei: bigint
  /** The most trial credit granted per epoch, out of the trial budget. Undefined: trials are unbounded (off-chain pools only). */
  trialBudgetPerEpochWei?: bigint | undefined
}

/**
 * What became of a client's trial: `granted`; `repeat` (it had one already, or
 * it is a returning key while the allowance is spent); `budget-spent` (a new
 * key after this epoch's trial allowance ran out); `off` (no --trial).
 */
export type TrialResult = 'granted' | 'repeat' | 'budget-spent' | 'off'

export interface MeteringDeps {
  store: ReportStore & LedgerStore & NodeStore
  assignments: AssignmentService
  epochs: EpochClock
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
}


const pairKey = (clientId: NodeId, hostId: NodeId) => `${clientId}:${hostId}`

export class MeteringService {
  private readonly latest = new Map<NodeId, LatestReport>()
  /** Per node: the session of its previous report and when its last history row was observed. */
  private readonly historyMarks = new Map<NodeId, { sessionId: string; historyAtMs: number }>()
  private readonly pairs = new Map<string, PairState>()
  /**
   * rpc pairs: compute units each side reported and the other has not matched yet (logic/corroborateUnits.ts).
   * In memory only: a restart loses at most one report's worth per pair (never credits more).
   */
  private readonly units = new Map<string, UnitsState>()
  /**
   * Reports are judged one at a time, from reading pair states and balances
   * to queueing the write. Two reports judged at once (two hosts charging the
   * same client, or a burst from one agent) each read the state before the
   * other's write and billed the same time twice, or took a balance below
   * zero. Only the judging is serial: the commit is awaited outside.
   */
  private readonly judging = new PQueue({ concurrency: 1 })
  private readonly granting = new PQueue({ concurrency: 1 })
  /** The epoch whose trial allowance has been opened (logic in openTrialAllowance). */
  private trialAllowanceOpened: number | undefined
  /** Clients whose deposits were refunded and who have not deposited since: never billed (services/refunds.ts). */
  private readonly stopped = new Set<NodeId>()

  constructor(
    private readonly opts: MeteringOptions,
    private readonly deps: MeteringDeps,
  ) {}

  get paid(): boolean {
    return this.opts.priceWeiPerMinute > 0n || (this.opts.pricePerCuWei ?? 0n) > 0n
  }

  async load(): Promise<void> {
    for (const p of await this.deps.store.pairMeters()) {
      if (p.lastCorroboratedAtMs !== null) this.pairs.set(pairKey(p.clientId, p.hostId), { lastCorroboratedAtMs: p.lastCorroboratedAtMs })
      for (const id of [p.clientId, p.hostId]) {
        if (this.latest.has(id)) continue
        const r = await this.deps.store.latestReport(id)
        if (r) this.latest.set(id, { atMs: r.observedAtMs, peers: new Set(r.peers) })
      }
    }
  }

  /**
   * Run `fn` alone among report judgements: no report is judged (and nothing
   * billed) between its reads and its writes. Refunds use it, so a refund and
   * the charges of reports in flight can never both take the same wei.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.judging.add(fn)
  }

  /** Bill this client nothing from now on (it was refunded); `resume` when it has deposited again. */
  stopBilling(clientId: NodeId): void {
    this.stopped.add(clientId)
  }

  resumeBilling(clientId: NodeId): void {
    this.stopped.delete(clientId)
  }

  isStopped(clientId: NodeId): boolean {
    return this.stopped.has(clientId)
  }

  /** An assignment ended: its chain ends with it, so a later re-assignment starts from zero. */
  forgetPair(clientId: NodeId, hostId: NodeId): void {
    this.pairs.delete(pairKey(clientId, hostId))
    this.units.delete(pairKey(clientId, hostId))
  }

  /**
   * Compute units from a report that is not metered (too soon after the last one): the agent drained its
   * counters for it, so they are kept for the pair's next corroborated observation. Credits nothing by itself.
   */
  async noteUnits(session: AgentSession, computeUnits: ReadonlyMap<NodeId, number>): Promise<void> {
    if (computeUnits.size === 0) return
    await this.judging.add(() => this.addReportedUnits(session, computeUnits))
  }

  /** The reporter's compute units per assigned counterpart go on its side of each pair's pile. */
  private addReportedUnits(session: AgentSession, computeUnits: ReadonlyMap<NodeId, number> | undefined): void {
    if (!computeUnits || computeUnits.size === 0) return
    const { assignments } = this.deps
    const reporter = session.nodeId
    // A client's hosts on sibling replicas are metered there, from its forwarded report (docs/cluster.md).
    const counterparts = session.role === 'host' ? assignments.clientsOf(reporter) : assignments.ownedHostsOf(reporter)
    for (const other of counterparts) {
      const cu = computeUnits.get(other)
      if (!cu) continue
      const key = session.role === 'host' ? pairKey(other, reporter) : pairKey(reporter, other)
      this.units.set(key, addUnits(this.units.get(key) ?? NO_UNITS, session.role, cu))
    }
  }

  /**
   * Record one report with everything it accrued. Returns the clients that
   * could not pay in full or fell below the minimum balance.
   */
  async ingest(
    session: AgentSession,
    peers: ReadonlySet<NodeId>,
    block: { number: number; hash: string },
    atMs: number,
    computeUnits?: ReadonlyMap<NodeId, number>,
    opts: { forwarded?: boolean } = {},
  ): Promise<{ exhausted: NodeId[] }> {
    const judged = await this.judging.add(() => this.judge(session, peers, block, atMs, computeUnits, opts.forwarded ?? false))
    await judged.written
    if (judged.servedMs > 0) this.deps.metrics.serviceSeconds.inc(judged.servedMs / 1000)
    return { exhausted: judged.exhausted }
  }

  /** Everything up to queueing the write; runs alone (see `judging`). */
  private async judge(
    session: AgentSession,
    peers: ReadonlySet<NodeId>,
    block: { number: number; hash: string },
    atMs: number,
    computeUnits: ReadonlyMap<NodeId, number> | undefined,
    forwarded: boolean,
  ): Promise<{ written: Promise<number>; servedMs: number; exhausted: NodeId[] }> {
    const { store, assignments, epochs } = this.deps
    const reporter = session.nodeId
    const previous = this.latest.get(reporter)
    const report: PeerReport = { nodeId: reporter, sessionId: session.sessionId, observedAtMs: atMs, blockNumber: block.number, blockHash: block.hash, peers: [...peers] }
    // Counted before the judgement, even for a report that meters nothing: the agent drained them.
    this.addReportedUnits(session, computeUnits)
    // A client's report forwarded from its own replica: that replica keeps the client's history; this one only meters.
    const history = forwarded ? { history: false } : this.historyFor(session, peers, atMs, previous)
    if (previous && atMs <= previous.atMs) {
      // Same-millisecond or clock-skewed report: stored for health, meters nothing.
      return { written: store.recordReport(report, undefined, history), servedMs: 0, exhausted: [] }
    }
    // A client's hosts on sibling replicas are metered there, from its forwarded report (docs/cluster.md).
    const counterparts = session.role === 'host' ? assignments.clientsOf(reporter) : assignments.ownedHostsOf(reporter)
    // A refunded client's pairs are released with its refund; one admitted by a request in flight at that
    // moment accrues nothing (and bills nothing) here.
    const accruals = observe({
      reporter,
      atMs,
      peers,
      previous,
      role: session.role,
      counterparts,
      latestOf: (id) => this.latest.get(id),
      pairState: (c, h) => this.pairs.get(pairKey(c, h)) ?? { lastCorroboratedAtMs: undefined },
      capMs: this.opts.capMs,
    }).filter((a) => !this.stopped.has(a.clientId))
    // Compute units: a denied pair drops what its sides had not matched (as its time chain breaks), a corroborated one is
    // credited what both sides agree on (logic/corroborateUnits.ts). The time rule decides which is which.
    const creditedUnits = new Map<string, number>()
    for (const a of accruals) {
      const key = pairKey(a.clientId, a.hostId)
      const pile = this.units.get(key)
      if (!pile) continue
      if (a.state.lastCorroboratedAtMs === undefined) this.units.delete(key)
      else {
        const { credit, state } = creditUnits(pile)
        this.units.set(key, state)
        if (credit > 0) creditedUnits.set(key, credit)
      }
    }
    for (const other of counterparts) {
      // Denied pairs with no chain to break produce no accrual: their piles go too.
      if (other !== reporter && isDenied(reporter, peers, other, this.latest.get(other))) {
        this.units.delete(session.role === 'host' ? pairKey(other, reporter) : pairKey(reporter, other))
      }
    }

    const epoch = epochs.epochOf(atMs)
    const delta: { pairs: MeteringDelta['pairs'][number][]; usage: MeteringDelta['usage'][number][]; transfers: Transfer[]; payers: { clientId: NodeId; account: string }[] } = {
      pairs: [],
      usage: [],
      transfers: [],
      payers: [],
    }
    const balances = new Map<NodeId, bigint>()
    const exhausted = new Set<NodeId>()
    let servedMs = 0
    for (const a of accruals) {
      delta.pairs.push({ clientId: a.clientId, hostId: a.hostId, lastCorroboratedAtMs: a.state.lastCorroboratedAtMs ?? null })
      const units = creditedUnits.get(pairKey(a.clientId, a.hostId)) ?? 0
      if (a.addMs === 0 && units === 0) continue
      let balance = balances.get(a.clientId) ?? (await store.balanceOf(Accounts.client(a.clientId)))
      // Time first, then compute units, each limited to what is left: only what the client paid for is credited.
      const time = chargeFor(a.addMs, this.opts.priceWeiPerMinute, balance)
      balance -= time.chargeWei
      const cu = chargeForUnits(units, this.opts.pricePerCuWei ?? 0n, balance)
      balance -= cu.chargeWei
      const charge = (prefix: string, wei: bigint, what: string) => {
        if (wei > 0n) {
          delta.transfers.push({
            id: `${prefix}${reporter}:${atMs}:${a.clientId}:${a.hostId}`,
            atMs,
            memo: `${what} ${a.hostId.slice(0, 8)} -> ${a.clientId.slice(0, 8)}`,
            entries: [
              { account: Accounts.client(a.clientId), amountWei: -wei },
              { account: Accounts.revenue(epoch), amountWei: wei },
            ],
          })
        }
      }
      charge(TransferPrefix.charge, time.chargeWei, 'service')
      charge(TransferPrefix.chargeUnits, cu.chargeWei, 'compute units')
      balances.set(a.clientId, balance)
      if (this.paid && (time.paidMs < a.addMs || cu.paidUnits < units || balance < this.opts.minBalanceWei)) exhausted.add(a.clientId)
      const chargedWei = time.chargeWei + cu.chargeWei
      // The store checks the balance again at commit (store/chargeCover.ts): a sibling replica may charge it too.
      if (chargedWei > 0n && !delta.payers.some((p) => p.clientId === a.clientId)) delta.payers.push({ clientId: a.clientId, account: Accounts.client(a.clientId) })
      if (time.paidMs > 0 || chargedWei > 0n || cu.paidUnits > 0) {
        delta.usage.push({ epoch, clientId: a.clientId, hostId: a.hostId, addMs: time.paidMs, chargedWei, ...(cu.paidUnits > 0 ? { addComputeUnits: cu.paidUnits } : {}) })
      }
      servedMs += time.paidMs
    }
    // The in-memory state moves before the write is awaited: the store may
    // group-commit, and the next report (maybe this pair's other side) must
    // be judged against this one, exactly as if it had committed already.
    // Should the commit fail, the pair's chain has still advanced, so that
    // time is lost to the pool rather than billed twice.
    const written = store.recordReport(report, delta, history)
    this.latest.set(reporter, { atMs, peers })
    for (const a of accruals) {
      if (a.state.lastCorroboratedAtMs === undefined) this.pairs.delete(pairKey(a.clientId, a.hostId))
      else {
        this.pairs.set(pairKey(a.clientId, a.hostId), a.state)
        // Every accrual with a state is a corroborated observation now: the pair's dispute clock restarts.
        assignments.noteCorroborated(a.clientId, a.hostId, atMs)
      }
    }
    return { written, servedMs, exhausted: [...exhausted] }
  }

  /**
   * Forget the latest report of nodes that `isIdle` says are offline and hold no assignment: with no pair its
   * report corroborates nothing, and a later assignment starts a new chain (logic/corroborate.ts), so
   * forgetting it changes no bill. Without this, every key that ever reported stays in memory.
   */
  prune(isIdle: (nodeId: NodeId) => boolean): number {
    let n = 0
    for (const id of this.latest.keys()) {
      if (isIdle(id)) {
        this.latest.delete(id)
        this.historyMarks.delete(id)
        n++
      }
    }
    return n
  }

  /** Whether this report adds a history row (logic/reportHistory.ts), and the node's mark moved accordingly. */
  private historyFor(session: AgentSession, peers: ReadonlySet<NodeId>, atMs: number, previous: LatestReport | undefined): { history: boolean } {
    const mark = this.historyMarks.get(session.nodeId)
    const history = keepInHistory(mark && previous ? { sessionId: mark.sessionId, peers: previous.peers, historyAtMs: mark.historyAtMs } : undefined, { sessionId: session.sessionId, peers, atMs })
    this.historyMarks.set(session.nodeId, { sessionId: session.sessionId, historyAtMs: history ? atMs : mark!.historyAtMs })
    return { history }
  }

  /** Entries per map, for the vipnode_state_entries gauge and the growth tests. */
  sizes(): Record<string, number> {
    return { latestReports: this.latest.size, pairChains: this.pairs.size, pairUnits: this.units.size, historyMarks: this.historyMarks.size }
  }

  /** The node's latest metered report (what the dispute rule reads). */
  latestOf(nodeId: NodeId): LatestReport | undefined {
    return this.latest.get(nodeId)
  }

  /**
   * How many hosts of `kind` this client can pay for `holdMs` each, time and compute units (logic/affordableHosts.ts;
   * unlimited in a free pool), and when it is none, why.
   */
  async affordableHosts(clientId: NodeId, holdMs: number, kind: ServiceKind): Promise<{ hosts: number; balanceWei: bigint; refusal?: string }> {
    const balanceWei = await this.deps.store.balanceOf(Accounts.client(clientId))
    const hosts = affordableHosts(balanceWei, this.holdPrices, holdMs, kind)
    return hosts >= 1 ? { hosts, balanceWei } : { hosts, balanceWei, refusal: explainUnaffordable(balanceWei, this.holdPrices, holdMs, kind) }
  }

  /** What holding one host of `kind` for `holdMs` costs a client (the join page shows it). */
  holdCost(holdMs: number, kind: ServiceKind): HoldCost {
    return holdCost(this.holdPrices, holdMs, kind)
  }

  private get holdPrices(): HoldPrices {
    return { priceWeiPerMinute: this.opts.priceWeiPerMinute, pricePerCuWei: this.opts.pricePerCuWei ?? 0n, holdCuRate: this.opts.holdCuRate ?? DEFAULT_RELAY_CU_RATE }
  }

  /**
   * Give a client node its one-time trial credit (idempotent by node ID).
   * With a trial budget, the credit comes out of this epoch's allowance, so
   * however many keys arrive, trials never cost more than the allowance.
   * `newKey`: the pool had never seen this node (only such keys are told the budget is spent).
   */
  async grantTrial(clientId: NodeId, atMs: number, newKey = true): Promise<TrialResult> {
    if (this.opts.trialWei <= 0n) return 'off'
    // One at a time: reading the allowance and drawing from it must not interleave with another grant.
    const result = await this.granting.add(() => this.grantTrialNow(clientId, atMs, newKey))
    this.deps.metrics.trials.inc({ result })
    return result
  }

  private async grantTrialNow(clientId: NodeId, atMs: number, newKey: boolean): Promise<TrialResult> {
    const trialWei = this.opts.trialWei
    // A node that was ever refunded gets no trial later (it had its chance). A key never seen has no history to read.
    if (!newKey && (await this.deps.store.ledgerEntries({ account: Accounts.client(clientId), transferIdPrefix: REFUND_TRANSFER_PREFIX })).length > 0) return 'repeat'
    let source: string = Accounts.external
    if (this.opts.trialBudgetPerEpochWei !== undefined) {
      const epoch = this.deps.epochs.epochOf(atMs)
      await this.openTrialAllowance(epoch, atMs, this.opts.trialBudgetPerEpochWei)
      source = Accounts.trialEpoch(epoch)
      if ((await this.deps.store.balanceOf(source)) < trialWei) return newKey ? 'budget-spent' : 'repeat'
    }
    try {
      await this.deps.store.post(
        {
          id: `trial:${clientId}`,
          atMs,
          memo: 'trial credit',
          entries: [
            { account: source, amountWei: -trialWei },
            { account: Accounts.client(clientId), amountWei: trialWei },
          ],
        },
        // Other coordinators on the database draw from the same allowance: the store has the last word.
        source === Accounts.external ? {} : { notBelowZero: [source] },
      )
      return 'granted'
    } catch (err) {
      if (err instanceof StoreError && err.code === 'DUPLICATE_TRANSFER') return 'repeat'
      if (err instanceof StoreError && err.code === 'INSUFFICIENT_FUNDS') return newKey ? 'budget-spent' : 'repeat'
      throw err
    }
  }

  /**
   * At an epoch's first trial: what earlier allowances left goes back to the
   * trial budget, and up to `perEpochWei` of the budget becomes this epoch's
   * allowance. One transfer, idempotent by epoch. Money put into the budget
   * later counts from the next epoch (or from the next trial while nothing was
   * moved yet).
   */
  private async openTrialAllowance(epoch: number, atMs: number, perEpochWei: bigint): Promise<void> {
    if (this.trialAllowanceOpened === epoch) return
    const { store } = this.deps
    const entries: Transfer['entries'][number][] = []
    let budget = await store.balanceOf(Accounts.trialBudget)
    let returned = 0n
    for (const [account, balance] of await store.balancesWithPrefix('trial-epoch:')) {
      if (account === Accounts.trialEpoch(epoch) || balance <= 0n) continue
      entries.push({ account, amountWei: -balance })
      returned += balance
    }
    budget += returned
    const allowance = perEpochWei < budget ? perEpochWei : budget
    if (allowance > 0n) entries.push({ account: Accounts.trialEpoch(epoch), amountWei: allowance })
    if (returned - allowance !== 0n) entries.push({ account: Accounts.trialBudget, amountWei: returned - allowance })
    if (allowance <= 0n && returned === 0n) return // nothing to move yet: try again at the next trial
    try {
      // What another coordinator moved since our reads (an allowance drawn, the budget spent) refuses it whole.
      await store.post({ id: `trial-allowance:${epoch}`, atMs, memo: `trial allowance for epoch ${epoch}`, entries }, { notBelowZero: entries.map((e) => e.account) })
    } catch (err) {
      // Another coordinator opened it first, or moved what we read: the next trial looks again.
      if (err instanceof StoreError && err.code === 'INSUFFICIENT_FUNDS') return
      if (!(err instanceof StoreError && err.code === 'DUPLICATE_TRANSFER')) throw err
    }
    this.trialAllowanceOpened = epoch
  }

  /** Whether a client may be served now. A free pool serves everyone. */
  async canBeServed(clientId: NodeId): Promise<{ ok: boolean; balanceWei: bigint }> {
    const balanceWei = await this.deps.store.balanceOf(Accounts.client(clientId))
    if (!this.paid) return { ok: true, balanceWei }
    return { ok: balanceWei > 0n && balanceWei >= this.opts.minBalanceWei, balanceWei }
  }
}

/** The top-up page with the node ID filled in. */
export function topupLink(base: string, clientId: NodeId): string {
  const u = new URL(base)
  u.searchParams.set('node', clientId)
  return u.toString()
}
