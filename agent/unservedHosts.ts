/**
 * Hosts the pool vouched for that never served this client: a peer host that
 * never appeared among the client node's peers within the grace after it was
 * assigned. The shim hands them back with `replace` in its next
 * vipnode_requestHosts, so the pool releases the pair (client-replaced),
 * avoids it for this client for a while, and gives another host (issue 16,
 * attack 1: a host that admits a client but never serves it must not keep
 * it). A host that served once and later went missing is not "never served":
 * the pool's dispute rule handles that pair.
 */
import type { NodeId } from '../protocol/enode.ts'
import { systemClock, type Clock } from '../lib/clock.ts'

/** The least grace a new pair gets: a real node needs time to dial, handshake and sync status. */
export const MIN_UNSERVED_GRACE_MS = 30_000

/** max(2 update intervals, 30 s): the same grace the coordinator gives a new pair before it calls it disputed. */
export function unservedGraceMs(updateIntervalMs: number): number {
  return Math.max(2 * updateIntervalMs, MIN_UNSERVED_GRACE_MS)
}

export class UnservedHosts {
  /** Vouched hosts not seen yet: since when they were assigned. */
  readonly #waiting = new Map<NodeId, number>()
  /** Vouched hosts that served at least once while assigned. */
  readonly #served = new Set<NodeId>()
  readonly #clock: Clock

  constructor(clock: Clock = systemClock) {
    this.#clock = clock
  }

  /**
   * One report's view: the hosts the pool vouches for and the ones the node
   * is peered with. Returns the vouched hosts that have not served within
   * `graceMs` of being assigned.
   */
  observe(vouched: Iterable<NodeId>, serving: ReadonlySet<NodeId>, graceMs: number): NodeId[] {
    const now = this.#clock.now()
    const current = new Set(vouched)
    for (const id of this.#waiting.keys()) if (!current.has(id)) this.#waiting.delete(id)
    for (const id of this.#served) if (!current.has(id)) this.#served.delete(id)
    const unserved: NodeId[] = []
    for (const id of current) {
      if (this.#served.has(id)) continue
      if (serving.has(id)) {
        this.#served.add(id)
        this.#waiting.delete(id)
        continue
      }
      const since = this.#waiting.get(id)
      if (since === undefined) this.#waiting.set(id, now)
      else if (now - since >= graceMs) unserved.push(id)
    }
    return unserved
  }

  /** Handed back to the pool: start afresh if it is ever assigned again. */
  forget(ids: Iterable<NodeId>): void {
    for (const id of ids) {
      this.#waiting.delete(id)
      this.#served.delete(id)
    }
  }
}
