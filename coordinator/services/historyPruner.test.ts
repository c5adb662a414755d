import { describe, test, expect } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateNodeKey, nodeIdOf } from '../../protocol/index.ts'
import { manualClock } from '../../lib/clock.ts'
import { silentLogger } from '../../lib/logger.ts'
import { openSqliteStore } from '../store/sqlite/sqliteStore.ts'
import { node } from '../store/store.suite.ts'
import { HistoryPruner } from './historyPruner.ts'
import { durationOrOff } from '../../lib/cliOptions.ts'

// --report-retention's parser (the coordinator's option table).
const parseRetentionArg = (text: string) => durationOrOff.parse(text)

const tmpFile = () => join(mkdtempSync(join(tmpdir(), 'vipnode-prune-')), 'pool.db')

describe('history pruner', () => {
  test('behavior: keeps the window and every latest report while agents report for "days", in batches no larger than asked', async () => {
    const store = openSqliteStore(tmpFile())
    const clock = manualClock(0)
    const ids = Array.from({ length: 20 }, () => nodeIdOf(generateNodeKey()))
    for (const id of ids) await store.upsertNode(node(id))
    const HOUR = 3_600_000
    // The second-to-last node holds money (a trial credit); the last one nothing.
    const funded = ids.at(-2)!
    await store.post({ id: 'trial:1', atMs: 0, memo: 'trial', entries: [{ account: 'trial-budget', amountWei: -5n }, { account: `client:${funded}`, amountWei: 5n }] })
    const pruner = new HistoryPruner({ retentionMs: 6 * HOUR, batchRows: 50, maxBatchesPerTick: 3 }, { store, clock, log: silentLogger, settledUntilMs: async () => clock.now() })
    const counts: number[] = []
    // Every node reports every 10 minutes for 2 days; the last one stops after the first hour; a pass runs each simulated report round.
    for (let at = 0; at < 48 * HOUR; at += 10 * 60_000) {
      clock.set(at)
      await Promise.all(ids.map((id, i) => (i >= ids.length - 2 && at >= HOUR ? undefined : store.recordReport({ nodeId: id, sessionId: 's', observedAtMs: at, blockNumber: at, blockHash: '0xab', peers: [] }))))
      await pruner.pass()
      counts.push((await store.historyCounts()).reports)
    }
    // 6 h of 6 rounds/h of 18 active nodes (+ up to one round of slack); never more.
    const window = 6 * 6 * 18
    expect(Math.max(...counts.slice(100))).toBeLessThanOrEqual(window + 18)
    expect(counts.at(-1)).toBeGreaterThanOrEqual(window - 18)
    expect(pruner.stats.deleted.reports).toBeGreaterThan(0)
    // The nodes that went quiet after an hour lost their history. The one holding money keeps its row and latest
    // report; the key that held nothing is forgotten once the window has passed.
    expect((await store.latestReport(funded))?.observedAtMs).toBe(50 * 60_000)
    expect(await store.reportHistory(funded, 0)).toEqual([])
    expect(await store.getNode(ids.at(-1)!)).toBeUndefined()
    expect(await store.latestReport(ids.at(-1)!)).toBeUndefined()
    expect(pruner.stats.deleted.nodes).toBe(1)
    expect((await store.historyCounts()).nodes).toBe(19)
    await store.close()
  })

  test('behavior: retention 0 leaves only each node\'s latest report', async () => {
    const store = openSqliteStore(tmpFile())
    const clock = manualClock(1_000)
    const id = nodeIdOf(generateNodeKey())
    await store.upsertNode(node(id))
    for (let i = 0; i < 30; i++) await store.recordReport({ nodeId: id, sessionId: 's', observedAtMs: i, blockNumber: i, blockHash: '0xab', peers: [] })
    // No epoch settled yet: the node may have usage still to settle, so its row stays whatever the window.
    const pruner = new HistoryPruner({ retentionMs: 0, batchRows: 7 }, { store, clock, log: silentLogger, settledUntilMs: async () => 0 })
    expect((await pruner.pass()).reports).toBe(30)
    expect((await store.historyCounts()).reports).toBe(0)
    expect((await store.latestReport(id))?.observedAtMs).toBe(29)
    await store.close()
  })

  test('behavior: charges fold only once they are past the window and an hour old, and balances never move', async () => {
    const store = openSqliteStore(tmpFile())
    const clock = manualClock(0)
    const id = nodeIdOf(generateNodeKey())
    await store.upsertNode(node(id, { role: 'client' }))
    const acct = `client:${id}`
    for (let at = 0; at < 600_000; at += 1_000) {
      await store.post({ id: `charge:r:${at}:c:h`, atMs: at, memo: 'service', entries: [{ account: acct, amountWei: -1n }, { account: 'revenue:1', amountWei: 1n }] })
    }
    const pruner = new HistoryPruner({ retentionMs: 0, batchRows: 50 }, { store, clock, log: silentLogger, settledUntilMs: async () => 0 })
    clock.set(30 * 60_000)
    expect((await pruner.pass()).folded).toBe(0)
    expect((await store.historyCounts()).ledgerEntries).toBe(1_200)
    clock.set(3_600_000 + 300_000) // the first 5 minutes of charges are an hour old
    expect((await pruner.pass()).folded).toBe(299)
    clock.set(2 * 3_600_000)
    expect((await pruner.pass()).folded).toBe(300)
    expect(await store.ledgerEntries({ account: acct })).toEqual([{ transferId: 'charge:r:0:c:h', account: acct, amountWei: -600n, atMs: 0 }])
    expect(await store.balanceOf(acct)).toBe(-600n)
    await store.close()
  })

  test('error: --report-retention takes a duration, 0 or off, and says what it wants otherwise', () => {
    expect(parseRetentionArg('7d')).toBe(7 * 86_400_000)
    expect(parseRetentionArg('0')).toBe(0)
    expect(parseRetentionArg('off')).toBeNull()
    expect(() => parseRetentionArg('forever')).toThrow(/invalid duration "forever"/)
    expect(() => parseRetentionArg('-1d')).toThrow(/invalid duration/)
  })
})
