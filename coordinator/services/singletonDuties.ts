/**
 * Singleton duties: settlement, the chain (deposit scans, root proposals) and
 * retention must run on one coordinator at a time when several share a
 * PostgreSQL database. The one holding the store's `duties` lease does them;
 * the others try to take it every `retryMs` and take over within that time
 * after the holder dies (the server frees a dead session's advisory lock).
 * With SQLite the lease is this coordinator's at once, and never lost.
 *
 * Duties ask `held()` before each round rather than being started and
 * stopped: a round already running when the lease is lost finishes, and the
 * store's own guarantees (an epoch is settled once: its primary key; a
 * transfer id is posted once) keep a round that overlaps the next holder's
 * from doing anything twice.
 */
import type { Logger } from '../../lib/logger.ts'
import type { Lease, LeaseStore } from '../store/store.ts'

export const DUTIES_LEASE = 'duties'

export interface SingletonDutiesOptions {
  /** How often a coordinator without the lease tries to take it. Default 2 s. */
  retryMs?: number | undefined
}

export class SingletonDuties {
  private lease: Lease | undefined
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private readonly retryMs: number

  constructor(
    opts: SingletonDutiesOptions,
    private readonly deps: { store: LeaseStore; log: Logger; onChange?: (held: boolean) => void },
  ) {
    this.retryMs = opts.retryMs ?? 2_000
  }

  /** Whether this coordinator does the singleton duties now. */
  held(): boolean {
    return this.lease !== undefined
  }

  /** Try once now (so a lone coordinator has its duties before it listens), then keep trying while not held. */
  async start(): Promise<void> {
    await this.attempt()
  }

  private async attempt(): Promise<void> {
    if (this.stopped) return
    try {
      const lease = await this.deps.store.tryLease(DUTIES_LEASE)
      if (lease && this.stopped) {
        await lease.release()
        return
      }
      if (lease) {
        this.lease = lease
        this.deps.log.info('singleton duties taken: this coordinator settles epochs, talks to the chain and prunes history')
        this.deps.onChange?.(true)
        void lease.lost.then(() => this.onLost(lease))
        return
      }
    } catch (err) {
      this.deps.log.warn('singleton duties lease could not be asked for', { error: (err as Error).message })
    }
    this.retry()
  }

  private onLost(lease: Lease): void {
    if (this.lease !== lease) return
    this.lease = undefined
    this.deps.onChange?.(false)
    if (this.stopped) return
    this.deps.log.warn('singleton duties lost (the database session holding the lease ended): trying to take them again')
    this.retry()
  }

  private retry(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => void this.attempt(), this.retryMs)
    this.timer.unref()
  }

  /** Stop trying and hand the lease back (another coordinator takes it at its next try). */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    const lease = this.lease
    this.lease = undefined
    await lease?.release()
  }
}
