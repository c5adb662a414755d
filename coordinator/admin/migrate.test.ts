/**
 * `vipnode migrate` from SQLite to PostgreSQL: a pool with real metering and
 * settlement (agents on real sockets, a manual clock) is copied, both are
 * audited and compared, and a coordinator carries on from the copy.
 */
import { describe, test, expect } from 'vitest'
import pg from 'pg'
import Database from 'better-sqlite3'
import { getTableConfig as sqliteTableConfig, SQLiteTable } from 'drizzle-orm/sqlite-core'
import { is } from 'drizzle-orm'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator, tempDb } from '../../test/harness/coordinator.ts'
import { testAgent, type TestAgent } from '../../test/harness/agents.ts'
import { scratchDatabases } from '../../test/harness/postgres.ts'
import { closeAfterEach } from '../../test/harness/scratch.ts'
import * as sqliteSchema from '../store/sqlite/schema.ts'
import { openSqliteStore } from '../store/sqlite/sqliteStore.ts'
import { openPostgresStore } from '../store/postgres/postgresStore.ts'
import { audit } from './audit.ts'
import { migrateSqliteToPostgres, poolTables } from './migrate.ts'

const scratchDatabase = scratchDatabases()
const closers = closeAfterEach()
const HASH = `0x${'12'.repeat(32)}`
const INTERVAL = 10_000
const EPOCH_MS = 3_600_000

/** A SQLite pool that has served, charged, settled one epoch with payouts and started the next. */
async function servedPool(): Promise<{ db: string; hostId: string; clientIds: string[]; nowMs: number }> {
  const db = tempDb()
  const clock = manualClock(Date.UTC(2026, 0, 1))
  const c = await testCoordinator({ db, updateIntervalMs: INTERVAL, epochMs: EPOCH_MS, priceWeiPerMinute: 60_000n, trialWei: 10n ** 9n, feeBps: 500, feeAddress: `0x${'fe'.repeat(20)}` }, { clock })
  const agents: TestAgent[] = []
  const agent = async (body: Parameters<typeof testAgent>[1]) => {
    const a = await testAgent(c.url, body)
    agents.push(a)
    return a
  }
  try {
    const host = await agent({ role: 'host', payout: `0x${'a1'.repeat(20)}`, capacity: 4 })
    const clients = [await agent({ role: 'client' }), await agent({ role: 'client' })]
    for (const cl of clients) await cl.conn.call('vipnode_requestHosts', { count: 1 })
    const serve = async (steps: number) => {
      for (let i = 0; i < steps; i++) {
        clock.advance(INTERVAL / 2)
        await host.conn.call('vipnode_update', { peers: clients.map((cl) => ({ id: cl.id.nodeId, enode: cl.id.enode })), block: { number: 1, hash: HASH } })
        for (const cl of clients) await cl.conn.call('vipnode_update', { peers: [{ id: host.id.nodeId, enode: host.id.enode }], block: { number: 1, hash: HASH } })
      }
    }
    await serve(6)
    const epoch = c.services.epochs.epochOf(clock.now())
    clock.set(c.services.epochs.bounds(epoch).endMs)
    expect(await c.services.settlement.settleDue()).toEqual([epoch])
    await serve(4) // revenue of the next epoch, not settled yet
    await c.services.assignments.release(clients[1]!.id.nodeId, host.id.nodeId, 'client-gone')
    return { db, hostId: host.id.nodeId, clientIds: clients.map((cl) => cl.id.nodeId), nowMs: clock.now() }
  } finally {
    for (const a of agents) await a.close()
    await c.close()
  }
}

describe('vipnode migrate', () => {
  test('default: every table is copied with its ids, both pass the audit, balances, epochs and roots are identical, and a coordinator carries on from the copy', async () => {
    const { db, hostId, clientIds, nowMs } = await servedPool()
    const url = await scratchDatabase()
    const lines: string[] = []
    const report = await migrateSqliteToPostgres(db, url, { progress: (l) => lines.push(l) })
    expect(report.mismatches).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.source).toMatchObject({ ok: true, checked: { epochs: 1 } })
    expect(report.target).toEqual(report.source)
    expect(report.tables.every((t) => t.identical)).toBe(true)
    const rows = Object.fromEntries(report.tables.map((t) => [t.table, t.rows]))
    for (const table of ['meta', 'nodes', 'sessions', 'assignments', 'reports', 'ledger_entries', 'accounts', 'usage', 'epochs', 'epoch_payouts', 'pair_meters']) expect(rows[table], table).toBeGreaterThan(0)
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^reports: \d+\/\d+ rows$/), 'comparing every table']))

    // Read back through both stores: ids, balances, epochs with their roots and trees.
    const sqlite = openSqliteStore(db)
    const copy = await openPostgresStore(url)
    closers.push(() => sqlite.close(), () => copy.close())
    expect(await copy.latestReport(hostId as never)).toEqual(await sqlite.latestReport(hostId as never))
    expect(await copy.balancesWithPrefix('')).toEqual(await sqlite.balancesWithPrefix(''))
    expect(await copy.listEpochs()).toEqual(await sqlite.listEpochs())
    expect(await copy.activeAssignments()).toEqual(await sqlite.activeAssignments())
    expect(await copy.usage()).toEqual(expect.arrayContaining(await sqlite.usage()))
    expect(await copy.ledgerEntries({ account: `client:${clientIds[0]}` })).toEqual(await sqlite.ledgerEntries({ account: `client:${clientIds[0]}` }))
    expect(await audit(copy)).toMatchObject({ ok: true })

    // New rows continue after the copied ids.
    const maxAssignment = Math.max(...(await sqlite.activeAssignments()).map((a) => a.id), 0)
    const added = await copy.addAssignment({ clientId: clientIds[1] as never, hostId: hostId as never, kind: 'peer', assignedAtMs: Date.now() })
    expect(added.id).toBeGreaterThan(maxAssignment)
    await copy.close()

    // A coordinator on the copy, at the pool's time: same pool, same epoch length, the assignments restored.
    const c = await testCoordinator({ db: url, poolId: undefined, updateIntervalMs: INTERVAL, epochMs: EPOCH_MS }, { clock: manualClock(nowMs) })
    closers.push(() => c.close())
    expect(c.poolId).toBe('test-pool')
    expect(c.services.assignments.hostsOf(clientIds[0] as never)).toEqual([hostId])
  })

  test('error: a target that is not empty is refused with the reason and left exactly as it was', async () => {
    const { db } = await servedPool()
    const url = await scratchDatabase()
    expect((await migrateSqliteToPostgres(db, url)).ok).toBe(true)
    const count = async () => {
      const c = new pg.Client({ connectionString: url })
      await c.connect()
      const { rows } = await c.query<{ n: string }>('SELECT (SELECT count(*) FROM reports) + (SELECT count(*) FROM ledger_entries) AS n')
      await c.end()
      return rows[0]!.n
    }
    const before = await count()
    await expect(migrateSqliteToPostgres(db, url)).rejects.toThrow(/is not empty \(table \w+ has rows\): a migration only fills a new, empty database; nothing was written/)
    expect(await count()).toBe(before)
  })

  test('error: a database holding other tables is refused before anything is created in it', async () => {
    const { db } = await servedPool()
    const url = await scratchDatabase()
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    closers.push(() => c.end())
    await c.query('CREATE TABLE invoices (id int)')
    await expect(migrateSqliteToPostgres(db, url)).rejects.toThrow(/holds tables that are not a vipnode pool's \(invoices\)/)
    const { rows } = await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    expect(rows).toEqual([{ table_name: 'invoices' }])
  })

  test('error: a missing source, a URL as source, a file as target and a pool from an older release are refused', async () => {
    const url = await scratchDatabase()
    await expect(migrateSqliteToPostgres('/nonexistent/pool.db', url)).rejects.toThrow(/no pool database at \/nonexistent\/pool.db/)
    await expect(migrateSqliteToPostgres(url, url)).rejects.toThrow(/--from takes the SQLite file/)
    await expect(migrateSqliteToPostgres(tempDb(), './other.db')).rejects.toThrow(/--to must be a postgres:\/\/ or postgresql:\/\/ URL/)
    const old = tempDb()
    await openSqliteStore(old).close()
    const raw = new Database(old)
    raw.prepare('DELETE FROM __drizzle_migrations WHERE rowid = (SELECT max(rowid) FROM __drizzle_migrations)').run()
    raw.close()
    await expect(migrateSqliteToPostgres(old, url)).rejects.toThrow(/is from an older release \(\d+ of \d+ migrations\): open it once with this version/)
  })
})

test('default: the PostgreSQL schema mirrors the SQLite one, table for table and column for column', () => {
  const sqliteTables = (Object.values(sqliteSchema) as unknown[])
    .filter((t): t is SQLiteTable => is(t, SQLiteTable))
    .map((t) => sqliteTableConfig(t))
    .map((c) => ({ name: c.name, columns: c.columns.map((col) => col.name).sort() }))
    .sort((a, b) => (a.name < b.name ? -1 : 1))
  expect(poolTables().map((t) => ({ name: t.name, columns: t.columns.map((c) => c.name).sort() }))).toEqual(sqliteTables)
})
