import { describe, test, expect } from 'vitest'
import { mkdtempSync, readdirSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs'
import { drizzle } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describeStore, node } from '../store.suite.ts'
import { openSqliteStore, type SqliteStore } from './sqliteStore.ts'
import { generateNodeKey, nodeIdOf } from '../../../protocol/index.ts'

const tmpFile = () => join(mkdtempSync(join(tmpdir(), 'vipnode-store-')), 'pool.db')

describeStore('sqlite file', async () => openSqliteStore(tmpFile()), { reopen: async (closed) => openSqliteStore((closed as SqliteStore).sqlite.name) })
describeStore('sqlite :memory:', async () => openSqliteStore(':memory:'))

describe('sqlite group commit', () => {
  test('behavior: reports issued in one event-loop turn are committed together, after it, and each settles only then', async () => {
    const store = openSqliteStore(tmpFile())
    const hostId = nodeIdOf(generateNodeKey())
    await store.upsertNode(node(hostId))
    const count = () => store.sqlite.prepare('SELECT count(*) FROM reports').pluck().get()
    const settled: number[] = []
    const writes = Array.from({ length: 50 }, (_, i) =>
      store.recordReport({ nodeId: hostId, sessionId: 's', observedAtMs: i + 1, blockNumber: 1, blockHash: `0x${'ab'.repeat(32)}`, peers: [] }).then(() => settled.push(i)),
    )
    await Promise.resolve()
    expect(count()).toBe(0) // queued, not written, and nobody was told it was
    expect(settled).toEqual([])
    await Promise.all(writes)
    expect(count()).toBe(50)
    expect(settled).toEqual(Array.from({ length: 50 }, (_, i) => i))
    await store.close()
  })
})

describe('sqlite migrations', () => {
  test('behavior: a database from the first release is upgraded in place and keeps its data', async () => {
    // Build a database exactly as release 0000 left it, using only that migration.
    const path = tmpFile()
    const old = join(mkdtempSync(join(tmpdir(), 'vipnode-mig-')), 'migrations')
    const src = new URL('./migrations/', import.meta.url)
    mkdirSync(join(old, 'meta'), { recursive: true })
    const journal = JSON.parse(readFileSync(new URL('meta/_journal.json', src), 'utf8')) as { entries: { tag: string }[] }
    writeFileSync(join(old, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, 1) }))
    copyFileSync(new URL(`${journal.entries[0]!.tag}.sql`, src), join(old, `${journal.entries[0]!.tag}.sql`))
    const raw = new Database(path)
    migrate(drizzle(raw), { migrationsFolder: old })
    raw.prepare("INSERT INTO meta (key, value) VALUES ('poolId', 'kept')").run()
    raw.close()

    const store = openSqliteStore(path)
    expect(await store.getMeta('poolId')).toBe('kept')
    expect(await store.usage()).toEqual([]) // a table from a later migration now exists
    await store.close()
  })

  test('behavior: 0002 moves each node\'s latest report onto its row and drops metering state of released pairs', async () => {
    // A database as release 0001 left it: reports only in the history table, pair_meters rows of a released pair.
    const path = tmpFile()
    const old = join(mkdtempSync(join(tmpdir(), 'vipnode-mig-')), 'migrations')
    const src = new URL('./migrations/', import.meta.url)
    mkdirSync(join(old, 'meta'), { recursive: true })
    const journal = JSON.parse(readFileSync(new URL('meta/_journal.json', src), 'utf8')) as { entries: { tag: string }[] }
    writeFileSync(join(old, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, 2) }))
    for (const e of journal.entries.slice(0, 2)) copyFileSync(new URL(`${e.tag}.sql`, src), join(old, `${e.tag}.sql`))
    const [hostId, clientId, goneId] = Array.from({ length: 3 }, () => nodeIdOf(generateNodeKey()))
    const raw = new Database(path)
    migrate(drizzle(raw), { migrationsFolder: old })
    const insNode = raw.prepare("INSERT INTO nodes (node_id, role, enode, chain_id, kind, client_version, capacity, first_seen_ms, last_seen_ms) VALUES (?, 'host', 'e', 1, 'peer', 'v', 1, 1, 1)")
    for (const id of [hostId, clientId, goneId]) insNode.run(id)
    const insReport = raw.prepare("INSERT INTO reports (node_id, session_id, observed_at_ms, block_number, block_hash, peers) VALUES (?, 's', ?, ?, '0xab', ?)")
    insReport.run(hostId, 10, 1, '[]')
    insReport.run(hostId, 20, 2, JSON.stringify([clientId]))
    insReport.run(clientId, 15, 3, '[]')
    raw.prepare("INSERT INTO assignments (client_id, host_id, kind, assigned_at_ms) VALUES (?, ?, 'peer', 1)").run(clientId, hostId)
    raw.prepare("INSERT INTO assignments (client_id, host_id, kind, assigned_at_ms, released_at_ms, release_reason) VALUES (?, ?, 'peer', 1, 5, 'x')").run(goneId, hostId)
    raw.prepare('INSERT INTO pair_meters (client_id, host_id, last_corroborated_at_ms) VALUES (?, ?, 20), (?, ?, NULL)').run(clientId, hostId, goneId, hostId)
    raw.close()

    const store = openSqliteStore(path)
    expect(await store.latestReport(hostId)).toMatchObject({ observedAtMs: 20, blockNumber: 2, peers: [clientId] })
    expect(await store.latestReport(clientId)).toMatchObject({ observedAtMs: 15 })
    expect(await store.latestReport(goneId)).toBeUndefined()
    expect(await store.pairMeters()).toEqual([{ clientId, hostId, lastCorroboratedAtMs: 20 }])
    // The latest reports outlive the whole history.
    while ((await store.pruneHistory(Number.MAX_SAFE_INTEGER, 100)).reports > 0);
    expect((await store.latestReport(hostId))?.observedAtMs).toBe(20)
    await store.close()
  })

  test('default: a fresh file gets every table and WAL mode', () => {
    const path = tmpFile()
    const store = openSqliteStore(path)
    const tables = store.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()
    expect(tables).toEqual(expect.arrayContaining(['accounts', 'assignments', 'ledger_entries', 'meta', 'nodes', 'reports', 'sessions', 'pair_meters', 'usage', 'epochs', 'epoch_payouts']))
    expect(store.sqlite.pragma('journal_mode', { simple: true })).toBe('wal')
    void store.close()
  })

  test('behavior: reopening an existing file applies migrations once and keeps the data', async () => {
    const path = tmpFile()
    const id = nodeIdOf(generateNodeKey())
    const first = openSqliteStore(path)
    await first.upsertNode(node(id))
    await first.post({ id: 't', atMs: 1, memo: 'm', entries: [{ account: 'a', amountWei: -3n }, { account: 'b', amountWei: 3n }] })
    await first.close()

    const second = openSqliteStore(path)
    expect(await second.getNode(id)).toMatchObject({ nodeId: id })
    expect(await second.balanceOf('b')).toBe(3n)
    await second.close()

    const raw = new Database(path, { readonly: true })
    const applied = raw.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get()
    raw.close()
    expect(applied).toBe(readdirSync(new URL('./migrations', import.meta.url)).filter((f) => f.endsWith('.sql')).length)
  })
})
