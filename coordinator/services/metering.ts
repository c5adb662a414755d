/**
 * Metering: turns each report into corroborated service time and client
 * charges, written in the same store transaction as the report. The latest
 * report per node and each pair's chain are mirrored in memory and restored
 * from the store at start, so a restart loses at most the outage beyond the cap.
 */
import type { NodeId } from '../../protocol/index.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import type { LedgerStore, MeteringDelta, NodeStore, PeerReport, ReportStore, Transfer } from '../store/store.ts'
import { StoreError } from '../store/store.ts'
import { observe, type LatestReport, type PairState } from '../logic/corroborate.ts'
import { chargeFor } from '../logic/splitEpoch.ts'
import type { AssignmentService } from './assignments.ts'
import type { AgentSession } from './sessions.ts'
import type { EpochClock } from './epochClock.ts'

export interface MeteringOptions {
  capMs: number
  priceWeiPerMinute: bigint
  minBalanceWei: bigint
  trialWei: bigint
}

export interface MeteringDeps {
  store: ReportStore & LedgerStore & NodeStore
  assignments: AssignmentService
  epochs: EpochClock
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
}

export const Accounts = {
  external: 'external',
  client: (id: NodeId) => `client:${id}`,
  host: (id: NodeId) => `host:${id}`,
  revenue: (epoch: number) => `revenue:${epoch}`,
  carry: 'carry',
  payee: (address: string) => `payee:${address.toLowerCase()}`,
} as const

const pairKey = (clientId: NodeId, hostId: NodeId) => `${clientId}:${hostId}`

export class MeteringService {
  private readonly latest = new Map<NodeId, LatestReport>()
  private readonly pairs = new Map<string, PairState>()

  constructor(
    private readonly opts: MeteringOptions,
    private readonly deps: MeteringDeps,
  ) {}

  get paid(): boolean {
    return this.opts.priceWeiPerMinute > 0n
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

  /** An assignment ended: its chain ends with it, so a later re-assignment starts from zero. */
  forgetPair(clientId: NodeId, hostId: NodeId): void {
    this.pairs.delete(pairKey(clientId, hostId))
  }

  /**
   * Record one report with everything it accrued. Returns the clients that
   * could not pay in full or fell below the minimum balance.
   */
  async ingest(session: AgentSession, peers: ReadonlySet<NodeId>, block: { number: number; hash: string }, atMs: number): Promise<{ exhausted: NodeId[] }> {
    const { store, assignments, epochs, metrics } = this.deps
    const reporter = session.nodeId
    const previous = this.latest.get(reporter)
    const report: PeerReport = { nodeId: reporter, sessionId: session.sessionId, observedAtMs: atMs, blockNumber: block.number, blockHash: block.hash, peers: [...peers] }
    if (previous && atMs <= previous.atMs) {
      // Same-millisecond or clock-skewed report: stored for health, meters nothing.
      await store.recordReport(report)
      return { exhausted: [] }
    }
    const counterparts = session.role === 'host' ? assignments.clientsOf(reporter) : assignments.hostsOf(reporter)
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
    })

    const epoch = epochs.epochOf(atMs)
    const delta: { pairs: MeteringDelta['pairs'][number][]; usage: MeteringDelta['usage'][number][]; transfers: Transfer[] } = { pairs: [], usage: [], transfers: [] }
    const balances = new Map<NodeId, bigint>()
    const exhausted = new Set<NodeId>()
    let servedMs = 0
    for (const a of accruals) {
      delta.pairs.push({ clientId: a.clientId, hostId: a.hostId, lastCorroboratedAtMs: a.state.lastCorroboratedAtMs ?? null })
      if (a.addMs === 0) continue
      let balance = balances.get(a.clientId) ?? (await store.balanceOf(Accounts.client(a.clientId)))
      const { chargeWei, paidMs } = chargeFor(a.addMs, this.opts.priceWeiPerMinute, balance)
      if (chargeWei > 0n) {
        balance -= chargeWei
        delta.transfers.push({
          id: `charge:${reporter}:${atMs}:${a.clientId}:${a.hostId}`,
          atMs,
          memo: `service ${a.hostId.slice(0, 8)} -> ${a.clientId.slice(0, 8)}`,
          entries: [
            { account: Accounts.client(a.clientId), amountWei: -chargeWei },
            { account: Accounts.revenue(epoch), amountWei: chargeWei },
          ],
        })
      }
      balances.set(a.clientId, balance)
      if (this.paid && (paidMs < a.addMs || balance < this.opts.minBalanceWei)) exhausted.add(a.clientId)
      if (paidMs > 0 || chargeWei > 0n) delta.usage.push({ epoch, clientId: a.clientId, hostId: a.hostId, addMs: paidMs, chargedWei: chargeWei })
      servedMs += paidMs
    }
    // The in-memory state moves before the write is awaited: the store may
    // group-commit, and the next report (maybe this pair's other side) must
    // be judged against this one, exactly as if it had committed already.
    // Should the commit fail, the pair's chain has still advanced, so that
    // time is lost to the pool rather than billed twice.
    const written = store.recordReport(report, delta)
    this.latest.set(reporter, { atMs, peers })
    for (const a of accruals) {
      if (a.state.lastCorroboratedAtMs === undefined) this.pairs.delete(pairKey(a.clientId, a.hostId))
      else this.pairs.set(pairKey(a.clientId, a.hostId), a.state)
    }
    await written
    if (servedMs > 0) metrics.serviceSeconds.inc(servedMs / 1000)
    return { exhausted: [...exhausted] }
  }

  /** Give a new client node its one-time trial credit (idempotent by node ID). */
  async grantTrial(clientId: NodeId, atMs: number): Promise<boolean> {
    if (this.opts.trialWei <= 0n) return false
    try {
      await this.deps.store.post({
        id: `trial:${clientId}`,
        atMs,
        memo: 'trial credit',
        entries: [
          { account: Accounts.external, amountWei: -this.opts.trialWei },
          { account: Accounts.client(clientId), amountWei: this.opts.trialWei },
        ],
      })
      return true
    } catch (err) {
      if (err instanceof StoreError && err.code === 'DUPLICATE_TRANSFER') return false
      throw err
    }
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
