/**
 * The whole peer flow with real processes: the coordinator, 3 host agents and
 * 5 client shims are child processes running the real `vipnode` CLI; each
 * agent sits beside a stand-in node (test/fakenode) that speaks the clients'
 * admin JSON-RPC over HTTP and simulates devp2p between the nodes.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { startFakeNode, type FakeNode } from '../fakenode/fakeNode.ts'
import { spawnVipnode, type Proc } from '../harness/processes.ts'
import { waitFor } from '../harness/waitFor.ts'
import type { NodeId } from '../../protocol/index.ts'

const INTERVAL = '500ms'
const COORDINATOR_INTERVAL = '1s'
const dir = mkdtempSync(join(tmpdir(), 'vipnode-e2e-'))
const db = join(dir, 'pool.db')
const nodes: FakeNode[] = []
const procs: Proc[] = []

let hosts: FakeNode[] = []
let clients: FakeNode[] = []
let outsider: FakeNode
let coordinator: Proc
let coordinatorUrl = ''
let coordinatorPort = 0
const hostAgents: Proc[] = []
const clientShims: Proc[] = []

function keyFile(node: FakeNode): string {
  const path = join(dir, `${node.nodeId.slice(0, 12)}.key`)
  writeFileSync(path, node.nodeKey)
  return path
}

function spawn(args: string[]): Proc {
  const p = spawnVipnode(args)
  procs.push(p)
  return p
}

async function startCoordinator(port: number): Promise<Proc> {
  const p = spawn(['coordinator', '--allow-private-addresses', '--port', String(port), '--db', db, '--update-interval', COORDINATOR_INTERVAL, '--pool-id', 'e2e'])
  const listening = await p.waitForLog((l) => l.msg === 'coordinator listening', 'coordinator listening')
  coordinatorUrl = listening.url
  coordinatorPort = Number(new URL(listening.url).port)
  return p
}

/** Active assignments as the coordinator stored them (WAL lets us read while it writes). */
function activeAssignments(): { id: number; clientId: NodeId; hostId: NodeId }[] {
  const conn = new Database(db, { readonly: true, fileMustExist: true })
  try {
    return conn.prepare('SELECT id, client_id AS clientId, host_id AS hostId FROM assignments WHERE released_at_ms IS NULL ORDER BY id').all() as never
  } finally {
    conn.close()
  }
}

const hostIds = () => new Set(hosts.map((h) => h.nodeId))
const hostPeersOf = (c: FakeNode) => c.peers().filter((id) => hostIds().has(id))

beforeAll(async () => {
  // Host 0 is full (maxPeers 1, taken by an outsider) before the pool arrives: trust must get clients in anyway.
  hosts = await Promise.all([
    startFakeNode({ kind: 'geth', chainId: 1337, maxPeers: 1 }),
    startFakeNode({ kind: 'nethermind', chainId: 1337, maxPeers: 50 }),
    startFakeNode({ kind: 'geth', chainId: 1337, maxPeers: 50 }),
  ])
  clients = await Promise.all([
    ...Array.from({ length: 3 }, () => startFakeNode({ kind: 'geth', chainId: 1337, maxPeers: 50, redialBackoffMs: 200 })),
    ...Array.from({ length: 2 }, () => startFakeNode({ kind: 'reth', chainId: 1337, maxPeers: 50, redialBackoffMs: 200 })),
  ])
  outsider = await startFakeNode({ kind: 'geth', chainId: 1337 })
  nodes.push(...hosts, ...clients, outsider)
  await fetch(outsider.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'admin_addPeer', params: [hosts[0]!.enode] }) })
  await waitFor(() => hosts[0]!.peers().includes(outsider.nodeId), 'outsider fills host 0')

  coordinator = await startCoordinator(0)
  for (const h of hosts) {
    hostAgents.push(spawn(['host', '--coordinator', coordinatorUrl, '--node-rpc', h.url, '--nodekey', keyFile(h), '--capacity', '5', '--update-interval', INTERVAL]))
  }
  await Promise.all(hostAgents.map((p) => p.waitForLog((l) => l.msg === 'connected to coordinator', 'host connected')))
  for (const c of clients) {
    clientShims.push(spawn(['client', '--bootstrap', coordinatorUrl, '--node-rpc', c.url, '--nodekey', keyFile(c), '--hosts', '2', '--update-interval', INTERVAL]))
  }
}, 60_000)

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')))
  await Promise.all(nodes.map((n) => n.close().catch(() => undefined)))
})

describe('peer flow across processes', () => {
  test('default: every client peers with its 2 hosts; each host node trusts exactly its assigned clients', async () => {
    await waitFor(() => clients.every((c) => hostPeersOf(c).length === 2), 'every client peered with 2 hosts', { timeoutMs: 30_000 }).catch((err: Error) => {
      // Say what each node saw: the admin calls and dials are the evidence of where peering broke.
      const short = (id: string) => id.slice(0, 8)
      for (const n of [...hosts, ...clients]) {
        console.error(short(n.nodeId), n.kind, 'peers', n.peers().map(short), 'trusted', [...n.trusted].map(short))
        console.error('  calls', n.calls.map((c) => `${c.method}(${JSON.stringify(c.params).slice(9, 17)})`).join(' '))
        console.error('  dials', n.dialLog.map((d) => `${short(d.from)}:${d.accepted ? 'ok' : d.reason}`).join(' '))
      }
      console.error('assignments', activeAssignments().map((a) => `${short(a.clientId)}->${short(a.hostId)}`))
      throw err
    })
    const assigned = activeAssignments()
    expect(assigned).toHaveLength(10)
    for (const h of hosts) {
      const mine = new Set(assigned.filter((a) => a.hostId === h.nodeId).map((a) => a.clientId))
      expect(mine.size).toBeLessThanOrEqual(5)
      expect(h.trusted).toEqual(mine)
    }
    for (const c of clients) {
      expect(new Set(hostPeersOf(c))).toEqual(new Set(assigned.filter((a) => a.clientId === c.nodeId).map((a) => a.hostId)))
    }
  }, 40_000)

  test('behavior: a host node at maxpeers still admits its assigned clients', async () => {
    const full = hosts[0]!
    const mine = activeAssignments().filter((a) => a.hostId === full.nodeId)
    expect(mine.length).toBeGreaterThan(0)
    expect(full.peers()).toContain(outsider.nodeId)
    for (const a of mine) expect(full.peers()).toContain(a.clientId)
    expect(full.peers().length).toBeGreaterThan(1) // beyond maxPeers = 1
    expect(full.calls.filter((c) => c.method === 'admin_addTrustedPeer').length).toBe(mine.length)
  })

  test('behavior: killing a host agent gets its clients reassigned', async () => {
    const victim = hosts[2]!
    const affected = activeAssignments().filter((a) => a.hostId === victim.nodeId).map((a) => a.clientId)
    expect(affected.length).toBeGreaterThan(0)
    const started = Date.now()
    await hostAgents[2]!.stop('SIGKILL')
    await waitFor(
      () => {
        const now = activeAssignments()
        return now.length === 10 && now.every((a) => a.hostId !== victim.nodeId)
      },
      'reassignment',
      { timeoutMs: 15_000 },
    )
    const reassignedMs = Date.now() - started
    await waitFor(() => clients.every((c) => hostPeersOf(c).filter((id) => id !== victim.nodeId).length === 2), 'clients peered with replacements', { timeoutMs: 15_000 })
    console.log(`host agent killed -> clients reassigned in ${reassignedMs} ms (coordinator interval ${COORDINATOR_INTERVAL})`)
    for (const id of affected) expect(clients.find((c) => c.nodeId === id)!.peers()).not.toContain(victim.nodeId)
  }, 40_000)

  test('behavior: restarting the coordinator loses no registration', async () => {
    const before = activeAssignments()
    const trustCalls = () => hosts.slice(0, 2).reduce((n, h) => n + h.calls.filter((c) => c.method === 'admin_addTrustedPeer').length, 0)
    const admitsBefore = trustCalls()
    expect(await coordinator.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    coordinator = await startCoordinator(coordinatorPort)
    // 2 live host agents and 5 client shims come back and re-authenticate.
    await waitFor(() => coordinator.logs.filter((l) => l.msg === 'agent authenticated').length >= 7, 'agents re-authenticated', { timeoutMs: 30_000 })
    for (const c of clients) await waitFor(() => hostPeersOf(c).length === 2, 'clients still peered', { timeoutMs: 10_000 })
    expect(activeAssignments()).toEqual(before)
    expect(trustCalls()).toBe(admitsBefore)
  }, 60_000)

  test('behavior: stopping a client makes its hosts drop it', async () => {
    const leaver = clients[0]!
    const itsHosts = activeAssignments().filter((a) => a.clientId === leaver.nodeId).map((a) => hosts.find((h) => h.nodeId === a.hostId)!)
    expect(itsHosts.length).toBe(2)
    expect(await clientShims[0]!.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    await waitFor(() => itsHosts.every((h) => !h.trusted.has(leaver.nodeId) && !h.peers().includes(leaver.nodeId)), 'hosts dropped the client', { timeoutMs: 15_000 })
    expect(activeAssignments().some((a) => a.clientId === leaver.nodeId)).toBe(false)
  }, 30_000)

  test('behavior: every log line of the coordinator, the host agents and the client shims writes each key once', () => {
    const lines = procs.reduce((n, p) => n + p.logs.length, 0)
    expect(lines).toBeGreaterThan(50) // they logged through every phase above
    for (const p of procs) expect(p.duplicateKeyLines).toEqual([])
  })
})
