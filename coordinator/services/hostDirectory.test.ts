import { test, expect } from 'vitest'
import { HostDirectory, directoryMessageSchema, type DirectoryHost } from './hostDirectory.ts'

const id = (n: number) => n.toString(16).padStart(128, '0')
const host = (n: number, extra: Partial<DirectoryHost> = {}): DirectoryHost => ({
  nodeId: id(n) as DirectoryHost['nodeId'],
  enode: `enode://${id(n)}@127.0.0.1:30303`,
  chainId: 1337,
  kind: 'peer',
  capacity: 2,
  load: 0,
  blockNumber: 100,
  region: null,
  capabilities: null,
  relayUrl: null,
  coolingForMs: 0,
  lastReportAgoMs: 0,
  ...extra,
})

test('default: a sibling\'s list replaces its earlier one; own messages are ignored', () => {
  const d = new HostDirectory({ selfReplicaId: 'me', maxAgeMs: 300 })
  d.accept({ replicaId: 'b', hosts: [host(1), host(2)] }, 1_000)
  d.accept({ replicaId: 'me', hosts: [host(3)] }, 1_000)
  expect([...d.hosts(1_000)].map((h) => h.nodeId)).toEqual([id(1), id(2)])
  // Host 2 left replica b: gone with b's next list.
  d.accept({ replicaId: 'b', hosts: [host(1)] }, 1_100)
  expect([...d.hosts(1_100)].map((h) => h.nodeId)).toEqual([id(1)])
  expect(d.get(id(1) as DirectoryHost['nodeId'], 1_100)?.replicaId).toBe('b')
})

test('behavior: ages become this replica\'s times; entries older than maxAgeMs are not offered, then forgotten', () => {
  const d = new HostDirectory({ selfReplicaId: 'me', maxAgeMs: 300 })
  d.accept({ replicaId: 'b', hosts: [host(1, { lastReportAgoMs: 50, coolingForMs: 2_000 })] }, 1_000)
  expect(d.get(id(1) as DirectoryHost['nodeId'], 1_000)).toMatchObject({ lastReportAtMs: 950, coolingUntilMs: 3_000 })
  expect(d.get(id(1) as DirectoryHost['nodeId'], 1_301)).toBeUndefined()
  expect(d.replicaAlive('b', 1_300)).toBe(true)
  expect(d.replicaAlive('b', 1_301)).toBe(false)
  expect(d.replicaAlive('never-heard', 1_000)).toBe(false)
  expect([...d.hosts(1_301)]).toEqual([])
  expect(d.size).toBe(1)
  d.prune(1_301)
  expect(d.size).toBe(0)
})

test('behavior: a host that moved is the newer list\'s; the older replica\'s next list does not take it back out', () => {
  const d = new HostDirectory({ selfReplicaId: 'me', maxAgeMs: 300 })
  d.accept({ replicaId: 'a', hosts: [host(1)] }, 1_000)
  d.accept({ replicaId: 'b', hosts: [host(1)] }, 1_010)
  d.accept({ replicaId: 'a', hosts: [] }, 1_020)
  expect(d.get(id(1) as DirectoryHost['nodeId'], 1_020)?.replicaId).toBe('b')
})

test('error: a malformed message is refused by its schema', () => {
  expect(directoryMessageSchema.safeParse({ replicaId: 'b', hosts: [{ ...host(1), nodeId: 'nope' }] }).success).toBe(false)
  expect(directoryMessageSchema.safeParse({ replicaId: 'b', hosts: [{ ...host(1), capacity: -1 }] }).success).toBe(false)
  // A part numbered outside its list would complete a list early (dropping hosts) or never.
  expect(directoryMessageSchema.safeParse({ replicaId: 'b', hosts: [host(1)], list: { id: 1, part: 2, parts: 2 } }).success).toBe(false)
  expect(directoryMessageSchema.safeParse({ replicaId: 'b', hosts: [host(1)], list: { id: 1, part: 1, parts: 2 } }).success).toBe(true)
})

test('behavior: a list in parts mirrors each part as it arrives; its absentees go when the last part is in, never on a list with a part lost', () => {
  const d = new HostDirectory({ selfReplicaId: 'me', maxAgeMs: 300 })
  const ids = () => [...d.hosts(1_000)].map((h) => h.nodeId).sort()
  d.accept({ replicaId: 'b', hosts: [host(1), host(2), host(3), host(4)] }, 1_000)
  // The next list, in three parts, no longer has host 4.
  d.accept({ replicaId: 'b', hosts: [host(1)], list: { id: 7, part: 0, parts: 3 } }, 1_000)
  d.accept({ replicaId: 'b', hosts: [host(2), host(5)], list: { id: 7, part: 1, parts: 3 } }, 1_000)
  // Host 5 is offered at once; host 4 stays while the list is incomplete.
  expect(ids()).toEqual([id(1), id(2), id(3), id(4), id(5)])
  d.accept({ replicaId: 'b', hosts: [host(3)], list: { id: 7, part: 2, parts: 3 } }, 1_000)
  expect(ids()).toEqual([id(1), id(2), id(3), id(5)])
  // A list whose second part is lost drops nobody; the next list (another id) starts afresh.
  d.accept({ replicaId: 'b', hosts: [host(1)], list: { id: 8, part: 0, parts: 2 } }, 1_000)
  d.accept({ replicaId: 'b', hosts: [host(2)], list: { id: 9, part: 0, parts: 2 } }, 1_000)
  expect(ids()).toEqual([id(1), id(2), id(3), id(5)])
  d.accept({ replicaId: 'b', hosts: [host(5)], list: { id: 9, part: 1, parts: 2 } }, 1_000)
  expect(ids()).toEqual([id(2), id(5)])
  // A host that moved to another replica is not dropped by its old replica's list.
  d.accept({ replicaId: 'c', hosts: [host(2)] }, 1_000)
  d.accept({ replicaId: 'b', hosts: [host(5)] }, 1_000)
  expect(ids()).toEqual([id(2), id(5)])
  expect(d.get(id(2) as DirectoryHost['nodeId'], 1_000)?.replicaId).toBe('c')
})
