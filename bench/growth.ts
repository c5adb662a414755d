/**
 * Bounded growth (issue 18): does the database and the process memory stay
 * bounded while reports arrive at 5,000/s for a long time?
 *
 *   npm run bench:growth -- [--agents 5000] [--seconds 120] [--retention 20]
 *
 * Accelerated, not a 24-hour run: a manual clock moves one simulated second
 * per round; each round writes one report per agent through the real SQLite
 * store (group commit, the same rows the coordinator writes: 3 peers per
 * report, the latest report on the node row) and then runs one pass of the
 * real HistoryPruner, as its 1-second timer would. `--retention` is the
 * simulated dispute window in seconds (scaled down from the default 7 days so
 * that the steady state is reached within the run). The same run repeats
 * with retention off: the ceiling, growing without bound.
 *
 * Prints progress, then per phase: rows, database size (file + WAL), RSS and
 * heap, rows written per second of wall time, and the longest prune batch
 * (one transaction: the longest the event loop is held by pruning).
 */
import { mkdtempSync, statSync, existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { intArgs } from './args.ts'
import { generateNodeKey, nodeIdOf, type NodeId } from '../protocol/index.ts'
import { openSqliteStore } from '../coordinator/store/sqlite/sqliteStore.ts'
import { HistoryPruner } from '../coordinator/services/historyPruner.ts'
import { manualClock } from '../lib/clock.ts'
import { silentLogger } from '../lib/logger.ts'

const args = intArgs(process.argv.slice(2), { agents: { fallback: 5_000, max: 100_000 }, seconds: { fallback: 120, max: 86_400 }, retention: { fallback: 20, max: 86_400 } })

interface Sample {
  second: number
  rows: number
  dbBytes: number
  rssBytes: number
  heapBytes: number
}

function fileBytes(path: string): number {
  return [path, `${path}-wal`].reduce((n, p) => n + (existsSync(p) ? statSync(p).size : 0), 0)
}

const mb = (b: number) => (b / 1024 / 1024).toFixed(1)

async function phase(name: string, retentionS: number | null, ids: NodeId[]) {
  const dir = mkdtempSync(join(tmpdir(), 'vipnode-growth-'))
  const path = join(dir, 'pool.db')
  const store = openSqliteStore(path)
  const start = Date.UTC(2026, 0, 1)
  const clock = manualClock(start)
  const base = { role: 'client' as const, enode: '', chainId: 1, kind: 'peer' as const, clientVersion: 'Geth/v1.14.12', payout: null, capacity: 0, region: null, firstSeenMs: start, lastSeenMs: start }
  for (const nodeId of ids) await store.upsertNode({ ...base, nodeId, enode: `enode://${nodeId}@10.0.0.1:30303` })
  const pruner = retentionS === null ? undefined : new HistoryPruner({ retentionMs: retentionS * 1000 }, { store, clock, log: silentLogger })
  const hash = `0x${'ab'.repeat(32)}`
  const samples: Sample[] = []
  const began = performance.now()
  for (let s = 1; s <= args.seconds; s++) {
    clock.set(start + s * 1000)
    const writes: Promise<number>[] = []
    for (let i = 0; i < ids.length; i++) {
      const peers = [ids[(i + 1) % ids.length]!, ids[(i + 2) % ids.length]!, ids[(i + 3) % ids.length]!]
      writes.push(store.recordReport({ nodeId: ids[i]!, sessionId: `s-${i}`, observedAtMs: clock.now() - (i % 1000), blockNumber: 20_000_000 + s, blockHash: hash, peers }))
    }
    await Promise.all(writes)
    await pruner?.pass()
    if (s % 10 === 0 || s === args.seconds) {
      const mem = process.memoryUsage()
      const sample = { second: s, rows: (await store.historyCounts()).reports, dbBytes: fileBytes(path), rssBytes: mem.rss, heapBytes: mem.heapUsed }
      samples.push(sample)
      console.log(`[${name}] simulated ${s}/${args.seconds} s: ${sample.rows.toLocaleString('en-US')} report rows, db ${mb(sample.dbBytes)} MB, rss ${mb(sample.rssBytes)} MB, heap ${mb(sample.heapBytes)} MB`)
    }
  }
  const wallS = (performance.now() - began) / 1000
  const latest = await store.latestReport(ids[0]!)
  await store.close()
  rmSync(dir, { recursive: true, force: true })
  return { name, samples, wallS, rowsPerS: (ids.length * args.seconds) / wallS, longestBatchMs: pruner?.stats.longestBatchMs, batches: pruner?.stats.batches ?? 0, slowBatches: pruner?.stats.slowBatches ?? 0, pruned: pruner?.stats.deleted.reports ?? 0, latestKept: latest !== undefined }
}

const ids = Array.from({ length: args.agents }, () => nodeIdOf(generateNodeKey()))
console.log(`# ${args.agents} agents, one report each per simulated second (${args.agents.toLocaleString('en-US')} reports/s), ${args.seconds} simulated s; retention ${args.retention} s vs off`)
const kept = await phase('retention', args.retention, ids)
const ceiling = await phase('off', null, ids)

const last = (p: typeof kept) => p.samples.at(-1)!
const half = (p: typeof kept) => p.samples[Math.floor(p.samples.length / 2)]!
console.log('\n| | retention ' + args.retention + ' s | retention off (ceiling) |')
console.log('|---|---:|---:|')
console.log(`| report rows at half time / at the end | ${half(kept).rows.toLocaleString('en-US')} / ${last(kept).rows.toLocaleString('en-US')} | ${half(ceiling).rows.toLocaleString('en-US')} / ${last(ceiling).rows.toLocaleString('en-US')} |`)
console.log(`| database (file + WAL) at half time / at the end | ${mb(half(kept).dbBytes)} / ${mb(last(kept).dbBytes)} MB | ${mb(half(ceiling).dbBytes)} / ${mb(last(ceiling).dbBytes)} MB |`)
console.log(`| RSS at half time / at the end | ${mb(half(kept).rssBytes)} / ${mb(last(kept).rssBytes)} MB | ${mb(half(ceiling).rssBytes)} / ${mb(last(ceiling).rssBytes)} MB |`)
console.log(`| heap used at the end | ${mb(last(kept).heapBytes)} MB | ${mb(last(ceiling).heapBytes)} MB |`)
console.log(`| reports written per wall second | ${Math.round(kept.rowsPerS).toLocaleString('en-US')} | ${Math.round(ceiling.rowsPerS).toLocaleString('en-US')} |`)
console.log(`| longest prune batch (one transaction) | ${kept.longestBatchMs?.toFixed(1)} ms (${kept.slowBatches} of ${kept.batches} batches over 50 ms) | - |`)
console.log(`| rows pruned | ${kept.pruned.toLocaleString('en-US')} | 0 |`)
const bytesPerRow = (last(ceiling).dbBytes - half(ceiling).dbBytes) / (last(ceiling).rows - half(ceiling).rows)
console.log(`\nbytes per report row (ceiling: growth of the db over the second half / rows added): ${bytesPerRow.toFixed(0)}; at 5,000 reports/s a day of history is ${(5_000 * 86_400 * bytesPerRow / 1e9).toFixed(0)} GB, 7 days ${(7 * 5_000 * 86_400 * bytesPerRow / 1e9).toFixed(0)} GB`)
console.log(`latest report of every node kept after pruning: ${kept.latestKept}`)
