/**
 * The host directory (docs/cluster.md): every replica publishes its own online
 * hosts on the cluster bus (`hosts`, once an update interval and when its hosts
 * change), and keeps here a mirror of its siblings' lists. The balancer reads
 * the mirror beside its local hosts; a host's replica is where the admission
 * and the pair's metering go.
 *
 * A replica's whole list replaces that replica's entries, so a host that left
 * a replica leaves the mirror with the next list. A list longer than
 * DIRECTORY_PART_HOSTS goes in parts (a NATS message is at most 1 MB by
 * default: about 2,000 hosts); each part's hosts are mirrored as they arrive,
 * and the hosts missing from a complete list are dropped when its last part
 * is in (a list with a part lost drops nobody: its absentees age out). A
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

/** Hosts per directory message: about 510 bytes each, so a part stays near half a NATS message's default limit. */
export const DIRECTORY_PART_HOSTS = 1_000

export const directoryMessageSchema = z.object({
  replicaId: z.string().min(1).max(64),
  hosts: z.array(directoryHostSchema).max(100_000),
  /** A list sent in parts (absent: the whole list in one message): which list, which part of how many. */
  list: z
    .object({ id: z.number().int().min(0), part: z.number().int().min(0), parts: z.number().int().min(1).max(1_000) })
    .refine((l) => l.part < l.parts, { message: 'part must be below parts' })
    .optional(),
})
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
  /** A sibling's list arriving in parts: the hosts and parts seen so far. */
  private readonly partial = new Map<string, { id: number; hosts: Set<NodeId>; parts: Set<number> }>()

  constructor(private readonly opts: { selfReplicaId: string; maxAgeMs: number }) {}

  /** A sibling's whole list; this replica's own messages are ignored (its hosts are local). */
  accept(message: DirectoryMessage, nowMs: number): void {
    const replica = message.replicaId
    if (replica === this.opts.selfReplicaId) return
    this.heardAt.set(replica, nowMs)
    const known = this.byReplica.get(replica) ?? new Set<NodeId>()
    this.byReplica.set(replica, known)
    for (const h of message.hosts) {
      known.add(h.nodeId)
      // A host that just moved may be in two replicas' lists for an interval: the newer message wins.
      this.byHost.set(h.nodeId, { ...h, replicaId: replica, receivedAtMs: nowMs, lastReportAtMs: nowMs - h.lastReportAgoMs, coolingUntilMs: h.coolingForMs > 0 ? nowMs + h.coolingForMs : 0 })
    }
    let complete: Set<NodeId> | undefined
    if (!message.list || message.list.parts === 1) complete = new Set(message.hosts.map((h) => h.nodeId))
    else {
      const { id, part, parts } = message.list
      let p = this.partial.get(replica)
      if (!p || p.id !== id) this.partial.set(replica, (p = { id, hosts: new Set(), parts: new Set() }))
      for (const h of message.hosts) p.hosts.add(h.nodeId)
      p.parts.add(part)
      if (p.parts.size >= parts) {
        complete = p.hosts
        this.partial.delete(replica)
      }
    }
    if (!complete) return
    // The whole list is in: the replica's hosts missing from it left.
    for (const id of known) {
      if (complete.has(id)) continue
      known.delete(id)
      if (this.byHost.get(id)?.replicaId === replica) this.byHost.delete(id)
    }
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
    for (const [replica, at] of this.heardAt) {
      if (nowMs - at <= this.opts.maxAgeMs) continue
      this.heardAt.delete(replica)
      this.partial.delete(replica)
    }
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
