/**
 * Retention: what keeps the database from growing with the pool's age.
 * Every tick, in small batches off the hot path (one short transaction each,
 * yielding to the event loop between them with setImmediate, until a batch
 * finds nothing or the tick's budget of batches is spent):
 *
 * - history older than the window: report rows, closed sessions, released
 *   assignments (`pruneHistory`);
 * - keys that hold nothing (no ledger account, no open session, no
 *   assignment) last seen before the window and before the first epoch not
 *   yet settled (`pruneNodes`): node keys are free, and each one that ever
 *   logged in left a row;
 * - charges older than the window (and at least an hour old), folded into
 *   the first of each run (`foldCharges`, store/chargeFolding.ts): every
 *   metered report of a paying client posts one, and only the sums matter
 *   once no dispute can reach them.
 *
 * Never touched: a node's latest report while it holds anything, active
 * assignments, open sessions, metering state, balances and every ledger
 * entry other than a charge (HistoryStore).
 */
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { HistoryStore, PrunedRows } from '../store/store.ts'
import type { NodeId } from '../../protocol/index.ts'
import { chargeRule, NODE_ACCOUNT_PREFIXES } from '../logic/accounts.ts'
import type { CoordinatorMetrics } from '../metrics.ts'

/** Charges younger than this are never folded, whatever the window: ledger ids are only known to be in commit order once their writers are long done. */
export const FOLD_MIN_AGE_MS = 3_600_000
/** The pause between two walks over the nodes for keys that hold nothing. */
export const NODE_RESCAN_MS = 60_000

export interface HistoryPrunerOptions {
  /** History older than this is deleted; 0 keeps none beyond each node's latest report. */
  retentionMs: number
  /** How often a pruning pass starts. Default 1 s. */
  tickMs?: number | undefined
  /** Rows per table and transaction. Default 250 (1,000 took 40–70 ms per batch in bench/growth.ts). */
  batchRows?: number | undefined
  /** Charges younger than this are not folded whatever the window. Default FOLD_MIN_AGE_MS (an hour); benches scale it down. */
  foldMinAgeMs?: number | undefined
  /** Most batches per pass and kind of work. Default 80 (with the defaults: up to 20,000 rows a second per table, 4 times the reports of 5,000 agents reporting every second). */
  maxBatchesPerTick?: number | undefined
}

type BatchKind = 'history' | 'nodes' | 'fold'

export interface HistoryPrunerStats {
  passes: number
  batches: number
  deleted: PrunedRows & { nodes: number }
  /** Charge transfers folded into an earlier one. */
  folded: number
  /** The longest single batch (one transaction), in ms: the longest the event loop is held by pruning. */
  longestBatchMs: number
  /** The same per kind of work. */
  longestByKind: Record<BatchKind, number>
  /** Batches that took longer than 50 ms (a commit may carry a WAL checkpoint). */
  slowBatches: number
}

export interface HistoryPrunerDeps {
  store: HistoryStore
  clock: Clock
  log: Logger
  /** The end of the last settled epoch (0 before any): a node seen since may still have usage to settle, and its payout address with it. */
  settledUntilMs: () => Promise<number>
  metrics?: Pick<CoordinatorMetrics, 'retention'> | undefined
  /** Whether this coordinator prunes now (the one holding the singleton duties); default always. */
  runs?: (() => boolean) | undefined
}

export class HistoryPruner {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = false
  /** Where the walk over nodes goes on (the last node looked at), and when the next walk may start once one ends. */
  private nodeCursor: NodeId | undefined
  private nodeWalkAtMs = 0
  readonly stats: HistoryPrunerStats = { passes: 0, batches: 0, deleted: { reports: 0, sessions: 0, assignments: 0, nodes: 0 }, folded: 0, longestBatchMs: 0, longestByKind: { history: 0, nodes: 0, fold: 0 }, slowBatches: 0 }
  private readonly tickMs: number
  private readonly batchRows: number
  private readonly maxBatches: number

  constructor(
    private readonly opts: HistoryPrunerOptions,
    private readonly deps: HistoryPrunerDeps,
  ) {
    this.tickMs = opts.tickMs ?? 1_000
    this.batchRows = opts.batchRows ?? 250
    this.maxBatches = opts.maxBatchesPerTick ?? 80
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.deps.runs?.() === false) return
      this.running ??= this.pass()
        .then(() => undefined)
        .catch((err: unknown) => this.deps.log.error('history pruning failed', {}, err))
        .finally(() => {
          this.running = undefined
        })
    }, this.tickMs)
    this.timer.unref()
  }

  /** One pass: batches of each kind until nothing old is left or this pass's budget is spent. Returns what it did. */
  async pass(): Promise<PrunedRows & { nodes: number; folded: number }> {
    const now = this.deps.clock.now()
    const cutoff = now - this.opts.retentionMs
    const total = { reports: 0, sessions: 0, assignments: 0, nodes: 0, folded: 0 }
    this.stats.passes++
    await this.batches('history', async () => {
      const got = await this.deps.store.pruneHistory(cutoff, this.batchRows)
      for (const k of ['reports', 'sessions', 'assignments'] as const) {
        total[k] += got[k]
        this.stats.deleted[k] += got[k]
      }
      // Stop at a batch that found nothing old at the head of the history; one that deleted some may have met a
      // few rows written out of time order and leaves the rest for the next batch.
      return got.reports + got.sessions + got.assignments > 0
    })
    const nodesBefore = Math.min(cutoff, await this.deps.settledUntilMs())
    // One walk over every node by primary key, a batch at a time, then a pause: a key that holds nothing is
    // forgotten within NODE_RESCAN_MS plus one walk of crossing the window.
    if (now >= this.nodeWalkAtMs) {
      await this.batches('nodes', async () => {
        const got = await this.deps.store.pruneNodes(nodesBefore, this.batchRows, { after: this.nodeCursor, accountPrefixes: NODE_ACCOUNT_PREFIXES })
        total.nodes += got.deleted
        this.stats.deleted.nodes += got.deleted
        this.nodeCursor = got.next ?? this.nodeCursor
        if (got.done) {
          this.nodeCursor = undefined
          this.nodeWalkAtMs = now + NODE_RESCAN_MS
        }
        return !got.done
      })
    }
    await this.batches('fold', async () => {
      const got = await this.deps.store.foldCharges(Math.min(cutoff, now - (this.opts.foldMinAgeMs ?? FOLD_MIN_AGE_MS)), this.batchRows, chargeRule)
      total.folded += got.folded
      this.stats.folded += got.folded
      return !got.done
    })
    if (total.reports + total.sessions + total.assignments + total.nodes + total.folded > 0) {
      this.deps.log.debug('history pruned', { beforeMs: cutoff, ...total })
      const m = this.deps.metrics?.retention
      for (const kind of ['reports', 'sessions', 'assignments', 'nodes'] as const) if (total[kind] > 0) m?.inc({ kind }, total[kind])
      if (total.folded > 0) m?.inc({ kind: 'charges' }, total.folded)
    }
    return total
  }

  /** Run `batch` (one transaction) until it says there is no more, the budget is spent or the pruner stops. */
  private async batches(kind: BatchKind, batch: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < this.maxBatches && !this.stopped; i++) {
      const started = performance.now()
      const more = await batch()
      const ms = performance.now() - started
      if (ms > this.stats.longestBatchMs) this.stats.longestBatchMs = ms
      if (ms > this.stats.longestByKind[kind]) this.stats.longestByKind[kind] = ms
      if (ms > 50) this.stats.slowBatches++
      this.stats.batches++
      if (!more) return
      // Let sockets and timers run between two transactions.
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }

  /** Stop the timer and wait for a pass in progress (its current batch) to end. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.running
  }
}
