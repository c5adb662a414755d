/**
 * The tracker as a second source of chain heads for the load balancer. What
 * ethstats reporters say is only claimed, so a head counts only when its
 * reporter is connected, says it is on this chain (`info.net`), and the head
 * is plausible against the heads the authenticated agents report.
 */
import type { HeadView } from '../logic/heads.ts'
import { plausibleHead } from '../logic/plausibleHead.ts'
import type { Tracker } from './trackerServer.ts'

export function trackerHeads(tracker: Pick<Tracker, 'nodes'>, agentMedian: (chainId: number) => number | undefined, maxAheadBlocks: number): HeadView {
  return {
    bestHead(chainId) {
      const median = agentMedian(chainId)
      let best: number | undefined
      for (const n of tracker.nodes()) {
        if (!n.connected || !n.block || Number(n.info.net) !== chainId) continue
        const head = n.block.number
        if (plausibleHead(head, median, maxAheadBlocks) && (best === undefined || head > best)) best = head
      }
      return best
    },
  }
}
