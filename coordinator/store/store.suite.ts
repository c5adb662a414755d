/**
 * The conformance suite every Store implementation must pass, failures
 * included. Each driver's test file calls describeStore with an opener.
 */
import { describe, test, expect, beforeEach, afterEach } from 'vitest'
import { generateNodeKey, nodeIdOf, type NodeId } from '../../protocol/index.ts'
import { StoreError, type NodeRecord, type Store } from './store.ts'

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

export function describeStore(name: string, openStore: () => Promise<Store>) {
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

    test('error: a report from an unknown node is refused and stores nothing', async () => {
      const report = { nodeId: otherId, sessionId: 's', observedAtMs: 1, blockNumber: 1, blockHash: `0x${'00'.repeat(32)}`, peers: [] }
      await expect(store.recordReport(report)).rejects.toMatchObject({ code: 'UNKNOWN_NODE' })
      expect(await store.latestReport(otherId)).toBeUndefined()
    })

    test('behavior: the ledger balances and sums to zero', async () => {
      await store.post({ id: 't1', atMs: 1, memo: 'credit', entries: [{ account: 'external', amountWei: -(10n ** 30n) }, { account: `client:${clientId}`, amountWei: 10n ** 30n }] })
      await store.post({ id: 't2', atMs: 2, memo: 'charge', entries: [{ account: `client:${clientId}`, amountWei: -7n }, { account: 'revenue:1', amountWei: 7n }] })
      expect(await store.balanceOf(`client:${clientId}`)).toBe(10n ** 30n - 7n)
      expect(await store.balanceOf('revenue:1')).toBe(7n)
      expect(await store.balanceOf('nobody')).toBe(0n)
      expect(await store.sumAll()).toBe(0n)
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

    test('error: a closed store refuses calls', async () => {
      await store.close()
      await expect(store.getMeta('x')).rejects.toMatchObject({ code: 'CLOSED' })
    })
  })
}
