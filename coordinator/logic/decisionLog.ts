/**
 * The last few assignment decisions and, per host, why it was last passed
 * over: what the dashboard shows to answer "why did my host get no clients?"
 * and "why did this client get no hosts?". Bounded memory; time comes in.
 */
import type { NodeId, ServiceKind } from '../../protocol/index.ts'
import type { Rejection, SkipReason } from './selectHosts.ts'

export interface Decision {
  atMs: number
  /** `rpc`: vipnode_requestHosts (admits); `http`: GET /v1/bootstrap (a preview, admits nothing). */
  source: 'rpc' | 'http'
  clientId: NodeId | null
  chainId: number
  kind: ServiceKind
  requested: number
  /** Hosts the client already had and kept. */
  kept: NodeId[]
  /** Hosts newly admitted (rpc) or offered (http). */
  added: NodeId[]
  /** Hosts asked to admit that refused or timed out. */
  failed: NodeId[]
  /** Every other host, with the reason it was passed over (from the last round that considered it). */
  skipped: Rejection[]
  /** Selection rounds run (more than one when admissions failed and were retried elsewhere). */
  rounds: number
  /** What the client was told when it got fewer hosts than it asked for. */
  message?: string
}

export interface HostSkip {
  reason: SkipReason
  atMs: number
  clientId: NodeId | null
}

export class DecisionLog {
  private readonly ring: Decision[] = []
  private readonly lastSkip = new Map<NodeId, HostSkip>()

  constructor(private readonly capacity: number) {}

  record(d: Decision): void {
    this.ring.push(d)
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity)
    for (const s of d.skipped) this.lastSkip.set(s.nodeId, { reason: s.reason, atMs: d.atMs, clientId: d.clientId })
    for (const id of d.added) this.lastSkip.delete(id)
    for (const id of d.failed) this.lastSkip.set(id, { reason: 'admit-failed', atMs: d.atMs, clientId: d.clientId })
  }

  /** Newest first. */
  recent(limit = this.capacity): Decision[] {
    return this.ring.slice(-limit).reverse()
  }

  /** Why this host was last passed over; undefined if it was chosen since, or never skipped. */
  skipOf(hostId: NodeId): HostSkip | undefined {
    return this.lastSkip.get(hostId)
  }

  /** Hosts with a remembered skip reason. */
  get skipCount(): number {
    return this.lastSkip.size
  }

  /** Drop per-host entries older than `beforeMs` (hosts long gone would otherwise stay forever). */
  prune(beforeMs: number): void {
    for (const [id, s] of this.lastSkip) if (s.atMs < beforeMs) this.lastSkip.delete(id)
  }
}
