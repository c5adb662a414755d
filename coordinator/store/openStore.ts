/**
 * The one place that turns `--db` into a store: a postgres:// or
 * postgresql:// URL opens the PostgreSQL store, anything else is a SQLite
 * file path (or ':memory:').
 */
import { openSqliteStore } from './sqlite/sqliteStore.ts'
import { openPostgresStore, redactUrl } from './postgres/postgresStore.ts'
import type { Store } from './store.ts'

export function isPostgresUrl(db: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(db)
}

export async function openStore(db: string): Promise<Store> {
  return isPostgresUrl(db) ? openPostgresStore(db) : openSqliteStore(db)
}

/** `--db` as logs and messages may show it: a URL loses its password. */
export function describeDb(db: string): string {
  return isPostgresUrl(db) ? redactUrl(db) : db
}
