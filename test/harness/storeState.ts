/**
 * What "the store did not change" means in fuzz and fault tests: every row of
 * every table of an in-process coordinator's SQLite store, digested, plus the
 * row counts and money sums a failure message can show.
 */
import { createHash } from 'node:crypto'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import type { SqliteStore } from '../../coordinator/store/sqlite/sqliteStore.ts'

export interface StoreSnapshot {
  /** Rows per table. */
  counts: Record<string, number>
  /** Sum of every ledger entry (wei, as a decimal string): 0 in a balanced ledger. */
  ledgerSum: string
  /** Metered service in ms, all pairs. */
  serviceMs: number
  /** sha256 over every row of every table. */
  digest: string
}

export function sqliteOf(c: RunningCoordinator) {
  return (c.services.store as SqliteStore).sqlite
}

export function storeSnapshot(c: RunningCoordinator): StoreSnapshot {
  const db = sqliteOf(c)
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%' ORDER BY name")
    .pluck()
    .all() as string[]
  const hash = createHash('sha256')
  const counts: Record<string, number> = {}
  for (const t of tables) {
    const rows = (db.prepare(`SELECT * FROM "${t}"`).raw().all() as unknown[]).map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).sort()
    counts[t] = rows.length
    hash.update(t).update(rows.join('\n'))
  }
  const amounts = db.prepare('SELECT amount_wei FROM ledger_entries').pluck().all() as string[]
  const ledgerSum = amounts.reduce((n, a) => n + BigInt(a), 0n).toString()
  const serviceMs = Number(db.prepare('SELECT coalesce(sum(service_ms), 0) FROM usage').pluck().get())
  return { counts, ledgerSum, serviceMs, digest: hash.digest('hex') }
}
