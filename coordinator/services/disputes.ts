/**
 * Disputes: every sweep, each active pair that has not corroborated in time
 * (logic/disputes.ts) is released, so no one holds a slot, a host's trust or
 * a relay token for service nobody confirmed; the side to blame, if the
 * evidence and the standing rule name one, is cooled down (growing, per
 * node). The pair is not offered to that client again while remembered.
 */
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import { blamed, judgePair, type Dispute, type DisputePolicy } from '../logic/disputes.ts'
import type { AssignmentService, PairWatch } from './assignments.ts'
import type { MeteringService } from './metering.ts'
import type { SessionRegistry } from './sessions.ts'

export interface DisputeDeps {
  assignments: AssignmentService
  metering: Pick<MeteringService, 'latestOf'>
  sessions: SessionRegistry
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
}

export class DisputeService {
  constructor(
    private readonly policy: DisputePolicy,
    private readonly deps: DisputeDeps,
  ) {}

  /** Release every pair in dispute now; returns how many. */
  async sweep(): Promise<number> {
    const { assignments, metering, clock } = this.deps
    const now = clock.now()
    const disputed: { watch: PairWatch; dispute: Dispute }[] = []
    for (const watch of assignments.pairWatches()) {
      const dispute = judgePair({ ...watch, client: metering.latestOf(watch.clientId), host: metering.latestOf(watch.hostId) }, now, this.policy)
      if (dispute) disputed.push({ watch, dispute })
    }
    // Standing is read before any release: releasing one pair must not change who may blame in the next.
    const judged = disputed.map((d) => ({ ...d, blame: blamed(d.dispute, { client: assignments.isProven(d.watch.clientId, now), host: assignments.isProven(d.watch.hostId, now) }) }))
    let released = 0
    for (const { watch, dispute, blame } of judged) {
      if (!(await assignments.release(watch.clientId, watch.hostId, 'disputed'))) continue
      released++
      this.deps.metrics.disputes.inc({ kind: dispute.kind, blamed: blame ?? 'none' })
      const strike = blame === 'client' ? assignments.strikeClient(watch.clientId, now) : blame === 'host' ? assignments.strikeHost(watch.hostId, now) : undefined
      this.deps.log.info('pair disputed', {
        client: watch.clientId,
        host: watch.hostId,
        kind: dispute.kind,
        blamed: blame ?? 'none',
        ...(strike ? { strikes: strike.strikes, coolDownMs: strike.untilMs - now } : {}),
        corroboratedAtMs: watch.corroboratedAtMs ?? null,
        sinceMs: watch.sinceMs,
      })
      this.tellClient(watch, dispute, blame === 'client')
    }
    return released
  }

  /** The client hears at once: a client not to blame is told to find a replacement (the code shims act on). */
  private tellClient(watch: PairWatch, dispute: Dispute, clientBlamed: boolean): void {
    const host = `${watch.hostId.slice(0, 16)}…`
    this.deps.sessions.get(watch.clientId)?.notify(
      'vipnode_notice',
      clientBlamed
        ? { level: 'error', code: 'disputed', message: `released from host ${host}: ${dispute.kind}; your node must peer with its hosts and report them` }
        : { level: 'warn', code: 'host-gone', message: `host ${host} did not serve this client (${dispute.kind}); finding a replacement` },
    )
  }
}
