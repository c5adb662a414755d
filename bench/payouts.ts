/**
 * `npm run bench:payouts`: the cost of the public payout lookups with a long history. Seeds
 * `--epochs` settled epochs of `--payees` payees each (real trees, SQLite file), then measures in the
 * same run:
 *   - before: the old GET /v1/payouts handler (every epoch row with its tree, parse the latest, scan),
 *     called in-process;
 *   - after: PayoutTrees.lookup (what the handler does now), in-process;
 *   - over HTTP on the running coordinator: /healthz (the ceiling), /v1/payouts/:address and
 *     /v1/epochs/:n/tree, sequentially, within the per-address burst so none is rate-limited.
 * Usage: npm run bench:payouts -- [--epochs 100] [--payees 1000]
 */
import { performance } from 'node:perf_hooks'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { Wallet } from 'ethers'
import { manualClock } from '../lib/clock.ts'
import { testCoordinator } from '../test/harness/coordinator.ts'
import { seedPayoutEpoch } from '../test/harness/payoutEpochs.ts'
import { PayoutTrees } from '../coordinator/services/payoutTrees.ts'
import type { Store } from '../coordinator/store/store.ts'
import { intArgs } from './args.ts'

const { epochs, payees } = intArgs(process.argv.slice(2), { epochs: { fallback: 100, max: 10_000 }, payees: { fallback: 1_000, max: 100_000 } })
/** Requests per HTTP series: under the per-address burst (30), shared by the payout and tree routes. */
const HTTP_SAMPLES = 12

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!
  return { n: s.length, medianMs: +q(0.5).toFixed(3), p95Ms: +q(0.95).toFixed(3), maxMs: +s.at(-1)!.toFixed(3) }
}

async function time(n: number, f: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await f()
    out.push(performance.now() - t)
  }
  return out
}

/** The handler as it was: every epoch (trees included), the latest tree parsed, a linear scan. */
async function oldLookup(store: Store, address: string) {
  const latest = (await store.listEpochs()).at(-1)
  if (!latest || latest.tree === '{}') return undefined
  const tree = StandardMerkleTree.load<[string, string]>(JSON.parse(latest.tree))
  for (const [i, [payee, cumulative]] of tree.entries()) if (payee.toLowerCase() === address.toLowerCase()) return { cumulative, proof: tree.getProof(i) }
  return undefined
}

const c = await testCoordinator({ epochMs: 3_600_000 }, { clock: manualClock((epochs + 1) * 3_600_000) })
try {
  const store = c.services.store
  const addresses = Array.from({ length: payees }, () => Wallet.createRandom().address)
  const t0 = performance.now()
  for (let e = 1; e <= epochs; e++) await seedPayoutEpoch(store, e, addresses.map((payee, i) => ({ payee, cumulativeWei: BigInt(e * (i + 1)) })))
  const seedS = (performance.now() - t0) / 1000
  const pick = () => addresses[Math.floor(Math.random() * addresses.length)]!

  const before = await time(5, () => oldLookup(store, pick()))
  const trees = new PayoutTrees(store)
  const afterFirst = await time(1, () => trees.lookup(pick())) // loads the latest tree once
  const after = await time(500, () => trees.lookup(pick()))

  const get = (path: string) => async () => {
    const res = await fetch(`${c.url}${path}`)
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`)
  }
  await get('/healthz')() // warm the connection
  const healthz = await time(HTTP_SAMPLES, get('/healthz'))
  const payoutsHttp = await time(HTTP_SAMPLES, () => get(`/v1/payouts/${pick()}`)())
  const treeHttp = await time(HTTP_SAMPLES, get(`/v1/epochs/${epochs}/tree`))

  const result = {
    epochs,
    payees,
    seedSeconds: +seedS.toFixed(1),
    inProcess: { beforeOldHandler: stats(before), afterFirstLookupAfterSettlement: stats(afterFirst), after: stats(after) },
    http: { healthzCeiling: stats(healthz), payouts: stats(payoutsHttp), epochTree: stats(treeHttp) },
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
} finally {
  await c.close()
}
