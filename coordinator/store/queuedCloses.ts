/**
 * Session closes are queued and written together by both stores. A close storm (a network cut, a stop: every
 * socket within a second) was one transaction (SQLite) or one round trip in the serial lane (PostgreSQL) per
 * session: at 19,936 agents `closeSession` was 43 % of the storm's CPU in a profile, holding the loop (SQLite) or
 * every report commit (PostgreSQL) behind it.
 */

/** Session closes per transaction or statement. */
export const MAX_CLOSE_BATCH = 1_000

export interface QueuedClose {
  id: string
  closedAtMs: number
  reason: string
  resolve: () => void
  reject: (err: unknown) => void
}
