/**
 * Disputes: an assigned pair that does not corroborate in time. Metering
 * already refuses to bill a pair that only one side confirms; this decides
 * when such a pair stops holding its slot (and the host's trust or relay
 * token), and which side is to blame. Pure: time and evidence come in.
 *
 * A new pair gets `connectGraceMs` (the time real nodes need to find each
 * other). Once corroborated, a pair must corroborate again within `gapMs`,
 * which the caller sets so that one missed report is survived and two are not.
 * When the deadline passes, the latest reports of both sides say what kind of
 * dispute it is and who, if anyone, is at fault:
 *
 * - client-silent: the client sent no report since the pair's clock started
 *   (or for longer than `silentMs`). Its own silence: at fault, whatever the host says.
 * - client-denies: the host lists the client, the client does not list the
 *   host. The free ride: a client that takes service and denies it.
 * - host-silent: the host sent no report lately; the stale rule deals with
 *   the host, the pair just ends.
 * - host-denies: the client lists the host, the host does not list the
 *   client. A host gains nothing by denying service it would be paid for,
 *   and a client cannot list a host its node never completed a handshake
 *   with, so the likely story is a client claiming what did not happen; but
 *   one side's word against the other's proves nothing: nobody is blamed.
 * - never-connected: neither lists the other (a host that admits and never
 *   serves, or a client that never dials). Nobody is blamed; the pair is
 *   released and not offered again, and slow start keeps a host that never
 *   serves small.
 * - too-rare: both list each other but their reports are never close
 *   enough in time to corroborate; the side that reports less often is at fault.
 *
 * A party is only ever blamed on the word of a counterpart that has proven
 * itself (corroborated service with someone right now): node keys are free,
 * and a fresh key's claim must not cost anyone anything.
 */
import type { NodeId } from '../../protocol/index.ts'

export type DisputeKind = 'client-silent' | 'host-silent' | 'client-denies' | 'host-denies' | 'never-connected' | 'too-rare'

export interface DisputePolicy {
  /** A new pair has this long to corroborate for the first time. */
  connectGraceMs: number
  /** A corroborated pair must corroborate again within this long. */
  gapMs: number
  /** A side whose latest report is older than this is silent. */
  silentMs: number
}

/** One side's latest report, as metering keeps it. */
export interface SideReport {
  atMs: number
  peers: ReadonlySet<NodeId>
}

export interface PairEvidence {
  clientId: NodeId
  hostId: NodeId
  /** When the pair's clock started: its assignment, or the end of the start-up grace for pairs loaded at start. */
  sinceMs: number
  /** The pair's latest corroborated observation, if any since `sinceMs`. */
  corroboratedAtMs: number | undefined
  client: SideReport | undefined
  host: SideReport | undefined
}

export interface Dispute {
  kind: DisputeKind
  /** The side to blame, before the standing rule (see `blamed`). */
  atFault: 'client' | 'host' | undefined
}

/**
 * The policy for a pool reporting every `updateIntervalMs`. A corroborated
 * pair gets 2.5 intervals, so one missed report is survived and two are not;
 * a side silent for longer than the metering cap (two intervals) is silent;
 * a new pair gets three intervals, at least 15 s (real nodes take seconds to
 * dial and handshake), unless the operator says otherwise.
 */
export function disputePolicyFor(config: { updateIntervalMs: number; connectGraceMs?: number | undefined }): DisputePolicy {
  const interval = config.updateIntervalMs
  return { connectGraceMs: config.connectGraceMs ?? Math.max(3 * interval, 15_000), gapMs: 2.5 * interval, silentMs: 2 * interval }
}

/** When the pair must have corroborated (again) by. */
export function deadlineOf(e: Pick<PairEvidence, 'sinceMs' | 'corroboratedAtMs'>, policy: DisputePolicy): number {
  return e.corroboratedAtMs !== undefined && e.corroboratedAtMs >= e.sinceMs ? e.corroboratedAtMs + policy.gapMs : e.sinceMs + policy.connectGraceMs
}

/** The dispute this pair is in at `nowMs`, or undefined while it is within its deadline. */
export function judgePair(e: PairEvidence, nowMs: number, policy: DisputePolicy): Dispute | undefined {
  if (nowMs < deadlineOf(e, policy)) return undefined
  const since = Math.max(e.sinceMs, e.corroboratedAtMs ?? -Infinity)
  const silent = (r: SideReport | undefined) => r === undefined || r.atMs < since || nowMs - r.atMs > policy.silentMs
  if (silent(e.client)) return { kind: 'client-silent', atFault: 'client' }
  // A silent host is the stale rule's business (it cools the host down and moves all its clients); here the pair just ends.
  if (silent(e.host)) return { kind: 'host-silent', atFault: undefined }
  const clientLists = e.client!.peers.has(e.hostId)
  const hostLists = e.host!.peers.has(e.clientId)
  if (hostLists && !clientLists) return { kind: 'client-denies', atFault: 'client' }
  if (clientLists && !hostLists) return { kind: 'host-denies', atFault: undefined }
  if (!clientLists && !hostLists) return { kind: 'never-connected', atFault: undefined }
  // Both list each other and still nothing corroborated: the reports never came close enough in time.
  return { kind: 'too-rare', atFault: e.client!.atMs <= e.host!.atMs ? 'client' : 'host' }
}

/**
 * Who is struck for a dispute: the side at fault, but only on the word of a
 * proven counterpart; a client's own silence needs nobody's word.
 */
export function blamed(d: Dispute, proven: { client: boolean; host: boolean }): 'client' | 'host' | undefined {
  if (d.atFault === undefined) return undefined
  if (d.kind === 'client-silent') return 'client'
  const counterpartProven = d.atFault === 'client' ? proven.host : proven.client
  return counterpartProven ? d.atFault : undefined
}

/**
 * Slow start: the slots a host is offered. A declared capacity is only a
 * claim; a host starts with `initialSlots` and earns two more for every
 * client it is serving with corroborated service, up to what it declared.
 * A host that never serves stays at `initialSlots`; one that serves grows
 * within a few update intervals. `initialSlots` 0 turns slow start off.
 */
export function effectiveCapacity(declared: number, corroboratedClients: number, initialSlots: number): number {
  if (initialSlots <= 0) return declared
  return Math.min(declared, initialSlots + 2 * corroboratedClients)
}
