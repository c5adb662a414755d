/**
 * The pool's view of each chain's head, against which host lag is measured.
 * Today the only source is the agents' own reports (already filtered by
 * plausibleHead); the tracker will be a second source, which is why the head
 * comes in through this small interface rather than being computed inline.
 * Pure.
 */

export interface HeadView {
  /** The best (highest trusted) head on this chain, or undefined when unknown. */
  bestHead(chainId: number): number | undefined
}

/** The highest reported head among these agents on `chainId`; 0 (not reported yet) does not count. */
export function bestReportedHead(agents: Iterable<{ chainId: number; blockNumber: number }>, chainId: number): number | undefined {
  let best: number | undefined
  for (const a of agents) if (a.chainId === chainId && a.blockNumber > 0 && (best === undefined || a.blockNumber > best)) best = a.blockNumber
  return best
}

/** The best head across several sources: each is trusted as far as its own guard goes. */
export function combineHeads(...views: readonly HeadView[]): HeadView {
  return {
    bestHead(chainId) {
      let best: number | undefined
      for (const v of views) {
        const h = v.bestHead(chainId)
        if (h !== undefined && (best === undefined || h > best)) best = h
      }
      return best
    },
  }
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
