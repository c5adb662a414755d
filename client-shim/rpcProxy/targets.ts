/**
 * The rpc hosts the pool assigned to this client, and which one to use.
 *
 * Sticky: every request goes to the host that last answered, so a light
 * client sees one consistent node (the same head, its filters) for as long as
 * that host is healthy. A host that fails (connection error, timeout, 5xx,
 * 401) loses stickiness and is tried last for `cooldownMs`; the next request
 * goes to the first host in the pool's order that has not failed lately.
 * Round robin would spread load but make consecutive reads hit nodes at
 * different heights; the pool balances load by assignment instead.
 *
 * Only a served reply makes a host sticky. A host benched by its health
 * (hostHealth.ts: too many errors or timeouts) is not contacted at all until
 * its bench ends; the shim gives it back to the pool.
 */
import type { NodeId } from '../../protocol/enode.ts'
import { HostHealth, type HostHealthPolicy, type HostOutcome } from './hostHealth.ts'

export interface RpcTarget {
  hostNodeId: NodeId
  /** The host's relay endpoint, http(s)://…; its WebSocket is the same URL as ws(s)://. */
  relayUrl: string
  /** The coordinator-issued token for this host, sent as `Authorization: Bearer <token>`. */
  token: string
}

export class RelayTargets {
  #list: RpcTarget[] = []
  readonly #byId = new Map<NodeId, RpcTarget>()
  /** Hosts that failed lately: tried only after the healthy ones. */
  readonly #failedUntil = new Map<NodeId, number>()
  #sticky: NodeId | undefined
  readonly #cooldownMs: number
  readonly health: HostHealth

  constructor(cooldownMs: number, health: Partial<HostHealthPolicy> = {}) {
    this.#cooldownMs = cooldownMs
    this.health = new HostHealth(health)
  }

  /** Install the pool's current assignment; returns the hosts that were dropped. */
  set(targets: readonly RpcTarget[]): NodeId[] {
    const next = new Map<NodeId, RpcTarget>()
    for (const t of targets) if (!next.has(t.hostNodeId)) next.set(t.hostNodeId, { ...t })
    const removed = [...this.#byId.keys()].filter((id) => !next.has(id))
    this.#byId.clear()
    for (const [id, t] of next) this.#byId.set(id, t)
    this.#list = [...next.values()]
    for (const id of removed) {
      this.#failedUntil.delete(id)
      this.health.forget(id)
    }
    if (this.#sticky && !next.has(this.#sticky)) this.#sticky = undefined
    return removed
  }

  list(): readonly RpcTarget[] {
    return this.#list
  }

  /** The current entry for a host (its latest URL and token), or undefined once it is no longer assigned. */
  current(hostNodeId: NodeId): RpcTarget | undefined {
    return this.#byId.get(hostNodeId)
  }

  /** Hosts in the order to try them now: the sticky one, healthy ones, then those that failed, the least recent failure first; never a benched one. */
  order(nowMs: number): RpcTarget[] {
    const cooling = (t: RpcTarget) => (this.#failedUntil.get(t.hostNodeId) ?? 0) > nowMs
    const usable = this.#list.filter((t) => !this.health.isBenched(t.hostNodeId, nowMs))
    const healthy = usable.filter((t) => !cooling(t))
    const sticky = healthy.find((t) => t.hostNodeId === this.#sticky)
    const rest = healthy.filter((t) => t !== sticky)
    const failed = usable.filter(cooling).sort((a, b) => this.#failedUntil.get(a.hostNodeId)! - this.#failedUntil.get(b.hostNodeId)!)
    return [...(sticky ? [sticky] : []), ...rest, ...failed]
  }

  succeeded(hostNodeId: NodeId): void {
    if (!this.#byId.has(hostNodeId)) return
    this.#failedUntil.delete(hostNodeId)
    this.#sticky = hostNodeId
  }

  /**
   * One request's outcome on a host, for its health; returns the reason when
   * this benched it. Stickiness follows service only: an error reply that is
   * not a failover (429, a JSON-RPC error) leaves it as it was.
   */
  recordOutcome(hostNodeId: NodeId, outcome: HostOutcome, nowMs: number): string | undefined {
    if (!this.#byId.has(hostNodeId)) return undefined
    const benched = this.health.record(hostNodeId, outcome, nowMs)
    if (benched !== undefined && this.#sticky === hostNodeId) this.#sticky = undefined
    return benched
  }

  /** Bench an assigned host at once (checked answers: it lied); it loses stickiness. */
  bench(hostNodeId: NodeId, reason: string, nowMs: number): void {
    if (!this.#byId.has(hostNodeId)) return
    this.health.bench(hostNodeId, reason, nowMs)
    if (this.#sticky === hostNodeId) this.#sticky = undefined
  }

  /** Assigned hosts benched now: the shim hands them back to the pool. */
  benched(nowMs: number): NodeId[] {
    return this.health.benched(nowMs).filter((id) => this.#byId.has(id))
  }

  failed(hostNodeId: NodeId, nowMs: number): void {
    if (!this.#byId.has(hostNodeId)) return
    this.#failedUntil.set(hostNodeId, nowMs + this.#cooldownMs)
    if (this.#sticky === hostNodeId) this.#sticky = undefined
  }
}

/** The relay's WebSocket URL for its HTTP URL. */
export function relayWsUrl(relayUrl: string): string {
  return relayUrl.replace(/^http(s?):\/\//i, 'ws$1://')
}
