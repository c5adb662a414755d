/**
 * The pool's view of each chain's head, against which host lag is measured.
 * Pure; time comes in as `staleBeforeMs`.
 *
 * Only hosts count, and only as a quorum: the best head is the highest head
 * that a majority of the hosts on the chain (at least two once there are two)
 * has reached. A minority of hosts, any number of clients or tracker
 * reporters, can claim any head without making an honest host look behind:
 * the statistic never exceeds the highest head of an honest majority.
 */

export interface HeadView {
  /** The best head on this chain, or undefined when no host has reported one. */
  bestHead(chainId: number): number | undefined
}

/** What a host contributes to the statistic. */
export interface HostHead {
  chainId: number
  /** 0: not reported yet. */
  blockNumber: number
  lastReportAtMs: number
}

/** How many hosts must have reached a head for it to count: all of one, two of two or three, then a strict majority. */
export function headQuorum(hosts: number): number {
  return hosts <= 1 ? hosts : Math.max(2, Math.floor(hosts / 2) + 1)
}

/** The highest head that `headQuorum(n)` of these `n` heads have reached (heads ≤ 0 are ignored). */
export function quorumOf(heads: readonly number[]): number | undefined {
  const known = heads.filter((n) => n > 0).sort((a, b) => b - a)
  return known.length === 0 ? undefined : known[headQuorum(known.length) - 1]
}

/**
 * The best head on `chainId`: the quorum head of the hosts that reported one
 * and are not stale (last report before `staleBeforeMs`; a hung node's old
 * head would hold the statistic down). None: undefined, so nobody lags.
 */
export function quorumHead(hosts: Iterable<HostHead>, chainId: number, staleBeforeMs: number | undefined): number | undefined {
  const heads: number[] = []
  for (const h of hosts) if (h.chainId === chainId && votes(h, staleBeforeMs)) heads.push(h.blockNumber)
  return quorumOf(heads)
}

/** A host's head counts toward its chain's quorum: it reported one, and not before `staleBeforeMs`. */
function votes(h: HostHead, staleBeforeMs: number | undefined): boolean {
  return h.blockNumber > 0 && (staleBeforeMs === undefined || h.lastReportAtMs >= staleBeforeMs)
}

/**
 * Every chain's quorum head in one pass over the hosts (the rules of `quorumHead`): what a view asked about many
 * chains computes once, instead of one pass over every host per chain asked.
 */
export function quorumHeads(hosts: Iterable<HostHead>, staleBeforeMs: number | undefined): Map<number, number> {
  const byChain = new Map<number, number[]>()
  for (const h of hosts) {
    if (!votes(h, staleBeforeMs)) continue
    const heads = byChain.get(h.chainId)
    if (heads) heads.push(h.blockNumber)
    else byChain.set(h.chainId, [h.blockNumber])
  }
  const out = new Map<number, number>()
  for (const [chainId, heads] of byChain) {
    const head = quorumOf(heads)
    if (head !== undefined) out.set(chainId, head)
  }
  return out
}

/**
 * A report more than `windowBlocks` (the lag limit) above the best head is
 * implausible: counted and logged. It changes nothing by itself, since a
 * minority cannot move the quorum, and it is kept as reported so that a real
 * move of the chain, seen first by one host, is followed once a quorum sees it.
 */
export function isImplausibleHead(reported: number, bestHead: number | undefined, windowBlocks: number): boolean {
  return bestHead !== undefined && reported > bestHead + windowBlocks
}

/**
 * More than `maxLag` blocks behind the best head. A host that has not reported
 * a head yet (0) is not counted as lagging: its agent reports right after
 * connecting, and if it then turns out to lag, the lag release moves its
 * clients on.
 */
export function isLagging(blockNumber: number, bestHead: number | undefined, maxLag: number): boolean {
  return blockNumber > 0 && bestHead !== undefined && bestHead - blockNumber > maxLag
}

/**
 * The head a host is judged by: its own report, or what the tracker reports
 * for the same node when that is higher (an ethstats feed can confirm that an
 * authenticated host is not behind; it never raises the best head).
 */
export function confirmedHead(reported: number, trackerHead: number | undefined): number {
  return trackerHead !== undefined && trackerHead > reported ? trackerHead : reported
}
