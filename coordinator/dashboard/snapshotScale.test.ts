/**
 * The dashboard at the size of a large pool: the snapshot is built and turned into JSON in pieces with turns of
 * the event loop between (an admin watching must not stall the agents' reports), lists the newest epochs only,
 * and pushes are spaced by what they cost.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { generateNodeKey, nodeIdOf } from '../../protocol/index.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { node } from '../store/store.suite.ts'
import type { RunningCoordinator } from '../coordinator.ts'
import { pushGapMs } from './events.ts'
import { ROWS_PER_TURN, SampleRing, SNAPSHOT_EPOCHS, SnapshotBuilder, snapshotJson } from './snapshot.ts'

const coordinators: RunningCoordinator[] = []
afterEach(async () => {
  await Promise.all(coordinators.splice(0).map((c) => c.close()))
})

/** Count the turns of the event loop (setImmediate callbacks) that run while `work` is in progress. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0
  let done = false
  const tick = () => {
    if (done) return
    turns++
    setImmediate(tick)
  }
  setImmediate(tick)
  const result = await work()
  done = true
  return { result, turns }
}

describe('dashboard snapshot of a large pool', () => {
  test('behavior: 2,500 nodes are read, built and written as JSON with turns of the loop between, and the JSON is the snapshot', async () => {
    const c = await testCoordinator()
    coordinators.push(c)
    const n = 2.5 * ROWS_PER_TURN
    for (let i = 0; i < n; i++) await c.services.store.upsertNode(node(nodeIdOf(generateNodeKey()), { role: i % 2 === 0 ? 'host' : 'client' }))
    const builder = new SnapshotBuilder(c.services, new SampleRing(10))
    const { result: snap, turns: buildTurns } = await turnsDuring(() => builder.build())
    expect(snap.hosts.length + snap.clients.length).toBe(n)
    // Three pages of nodes, then the host and client rows a thousand at a time: each boundary lets the loop turn.
    expect(buildTurns).toBeGreaterThanOrEqual(3)
    const { result: json, turns: jsonTurns } = await turnsDuring(() => snapshotJson(snap))
    expect(jsonTurns).toBeGreaterThanOrEqual(1)
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(snap)))
  })

  test('behavior: only the newest SNAPSHOT_EPOCHS settled epochs are listed, without trees, and the snapshot says older ones exist', async () => {
    const c = await testCoordinator()
    coordinators.push(c)
    const settle = (e: number) =>
      c.services.store.settleEpoch(
        { epoch: e, startMs: e, endMs: e + 1, revenueWei: 0n, carriedInWei: 0n, feeWei: 0n, carriedOutWei: 0n, totalEntitledWei: 0n, root: `0x${'00'.repeat(32)}`, tree: '{}', settledAtMs: e + 1, txHash: null, postedAtMs: null },
        [],
        { id: `settle:${e}`, atMs: e + 1, memo: 'settle', entries: [{ account: `revenue:${e}`, amountWei: -1n }, { account: 'carry', amountWei: 1n }] },
      )
    const builder = new SnapshotBuilder(c.services, new SampleRing(10))
    for (let e = 1; e <= SNAPSHOT_EPOCHS; e++) await settle(e)
    const exact = await builder.build()
    expect(exact.epochs).toHaveLength(SNAPSHOT_EPOCHS)
    expect(exact.olderEpochs).toBe(false)
    await settle(SNAPSHOT_EPOCHS + 1)
    const more = await builder.build()
    expect(more.epochs.map((e) => e.epoch)).toEqual(Array.from({ length: SNAPSHOT_EPOCHS }, (_, i) => i + 2))
    expect(more.olderEpochs).toBe(true)
    expect(more.overview.lastSettledEpoch).toBe(SNAPSHOT_EPOCHS + 1)
    expect(more.epochs.some((e) => 'tree' in e)).toBe(false)
  })

  test('property: the gap after a push is at least the minimum and twenty times what the push cost', () => {
    for (const [cost, min] of [[0, 1_000], [10, 1_000], [49, 1_000], [51, 1_000], [300, 0], [2_000, 250]]) {
      const gap = pushGapMs(cost!, min!)
      expect(gap).toBeGreaterThanOrEqual(min!)
      expect(gap).toBeGreaterThanOrEqual(20 * cost!)
      expect(gap).toBe(Math.max(min!, 20 * cost!))
    }
  })
})
