/**
 * Stickiness: which hosts served a client until recently. A client that comes
 * back (a restarted node, a shim that lost its connection for longer than the
 * grace period) is given those hosts again when they are still eligible: both
 * nodes may still know each other, and the client keeps peers it has already
 * synced headers from. In memory only and bounded; time comes in.
 */
import type { NodeId } from '../../protocol/index.ts'

export interface RecentPairsOptions {
  /** How long a released pair is remembered. */
  ttlMs: number
  /** Most hosts remembered per client (the newest win). */
  perClient: number
  /** Most clients remembered; beyond it the least recently released are forgotten. */
  maxClients: number
}

export class RecentPairs {
  /** client -> host -> released at; Map order is insertion order, which keeps the oldest first. */
  private readonly byClient = new Map<NodeId, Map<NodeId, number>>()

  constructor(private readonly opts: RecentPairsOptions) {}

  remember(clientId: NodeId, hostId: NodeId, atMs: number): void {
    let hosts = this.byClient.get(clientId)
    if (hosts) this.byClient.delete(clientId) // re-inserted below: most recent last
    else hosts = new Map()
    hosts.delete(hostId)
    hosts.set(hostId, atMs)
    while (hosts.size > this.opts.perClient) hosts.delete(hosts.keys().next().value!)
    this.byClient.set(clientId, hosts)
    while (this.byClient.size > this.opts.maxClients) this.byClient.delete(this.byClient.keys().next().value!)
  }

  /** Hosts released from this client within the TTL. */
  recent(clientId: NodeId | undefined, nowMs: number): Set<NodeId> {
    const out = new Set<NodeId>()
    if (clientId === undefined) return out
    for (const [hostId, at] of this.byClient.get(clientId) ?? []) if (nowMs - at < this.opts.ttlMs) out.add(hostId)
    return out
  }

  /** Forget everything remembered for this client. */
  forget(clientId: NodeId): void {
    this.byClient.delete(clientId)
  }

  /** Forget what is older than the TTL. */
  prune(nowMs: number): void {
    for (const [clientId, hosts] of this.byClient) {
      for (const [hostId, at] of hosts) if (nowMs - at >= this.opts.ttlMs) hosts.delete(hostId)
      if (hosts.size === 0) this.byClient.delete(clientId)
    }
  }

  get size(): number {
    return this.byClient.size
  }
}
