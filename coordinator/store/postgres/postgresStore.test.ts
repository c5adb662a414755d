import { describe, test, expect } from 'vitest'
import { readdirSync } from 'node:fs'
import { describeStore, node } from '../store.suite.ts'
import { openPostgresStore, type PostgresStore } from './postgresStore.ts'
import { scratchDatabases } from '../../../test/harness/postgres.ts'
import { closeAfterEach } from '../../../test/harness/scratch.ts'
import { generateNodeKey, nodeIdOf, type NodeId } from '../../../protocol/index.ts'
import type { Store, Transfer } from '../store.ts'
import { DUTIES_LEASE, SingletonDuties } from '../../services/singletonDuties.ts'
import { silentLogger } from '../../../lib/logger.ts'
import { waitFor } from '../../../test/harness/waitFor.ts'

const scratchDatabase = scratchDatabases()
const urlOf = (store: Store) => (store as PostgresStore).pool.options.connectionString!

describeStore('postgres', async () => openPostgresStore(await scratchDatabase()), { reopen: async (closed) => openPostgresStore(urlOf(closed)) })

const closers = closeAfterEach()
async function open(url: string): Promise<PostgresStore> {
  const store = await openPostgresStore(url)
  closers.push(() => store.close())
  return store
}

const report = (nodeId: NodeId, at: number, blockNumber = 1) => ({ nodeId, sessionId: 's', observedAtMs: at, blockNumber, blockHash: `0x${'ab'.repeat(32)}`, peers: [] })
const charge = (id: string, from: string, wei: bigint): Transfer => ({ id, atMs: 1, memo: 'charge', entries: [{ account: from, amountWei: -wei }, { account: 'revenue:1', amountWei: wei }] })

describe('postgres store', () => {
  test('behavior: the duties lease moves to another coordinator within its retry when the holder\'s database session dies (as on kill -9)', async () => {
    const url = await scratchDatabase()
    const [a, b] = [await open(url), await open(url)]
    const first = new SingletonDuties({ retryMs: 50 }, { store: a, log: silentLogger })
    const second = new SingletonDuties({ retryMs: 50 }, { store: b, log: silentLogger })
    closers.push(() => first.stop(), () => second.stop())
    await first.start()
    await second.start()
    expect([first.held(), second.held()]).toEqual([true, false])
    // Another session of the same database cannot take it either (the lock is the server's, not the process's).
    expect(await b.tryLease(DUTIES_LEASE)).toBeUndefined()

    // The holder's lease session is killed by the server, as it is when the holder's process dies.
    const { rows } = await a.pool.query<{ pid: number }>(
      "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND s.datname = current_database()",
    )
    expect(rows).toHaveLength(1)
    await a.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
    await waitFor(() => second.held(), 'the second coordinator takes the duties', { timeoutMs: 10_000 })
    await waitFor(() => !first.held(), 'the first coordinator knows it lost them', { timeoutMs: 10_000 })
    // The first keeps trying and gets nothing while the second holds the lease; after a clean stop it does.
    await second.stop()
    await waitFor(() => first.held(), 'the duties move back after a clean stop', { timeoutMs: 10_000 })
  })

  test('behavior: migrations are applied once, also when two coordinators open a new database at the same time', async () => {
    const url = await scratchDatabase()
    const [a, b] = await Promise.all([open(url), open(url)])
    await a.close()
    await b.close()
    const again = await open(url)
    const { rows } = await again.pool.query<{ n: string }>('SELECT count(*) AS n FROM drizzle.__drizzle_migrations')
    expect(Number(rows[0]!.n)).toBe(readdirSync(new URL('./migrations', import.meta.url)).filter((f) => f.endsWith('.sql')).length)
  })

  test('error: a server that cannot be reached is named in the error, without the password', async () => {
    await expect(openPostgresStore('postgres://vipnode:secret@127.0.0.1:1/none')).rejects.toThrow(/cannot open the PostgreSQL store at postgres:\/\/vipnode:\*\*\*@127\.0\.0\.1:1\/none/)
  })

  test('behavior: balanceOf counts a batch exactly once, before, while and after it commits', async () => {
    const store = await open(await scratchDatabase())
    const hostId = nodeIdOf(generateNodeKey())
    const account = 'client:x'
    await store.upsertNode(node(hostId))
    await store.post({ id: 'fund', atMs: 1, memo: 'm', entries: [{ account: 'external', amountWei: -1_000n }, { account, amountWei: 1_000n }] })
    const writes = Array.from({ length: 20 }, (_, i) => store.recordReport(report(hostId, i + 1), { pairs: [], usage: [], transfers: [charge(`c${i}`, account, 3n)] }))
    let done = false
    const all = Promise.all(writes).finally(() => (done = true))
    // Read back to back from before the batch is sealed until after it committed: every read sees all 20 charges once.
    const seen: bigint[] = []
    do seen.push(await store.balanceOf(account))
    while (!done)
    await all
    seen.push(await store.balanceOf(account))
    expect(seen.length).toBeGreaterThan(2)
    expect(new Set(seen)).toEqual(new Set([1_000n - 60n]))
  })

  test('behavior: a report the set-based write cannot take fails alone (the batch is written again report by report)', async () => {
    const store = await open(await scratchDatabase())
    const hostId = nodeIdOf(generateNodeKey())
    await store.upsertNode(node(hostId))
    const good = store.recordReport(report(hostId, 1), { pairs: [], usage: [], transfers: [charge('ok-1', 'client:x', 1n)] })
    // Above int8: no check foresees it, the statement fails.
    const bad = store.recordReport(report(hostId, 2, 2 ** 64), { pairs: [], usage: [], transfers: [charge('bad', 'client:x', 5n)] })
    const alsoGood = store.recordReport(report(hostId, 3), { pairs: [], usage: [], transfers: [charge('ok-2', 'client:x', 1n)] })
    const [a, b, c] = await Promise.allSettled([good, bad, alsoGood])
    expect(a.status).toBe('fulfilled')
    expect(b).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/out of range/) } })
    expect(c.status).toBe('fulfilled')
    expect(await store.balanceOf('client:x')).toBe(-2n)
    expect((await store.reportHistory(hostId, 0)).map((r) => r.observedAtMs)).toEqual([1, 3])
    expect(await store.ledgerEntries({ transferIdPrefix: 'bad' })).toEqual([])
  })

  describe('two coordinators on one database', () => {
    /** Two stores on one scratch database, as two replicas have, each with a host of its own that reports. */
    async function twoStoresWithAHostEach() {
      const url = await scratchDatabase()
      const [a, b] = await Promise.all([open(url), open(url)])
      const [hostA, hostB] = [nodeIdOf(generateNodeKey()), nodeIdOf(generateNodeKey())]
      await a.upsertNode(node(hostA))
      await b.upsertNode(node(hostB))
      return { a, b, hostA, hostB }
    }

    test('behavior: the same transfer id posted by both at once is written once', async () => {
      const url = await scratchDatabase()
      const [a, b] = await Promise.all([open(url), open(url)])
      for (let i = 0; i < 10; i++) {
        const t = { id: `deposit:${i}`, atMs: 1, memo: 'deposit', entries: [{ account: 'external', amountWei: -7n }, { account: 'client:x', amountWei: 7n }] }
        const results = await Promise.allSettled([a.post(t), b.post(t)])
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
        expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'DUPLICATE_TRANSFER' } })
      }
      expect(await a.balanceOf('client:x')).toBe(70n)
      expect(await b.sumAll()).toBe(0n)
    })

    test('behavior: an epoch settled by both at once is settled once', async () => {
      const url = await scratchDatabase()
      const [a, b] = await Promise.all([open(url), open(url)])
      await a.post({ id: 'rev', atMs: 1, memo: 'm', entries: [{ account: 'external', amountWei: -10n }, { account: 'revenue:1', amountWei: 10n }] })
      const epoch = { epoch: 1, startMs: 0, endMs: 10, revenueWei: 10n, carriedInWei: 0n, feeWei: 0n, carriedOutWei: 10n, totalEntitledWei: 0n, root: `0x${'00'.repeat(32)}`, tree: '{}', settledAtMs: 10, txHash: null, postedAtMs: null }
      const settle = (s: Store, id: string) => s.settleEpoch(epoch, [], { id, atMs: 10, memo: 'settle', entries: [{ account: 'revenue:1', amountWei: -10n }, { account: 'carry', amountWei: 10n }] })
      const results = await Promise.allSettled([settle(a, 'settle:1:a'), settle(b, 'settle:1:b')])
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'DUPLICATE_EPOCH' } })
      expect(await a.balanceOf('carry')).toBe(10n)
      expect(await a.balanceOf('revenue:1')).toBe(0n)
    })

    test('behavior: both charging one client in their report batches at once lose no wei', async () => {
      const { a, b, hostA, hostB } = await twoStoresWithAHostEach()
      const writes: Promise<number>[] = []
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 20; i++) {
          const at = round * 100 + i
          writes.push(a.recordReport(report(hostA, at), { pairs: [], usage: [{ epoch: 1, clientId: 'c' as NodeId, hostId: hostA, addMs: 1, chargedWei: 2n }], transfers: [charge(`a:${at}`, 'client:c', 2n)] }))
          writes.push(b.recordReport(report(hostB, at), { pairs: [], usage: [{ epoch: 1, clientId: 'c' as NodeId, hostId: hostB, addMs: 1, chargedWei: 3n }], transfers: [charge(`b:${at}`, 'client:c', 3n)] }))
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      await Promise.all(writes)
      expect(await a.balanceOf('client:c')).toBe(-500n)
      expect(await b.balanceOf('revenue:1')).toBe(500n)
      expect((await a.usage()).map((u) => [u.serviceMs, u.chargedWei])).toEqual(expect.arrayContaining([[100, 200n], [100, 300n]]))
      expect(await a.sumAll()).toBe(0n)
    })

    test('attack: both charging one client that can pay for only some of it never take its balance below zero', async () => {
      // The race of two replicas' metering: each read the balance (here: 100 wei) before the other's charges landed.
      const { a, b, hostA, hostB } = await twoStoresWithAHostEach()
      await a.post({ id: 'deposit', atMs: 1, memo: 'deposit', entries: [{ account: 'external', amountWei: -100n }, { account: 'client:c', amountWei: 100n }] })
      const payers = [{ clientId: 'c' as NodeId, account: 'client:c' }]
      const writes: Promise<number>[] = []
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 10; i++) {
          const at = round * 100 + i
          writes.push(a.recordReport(report(hostA, at), { pairs: [], usage: [{ epoch: 1, clientId: 'c' as NodeId, hostId: hostA, addMs: 1, chargedWei: 2n }], transfers: [charge(`a:${at}`, 'client:c', 2n)], payers }))
          writes.push(b.recordReport(report(hostB, at), { pairs: [], usage: [{ epoch: 1, clientId: 'c' as NodeId, hostId: hostB, addMs: 1, chargedWei: 3n }], transfers: [charge(`b:${at}`, 'client:c', 3n)], payers }))
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      // Every report lands (the node rows move); only the charges the balance covered at commit do.
      await Promise.all(writes)
      const balance = await a.balanceOf('client:c')
      const revenue = await b.balanceOf('revenue:1')
      expect(balance).toBeGreaterThanOrEqual(0n)
      expect(balance).toBeLessThan(3n) // what is left pays for no further charge of the writer that came last
      expect(balance + revenue).toBe(100n)
      // Usage follows the charges that landed, to the wei.
      const usage = await a.usage()
      expect(usage.reduce((n, u) => n + u.chargedWei, 0n)).toBe(revenue)
      for (const u of usage) expect(u.chargedWei).toBe(BigInt(u.serviceMs) * (u.hostId === hostA ? 2n : 3n))
      expect(await a.sumAll()).toBe(0n)
    })
  })
})
