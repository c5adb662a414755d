/**
 * Per-host health for the rpc proxy: a host that answers with errors or not
 * at all is benched, so the light client moves to another host, and the shim
 * gives the benched host back to the pool (`replace` in vipnode_requestHosts).
 * Without it, a relay answering every call with 429 stays the sticky host
 * (a 429 is an answer, not a failover) and the light client gets nothing
 * (issue 16, attack 9).
 *
 * Each relayed request is one outcome (agent/relay/replyVerdict.ts: served if
 * any call got a result, else the host's fault if any call was, else the
 * client's). Over the last `window` outcomes of a host, once it has had
 * `minAttempts`, it is benched for `benchMs` when
 * - at least `maxFaultShare` of them were its fault (errors and timeouts), or
 * - none was served (whoever is to blame, another host costs nothing to try,
 *   and a host that dresses refusals up as the client's mistake is caught), or
 * - `maxConsecutiveTimeouts` requests in a row got no answer in time, or
 * - at once, when its relay's name resolved to a non-public address
 *   (`refused`: relayAddresses.ts; DNS rebinding, or a name that points into
 *   the client's own network). Nothing was sent; the host is handed back.
 * When the bench ends the host is on probation: its window starts empty, and
 * its first fault before a served request benches it again at once.
 */
import type { NodeId } from '../../protocol/enode.ts'

export type HostOutcome = 'served' | 'client-error' | 'host-error' | 'timeout' | 'refused'

const isFault = (o: HostOutcome): boolean => o === 'host-error' || o === 'timeout' || o === 'refused'

/** The bench reason for a host whose relay name resolved to a non-public address. */
export const REFUSED_ADDRESS_REASON = 'its relay name resolves to a non-public address'

export interface HostHealthPolicy {
  window: number
  minAttempts: number
  /** 0..1: the share of host faults in the window that benches. */
  maxFaultShare: number
  maxConsecutiveTimeouts: number
  benchMs: number
}

export const DEFAULT_HOST_HEALTH: HostHealthPolicy = { window: 20, minAttempts: 10, maxFaultShare: 0.5, maxConsecutiveTimeouts: 3, benchMs: 10 * 60_000 }

interface State {
  outcomes: HostOutcome[]
  timeoutsInRow: number
  benchedUntil: number
  probation: boolean
  /** Why it was benched last, for logs and the -32002 message. */
  reason: string | undefined
}

export class HostHealth {
  readonly #hosts = new Map<NodeId, State>()
  readonly #policy: HostHealthPolicy

  constructor(policy: Partial<HostHealthPolicy> = {}) {
    this.#policy = { ...DEFAULT_HOST_HEALTH, ...policy }
  }

  #state(host: NodeId): State {
    let s = this.#hosts.get(host)
    if (!s) {
      s = { outcomes: [], timeoutsInRow: 0, benchedUntil: 0, probation: false, reason: undefined }
      this.#hosts.set(host, s)
    }
    return s
  }

  /** Record one request's outcome; returns the reason when this benched the host. */
  record(host: NodeId, outcome: HostOutcome, nowMs: number): string | undefined {
    const p = this.#policy
    const s = this.#state(host)
    if (s.benchedUntil > nowMs) return undefined // a request that started before the bench: already judged
    if (s.benchedUntil > 0) {
      // The bench is over: probation with a clean slate.
      s.benchedUntil = 0
      s.probation = true
      s.outcomes = []
      s.timeoutsInRow = 0
    }
    s.outcomes.push(outcome)
    if (s.outcomes.length > p.window) s.outcomes.shift()
    s.timeoutsInRow = outcome === 'timeout' ? s.timeoutsInRow + 1 : 0
    const fault = isFault(outcome)
    if (outcome === 'served') s.probation = false

    let reason: string | undefined
    if (outcome === 'refused') reason = REFUSED_ADDRESS_REASON
    else if (s.probation && fault) reason = 'failed again on probation'
    else if (s.timeoutsInRow >= p.maxConsecutiveTimeouts) reason = `${s.timeoutsInRow} requests in a row got no answer in time`
    else if (s.outcomes.length >= p.minAttempts) {
      const faults = s.outcomes.filter(isFault).length
      const served = s.outcomes.filter((o) => o === 'served').length
      if (faults >= p.maxFaultShare * s.outcomes.length) reason = `${faults} of its last ${s.outcomes.length} requests failed on its side`
      else if (served === 0) reason = `none of its last ${s.outcomes.length} requests was served`
    }
    if (reason === undefined) return undefined
    s.benchedUntil = nowMs + p.benchMs
    s.probation = false
    s.reason = reason
    return reason
  }

  /** Bench a host at once, for a reason found outside its outcomes (checked answers: it answered against the majority). */
  bench(host: NodeId, reason: string, nowMs: number): void {
    const s = this.#state(host)
    s.benchedUntil = nowMs + this.#policy.benchMs
    s.probation = false
    s.reason = reason
  }

  isBenched(host: NodeId, nowMs: number): boolean {
    return (this.#hosts.get(host)?.benchedUntil ?? 0) > nowMs
  }

  /** Why the host is benched now, or undefined. */
  benchReason(host: NodeId, nowMs: number): string | undefined {
    return this.isBenched(host, nowMs) ? this.#hosts.get(host)!.reason : undefined
  }

  /** Hosts benched now. */
  benched(nowMs: number): NodeId[] {
    return [...this.#hosts].filter(([, s]) => s.benchedUntil > nowMs).map(([id]) => id)
  }

  /** The pool no longer assigns it: start afresh if it ever comes back. */
  forget(host: NodeId): void {
    this.#hosts.delete(host)
  }
}
