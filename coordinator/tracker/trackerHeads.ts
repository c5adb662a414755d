/**
 * The tracker as a witness for hosts' heads. What ethstats reporters say is
 * only claimed, and anyone with the secret can report, so a tracker head never
 * raises the pool's best head (logic/heads.ts). It can only confirm that an
 * authenticated host is not behind: the head of the tracker node with that
 * host's node ID, while that node is connected and on the host's chain.
 */
import type { Tracker } from './trackerServer.ts'

export type TrackerHeadOf = (hostId: string, chainId: number) => number | undefined

export function trackerHeadOf(tracker: Pick<Tracker, 'nodeByNodeId'>): TrackerHeadOf {
  return (hostId, chainId) => {
    const n = tracker.nodeByNodeId(hostId)
    if (!n || !n.connected || !n.block || Number(n.info.net) !== chainId) return undefined
    return n.block.number
  }
}
