import { describe, test, expect } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describeStore, node } from '../store.suite.ts'
import { openSqliteStore } from './sqliteStore.ts'
import { generateNodeKey, nodeIdOf } from '../../../protocol/index.ts'

const tmpFile = () => join(mkdtempSync(join(tmpdir(), 'vipnode-store-')), 'pool.db')

describeStore('sqlite file', async () => openSqliteStore(tmpFile()))
describeStore('sqlite :memory:', async () => openSqliteStore(':memory:'))

describe('sqlite migrations', () => {
  test('default: a fresh file gets every table and WAL mode', () => {
    const path = tmpFile()
    const store = openSqliteStore(path)
    const tables = store.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()
    expect(tables).toEqual(expect.arrayContaining(['accounts', 'assignments', 'ledger_entries', 'meta', 'nodes', 'reports', 'sessions']))
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
    expect(applied).toBe(1)
  })
})
