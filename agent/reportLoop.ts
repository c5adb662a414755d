/**
 * The loop both agents run: while connected, do one report step per
 * interval (the coordinator's, unless overridden); on failure, log and retry
 * sooner with jittered backoff; stop when aborted.
 */
import type { Logger } from '../lib/logger.ts'
import type { PoolConnection } from './poolConnection.ts'
import { Backoff } from './backoff.ts'
import { DEFAULT_UPDATE_INTERVAL_MS } from '../protocol/index.ts'
import type { Ticker } from './ticker.ts'

export interface ReportLoopOptions {
  pool: PoolConnection
  ticker: Ticker
  signal: AbortSignal
  /** Overrides the interval the coordinator asks for. */
  updateIntervalMs: number | undefined
  log: Logger
  /** Logged at error level when a step fails. */
  failureMessage: string
  step(): Promise<void>
}

/** The report interval: the agent's override, else what the coordinator asked for, else the protocol default until it has said. */
export function reportIntervalMs(pool: PoolConnection, override: number | undefined): number {
  return override ?? pool.current?.updateIntervalMs ?? DEFAULT_UPDATE_INTERVAL_MS
}

export async function runReportLoop(o: ReportLoopOptions): Promise<void> {
  const backoff = new Backoff(1_000, 30_000)
  while (!o.signal.aborted) {
    const interval = reportIntervalMs(o.pool, o.updateIntervalMs)
    let wait = interval
    try {
      if (o.pool.current) {
        await o.step()
        backoff.reset()
      }
    } catch (err) {
      wait = Math.min(interval, backoff.next())
      o.log.error(o.failureMessage, { error: (err as Error).message, retryInMs: wait })
    }
    await o.ticker.wait(wait)
  }
}
