/**
 * The replica's side of the cluster bus (docs/cluster.md, "Messages between
 * replicas"): what it publishes (its hosts every update interval, and when a
 * host comes or goes) and what it answers (admissions on its hosts, its hosts'
 * clients' forwarded reports, releases and moves of pairs, dispute strikes of its clients). The decisions are
 * the services' own (AssignmentService.serveAdmit, ReportService.forwardedReport);
 * this only moves messages and checks their shape.
 */
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import type { ClusterBus } from './clusterBus.ts'
import { DIRECTORY_PART_HOSTS, directoryMessageSchema, type HostDirectory } from './hostDirectory.ts'
import { movedMessageSchema, releaseMessageSchema, remoteAdmitRequestSchema, strikeMessageSchema, type AssignmentService } from './assignments.ts'
import { forwardedReportSchema, type ReportService } from './reports.ts'
import type { SessionRegistry } from './sessions.ts'
import type { ChainHeads } from './chainHeads.ts'

export interface ClusterDeps {
  bus: ClusterBus
  directory: HostDirectory
  assignments: AssignmentService
  reports: ReportService
  sessions: SessionRegistry
  /** Siblings' hosts vote in the pool's best head: it is recomputed when their heads arrive. */
  chainHeads: Pick<ChainHeads, 'invalidate'>
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
}

export class ClusterService {
  private timer: NodeJS.Timeout | undefined
  /** sessions.version and assignments.version at the last publish: hosts came or went, or loads moved. */
  private publishedVersion = ''
  /** Numbers the lists sent in parts, so a sibling can tell one list's parts from the next's. */
  private listId = 0
  /** Parts of the last list published. */
  private lastParts = 1

  constructor(
    private readonly opts: { updateIntervalMs: number },
    private readonly deps: ClusterDeps,
  ) {}

  async start(): Promise<void> {
    const { bus, directory, assignments, reports, chainHeads, clock, log, metrics } = this.deps
    if (!bus.clustered) return
    const self = bus.replicaId
    bus.subscribe('hosts', (body) => {
      directory.accept(directoryMessageSchema.parse(body), clock.now())
      chainHeads.invalidate()
      metrics.remoteHosts.set(directory.size)
    })
    bus.serve(`admit.${self}`, (body) => assignments.serveAdmit(remoteAdmitRequestSchema.parse(body)))
    bus.subscribe(`report.${self}`, (body) => {
      reports.forwardedReport(forwardedReportSchema.parse(body)).catch((err: unknown) => log.error('forwarded report failed', {}, err))
    })
    bus.subscribe('release', (body) => {
      assignments.onReleaseMessage(releaseMessageSchema.parse(body)).catch((err: unknown) => log.error('release from a sibling failed', {}, err))
    })
    bus.subscribe('moved', (body) => assignments.onMovedMessage(movedMessageSchema.parse(body)))
    bus.subscribe('strike', (body) => assignments.onStrikeMessage(strikeMessageSchema.parse(body)))
    // Siblings hear of this replica's hosts only once it can answer admit requests for them.
    await bus.ready()
    this.publish()
    // Every interval, and sooner when hosts come or go or loads move (checked at a tenth of it, so at most ten
    // messages an interval): a new host is offered by the siblings within a tick, a full one stops being offered.
    // A list in parts goes at most once per as many ticks as it has parts (a login storm of thousands of hosts
    // changes the version every tick; siblings parse at most ten parts an interval).
    let ticks = 0
    this.timer = setInterval(
      () => {
        ticks++
        if (ticks >= 10 || (this.version() !== this.publishedVersion && ticks >= this.lastParts)) {
          ticks = 0
          this.publish()
        }
        directory.prune(clock.now())
        metrics.remoteHosts.set(directory.size)
      },
      Math.max(20, Math.floor(this.opts.updateIntervalMs / 10)),
    )
    this.timer.unref()
  }

  private version(): string {
    return `${this.deps.sessions.version}:${this.deps.assignments.version}`
  }

  /** This replica's hosts, now (also after a host moved here, before telling the siblings). */
  publish(): void {
    const { bus, assignments, clock } = this.deps
    if (!bus.clustered) return
    this.publishedVersion = this.version()
    const hosts = assignments.localDirectory(clock.now())
    const parts = Math.max(1, Math.ceil(hosts.length / DIRECTORY_PART_HOSTS))
    this.lastParts = parts
    if (parts === 1) {
      bus.publish('hosts', { replicaId: bus.replicaId, hosts })
      return
    }
    // In parts: a NATS message is at most 1 MB by default (services/hostDirectory.ts).
    const id = ++this.listId
    for (let part = 0; part < parts; part++) {
      bus.publish('hosts', { replicaId: bus.replicaId, hosts: hosts.slice(part * DIRECTORY_PART_HOSTS, (part + 1) * DIRECTORY_PART_HOSTS), list: { id, part, parts } })
    }
  }

  /**
   * Stop publishing. No empty list goes out: this replica's hosts are about to log in to siblings, and an entry
   * that ages out over three intervals gives them time to arrive before the siblings drop their clients' side of
   * the pairs (sweepRemote); an admission asked of this replica meanwhile is refused at once (no responders).
   */
  stop(): void {
    clearInterval(this.timer)
  }
}
