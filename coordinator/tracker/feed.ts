/**
 * The JSON the dashboard polls for the tracker panel: one row per node with
 * what an operator looks at first. Pure over a snapshot, so it is trivially
 * testable and never holds references into the tracker's state.
 */
import type { BestHead, TrackedNode } from './state.ts'
import type { Tracker } from './trackerServer.ts'

export interface TrackerFeedNode {
  name: string
  /**
   * The node's devp2p node ID, when the tracker knows one: proven (bound to the name in the secrets file) when
   * nodeIdProven, else only what the reporter claimed (anyone may claim any ID).
   */
  nodeId: string | null
  nodeIdProven: boolean
  /** The node software (hello `info.node`), e.g. "Geth/v1.14.0-stable/linux-amd64/go1.22.2". */
  client: string
  network: string
  connected: boolean
  blockNumber: number | null
  blockHash: string | null
  /** best head − this node's block; null when either is unknown. */
  lag: number | null
  latencyMs: number | null
  /** Peer count the node reports in stats. */
  peerCount: number | null
  /** Peers listed through the pool `peers` extension; null when the node does not send it. */
  poolPeerIds: number | null
  syncing: boolean | null
  pending: number | null
  lastSeenMs: number
  lastSeenAgoMs: number
  connectedAtMs: number
}

export interface TrackerFeed {
  generatedAtMs: number
  bestHead: BestHead | null
  connected: number
  nodes: TrackerFeedNode[]
}

export function buildTrackerFeed(nodes: readonly TrackedNode[], bestHead: BestHead | undefined, nowMs: number): TrackerFeed {
  return {
    generatedAtMs: nowMs,
    bestHead: bestHead ? { ...bestHead } : null,
    connected: nodes.filter((n) => n.connected).length,
    nodes: nodes.map((n) => ({
      name: n.name,
      nodeId: n.nodeId,
      nodeIdProven: n.nodeIdProven,
      client: n.info.node || n.info.client,
      network: n.info.net,
      connected: n.connected,
      blockNumber: n.block?.number ?? null,
      blockHash: n.block?.hash ?? null,
      lag: bestHead && n.block ? Math.max(0, bestHead.number - n.block.number) : null,
      latencyMs: n.latencyMs,
      peerCount: n.stats?.peers ?? null,
      poolPeerIds: n.peers ? n.peers.length : null,
      syncing: n.stats ? n.stats.syncing : null,
      pending: n.pending,
      lastSeenMs: n.lastSeenMs,
      lastSeenAgoMs: Math.max(0, nowMs - n.lastSeenMs),
      connectedAtMs: n.connectedAtMs,
    })),
  }
}

/** The feed for a live tracker. */
export function trackerFeed(tracker: Pick<Tracker, 'nodes' | 'bestHead'>, nowMs: number = Date.now()): TrackerFeed {
  return buildTrackerFeed(tracker.nodes(), tracker.bestHead(), nowMs)
}
