/**
 * After a start, how many of the previous run's agents are back. An operator restarting a pool of thousands
 * sees the login storm fill up in the log every few seconds ("agents returning after restart", online of
 * the previous run's) and on `/metrics` (`vipnode_agents_previous_run` beside `vipnode_agent_sockets`), and
 * gets one line when they are all back, or a warning naming how many are still missing once the watch ends.
 *
 * The previous run's agents: the sessions a crashed run left open (closed at this start), or, after a
 * graceful stop, the agents it had online when it stopped (meta `agentsAtStop`, written by `noteStop`).
 * Online agents are counted whoever they are, so a newcomer counts as one of the returning: the figure is
 * what the operator compares, not an identity check.
 */
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { MetaStore } from '../store/store.ts'

/** Meta key: agents online when the last run stopped gracefully, and when (JSON). Read and cleared at the next start. */
export const AGENTS_AT_STOP_META = 'agentsAtStop'

export interface ReturnWatchPolicy {
  /** How often progress is logged while agents return. */
  everyMs: number
  /** After this long the watch ends: the agents still missing are logged at warn. */
  forMs: number
}

export const DEFAULT_RETURN_WATCH: ReturnWatchPolicy = { everyMs: 5_000, forMs: 10 * 60_000 }

export type ReturnState = 'returning' | 'all back' | 'given up'

export class ReturnWatch {
  private timer: NodeJS.Timeout | undefined
  private state: ReturnState = 'returning'

  private constructor(
    private readonly policy: ReturnWatchPolicy,
    /** The previous run's agents (0: nothing to watch). */
    readonly previousRun: number,
    private readonly startedAtMs: number,
    private readonly deps: { online: () => number; clock: Clock; log: Logger },
  ) {}

  /**
   * The previous run's agents, from the sessions a crash left open (`leftOpen`) or the stop record of a
   * graceful stop, which is cleared so a later crash of this run is not mistaken for it.
   */
  static async open(
    policy: ReturnWatchPolicy,
    leftOpen: number,
    deps: { store: MetaStore; online: () => number; clock: Clock; log: Logger },
  ): Promise<ReturnWatch> {
    const atStop = await deps.store.getMeta(AGENTS_AT_STOP_META)
    if (atStop) await deps.store.setMeta(AGENTS_AT_STOP_META, '')
    const previousRun = leftOpen > 0 ? leftOpen : agentsIn(atStop)
    return new ReturnWatch(policy, previousRun, deps.clock.now(), deps)
  }

  /** Log progress every `everyMs` until every agent is back or `forMs` has passed. */
  start(): void {
    if (this.previousRun === 0 || this.timer) return
    this.deps.log.info('waiting for the previous run\'s agents', { previousRun: this.previousRun, online: this.deps.online() })
    this.timer = setInterval(() => this.tick(), this.policy.everyMs)
    this.timer.unref()
  }

  /** One look: logs progress, the end of the return, or the agents still missing. Returns the state after it. */
  tick(): ReturnState {
    if (this.state !== 'returning' || this.previousRun === 0) return this.state
    const online = this.deps.online()
    const elapsedMs = this.deps.clock.now() - this.startedAtMs
    if (online >= this.previousRun) {
      this.state = 'all back'
      this.deps.log.info('previous run\'s agents back', { online, previousRun: this.previousRun, elapsedMs })
    } else if (elapsedMs >= this.policy.forMs) {
      this.state = 'given up'
      this.deps.log.warn('previous run\'s agents still missing', { online, previousRun: this.previousRun, missing: this.previousRun - online, elapsedMs })
    } else {
      this.deps.log.info('agents returning after restart', { online, previousRun: this.previousRun, elapsedMs })
    }
    if (this.state !== 'returning') this.stop()
    return this.state
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** At a graceful stop, before the sockets close: the agents online now are the next start's to wait for. */
  static async noteStop(store: MetaStore, agents: number, atMs: number): Promise<void> {
    await store.setMeta(AGENTS_AT_STOP_META, JSON.stringify({ agents, atMs }))
  }
}

/** The agent count of a stop record; 0 for none or one this version cannot read (the watch is only a view). */
function agentsIn(record: string | undefined): number {
  if (!record) return 0
  try {
    const agents = (JSON.parse(record) as { agents?: unknown }).agents
    return typeof agents === 'number' && Number.isSafeInteger(agents) && agents > 0 ? agents : 0
  } catch {
    return 0
  }
}
