/** The ethstats-compatible tracker at /api; see docs/tracker.md. */
export {
  createTracker,
  isTrackerPath,
  TrackerCloseCode,
  type Tracker,
  type TrackerOptions,
  type NodeSecret,
  type SecretEntry,
  type TrackerDeps,
  type TrackerEvents,
  type TrackerUpdate,
  type UpdateKind,
} from './trackerServer.ts'
export type { TrackedNode, TrackedBlock, TrackedStats, BestHead } from './state.ts'
export type { NodeInfo, SyncProgress } from './frames.ts'
export { buildTrackerFeed, trackerFeed, type TrackerFeed, type TrackerFeedNode } from './feed.ts'
export type { TrackerCounters, TrackerMetricsSink, DropReason, CloseReason } from './metrics.ts'
