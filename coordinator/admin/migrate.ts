/**
 * `vipnode migrate`: copy a pool from its SQLite file into a new, empty
 * PostgreSQL database, every table and row with its id, in one PostgreSQL
 * transaction (a failure leaves the target empty). The source is read in one
 * SQLite read transaction, so the copy is a consistent snapshot; stop the
 * coordinator first, or what it writes afterwards stays behind.
 *
 * Then both are checked: every table holds the same rows (count and an
 * order-independent digest of the rows), both pass the audit, and every
 * balance, epoch (root and tree included) and payout reads the same through
 * the Store interface.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import pg from 'pg'
import { is } from 'drizzle-orm'
import { PgTable, getTableConfig } from 'drizzle-orm/pg-core'
import * as pgSchema from '../store/postgres/schema.ts'
import { openPostgresStore, redactUrl } from '../store/postgres/postgresStore.ts'
import { openSqliteStore } from '../store/sqlite/sqliteStore.ts'
import { isPostgresUrl } from '../store/openStore.ts'
import type { Store } from '../store/store.ts'
import { audit, type AuditReport } from './audit.ts'

/** Rows per INSERT (and per progress line). */
const CHUNK = 5_000
const SQLITE_MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), '../store/sqlite/migrations')

interface TableSpec {
  name: string
  columns: { name: string; pgType: string }[]
  /** The column a bigserial sequence feeds, to be moved past the copied ids. */
  serial: string | undefined
}

/** The pool's tables and columns, from the PostgreSQL schema (which mirrors the SQLite one: schemaParity.test.ts). */
export function poolTables(): TableSpec[] {
  return (Object.values(pgSchema) as unknown[])
    .filter((t): t is PgTable => is(t, PgTable))
    .map((t) => {
      const config = getTableConfig(t)
      const columns = config.columns.map((c) => {
        const sqlType = c.getSQLType()
        // Arrays of a serial type do not exist: the values are int8.
        const pgType = sqlType === 'bigserial' ? 'int8' : sqlType.startsWith('numeric') ? 'numeric' : sqlType
        return { name: c.name, pgType }
      })
      return { name: config.name, columns, serial: config.columns.find((c) => c.getSQLType() === 'bigserial')?.name }
    })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
}

export interface TableCheck {
  table: string
  rows: number
  /** Same row count and the same multiset of rows on both sides. */
  identical: boolean
}

export interface MigrationReport {
  from: string
  to: string
  tables: TableCheck[]
  source: AuditReport
  target: AuditReport
  /** Balances, epochs and payouts that read differently through the two stores (empty when identical). */
  mismatches: string[]
  ok: boolean
}

export interface MigrateOptions {
  /** One line per step and per chunk copied (the command writes them to stderr). */
  progress?: (line: string) => void
}

export async function migrateSqliteToPostgres(from: string, to: string, opts: MigrateOptions = {}): Promise<MigrationReport> {
  const progress = opts.progress ?? (() => undefined)
  if (!isPostgresUrl(to)) throw new Error(`--to must be a postgres:// or postgresql:// URL, not ${to.slice(0, 200)}`)
  if (isPostgresUrl(from) || from === ':memory:' || !existsSync(from)) throw new Error(`no pool database at ${from} (--from takes the SQLite file the coordinator used as --db)`)
  const tables = poolTables()
  const target = redactUrl(to)

  const source = new Database(from, { readonly: true, fileMustExist: true })
  try {
    checkSourceIsCurrent(source, from)
    // Checked before anything is created in the target: a database holding anything else is left as it was.
    await withClient(to, (c) => refuseNonEmpty(c, tables, target))
    progress(`migrating ${target}: creating the tables`)
    await openPostgresStore(to).then((s) => s.close())
    await withClient(to, async (c) => {
      await c.query('BEGIN')
      try {
        await refuseNonEmpty(c, tables, target)
        // One snapshot of the source for the whole copy (WAL readers keep theirs until the read transaction ends).
        source.prepare('BEGIN').run()
        try {
          for (const t of tables) await copyTable(source, c, t, progress)
        } finally {
          source.prepare('COMMIT').run()
        }
        await c.query('COMMIT')
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined)
        throw err
      }
    })
    progress('comparing every table')
    const checks: TableCheck[] = []
    await withClient(to, async (c) => {
      for (const t of tables) {
        const [a, b] = [sqliteDigest(source, t), await postgresDigest(c, t)]
        checks.push({ table: t.name, rows: a.rows, identical: a.rows === b.rows && a.digest === b.digest })
      }
    })
    source.close()

    progress('auditing both and comparing balances, epochs and payouts')
    const sqliteStore = openSqliteStore(from)
    const pgStore = await openPostgresStore(to)
    try {
      const [sourceAudit, targetAudit] = [await audit(sqliteStore), await audit(pgStore)]
      const mismatches = await compareStores(sqliteStore, pgStore)
      for (const c of checks) if (!c.identical) mismatches.unshift(`table ${c.table}: the rows differ`)
      const ok = sourceAudit.ok && targetAudit.ok && mismatches.length === 0
      return { from, to: target, tables: checks, source: sourceAudit, target: targetAudit, mismatches, ok }
    } finally {
      await sqliteStore.close()
      await pgStore.close()
    }
  } finally {
    if (source.open) source.close()
  }
}

function checkSourceIsCurrent(source: Database.Database, from: string): void {
  const shipped = readdirSync(SQLITE_MIGRATIONS).filter((f) => f.endsWith('.sql')).length
  let applied: number
  try {
    applied = source.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get() as number
  } catch {
    throw new Error(`${from} is not a vipnode pool database (no migrations table)`)
  }
  if (applied < shipped) {
    throw new Error(`${from} is from an older release (${applied} of ${shipped} migrations): open it once with this version (vipnode audit --db ${from}) to upgrade it, then migrate`)
  }
  if (applied > shipped) throw new Error(`${from} is from a newer release (${applied} migrations, this version knows ${shipped}): migrate with that release`)
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  try {
    await client.connect()
  } catch (err) {
    throw new Error(`cannot connect to ${redactUrl(url)}: ${(err as Error).message}`, { cause: err })
  }
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** A migration only fills a new database: no table of anybody else's, no row in ours. */
async function refuseNonEmpty(c: pg.Client, tables: readonly TableSpec[], target: string): Promise<void> {
  const ours = new Set(tables.map((t) => t.name))
  const { rows } = await c.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1")
  const foreign = rows.map((r) => r.table_name).filter((n) => !ours.has(n))
  if (foreign.length > 0) throw new Error(`${target} holds tables that are not a vipnode pool's (${foreign.slice(0, 5).join(', ')}): migrate into a new, empty database`)
  for (const { table_name: name } of rows) {
    const { rows: any } = await c.query(`SELECT 1 FROM "${name}" LIMIT 1`)
    if (any.length > 0) throw new Error(`${target} is not empty (table ${name} has rows): a migration only fills a new, empty database; nothing was written`)
  }
}

/** SQLite values as PostgreSQL takes them in a text-cast array: integers exact (read as bigint), amounts as their decimal text. */
const asParam = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'bigint' || typeof v === 'number' ? v.toString() : String(v))

async function copyTable(source: Database.Database, c: pg.Client, t: TableSpec, progress: (line: string) => void): Promise<void> {
  const names = t.columns.map((col) => `"${col.name}"`).join(', ')
  const total = Number(source.prepare(`SELECT count(*) FROM "${t.name}"`).pluck().get())
  const insert = `INSERT INTO "${t.name}" (${names}) SELECT * FROM unnest(${t.columns.map((col, i) => `$${i + 1}::${col.pgType}[]`).join(', ')})`
  const rows = source.prepare(`SELECT ${names} FROM "${t.name}" ORDER BY rowid`).raw().safeIntegers(true)
  let chunk: unknown[][] = []
  let done = 0
  const flush = async () => {
    if (chunk.length === 0) return
    try {
      await c.query(insert, t.columns.map((_, i) => chunk.map((row) => asParam(row[i]))))
    } catch (err) {
      throw new Error(`copying ${t.name} failed near row ${done + 1}: ${(err as Error).message}; nothing was written`, { cause: err })
    }
    done += chunk.length
    chunk = []
    progress(`${t.name}: ${done}/${total} rows`)
  }
  for (const row of rows.iterate() as Iterable<unknown[]>) {
    chunk.push(row)
    if (chunk.length >= CHUNK) await flush()
  }
  await flush()
  if (total === 0) progress(`${t.name}: 0 rows`)
  // New rows continue after the copied ids.
  if (t.serial) await c.query(`SELECT setval(pg_get_serial_sequence('"${t.name}"', '${t.serial}'), coalesce((SELECT max("${t.serial}") FROM "${t.name}"), 0) + 1, false)`)
}

/**
 * A table's rows as a multiset: the sum of each row's sha256 (mod 2^256) over
 * its values as text, so both databases can be read in any order.
 */
class RowDigest {
  rows = 0
  private sum = 0n
  add(values: readonly unknown[]): void {
    this.rows++
    const h = createHash('sha256').update(JSON.stringify(values.map(asParam))).digest('hex')
    this.sum = (this.sum + BigInt(`0x${h}`)) % 2n ** 256n
  }
  get digest(): string {
    return this.sum.toString(16)
  }
}

function sqliteDigest(source: Database.Database, t: TableSpec): RowDigest {
  const d = new RowDigest()
  const names = t.columns.map((col) => `"${col.name}"`).join(', ')
  for (const row of source.prepare(`SELECT ${names} FROM "${t.name}"`).raw().safeIntegers(true).iterate() as Iterable<unknown[]>) d.add(row)
  return d
}

async function postgresDigest(c: pg.Client, t: TableSpec): Promise<RowDigest> {
  const d = new RowDigest()
  const names = t.columns.map((col) => `"${col.name}"::text`).join(', ')
  // A cursor: a big table is read in chunks, never whole.
  await c.query('BEGIN')
  try {
    await c.query(`DECLARE rows NO SCROLL CURSOR FOR SELECT ${names} FROM "${t.name}"`)
    for (;;) {
      const { rows } = await c.query({ text: `FETCH ${CHUNK} FROM rows`, rowMode: 'array' })
      for (const row of rows as unknown[][]) d.add(row)
      if (rows.length < CHUNK) break
    }
  } finally {
    await c.query('COMMIT')
  }
  return d
}

/** What the coordinator reads: every balance, every epoch with its root and tree, every payout. */
async function compareStores(a: Store, b: Store): Promise<string[]> {
  const problems: string[] = []
  const [balancesA, balancesB] = [await a.balancesWithPrefix(''), await b.balancesWithPrefix('')]
  for (const account of new Set([...balancesA.keys(), ...balancesB.keys()])) {
    if (balancesA.get(account) !== balancesB.get(account)) problems.push(`balance of ${account}: ${balancesA.get(account)} wei in SQLite, ${balancesB.get(account)} wei in PostgreSQL`)
  }
  if ((await a.sumAll()) !== (await b.sumAll())) problems.push('the ledgers sum differently')
  const [epochsA, epochsB] = [await a.listEpochs(), await b.listEpochs()]
  if (epochsA.length !== epochsB.length) problems.push(`${epochsA.length} epochs in SQLite, ${epochsB.length} in PostgreSQL`)
  for (const ea of epochsA) {
    const eb = epochsB.find((e) => e.epoch === ea.epoch)
    if (!eb) continue
    if (ea.root !== eb.root) problems.push(`epoch ${ea.epoch}: root ${ea.root} in SQLite, ${eb.root} in PostgreSQL`)
    if (stringify(ea) !== stringify(eb)) problems.push(`epoch ${ea.epoch}: the records differ`)
    if (stringify(await a.epochPayouts(ea.epoch)) !== stringify(await b.epochPayouts(ea.epoch))) problems.push(`epoch ${ea.epoch}: the payouts differ`)
  }
  return problems
}

const stringify = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x))
