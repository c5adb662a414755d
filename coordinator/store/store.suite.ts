/**
 * The conformance suite every Store implementation must pass, failures
 * included. Each driver's test file calls describeStore with an opener.
 */
import { describe, test, expect, beforeEach, afterEach } from 'vitest'
import { generateNodeKey, nodeIdOf, type NodeId } from '../../protocol/index.ts'
import { LEDGER_FOLDED_THROUGH_KEY, StoreError, type NodeRecord, type Store } from './store.ts'
import { chargeRule, NODE_ACCOUNT_PREFIXES } from '../logic/accounts.ts'

export function node(nodeId: NodeId, overrides: Partial<NodeRecord> = {}): NodeRecord {
  return {
    nodeId,
    role: 'host',
    enode: `enode://${nodeId}@127.0.0.1:30303`,
    chainId: 1,
    kind: 'peer',
    clientVersion: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4',
    payout: null,
    capacity: 10,
    region: null,
    firstSeenMs: 1_000,
    lastSeenMs: 1_000,
    ...overrides,
  }
}

const ids = Array.from({ length: 3 }, () => nodeIdOf(generateNodeKey()))
const [hostId, clientId, otherId] = ids as [NodeId, NodeId, NodeId]

export interface DescribeStoreOptions {
  /** Open the closed store's database again (file and server stores): enables the reopening tests. */
  reopen?: (closed: Store) => Promise<Store>
}

export function describeStore(name: string, openStore: () => Promise<Store>, opts: DescribeStoreOptions = {}) {
  describe(`store: ${name}`, () => {
    let store: Store
    beforeEach(async () => {
      store = await openStore()
    })
    afterEach(async () => {
      await store.close()
    })

    test('default: meta round trip and overwrite', async () => {
      expect(await store.getMeta('poolId')).toBeUndefined()
      await store.setMeta('poolId', 'a')
      await store.setMeta('poolId', 'b')
      expect(await store.getMeta('poolId')).toBe('b')
    })

    test('behavior: upsertNode keeps firstSeen and never moves lastSeen back', async () => {
      await store.upsertNode(node(hostId, { firstSeenMs: 100, lastSeenMs: 500 }))
      await store.upsertNode(node(hostId, { firstSeenMs: 900, lastSeenMs: 400, capacity: 3 }))
      const got = await store.getNode(hostId)
      expect(got).toMatchObject({ firstSeenMs: 100, lastSeenMs: 500, capacity: 3 })
      await store.upsertNode(node(clientId, { role: 'client' }))
      expect((await store.listNodes({ role: 'client' })).map((n) => n.nodeId)).toEqual([clientId])
      expect(await store.listNodes()).toHaveLength(2)
      expect(await store.getNode(otherId)).toBeUndefined()
    })

    test('behavior: sessions open, close once, and crash recovery closes the rest', async () => {
      await store.openSession({ id: 's1', nodeId: hostId, role: 'host', remoteAddress: '127.0.0.1', connectedAtMs: 10 })
      await store.openSession({ id: 's2', nodeId: clientId, role: 'client', remoteAddress: '127.0.0.1', connectedAtMs: 11 })
      await store.closeSession('s1', 20, 'closed')
      await store.closeSession('s1', 99, 'again') // a second close changes nothing
      expect(await store.getSession('s1')).toMatchObject({ closedAtMs: 20, closeReason: 'closed' })
      expect(await store.closeOpenSessions(30, 'restart')).toBe(1)
      expect(await store.getSession('s2')).toMatchObject({ closedAtMs: 30, closeReason: 'restart' })
    })

    test('behavior: a close storm (every session closed in one turn, none awaited) closes each once, with its own time and reason, before any later call reads them', async () => {
      const n = 1_500 // more than one SQLite close batch
      for (let i = 0; i < n; i++) await store.openSession({ id: `storm-${i}`, nodeId: hostId, role: 'host', remoteAddress: '127.0.0.1', connectedAtMs: 1 })
      const closes = Array.from({ length: n }, (_, i) => store.closeSession(`storm-${i}`, 100 + i, `closed ${i}`))
      // Not awaited: a later call sees them closed, as if written one after another (write order is call order).
      void store.closeSession('storm-0', 9_999, 'again')
      expect(await store.closeOpenSessions(50_000, 'restart')).toBe(0)
      await Promise.all(closes)
      expect(await store.getSession('storm-0')).toMatchObject({ closedAtMs: 100, closeReason: 'closed 0' })
      expect(await store.getSession(`storm-${n - 1}`)).toMatchObject({ closedAtMs: 100 + n - 1, closeReason: `closed ${n - 1}` })
      expect(await store.openSessionNodes()).toEqual([])
    })

    test('behavior: assignments are active until released', async () => {
      const a = await store.addAssignment({ clientId, hostId, kind: 'peer', assignedAtMs: 5 })
      expect(a.id).toBeGreaterThan(0)
      expect(await store.activeAssignments({ hostId })).toHaveLength(1)
      expect(await store.activeAssignments({ clientId: otherId })).toHaveLength(0)
      expect(await store.releaseAssignment(clientId, hostId, 9, 'evicted')).toBe(true)
      expect(await store.releaseAssignment(clientId, hostId, 9, 'evicted')).toBe(false)
      expect(await store.activeAssignments()).toHaveLength(0)
    })

    test('behavior: recordReport stores peers and touches the node', async () => {
      await store.upsertNode(node(hostId))
      const report = { nodeId: hostId, sessionId: 's', observedAtMs: 2_000, blockNumber: 7, blockHash: `0x${'ab'.repeat(32)}`, peers: [clientId, otherId] }
      const id = await store.recordReport(report)
      expect(await store.latestReport(hostId)).toEqual({ ...report, id })
      expect((await store.getNode(hostId))?.lastSeenMs).toBe(2_000)
    })

    test('behavior: a report without a history row moves the latest report (and its metering) but adds no row', async () => {
      await store.upsertNode(node(hostId))
      const report = (at: number) => ({ nodeId: hostId, sessionId: 's', observedAtMs: at, blockNumber: at, blockHash: `0x${'ab'.repeat(32)}`, peers: [clientId] })
      const first = await store.recordReport(report(10))
      // Queued together in one batch, then alone.
      const [second, third] = await Promise.all([
        store.recordReport(report(20), { pairs: [{ clientId, hostId, lastCorroboratedAtMs: 20 }], usage: [], transfers: [] }, { history: false }),
        store.recordReport(report(30), undefined, { history: false }),
      ])
      const fourth = await store.recordReport(report(40), undefined, { history: false })
      // Each answers with the node's latest history row: still the first.
      expect([second, third, fourth]).toEqual([first, first, first])
      expect(await store.latestReport(hostId)).toEqual({ ...report(40), id: first })
      expect(await store.pairMeters()).toEqual([{ clientId, hostId, lastCorroboratedAtMs: 20 }])
      expect((await store.reportHistory(hostId, 0)).map((r) => r.observedAtMs)).toEqual([10])
      const fifth = await store.recordReport(report(50))
      expect(fifth).toBeGreaterThan(first)
      expect((await store.reportHistory(hostId, 0)).map((r) => r.observedAtMs)).toEqual([10, 50])
      // Unknown nodes are refused on this path too.
      await expect(store.recordReport({ ...report(60), nodeId: otherId }, undefined, { history: false })).rejects.toMatchObject({ code: 'UNKNOWN_NODE' })
    })

    test('error: a report from an unknown node is refused and stores nothing', async () => {
      const report = { nodeId: otherId, sessionId: 's', observedAtMs: 1, blockNumber: 1, blockHash: `0x${'00'.repeat(32)}`, peers: [] }
      await expect(store.recordReport(report)).rejects.toMatchObject({ code: 'UNKNOWN_NODE' })
      expect(await store.latestReport(otherId)).toBeUndefined()
    })

    test('behavior: reports in flight together: a bad one fails alone, balances include queued charges, later writes land after them', async () => {
      await store.upsertNode(node(hostId))
      await store.post({ id: 'fund', atMs: 1, memo: 'credit', entries: [{ account: 'external', amountWei: -100n }, { account: `client:${clientId}`, amountWei: 100n }] })
      const report = (at: number, nodeId = hostId) => ({ nodeId, sessionId: 's', observedAtMs: at, blockNumber: at, blockHash: `0x${'ab'.repeat(32)}`, peers: [clientId] })
      const charge = (id: string, wei: bigint) => ({ id, atMs: 1, memo: 'charge', entries: [{ account: `client:${clientId}`, amountWei: -wei }, { account: 'revenue:1', amountWei: wei }] })
      const delta = (id: string, wei: bigint) => ({ pairs: [], usage: [{ epoch: 1, clientId, hostId, addMs: 10, chargedWei: wei, addComputeUnits: 3 }], transfers: [charge(id, wei)] })
      const first = store.recordReport(report(10), delta('c1', 5n))
      const unknown = store.recordReport(report(11, otherId), delta('c-unknown', 50n))
      const second = store.recordReport(report(12), delta('c2', 7n))
      // Read before any of them settled: the queued charges already count.
      expect(await store.balanceOf(`client:${clientId}`)).toBeLessThanOrEqual(100n - 12n)
      const credit = store.post({ id: 'later', atMs: 13, memo: 'credit', entries: [{ account: 'external', amountWei: -1n }, { account: `client:${clientId}`, amountWei: 1n }] })
      const [a, b, c] = await Promise.allSettled([first, unknown, second])
      await credit
      expect(a.status).toBe('fulfilled')
      expect(b).toMatchObject({ status: 'rejected', reason: { code: 'UNKNOWN_NODE' } })
      expect(c.status).toBe('fulfilled')
      expect(await store.balanceOf(`client:${clientId}`)).toBe(100n - 12n + 1n)
      expect(await store.balanceOf('revenue:1')).toBe(12n)
      expect(await store.usage({ epoch: 1 })).toEqual([{ epoch: 1, clientId, hostId, serviceMs: 20, chargedWei: 12n, computeUnits: 6 }])
      // One node's pairs only: by client, by host, and nothing for a node without pairs or another epoch.
      expect(await store.usage({ epoch: 1, clientId })).toEqual([{ epoch: 1, clientId, hostId, serviceMs: 20, chargedWei: 12n, computeUnits: 6 }])
      expect(await store.usage({ epoch: 1, hostId })).toEqual([{ epoch: 1, clientId, hostId, serviceMs: 20, chargedWei: 12n, computeUnits: 6 }])
      expect(await store.usage({ epoch: 1, clientId: hostId })).toEqual([])
      expect(await store.usage({ epoch: 2, hostId })).toEqual([])
      expect((await store.latestReport(hostId))?.observedAtMs).toBe(12)
      expect(await store.sumAll()).toBe(0n)
    })

    test('attack: charges a client\'s balance no longer covers at commit are left out whole (as when a sibling replica charged it first); the rest lands', async () => {
      // Two coordinators on one database each read a client's balance before charging it; the store has the last
      // word. Here both reports are queued on one store, each charging 70 of the 100 the client holds, as two
      // replicas' metering would after reading the same balance.
      const payer = otherId
      await store.upsertNode(node(hostId))
      await store.post({ id: 'fund', atMs: 1, memo: 'deposit', entries: [{ account: 'external', amountWei: -130n }, { account: `client:${clientId}`, amountWei: 100n }, { account: `client:${payer}`, amountWei: 30n }] })
      const report = (at: number) => ({ nodeId: hostId, sessionId: 's', observedAtMs: at, blockNumber: at, blockHash: `0x${'ab'.repeat(32)}`, peers: [clientId, payer] })
      const charge = (id: string, who: NodeId, wei: bigint) => ({ id, atMs: 1, memo: 'charge', entries: [{ account: `client:${who}`, amountWei: -wei }, { account: 'revenue:1', amountWei: wei }] })
      const payers = [{ clientId, account: `client:${clientId}` }]
      const first = store.recordReport(report(10), { pairs: [{ clientId, hostId, lastCorroboratedAtMs: 10 }], usage: [{ epoch: 1, clientId, hostId, addMs: 700, chargedWei: 70n }], transfers: [charge('c1', clientId, 70n)], payers })
      const second = store.recordReport(report(11), {
        pairs: [{ clientId, hostId, lastCorroboratedAtMs: 11 }],
        usage: [
          { epoch: 1, clientId, hostId, addMs: 700, chargedWei: 70n },
          { epoch: 1, clientId: payer, hostId, addMs: 300, chargedWei: 30n },
        ],
        transfers: [charge('c2', clientId, 70n), charge('p2', payer, 30n)],
        payers: [...payers, { clientId: payer, account: `client:${payer}` }],
      })
      await Promise.all([first, second])
      // The second report landed (its node, its pair state, the other payer it covers), without the uncovered charge.
      expect((await store.latestReport(hostId))?.observedAtMs).toBe(11)
      expect(await store.pairMeters()).toEqual([{ clientId, hostId, lastCorroboratedAtMs: 11 }])
      expect(await store.balanceOf(`client:${clientId}`)).toBe(30n)
      expect(await store.balanceOf(`client:${payer}`)).toBe(0n)
      expect(await store.balanceOf('revenue:1')).toBe(100n)
      expect(await store.ledgerEntries({ account: `client:${clientId}` })).toHaveLength(2)
      const usage = await store.usage({ epoch: 1 })
      expect(usage.find((u) => u.clientId === clientId)).toMatchObject({ serviceMs: 700, chargedWei: 70n })
      expect(usage.find((u) => u.clientId === payer)).toMatchObject({ serviceMs: 300, chargedWei: 30n })
      expect(await store.sumAll()).toBe(0n)
      // Deltas without payers are written as given (metering names its payers; other writers are checked by their callers).
      await store.recordReport(report(12), { pairs: [], usage: [], transfers: [charge('c3', clientId, 50n)] })
      expect(await store.balanceOf(`client:${clientId}`)).toBe(-20n)
    })

    test('error: a posted transfer that would take a guarded account below zero is refused whole, and writes nothing', async () => {
      await store.post({ id: 'fund', atMs: 1, memo: 'deposit', entries: [{ account: 'external', amountWei: -100n }, { account: `client:${clientId}`, amountWei: 100n }] })
      const refund = (id: string, wei: bigint) => ({ id, atMs: 2, memo: 'refund', entries: [{ account: `client:${clientId}`, amountWei: -wei }, { account: 'refund:0xabc', amountWei: wei }] })
      const guard = { notBelowZero: [`client:${clientId}`] }
      await expect(store.post(refund('r1', 101n), guard)).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS', message: `transfer r1 takes 101 wei from client:${clientId}, which holds 100 wei` })
      expect(await store.ledgerEntries({ transferIdPrefix: 'r1' })).toEqual([])
      expect(await store.balanceOf(`client:${clientId}`)).toBe(100n)
      expect(await store.balanceOf('refund:0xabc')).toBe(0n)
      // Exactly what it holds is covered; an account the guard does not name may go below zero (external does).
      await store.post(refund('r2', 100n), guard)
      expect(await store.balanceOf(`client:${clientId}`)).toBe(0n)
      await store.post({ id: 'gift', atMs: 3, memo: 'credit', entries: [{ account: 'external', amountWei: -5n }, { account: `client:${clientId}`, amountWei: 5n }] }, guard)
      expect(await store.balanceOf('external')).toBe(-105n)
      expect(await store.sumAll()).toBe(0n)
    })

    test('behavior: the ledger balances and sums to zero', async () => {
      await store.post({ id: 't1', atMs: 1, memo: 'credit', entries: [{ account: 'external', amountWei: -(10n ** 30n) }, { account: `client:${clientId}`, amountWei: 10n ** 30n }] })
      await store.post({ id: 't2', atMs: 2, memo: 'charge', entries: [{ account: `client:${clientId}`, amountWei: -7n }, { account: 'revenue:1', amountWei: 7n }] })
      expect(await store.balanceOf(`client:${clientId}`)).toBe(10n ** 30n - 7n)
      expect(await store.balanceOf('revenue:1')).toBe(7n)
      expect(await store.balanceOf('nobody')).toBe(0n)
      expect(await store.sumAll()).toBe(0n)
    })

    test('behavior: ledgerEntries returns an account history in write order, queued report charges included', async () => {
      await store.upsertNode(node(hostId))
      const acct = `client:${clientId}`
      await store.post({ id: 'deposit:tx1:0', atMs: 1, memo: 'deposit', entries: [{ account: 'external', amountWei: -50n }, { account: acct, amountWei: 50n }] })
      await store.post({ id: 'trial:x', atMs: 2, memo: 'trial', entries: [{ account: 'external', amountWei: -10n }, { account: acct, amountWei: 10n }] })
      const report = { nodeId: hostId, sessionId: 's', observedAtMs: 3, blockNumber: 1, blockHash: `0x${'00'.repeat(32)}`, peers: [clientId] }
      const queued = store.recordReport(report, { pairs: [], usage: [], transfers: [{ id: 'charge:1', atMs: 3, memo: 'c', entries: [{ account: acct, amountWei: -4n }, { account: 'revenue:1', amountWei: 4n }] }] })
      const history = await store.ledgerEntries({ account: acct })
      await queued
      expect(history).toEqual([
        { transferId: 'deposit:tx1:0', account: acct, amountWei: 50n, atMs: 1 },
        { transferId: 'trial:x', account: acct, amountWei: 10n, atMs: 2 },
        { transferId: 'charge:1', account: acct, amountWei: -4n, atMs: 3 },
      ])
      expect(await store.ledgerEntries({ transferIdPrefix: 'deposit:' })).toEqual([
        { transferId: 'deposit:tx1:0', account: 'external', amountWei: -50n, atMs: 1 },
        { transferId: 'deposit:tx1:0', account: acct, amountWei: 50n, atMs: 1 },
      ])
      expect(await store.ledgerEntries({ account: 'external', transferIdPrefix: 'trial:' })).toEqual([{ transferId: 'trial:x', account: 'external', amountWei: -10n, atMs: 2 }])
      expect(await store.ledgerEntries({ account: 'nobody' })).toEqual([])
    })

    test('error: unbalanced, empty and duplicate transfers are refused and change nothing', async () => {
      await store.post({ id: 't1', atMs: 1, memo: 'ok', entries: [{ account: 'a', amountWei: -5n }, { account: 'b', amountWei: 5n }] })
      const unbalanced = store.post({ id: 't2', atMs: 2, memo: 'bad', entries: [{ account: 'a', amountWei: -5n }, { account: 'b', amountWei: 6n }] })
      await expect(unbalanced).rejects.toBeInstanceOf(StoreError)
      await expect(unbalanced).rejects.toMatchObject({ code: 'UNBALANCED' })
      await expect(store.post({ id: 't3', atMs: 2, memo: 'empty', entries: [] })).rejects.toMatchObject({ code: 'UNBALANCED' })
      await expect(store.post({ id: 't1', atMs: 3, memo: 'again', entries: [{ account: 'a', amountWei: -1n }, { account: 'b', amountWei: 1n }] })).rejects.toMatchObject({
        code: 'DUPLICATE_TRANSFER',
      })
      expect(await store.balanceOf('b')).toBe(5n)
      expect(await store.sumAll()).toBe(0n)
    })

    test('behavior: a report carries its metering in the same transaction', async () => {
      await store.upsertNode(node(hostId))
      const report = { nodeId: hostId, sessionId: 's', observedAtMs: 10, blockNumber: 1, blockHash: `0x${'00'.repeat(32)}`, peers: [clientId] }
      const charge = (id: string, wei: bigint) => ({ id, atMs: 10, memo: 'charge', entries: [{ account: `client:${clientId}`, amountWei: -wei }, { account: 'revenue:1', amountWei: wei }] })
      await store.recordReport(report, {
        pairs: [{ clientId, hostId, lastCorroboratedAtMs: 10 }],
        usage: [{ epoch: 1, clientId, hostId, addMs: 500, chargedWei: 3n }],
        transfers: [charge('c1', 3n)],
      })
      await store.recordReport({ ...report, observedAtMs: 20 }, { pairs: [{ clientId, hostId, lastCorroboratedAtMs: null }], usage: [{ epoch: 1, clientId, hostId, addMs: 250, chargedWei: 2n }], transfers: [charge('c2', 2n)] })
      expect(await store.usage({ epoch: 1 })).toEqual([{ epoch: 1, clientId, hostId, serviceMs: 750, chargedWei: 5n, computeUnits: 0 }])
      // Compute units add up like service time; a usage entry may carry units alone (an rpc pair whose time was not credited).
      await store.recordReport({ ...report, observedAtMs: 30 }, { pairs: [], usage: [{ epoch: 1, clientId, hostId, addMs: 0, chargedWei: 0n, addComputeUnits: 2 ** 40 }], transfers: [] })
      await store.recordReport({ ...report, observedAtMs: 40 }, { pairs: [], usage: [{ epoch: 1, clientId, hostId, addMs: 0, chargedWei: 0n, addComputeUnits: 7 }], transfers: [] })
      expect(await store.usage({ epoch: 1 })).toEqual([{ epoch: 1, clientId, hostId, serviceMs: 750, chargedWei: 5n, computeUnits: 2 ** 40 + 7 }])
      expect(await store.pairMeters()).toEqual([{ clientId, hostId, lastCorroboratedAtMs: null }])
      expect(await store.balanceOf('revenue:1')).toBe(5n)
      expect(await store.balancesWithPrefix('revenue:')).toEqual(new Map([['revenue:1', 5n]]))
    })

    test('error: a report whose metering does not balance writes nothing at all', async () => {
      await store.upsertNode(node(hostId))
      const report = { nodeId: hostId, sessionId: 's', observedAtMs: 10, blockNumber: 1, blockHash: `0x${'00'.repeat(32)}`, peers: [] }
      const bad = { id: 'bad', atMs: 10, memo: 'm', entries: [{ account: 'a', amountWei: 1n }] }
      await expect(store.recordReport(report, { pairs: [{ clientId, hostId, lastCorroboratedAtMs: 10 }], usage: [], transfers: [bad] })).rejects.toMatchObject({ code: 'UNBALANCED' })
      // A duplicate transfer id fails inside the transaction: the report and pair rows roll back too.
      await store.post({ id: 'dup', atMs: 1, memo: 'm', entries: [{ account: 'a', amountWei: -1n }, { account: 'b', amountWei: 1n }] })
      const dup = { id: 'dup', atMs: 10, memo: 'm', entries: [{ account: 'a', amountWei: -1n }, { account: 'b', amountWei: 1n }] }
      await expect(store.recordReport(report, { pairs: [{ clientId, hostId, lastCorroboratedAtMs: 10 }], usage: [{ epoch: 1, clientId, hostId, addMs: 5, chargedWei: 1n }], transfers: [dup] })).rejects.toMatchObject({ code: 'DUPLICATE_TRANSFER' })
      expect(await store.latestReport(hostId)).toBeUndefined()
      expect(await store.pairMeters()).toEqual([])
      expect(await store.usage()).toEqual([])
      expect(await store.sumAll()).toBe(0n)
    })

    test('behavior: settling an epoch is atomic and happens once', async () => {
      const payee = `0x${'ab'.repeat(20)}`
      await store.post({ id: 'rev', atMs: 1, memo: 'm', entries: [{ account: 'external', amountWei: -100n }, { account: 'revenue:1', amountWei: 100n }] })
      const epoch = { epoch: 1, startMs: 0, endMs: 1000, revenueWei: 100n, carriedInWei: 0n, feeWei: 0n, carriedOutWei: 1n, totalEntitledWei: 99n, root: `0x${'11'.repeat(32)}`, tree: '{}', settledAtMs: 1000, txHash: null, postedAtMs: null }
      const transfer = { id: 'settle:1', atMs: 1000, memo: 'settle', entries: [{ account: 'revenue:1', amountWei: -100n }, { account: `payee:${payee}`, amountWei: 99n }, { account: 'carry', amountWei: 1n }] }
      const payouts = [{ payee, serviceMs: 10, amountWei: 99n, cumulativeWei: 99n }]
      await store.settleEpoch(epoch, payouts, transfer)
      await expect(store.settleEpoch(epoch, payouts, { ...transfer, id: 'settle:1b' })).rejects.toMatchObject({ code: 'DUPLICATE_EPOCH' })
      expect(await store.getEpoch(1)).toEqual(epoch)
      expect(await store.epochPayouts(1)).toEqual(payouts)
      expect(await store.balanceOf(`payee:${payee}`)).toBe(99n)
      await store.markEpochPosted(1, `0x${'22'.repeat(32)}`, 2000)
      expect((await store.listEpochs())[0]).toMatchObject({ epoch: 1, txHash: `0x${'22'.repeat(32)}`, postedAtMs: 2000 })
      expect(await store.sumAll()).toBe(0n)
    })

    test('behavior: epochHeaders lists settled epochs oldest first without their trees, or only the newest `last`', async () => {
      const settle = (n: number) =>
        store.settleEpoch(
          { epoch: n, startMs: n * 1000, endMs: (n + 1) * 1000, revenueWei: 0n, carriedInWei: 0n, feeWei: 0n, carriedOutWei: 0n, totalEntitledWei: 0n, root: `0x${'00'.repeat(32)}`, tree: `{"big":"${'x'.repeat(1000)}"}`, settledAtMs: (n + 1) * 1000, txHash: null, postedAtMs: null },
          [],
          { id: `settle:${n}`, atMs: (n + 1) * 1000, memo: 'settle', entries: [{ account: `revenue:${n}`, amountWei: -1n }, { account: 'carry', amountWei: 1n }] },
        )
      for (const n of [3, 4, 5, 6]) await settle(n)
      const all = await store.epochHeaders()
      expect(all.map((e) => e.epoch)).toEqual([3, 4, 5, 6])
      expect(all.every((e) => !('tree' in e))).toBe(true)
      expect(all[0]).toEqual({ epoch: 3, startMs: 3000, endMs: 4000, revenueWei: 0n, carriedInWei: 0n, feeWei: 0n, carriedOutWei: 0n, totalEntitledWei: 0n, root: `0x${'00'.repeat(32)}`, settledAtMs: 4000, txHash: null, postedAtMs: null })
      expect((await store.epochHeaders({ last: 2 })).map((e) => e.epoch)).toEqual([5, 6])
      expect(await store.epochHeaders({ last: 0 })).toEqual([])
    })

    test('behavior: listNodes is in node ID order, and pages with `after` and `limit` cover every node once', async () => {
      const ids = Array.from({ length: 7 }, () => nodeIdOf(generateNodeKey())).sort()
      for (const [i, id] of ids.entries()) await store.upsertNode(node(id, { role: i % 2 === 0 ? 'host' : 'client' }))
      expect((await store.listNodes()).map((n) => n.nodeId)).toEqual(ids)
      const paged: NodeId[] = []
      for (let after: NodeId | undefined; ; ) {
        const page = await store.listNodes({ limit: 3, ...(after ? { after } : {}) })
        paged.push(...page.map((n) => n.nodeId))
        if (page.length < 3) break
        after = page.at(-1)!.nodeId
      }
      expect(paged).toEqual(ids)
      expect((await store.listNodes({ role: 'client', after: ids[0]!, limit: 2 })).map((n) => n.nodeId)).toEqual([ids[1], ids[3]])
    })

    test('behavior: pruneHistory deletes only history older than the cutoff, in batches, and never a node\'s latest report', async () => {
      await store.upsertNode(node(hostId))
      await store.upsertNode(node(clientId, { role: 'client' }))
      const report = (nodeId: NodeId, at: number) => ({ nodeId, sessionId: 's', observedAtMs: at, blockNumber: at, blockHash: `0x${'ab'.repeat(32)}`, peers: [otherId] })
      // The client reported once, long ago; the host every 10 ms from 0 to 490.
      const clientLatest = await store.recordReport(report(clientId, 5))
      for (let at = 0; at < 500; at += 10) await store.recordReport(report(hostId, at))
      await store.openSession({ id: 'old', nodeId: hostId, role: 'host', remoteAddress: '127.0.0.1', connectedAtMs: 1 })
      await store.closeSession('old', 100, 'closed')
      await store.openSession({ id: 'open', nodeId: hostId, role: 'host', remoteAddress: '127.0.0.1', connectedAtMs: 2 })
      await store.addAssignment({ clientId, hostId, kind: 'peer', assignedAtMs: 1 })
      await store.releaseAssignment(clientId, hostId, 50, 'client-gone')
      await store.addAssignment({ clientId, hostId, kind: 'peer', assignedAtMs: 60 })
      expect(await store.historyCounts()).toMatchObject({ reports: 51, sessions: 1, assignments: 1, nodes: 2 })

      // Cut at 300: reports before it go (the host's 0..290 and the client's 5), at most 12 rows per call.
      const totals = { reports: 0, sessions: 0, assignments: 0 }
      let calls = 0
      for (;;) {
        const got = await store.pruneHistory(300, 12)
        calls++
        expect(got.reports).toBeLessThanOrEqual(12)
        totals.reports += got.reports
        totals.sessions += got.sessions
        totals.assignments += got.assignments
        if (got.reports + got.sessions + got.assignments === 0) break
      }
      expect(totals).toEqual({ reports: 31, sessions: 1, assignments: 1 })
      expect(calls).toBeGreaterThanOrEqual(3)
      expect(await store.historyCounts()).toMatchObject({ reports: 20, sessions: 0, assignments: 0, nodes: 2 })
      // What is left: the window, both latest reports, the open session and the active assignment.
      expect((await store.reportHistory(hostId, 0)).map((r) => r.observedAtMs)).toEqual(Array.from({ length: 20 }, (_, i) => 300 + i * 10))
      expect(await store.reportHistory(clientId, 0)).toEqual([])
      expect(await store.latestReport(clientId)).toEqual({ ...report(clientId, 5), id: clientLatest })
      expect((await store.latestReport(hostId))?.observedAtMs).toBe(490)
      expect(await store.getSession('open')).toMatchObject({ closedAtMs: null })
      expect(await store.getSession('old')).toBeUndefined()
      expect(await store.activeAssignments()).toHaveLength(1)
      // A cutoff at the start of time deletes nothing.
      expect(await store.pruneHistory(0, 1000)).toEqual({ reports: 0, sessions: 0, assignments: 0 })
    })

    test('behavior: pruneNodes forgets keys that hold nothing and keeps every node with money, a session or an assignment', async () => {
      const keys = Array.from({ length: 8 }, () => nodeIdOf(generateNodeKey()))
      const [idle1, idle2, funded, online, assigned, releasedLate, recent, hostAccount] = keys as [NodeId, NodeId, NodeId, NodeId, NodeId, NodeId, NodeId, NodeId]
      for (const [i, id] of keys.entries()) await store.upsertNode(node(id, { role: i % 2 ? 'host' : 'client', firstSeenMs: 10 + i, lastSeenMs: id === recent ? 900 : 10 + i }))
      await store.post({ id: 'gift', atMs: 1, memo: 'trial', entries: [{ account: 'external', amountWei: -5n }, { account: `client:${funded}`, amountWei: 5n }] })
      await store.post({ id: 'host-acct', atMs: 1, memo: 'x', entries: [{ account: 'external', amountWei: -1n }, { account: `host:${hostAccount}`, amountWei: 1n }] })
      await store.openSession({ id: 'on', nodeId: online, role: 'host', remoteAddress: '127.0.0.1', connectedAtMs: 5 })
      await store.addAssignment({ clientId: assigned, hostId: hostAccount, kind: 'peer', assignedAtMs: 5 })
      await store.addAssignment({ clientId: idle1, hostId: releasedLate, kind: 'peer', assignedAtMs: 5 })
      await store.releaseAssignment(idle1, releasedLate, 600, 'client-gone')
      await store.addAssignment({ clientId: idle2, hostId: idle1, kind: 'peer', assignedAtMs: 5 })
      await store.releaseAssignment(idle2, idle1, 100, 'client-gone')
      const before = await store.historyCounts()

      // Two nodes per call by node ID; the walk resumes after the last node it looked at.
      let cursor: Awaited<ReturnType<Store['pruneNodes']>>['next']
      let deleted = 0
      let calls = 0
      for (;;) {
        const got = await store.pruneNodes(500, 2, { after: cursor, accountPrefixes: NODE_ACCOUNT_PREFIXES })
        calls++
        deleted += got.deleted
        cursor = got.next ?? cursor
        if (got.done) break
      }
      expect(calls).toBe(5) // 8 nodes, two at a time, then an empty batch ends the walk
      expect(deleted).toBe(1)
      // idle2 was released at 100, before the cutoff: forgotten. idle1 is a client in an assignment released at 600,
      // after the cutoff (usage of an unsettled epoch may still need it), as is releasedLate, its host.
      expect(await store.getNode(idle2)).toBeUndefined()
      for (const id of [idle1, funded, online, assigned, releasedLate, recent, hostAccount]) expect(await store.getNode(id)).toBeDefined()
      expect((await store.historyCounts()).nodes).toBe(before.nodes - 1)
      // Later, with the late release behind the cutoff, idle1 and releasedLate go too; nothing else does.
      const later = await store.pruneNodes(700, 100, { accountPrefixes: NODE_ACCOUNT_PREFIXES })
      expect(later).toMatchObject({ deleted: 2, done: true })
      expect((await store.listNodes()).map((n) => n.nodeId).sort()).toEqual([funded, online, assigned, recent, hostAccount].sort())
      // A forgotten key that logs in again is simply new.
      await store.upsertNode(node(idle2, { firstSeenMs: 1_000, lastSeenMs: 1_000 }))
      expect(await store.getNode(idle2)).toMatchObject({ firstSeenMs: 1_000 })
      expect(await store.sumAll()).toBe(0n)
    })

    test('behavior: foldCharges folds runs of old charges into their first, keeps balances and refundable money, and leaves young entries alone', async () => {
      const acct = `client:${clientId}`
      const charge = (n: number, wei: bigint, epoch = 1) => ({ id: `charge:r:${n}:c:h`, atMs: n, memo: 'service', entries: [{ account: acct, amountWei: -wei }, { account: `revenue:${epoch}`, amountWei: wei }] })
      await store.upsertNode(node(clientId, { role: 'client' }))
      await store.post({ id: 'deposit:0xab:tx-log:0', atMs: 1, memo: 'deposit', entries: [{ account: 'external', amountWei: -1_000n }, { account: acct, amountWei: 1_000n }] })
      for (let n = 2; n < 30; n++) await store.post(charge(n, BigInt(n)))
      await store.post({ id: 'trial:x', atMs: 30, memo: 'gift', entries: [{ account: 'trial-budget', amountWei: -50n }, { account: acct, amountWei: 50n }] })
      // Charges after the gift, across an epoch boundary, and some through reports (group commit).
      for (let n = 31; n < 40; n++) await store.post(charge(n, 1n, n < 35 ? 1 : 2))
      const report = { nodeId: clientId, sessionId: 's', observedAtMs: 40, blockNumber: 1, blockHash: `0x${'ab'.repeat(32)}`, peers: [] }
      await Promise.all([40, 41, 42].map((n) => store.recordReport({ ...report, observedAtMs: n }, { pairs: [], usage: [], transfers: [charge(n, 2n, 2)] })))
      for (let n = 100; n < 105; n++) await store.post(charge(n, 1n, 2))
      // Nothing old to fold: nothing is written, not even the cursor (an idle pool's pass every second leaves the database alone).
      expect(await store.foldCharges(1, 7, chargeRule)).toEqual({ folded: 0, done: true })
      expect(await store.getMeta(LEDGER_FOLDED_THROUGH_KEY)).toBeUndefined()
      const balances = async () => [await store.balanceOf(acct), await store.balanceOf('revenue:1'), await store.balanceOf('revenue:2'), await store.sumAll()]
      const before = await balances()
      const entriesBefore = await store.ledgerEntries({ account: acct })

      let folded = 0
      let calls = 0
      for (;;) {
        const got = await store.foldCharges(100, 7, chargeRule)
        calls++
        folded += got.folded
        if (got.done) break
      }
      expect(calls).toBeGreaterThan(5)
      expect(await balances()).toEqual(before)
      const after = await store.ledgerEntries({ account: acct })
      // deposit, the run 2..29 folded into charge 2, the gift, the run 31..34 (revenue:1), the run 35..42 (revenue:2),
      // then the five young charges at 100..104 as they were.
      expect(after.map((e) => [e.transferId, e.amountWei])).toEqual([
        ['deposit:0xab:tx-log:0', 1_000n],
        ['charge:r:2:c:h', -434n], // 2 + 3 + … + 29
        ['trial:x', 50n],
        ['charge:r:31:c:h', -4n],
        ['charge:r:35:c:h', -11n],
        ...entriesBefore.slice(-5).map((e) => [e.transferId, e.amountWei]),
      ])
      expect(folded).toBe(entriesBefore.length - after.length)
      // The carrier's revenue side grew with its client side, and says what it is.
      expect((await store.ledgerEntries({ transferIdPrefix: 'charge:r:2:' })).map((e) => [e.account, e.amountWei])).toEqual([[acct, -434n], ['revenue:1', 434n]])
      // Nothing more to fold at the same cutoff; later, the young run folds into its own first charge.
      expect(await store.foldCharges(100, 7, chargeRule)).toEqual({ folded: 0, done: true })
      while (!(await store.foldCharges(1_000, 7, chargeRule)).done);
      // The young charges were the same run as 35..42 (revenue:2, nothing between): they fold into charge 35.
      expect((await store.ledgerEntries({ account: acct })).slice(-2).map((e) => [e.transferId, e.amountWei])).toEqual([
        ['charge:r:31:c:h', -4n],
        ['charge:r:35:c:h', -16n],
      ])
      expect(await balances()).toEqual(before)
    })

    test('behavior: closeOpenSessions closes every open session, or only one replica\'s (null: those from before replicas)', async () => {
      const open = (id: string, replicaId?: string | null) => store.openSession({ id, nodeId: hostId, role: 'host', remoteAddress: '127.0.0.1', connectedAtMs: 1, ...(replicaId !== undefined ? { replicaId } : {}) })
      await open('a1', 'replica-a')
      await open('a2', 'replica-a')
      await open('b1', 'replica-b')
      await open('old')
      expect((await store.openSessionReplicas()).sort()).toEqual([null, 'replica-a', 'replica-b'].sort())
      expect(await store.closeOpenSessions(5, 'gone', { replicaId: 'replica-a' })).toBe(2)
      expect(await store.getSession('a1')).toMatchObject({ closedAtMs: 5, closeReason: 'gone', replicaId: 'replica-a' })
      expect(await store.getSession('b1')).toMatchObject({ closedAtMs: null })
      expect(await store.closeOpenSessions(6, 'legacy', { replicaId: null })).toBe(1)
      expect(await store.getSession('old')).toMatchObject({ closedAtMs: 6, replicaId: null })
      expect(await store.openSessionReplicas()).toEqual(['replica-b'])
      expect(await store.closeOpenSessions(7, 'restart')).toBe(1)
      expect(await store.openSessionReplicas()).toEqual([])
    })

    test('behavior: a lease has one holder at a time; released, it can be taken again', async () => {
      const lease = await store.tryLease('duties')
      expect(lease).toBeDefined()
      expect(await store.tryLease('duties')).toBeUndefined()
      const other = await store.tryLease('another duty')
      expect(other).toBeDefined()
      await lease!.release()
      const again = await store.tryLease('duties')
      expect(again).toBeDefined()
      await again!.release()
      await other!.release()
    })

    test('behavior: releasing an assignment deletes its pair metering state; other pairs keep theirs', async () => {
      await store.upsertNode(node(hostId))
      await store.addAssignment({ clientId, hostId, kind: 'peer', assignedAtMs: 1 })
      await store.addAssignment({ clientId: otherId, hostId, kind: 'peer', assignedAtMs: 1 })
      const report = { nodeId: hostId, sessionId: 's', observedAtMs: 10, blockNumber: 1, blockHash: `0x${'00'.repeat(32)}`, peers: [clientId, otherId] }
      await store.recordReport(report, { pairs: [{ clientId, hostId, lastCorroboratedAtMs: 10 }, { clientId: otherId, hostId, lastCorroboratedAtMs: 10 }], usage: [], transfers: [] })
      expect(await store.releaseAssignment(clientId, hostId, 20, 'client-gone')).toBe(true)
      expect(await store.pairMeters()).toEqual([{ clientId: otherId, hostId, lastCorroboratedAtMs: 10 }])
    })

    test('behavior: the latest payout epoch skips epochs without a tree and, when asked, epochs not posted; the last settled epoch counts every epoch', async () => {
      expect(await store.latestPayoutEpoch()).toBeUndefined()
      expect(await store.lastSettledEpoch()).toBe(0)
      const base = { startMs: 0, endMs: 1000, revenueWei: 0n, carriedInWei: 0n, feeWei: 0n, carriedOutWei: 0n, settledAtMs: 1000, txHash: null, postedAtMs: null }
      const settle = (epoch: number, root: string, total: bigint) =>
        store.settleEpoch({ ...base, epoch, root, totalEntitledWei: total, tree: root === `0x${'00'.repeat(32)}` ? '{}' : '{"format":"standard-v1"}' }, [], { id: `settle:${epoch}`, atMs: 1, memo: 'm', entries: [{ account: 'a', amountWei: 0n }] })
      await settle(1, `0x${'00'.repeat(32)}`, 0n)
      expect(await store.latestPayoutEpoch()).toBeUndefined()
      expect(await store.lastSettledEpoch()).toBe(1) // an epoch nobody was paid in is still settled
      await settle(2, `0x${'22'.repeat(32)}`, 5n)
      await settle(3, `0x${'33'.repeat(32)}`, 7n)
      expect(await store.latestPayoutEpoch()).toEqual({ epoch: 3, root: `0x${'33'.repeat(32)}`, totalEntitledWei: 7n, txHash: null })
      expect(await store.lastSettledEpoch()).toBe(3)
      expect(await store.latestPayoutEpoch({ posted: true })).toBeUndefined()
      await store.markEpochPosted(2, `0x${'aa'.repeat(32)}`, 5)
      expect(await store.latestPayoutEpoch({ posted: true })).toEqual({ epoch: 2, root: `0x${'22'.repeat(32)}`, totalEntitledWei: 5n, txHash: `0x${'aa'.repeat(32)}` })
    })

    test('behavior: reports issued in one event-loop turn settle after it, in call order, with ids in call order', async () => {
      await store.upsertNode(node(hostId))
      const settled: number[] = []
      const writes = Array.from({ length: 50 }, (_, i) =>
        store.recordReport({ nodeId: hostId, sessionId: 's', observedAtMs: i + 1, blockNumber: 1, blockHash: `0x${'ab'.repeat(32)}`, peers: [] }).then((id) => {
          settled.push(i)
          return id
        }),
      )
      await Promise.resolve()
      expect(settled).toEqual([]) // queued: nobody was told it was written
      const ids = await Promise.all(writes)
      expect(settled).toEqual(Array.from({ length: 50 }, (_, i) => i))
      expect([...ids].sort((a, b) => a - b)).toEqual(ids)
      expect((await store.reportHistory(hostId, 0)).map((r) => r.observedAtMs)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
      expect((await store.latestReport(hostId))?.id).toBe(ids.at(-1))
    })

    test('behavior: amounts far beyond 64 bits are kept to the wei', async () => {
      const big = 2n ** 200n + 12_345n
      await store.post({ id: 'big', atMs: 1, memo: 'm', entries: [{ account: 'external', amountWei: -big }, { account: 'revenue:1', amountWei: big }] })
      const epoch = { epoch: 1, startMs: 0, endMs: 1000, revenueWei: big, carriedInWei: 0n, feeWei: 1n, carriedOutWei: 0n, totalEntitledWei: big - 1n, root: `0x${'11'.repeat(32)}`, tree: '{}', settledAtMs: 1000, txHash: null, postedAtMs: null }
      const payee = `0x${'cd'.repeat(20)}`
      await store.settleEpoch(epoch, [{ payee, serviceMs: 1, amountWei: big - 1n, cumulativeWei: big - 1n }], {
        id: 'settle:1',
        atMs: 1000,
        memo: 'settle',
        entries: [{ account: 'revenue:1', amountWei: -big }, { account: `payee:${payee}`, amountWei: big - 1n }, { account: 'fee', amountWei: 1n }],
      })
      expect(await store.balanceOf(`payee:${payee}`)).toBe(big - 1n)
      expect(await store.getEpoch(1)).toEqual(epoch)
      expect((await store.epochPayouts(1))[0]?.cumulativeWei).toBe(big - 1n)
      expect((await store.ledgerEntries({ transferIdPrefix: 'big' })).map((e) => e.amountWei)).toEqual([-big, big])
      expect(await store.sumAll()).toBe(0n)
    })

    // Only stores that can be reopened define these (no skipped tests for :memory:).
    const reopen = opts.reopen
    if (reopen) {
      test('behavior: close commits what is queued, and a reopened store has it', async () => {
        await store.upsertNode(node(hostId))
        const write = store.recordReport({ nodeId: hostId, sessionId: 's', observedAtMs: 5, blockNumber: 1, blockHash: `0x${'ab'.repeat(32)}`, peers: [] })
        await store.close()
        await write
        store = await reopen(store)
        expect((await store.latestReport(hostId))?.observedAtMs).toBe(5)
      })

      test('behavior: close commits a queued session close, and a reopened store has it', async () => {
        await store.openSession({ id: 'q1', nodeId: hostId, role: 'host', remoteAddress: '127.0.0.1', connectedAtMs: 1 })
        const closing = store.closeSession('q1', 7, 'closed 1001')
        await store.close()
        await closing
        store = await reopen(store)
        expect(await store.getSession('q1')).toMatchObject({ closedAtMs: 7, closeReason: 'closed 1001' })
      })

      test('behavior: reopening keeps every kind of row', async () => {
        await store.upsertNode(node(hostId))
        await store.setMeta('poolId', 'kept')
        await store.post({ id: 't', atMs: 1, memo: 'm', entries: [{ account: 'a', amountWei: -3n }, { account: 'b', amountWei: 3n }] })
        await store.addAssignment({ clientId, hostId, kind: 'peer', assignedAtMs: 1 })
        await store.close()
        store = await reopen(store)
        expect(await store.getNode(hostId)).toMatchObject({ nodeId: hostId })
        expect(await store.getMeta('poolId')).toBe('kept')
        expect(await store.balanceOf('b')).toBe(3n)
        expect(await store.activeAssignments()).toHaveLength(1)
      })
    }

    test('error: a closed store refuses calls', async () => {
      await store.close()
      await expect(store.getMeta('x')).rejects.toMatchObject({ code: 'CLOSED' })
    })
  })
}
