/**
 * Session rows of coordinator processes that are gone. Each coordinator
 * process has a replica id and holds the lease `replica:<id>` for its life
 * (LeaseStore: on PostgreSQL a session advisory lock the server frees when the
 * process dies). Sessions record the replica that opened them. A starting
 * coordinator, and then the duties holder every so often, closes the open
 * sessions of every replica whose lease it can take (that one is dead), and
 * never a live sibling's. Rows from before replicas (no replica id) are closed
 * at start, as every open row was before.
 */
import type { LeaseStore, SessionStore } from '../store/store.ts'

export const replicaLeaseName = (replicaId: string) => `replica:${replicaId}`

export async function closeDeadReplicaSessions(
  store: LeaseStore & Pick<SessionStore, 'closeOpenSessions' | 'openSessionReplicas'>,
  opts: { self: string; nowMs: number; reason: string; includeLegacy: boolean },
): Promise<number> {
  let closed = 0
  for (const replica of await store.openSessionReplicas()) {
    if (replica === opts.self) continue
    if (replica === null) {
      if (opts.includeLegacy) closed += await store.closeOpenSessions(opts.nowMs, opts.reason, { replicaId: null })
      continue
    }
    const lease = await store.tryLease(replicaLeaseName(replica))
    if (!lease) continue // alive: its sessions are its own
    try {
      closed += await store.closeOpenSessions(opts.nowMs, opts.reason, { replicaId: replica })
    } finally {
      await lease.release()
    }
  }
  return closed
}
