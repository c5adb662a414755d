/**
 * The tracker as a witness for hosts' heads. What ethstats reporters say is
 * only claimed, and anyone with the secret can report, so a tracker head never
 * raises the pool's best head (logic/heads.ts). It can only confirm that an
 * authenticated host is not behind: the head of the tracker node whose proven
 * node ID is that host's (the operator bound the ID to the node's name in the
 * secrets file and the node logged in with that name's own secret), while that
 * node is connected and on the host's chain. A node ID merely claimed in a
 * hello (any shared-secret login, any unbound name) confirms nothing: otherwise
 * anyone holding a secret could keep a lagging host eligible.
 */
import type { Tracker } from './trackerServer.ts'

export type TrackerHeadOf = (hostId: string, chainId: number) => number | undefined

export function trackerHeadOf(tracker: Pick<Tracker, 'nodeByNodeId'>): TrackerHeadOf {
  return (hostId, chainId) => {
    const n = tracker.nodeByNodeId(hostId)
    // nodeByNodeId answers only with proven nodes; the check is repeated here so a witness can never be a claim.
    if (!n || !n.nodeIdProven || !n.connected || !n.block || Number(n.info.net) !== chainId) return undefined
    return n.block.number
  }
}
