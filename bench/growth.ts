/**
 * Bounded growth (issue 18): do the database and the process memory stay
 * bounded while reports arrive at 5,000/s for a long time, paying clients
 * are charged on every report, and free keys come and go?
 *
 *   npm run bench:growth -- [--agents 5000] [--seconds 120] [--retention 20] [--churn 20]
 *
 * Accelerated, not a 24-hour run: a manual clock moves one simulated second
 * per round; each round writes one report per agent through the real SQLite
 * store (group commit, the same rows the coordinator writes: 3 peers per
 * report, the latest report on the node row, and for every second agent, a
 * paying client, one charge transfer per report as metering posts it), logs
 * in `--churn` fresh keys that report once and leave (free keys: nothing to
 * their name), and then runs one pass of the real HistoryPruner, as its
 * 1-second timer would: history pruned, keys that hold nothing forgotten,
 * charges folded. `--retention` is the simulated dispute window in seconds
 * (scaled down from the default 7 days so that the steady state is reached
 * within the run; the hour that charges must age before folding is scaled
 * to it as well). Every report writes a history row here: the worst case
 * (logic/reportHistory.ts writes one a minute for steady peers). The same run
 * repeats with retention off: the ceiling, growing without bound.
 *
 * Prints progress, then per phase: report rows, ledger entries, node rows,
 * database size (file + WAL), RSS and heap, reports written per second of
 * wall time, and the longest prune batch (one transaction: the longest the
 * event loop is held by pruning).
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
import { Accounts } from '../coordinator/logic/accounts.ts'
import { audit } from '../coordinator/admin/audit.ts'

const args = intArgs(process.argv.slice(2), { agents: { fallback: 5_000, max: 100_000 }, seconds: { fallback: 120, max: 86_400 }, retention: { fallback: 20, max: 86_400 }, churn: { fallback: 20, max: 10_000 } })

interface Sample {
  second: number
  rows: number
  ledgerEntries: number
  nodes: number
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
  for (const [i, nodeId] of ids.entries()) {
    await store.upsertNode({ ...base, nodeId, enode: `enode://${nodeId}@10.0.0.1:30303` })
    // Every second agent is a paying client with a deposit.
    if (i % 2 === 1) await store.post({ id: `deposit:${nodeId}:tx-log:0`, atMs: start, memo: 'deposit', entries: [{ account: Accounts.external, amountWei: -(10n ** 18n) }, { account: Accounts.client(nodeId), amountWei: 10n ** 18n }] })
  }
  const retentionMs = retentionS === null ? 0 : retentionS * 1000
  // Every epoch up to now counts as settled (a pool whose settlement keeps up), so idle keys may go once past the window.
  const pruner = retentionS === null ? undefined : new HistoryPruner({ retentionMs, foldMinAgeMs: retentionMs }, { store, clock, log: silentLogger, settledUntilMs: async () => clock.now() })
  const hash = `0x${'ab'.repeat(32)}`
  const samples: Sample[] = []
  const began = performance.now()
  let churned = 0
  for (let s = 1; s <= args.seconds; s++) {
    clock.set(start + s * 1000)
    const epoch = Math.floor(s / 3_600) + 1
    const writes: Promise<number>[] = []
    for (let i = 0; i < ids.length; i++) {
      const peers = [ids[(i + 1) % ids.length]!, ids[(i + 2) % ids.length]!, ids[(i + 3) % ids.length]!]
      const at = clock.now() - (i % 1000)
      const charge = i % 2 === 1 ? { pairs: [], usage: [], transfers: [{ id: `charge:${ids[i]}:${at}:${ids[i]}:${peers[0]}`, atMs: at, memo: 'service', entries: [{ account: Accounts.client(ids[i]!), amountWei: -1_000n }, { account: Accounts.revenue(epoch), amountWei: 1_000n }] }] } : undefined
      writes.push(store.recordReport({ nodeId: ids[i]!, sessionId: `s-${i}`, observedAtMs: at, blockNumber: 20_000_000 + s, blockHash: hash, peers }, charge))
    }
    // Free keys: log in, report once, leave.
    for (let k = 0; k < args.churn; k++) {
      const nodeId = nodeIdOf(generateNodeKey())
      const sessionId = `churn-${churned++}`
      await store.upsertNode({ ...base, nodeId, enode: `enode://${nodeId}@10.0.0.2:30303`, firstSeenMs: clock.now(), lastSeenMs: clock.now() })
      await store.openSession({ id: sessionId, nodeId, role: 'client', remoteAddress: '10.0.0.2', connectedAtMs: clock.now() })
      writes.push(store.recordReport({ nodeId, sessionId, observedAtMs: clock.now(), blockNumber: 20_000_000 + s, blockHash: hash, peers: [] }))
      await store.closeSession(sessionId, clock.now(), 'gone')
    }
    await Promise.all(writes)
    await pruner?.pass()
    if (s % 10 === 0 || s === args.seconds) {
      const mem = process.memoryUsage()
      const counts = await store.historyCounts()
      const sample = { second: s, rows: counts.reports, ledgerEntries: counts.ledgerEntries, nodes: counts.nodes, dbBytes: fileBytes(path), rssBytes: mem.rss, heapBytes: mem.heapUsed }
      samples.push(sample)
      console.log(
        `[${name}] simulated ${s}/${args.seconds} s: ${sample.rows.toLocaleString('en-US')} report rows, ${sample.ledgerEntries.toLocaleString('en-US')} ledger entries, ${sample.nodes.toLocaleString('en-US')} nodes, db ${mb(sample.dbBytes)} MB, rss ${mb(sample.rssBytes)} MB, heap ${mb(sample.heapBytes)} MB`,
      )
    }
  }
  const balancesKept = (await audit(store)).ok
  const wallS = (performance.now() - began) / 1000
  const latest = await store.latestReport(ids[0]!)
  await store.close()
  rmSync(dir, { recursive: true, force: true })
  return {
    name,
    samples,
    wallS,
    rowsPerS: (ids.length * args.seconds) / wallS,
    longestBatchMs: pruner?.stats.longestBatchMs,
    longestByKind: pruner?.stats.longestByKind,
    batches: pruner?.stats.batches ?? 0,
    slowBatches: pruner?.stats.slowBatches ?? 0,
    pruned: pruner?.stats.deleted.reports ?? 0,
    nodesForgotten: pruner?.stats.deleted.nodes ?? 0,
    folded: pruner?.stats.folded ?? 0,
    latestKept: latest !== undefined,
    balancesKept,
  }
}

const ids = Array.from({ length: args.agents }, () => nodeIdOf(generateNodeKey()))
console.log(`# ${args.agents} agents, one report each per simulated second (${args.agents.toLocaleString('en-US')} reports/s, half of them charged), ${args.churn} fresh keys a second, ${args.seconds} simulated s; retention ${args.retention} s vs off`)
const kept = await phase('retention', args.retention, ids)
const ceiling = await phase('off', null, ids)

const last = (p: typeof kept) => p.samples.at(-1)!
const half = (p: typeof kept) => p.samples[Math.floor(p.samples.length / 2)]!
console.log('\n| | retention ' + args.retention + ' s | retention off (ceiling) |')
console.log('|---|---:|---:|')
const both = (f: (p: typeof kept) => number) => `${f(kept).toLocaleString('en-US')} | ${f(ceiling).toLocaleString('en-US')}`
console.log(`| ledger entries at half time | ${both((p) => half(p).ledgerEntries)} |`)
console.log(`| ledger entries at the end | ${both((p) => last(p).ledgerEntries)} |`)
console.log(`| node rows at half time | ${both((p) => half(p).nodes)} |`)
console.log(`| node rows at the end | ${both((p) => last(p).nodes)} |`)
console.log(`| report rows at half time / at the end | ${half(kept).rows.toLocaleString('en-US')} / ${last(kept).rows.toLocaleString('en-US')} | ${half(ceiling).rows.toLocaleString('en-US')} / ${last(ceiling).rows.toLocaleString('en-US')} |`)
console.log(`| database (file + WAL) at half time / at the end | ${mb(half(kept).dbBytes)} / ${mb(last(kept).dbBytes)} MB | ${mb(half(ceiling).dbBytes)} / ${mb(last(ceiling).dbBytes)} MB |`)
console.log(`| RSS at half time / at the end | ${mb(half(kept).rssBytes)} / ${mb(last(kept).rssBytes)} MB | ${mb(half(ceiling).rssBytes)} / ${mb(last(ceiling).rssBytes)} MB |`)
console.log(`| heap used at the end | ${mb(last(kept).heapBytes)} MB | ${mb(last(ceiling).heapBytes)} MB |`)
console.log(`| reports written per wall second | ${Math.round(kept.rowsPerS).toLocaleString('en-US')} | ${Math.round(ceiling.rowsPerS).toLocaleString('en-US')} |`)
console.log(`| longest prune batch (one transaction) | ${kept.longestBatchMs?.toFixed(1)} ms (${kept.slowBatches} of ${kept.batches} batches over 50 ms) | - |`)
const k = kept.longestByKind
if (k) console.log(`| longest batch per kind: history / nodes / folding | ${k.history.toFixed(1)} / ${k.nodes.toFixed(1)} / ${k.fold.toFixed(1)} ms | - |`)
console.log(`| report rows pruned / keys forgotten / charges folded | ${kept.pruned.toLocaleString('en-US')} / ${kept.nodesForgotten.toLocaleString('en-US')} / ${kept.folded.toLocaleString('en-US')} | 0 |`)
const bytesPerRow = (last(ceiling).dbBytes - half(ceiling).dbBytes) / (last(ceiling).rows - half(ceiling).rows)
console.log(`\nbytes per report (ceiling: growth of the db over the second half / reports added; every report a history row, every second one a charge): ${bytesPerRow.toFixed(0)}; at 5,000 reports/s a day of history is ${(5_000 * 86_400 * bytesPerRow / 1e9).toFixed(0)} GB, 7 days ${(7 * 5_000 * 86_400 * bytesPerRow / 1e9).toFixed(0)} GB`)
console.log(`latest report of every node kept after pruning: ${kept.latestKept}; vipnode audit passes after pruning and folding: ${kept.balancesKept} (ceiling ${ceiling.balancesKept})`)
