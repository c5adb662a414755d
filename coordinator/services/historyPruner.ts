/**
 * Report retention: deletes history (report rows, closed sessions, released
 * assignments) older than the retention window, in small batches off the hot
 * path. Every tick it runs batches of `batchRows` rows per table, one short
 * transaction each, yielding to the event loop between them (setImmediate),
 * until a batch deletes nothing or the tick's budget of batches is spent.
 * The latest report per node, open sessions, active assignments, metering
 * state and the ledger are never touched (HistoryStore).
 */
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { HistoryStore, PrunedRows } from '../store/store.ts'

export interface HistoryPrunerOptions {
  /** History older than this is deleted; 0 keeps none beyond each node's latest report. */
  retentionMs: number
  /** How often a pruning pass starts. Default 1 s. */
  tickMs?: number | undefined
  /** Rows per table and transaction. Default 250 (1,000 took 40–70 ms per batch in bench/growth.ts). */
  batchRows?: number | undefined
  /** Most batches per pass. Default 80 (with the defaults: up to 20,000 rows a second per table, 4 times the reports of 5,000 agents reporting every second). */
  maxBatchesPerTick?: number | undefined
}

export interface HistoryPrunerStats {
  passes: number
  batches: number
  deleted: PrunedRows
  /** The longest single batch (one transaction), in ms: the longest the event loop is held by pruning. */
  longestBatchMs: number
  /** Batches that took longer than 50 ms (a commit may carry a WAL checkpoint). */
  slowBatches: number
}

export class HistoryPruner {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = false
  readonly stats: HistoryPrunerStats = { passes: 0, batches: 0, deleted: { reports: 0, sessions: 0, assignments: 0 }, longestBatchMs: 0, slowBatches: 0 }
  private readonly tickMs: number
  private readonly batchRows: number
  private readonly maxBatches: number

  constructor(
    private readonly opts: HistoryPrunerOptions,
    private readonly deps: { store: HistoryStore; clock: Clock; log: Logger },
  ) {
    this.tickMs = opts.tickMs ?? 1_000
    this.batchRows = opts.batchRows ?? 250
    this.maxBatches = opts.maxBatchesPerTick ?? 80
  }

  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.pass()
        .then(() => undefined)
        .catch((err: unknown) => this.deps.log.error('history pruning failed', {}, err))
        .finally(() => {
          this.running = undefined
        })
    }, this.tickMs)
    this.timer.unref()
  }

  /** One pass: batches until the history older than the window is gone or this pass's budget is spent. Returns rows deleted. */
  async pass(): Promise<PrunedRows> {
    const cutoff = this.deps.clock.now() - this.opts.retentionMs
    const total: PrunedRows = { reports: 0, sessions: 0, assignments: 0 }
    this.stats.passes++
    for (let i = 0; i < this.maxBatches && !this.stopped; i++) {
      const started = performance.now()
      const got = await this.deps.store.pruneHistory(cutoff, this.batchRows)
      const ms = performance.now() - started
      if (ms > this.stats.longestBatchMs) this.stats.longestBatchMs = ms
      if (ms > 50) this.stats.slowBatches++
      this.stats.batches++
      for (const k of ['reports', 'sessions', 'assignments'] as const) {
        total[k] += got[k]
        this.stats.deleted[k] += got[k]
      }
      // Stop at a batch that found nothing old at the head of the history; one that deleted some may have met a
      // few rows written out of time order and leaves the rest for the next batch.
      if (got.reports + got.sessions + got.assignments === 0) break
      // Let sockets and timers run between two transactions.
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    if (total.reports + total.sessions + total.assignments > 0) this.deps.log.debug('history pruned', { beforeMs: cutoff, ...total })
    return total
  }

  /** Stop the timer and wait for a pass in progress (its current batch) to end. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    await this.running
  }
}
