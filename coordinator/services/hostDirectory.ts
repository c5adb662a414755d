/**
 * The host directory (docs/cluster.md): every replica publishes its own online
 * hosts on the cluster bus (`hosts`, once an update interval and when its hosts
 * change), and keeps here a mirror of its siblings' lists. The balancer reads
 * the mirror beside its local hosts; a host's replica is where the admission
 * and the pair's metering go.
 *
 * Each message is a replica's whole list: it replaces that replica's entries,
 * so a host that left a replica leaves the mirror with the next message. A
 * replica that stops publishing (it died) leaves with its entries' age: they
 * are forgotten `maxAgeMs` after they arrived (three update intervals).
 * Times travel as ages, not timestamps, so siblings' clocks need not agree.
 */
import { z } from 'zod'
import { nodeIdSchema, serviceKindSchema, type NodeId } from '../../protocol/index.ts'

export const directoryHostSchema = z.object({
  nodeId: nodeIdSchema,
  enode: z.string().max(1024),
  chainId: z.number().int(),
  kind: serviceKindSchema,
  /** Effective capacity (slow start applied) and load (assignments plus admissions in flight) on the owner. */
  capacity: z.number().int().min(0),
  load: z.number().int().min(0),
  /** The head the owner judges the host's lag by (its report, or the tracker's confirmation of it when higher). */
  blockNumber: z.number().int().min(0),
  /**
   * The head the host's agent itself reported: what every replica's best-head quorum counts (the tracker may
   * confirm a host, never raise the best head). Absent from replicas older than this field: such hosts do not vote.
   */
  reportedBlockNumber: z.number().int().min(0).optional(),
  region: z.string().max(64).nullable(),
  capabilities: z.array(z.string().max(128)).max(1024).nullable(),
  relayUrl: z.string().max(2048).nullable(),
  /** Cool-down after failed admissions on the owner, ms left; 0 when none. */
  coolingForMs: z.number().int().min(0),
  /** How long ago the host's agent last reported, at the owner. */
  lastReportAgoMs: z.number().int().min(0),
  standing: z.object({ score: z.number().min(0).max(1), probation: z.boolean(), trialOpen: z.boolean(), excluded: z.boolean() }).optional(),
})
export type DirectoryHost = z.infer<typeof directoryHostSchema>

export const directoryMessageSchema = z.object({ replicaId: z.string().min(1).max(64), hosts: z.array(directoryHostSchema).max(100_000) })
export type DirectoryMessage = z.infer<typeof directoryMessageSchema>

/** A mirrored host, with its times turned into this replica's clock. */
export interface RemoteHost extends DirectoryHost {
  replicaId: string
  receivedAtMs: number
  lastReportAtMs: number
  coolingUntilMs: number
}

export class HostDirectory {
  private readonly byHost = new Map<NodeId, RemoteHost>()
  private readonly byReplica = new Map<string, Set<NodeId>>()
  /** When each sibling's last list arrived: a sibling silent for maxAgeMs is taken for gone. */
  private readonly heardAt = new Map<string, number>()

  constructor(private readonly opts: { selfReplicaId: string; maxAgeMs: number }) {}

  /** A sibling's whole list; this replica's own messages are ignored (its hosts are local). */
  accept(message: DirectoryMessage, nowMs: number): void {
    if (message.replicaId === this.opts.selfReplicaId) return
    this.heardAt.set(message.replicaId, nowMs)
    for (const id of this.byReplica.get(message.replicaId) ?? []) {
      if (this.byHost.get(id)?.replicaId === message.replicaId) this.byHost.delete(id)
    }
    const ids = new Set<NodeId>()
    for (const h of message.hosts) {
      ids.add(h.nodeId)
      // A host that just moved may be in two replicas' lists for an interval: the newer message wins.
      this.byHost.set(h.nodeId, { ...h, replicaId: message.replicaId, receivedAtMs: nowMs, lastReportAtMs: nowMs - h.lastReportAgoMs, coolingUntilMs: h.coolingForMs > 0 ? nowMs + h.coolingForMs : 0 })
    }
    this.byReplica.set(message.replicaId, ids)
  }

  /** The mirrored host, if its entry is fresh. */
  get(hostId: NodeId, nowMs: number): RemoteHost | undefined {
    const h = this.byHost.get(hostId)
    return h && nowMs - h.receivedAtMs <= this.opts.maxAgeMs ? h : undefined
  }

  /** Fresh entries (a sibling silent for maxAgeMs is taken for dead). */
  *hosts(nowMs: number): IterableIterator<RemoteHost> {
    for (const h of this.byHost.values()) if (nowMs - h.receivedAtMs <= this.opts.maxAgeMs) yield h
  }

  /** Whether this sibling published within maxAgeMs (its hosts' pairs are its to release). */
  replicaAlive(replicaId: string, nowMs: number): boolean {
    const at = this.heardAt.get(replicaId)
    return at !== undefined && nowMs - at <= this.opts.maxAgeMs
  }

  /** Forget entries older than maxAgeMs. */
  prune(nowMs: number): void {
    for (const [replica, at] of this.heardAt) if (nowMs - at > this.opts.maxAgeMs) this.heardAt.delete(replica)
    for (const [id, h] of this.byHost) {
      if (nowMs - h.receivedAtMs <= this.opts.maxAgeMs) continue
      this.byHost.delete(id)
      const ids = this.byReplica.get(h.replicaId)
      ids?.delete(id)
      if (ids?.size === 0) this.byReplica.delete(h.replicaId)
    }
  }

  get size(): number {
    return this.byHost.size
  }
}
