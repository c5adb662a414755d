/**
 * The peer flow against a real execution client (@ethereumjs/client 0.10.5)
 * peering over devp2p: one host node (the clique signer, so the head moves)
 * and two client nodes on a private chain, with the coordinator, a host
 * agent and two client shims as child processes running the real CLI.
 *
 * What it shows: both clients peer with the host (both sides' admin_peers),
 * service accrues for both pairs from those real peer lists, kill -9 of a
 * client node stops its pair's accrual within one interval, and the clients
 * sync the chain through the host.
 *
 * How ethereumjs 0.10.5 syncs shapes the test (ethnode/ethereumjs.ts has the
 * details): once it has synced, a node takes a new block only when it is
 * pushed to it in full and is exactly one past its own head, and a host
 * pushes full blocks to the first ⌊√n⌋ peers of its pool (1 of 2 here). Its
 * first sync takes 8–18 s, during which a 2-second chain moves on, so a
 * client that joins a moving chain ends its first sync behind and stays
 * there. Hence:
 * - a slow chain (one block per PERIOD_S) whose first block comes PERIOD_S
 *   after the host starts; client A's shim is running before the host is,
 *   so A joins at the genesis, is first in the host's pool, and follows the
 *   head block by block;
 * - client B joins second, after the first block: it syncs the chain up to
 *   the host's head as of when it joined (it is not pushed blocks after
 *   that). B is the client killed with kill -9; A must keep following.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { generateNodeKey, type NodeKey } from '../../protocol/nodeKey.ts'
import type { NodeId } from '../../protocol/index.ts'
import { spawnVipnode, type Proc } from '../harness/processes.ts'
import { waitFor } from '../harness/waitFor.ts'
import { cliqueGenesis, newSigner } from '../realnode/genesis.ts'
import { startRealNode, writeGenesis, type RealNode } from '../realnode/realNode.ts'

const INTERVAL_MS = 1_000
const CHAIN_ID = 31337
/** Clique block period: longer than the pool needs to peer client A with the host (see the header). */
const PERIOD_S = 10
const dir = mkdtempSync(join(tmpdir(), 'vipnode-realnode-'))
const db = join(dir, 'pool.db')
const procs: Proc[] = []
const nodes: RealNode[] = []

let host: RealNode
/** Joins first: the host pushes new blocks to it. */
let clientA: RealNode
/** Joins second: syncs once, then is killed. */
let clientB: RealNode
let coordinatorUrl = ''
let hostAgent: Proc
let hostHeadWhenAJoined = -1
/** When the host node's RPC answered: its first block comes about PERIOD_S later. */
let hostUpAt = 0
/** The host's head just before client B's shim started: B's first sync must reach it. */
let hostHeadWhenBJoined = -1

/** Poll every 200 ms, as each check is an RPC to a real node or a SQLite read. */
const POLL_MS = 200

function spawn(args: string[]): Proc {
  const p = spawnVipnode(args)
  procs.push(p)
  return p
}

function keyFile(name: string, key: NodeKey): string {
  const path = join(dir, `${name}.nodekey`)
  writeFileSync(path, key, { mode: 0o600 })
  return path
}

/** Service per pair as the coordinator metered it (read-only; WAL lets us read while it writes). */
function serviceMs(clientId: NodeId, hostId: NodeId): number {
  const conn = new Database(db, { readonly: true, fileMustExist: true })
  try {
    const row = conn.prepare('SELECT COALESCE(SUM(service_ms), 0) AS ms FROM usage WHERE client_id = ? AND host_id = ?').get(clientId, hostId) as { ms: number }
    return row.ms
  } finally {
    conn.close()
  }
}

/** The peers in a node's latest report to the coordinator. */
function reportedPeers(nodeId: NodeId): NodeId[] {
  const conn = new Database(db, { readonly: true, fileMustExist: true })
  try {
    const row = conn.prepare('SELECT peers FROM reports WHERE node_id = ? ORDER BY id DESC LIMIT 1').get(nodeId) as { peers: string } | undefined
    return row ? (JSON.parse(row.peers) as NodeId[]) : []
  } finally {
    conn.close()
  }
}

const peeredBothWays = async (client: RealNode) => (await host.peerIds()).includes(client.nodeId) && (await client.peerIds()).includes(host.nodeId)

function startShim(client: RealNode): Proc {
  return spawn([
    'client',
    '--bootstrap', coordinatorUrl,
    '--node-rpc', client.rpcUrl,
    '--nodekey', keyFile(client.name, client.nodeKey),
    '--hosts', '1',
    '--update-interval', `${INTERVAL_MS}ms`,
  ])
}

/** On failure, what the nodes and agents last said is the evidence. */
async function explain<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    for (const n of nodes) {
      const head = await n.blockNumber().catch(() => 'down')
      console.error(`--- ${n.name} ${n.nodeId.slice(0, 8)} head ${head}\n${n.output.filter((l) => !/Memory stats/.test(l)).slice(-12).join('\n')}`)
    }
    for (const p of procs) console.error(`--- vipnode ${p.child.spawnargs[2]}\n${JSON.stringify(p.logs.slice(-6))}\n${p.stderr.slice(-4).join('\n')}`)
    throw err
  }
}

beforeAll(async () => {
  const signer = newSigner()
  const genesis = writeGenesis(dir, cliqueGenesis({ chainId: CHAIN_ID, signer: signer.address, periodSeconds: PERIOD_S }))
  const coordinator = spawn(['coordinator', '--allow-private-addresses', '--port', '0', '--db', db, '--update-interval', `${INTERVAL_MS}ms`, '--pool-id', 'realnode', '--chain-id', String(CHAIN_ID)])
  ;[clientA, clientB] = await Promise.all([
    startRealNode({ name: 'client-a', dir, genesis, nodeKey: generateNodeKey(), maxPeers: 5 }),
    startRealNode({ name: 'client-b', dir, genesis, nodeKey: generateNodeKey(), maxPeers: 5 }),
  ])
  nodes.push(clientA, clientB)
  coordinatorUrl = (await coordinator.waitForLog((l) => l.msg === 'coordinator listening', 'coordinator listening')).url
  // A's shim waits for a host (retrying every interval), so A peers as soon as the host is registered.
  await startShim(clientA).waitForLog((l) => l.msg === 'connected to coordinator', 'client A shim connected', 30_000)

  // No trusted peers on ethereumjs: --maxPeers alone must leave room for the clients.
  host = await startRealNode({ name: 'host', dir, genesis, nodeKey: generateNodeKey(), mine: { signerKey: signer.privateKey }, maxPeers: 10 })
  nodes.push(host)
  hostUpAt = Date.now()
  hostAgent = spawn(['host', '--coordinator', coordinatorUrl, '--node-rpc', host.rpcUrl, '--nodekey', keyFile('host', host.nodeKey), '--capacity', '5', '--update-interval', `${INTERVAL_MS}ms`])
  await hostAgent.waitForLog((l) => l.msg === 'connected to coordinator', 'host agent connected', 30_000)
}, 90_000)

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')))
  await Promise.all(nodes.map((n) => n.kill()))
  rmSync(dir, { recursive: true, force: true })
})

describe('peer flow with real ethereumjs nodes over devp2p', () => {
  test('both client nodes peer with the host node: both sides list each other in admin_peers', async () => {
    await explain(async () => {
      await waitFor(() => peeredBothWays(clientA), 'client A and the host to list each other', { timeoutMs: 30_000, intervalMs: POLL_MS })
      hostHeadWhenAJoined = await host.blockNumber()
      console.log(`ethereumjs: client A peered with the host ${((Date.now() - hostUpAt) / 1000).toFixed(1)} s after it started (block period ${PERIOD_S} s)`)
      // B joins second, once there is a block to sync (see the file header).
      await waitFor(async () => (await host.blockNumber()) >= 1, 'the host to seal its first block', { timeoutMs: 2 * PERIOD_S * 1000, intervalMs: POLL_MS })
      hostHeadWhenBJoined = await host.blockNumber()
      startShim(clientB)
      await waitFor(() => peeredBothWays(clientB), 'client B and the host to list each other', { timeoutMs: 30_000, intervalMs: POLL_MS })
    })
    console.log(`ethereumjs: client A joined at host block ${hostHeadWhenAJoined}, client B at block ${hostHeadWhenBJoined}`)
    // The host's pool in join order: A first, so A is the peer it pushes new blocks to.
    expect(await host.peerIds()).toEqual([clientA.nodeId, clientB.nodeId])
    // The host agent cannot make trust on this client, and says so.
    expect(JSON.stringify(hostAgent.logs)).toMatch(/no trusted peers/) // the adapter's warning, in the agent's JSON log
  }, 90_000)

  test('service time accrues for both pairs, from the peer lists the real nodes report', async () => {
    const start = [serviceMs(clientA.nodeId, host.nodeId), serviceMs(clientB.nodeId, host.nodeId)]
    await explain(() =>
      waitFor(
        () =>
          serviceMs(clientA.nodeId, host.nodeId) >= start[0]! + 3 * INTERVAL_MS &&
          serviceMs(clientB.nodeId, host.nodeId) >= start[1]! + 3 * INTERVAL_MS,
        'three intervals of service for both pairs',
        { timeoutMs: 30_000, intervalMs: POLL_MS },
      ),
    )
    expect(reportedPeers(host.nodeId)).toEqual(expect.arrayContaining([clientA.nodeId, clientB.nodeId]))
    expect(reportedPeers(clientA.nodeId)).toEqual([host.nodeId])
    expect(reportedPeers(clientB.nodeId)).toEqual([host.nodeId])
  }, 40_000)

  test('the clients sync the chain through the host; the one it pushes blocks to follows the head', async () => {
    expect(hostHeadWhenAJoined).toBeGreaterThanOrEqual(0)
    expect(hostHeadWhenBJoined).toBeGreaterThanOrEqual(1)
    await explain(async () => {
      // B: its first sync reaches the host's head as of when it joined.
      await waitFor(async () => (await clientB.blockNumber()) >= hostHeadWhenBJoined, `client B to reach block ${hostHeadWhenBJoined}`, { timeoutMs: 60_000, intervalMs: POLL_MS })
      // A: each new head reaches it within a few seconds of the host sealing it.
      for (let i = 0; i < 2; i++) {
        const next = (await host.blockNumber()) + 1
        await waitFor(async () => (await host.blockNumber()) >= next, `the host to seal block ${next}`, { timeoutMs: 2 * PERIOD_S * 1000, intervalMs: POLL_MS })
        await waitFor(async () => (await clientA.blockNumber()) >= next, `client A to follow to block ${next}`, { timeoutMs: 5_000, intervalMs: POLL_MS })
      }
    })
    // The same chain, not just the same height.
    const n = Math.min(await clientA.blockNumber(), await clientB.blockNumber())
    const hashAt = async (node: RealNode) => ((await node.rpc('eth_getBlockByNumber', [`0x${n.toString(16)}`, false])) as { hash: string }).hash
    expect(await hashAt(clientA)).toBe(await hashAt(host))
    expect(await hashAt(clientB)).toBe(await hashAt(host))
  }, 120_000)

  test('kill -9 of a client node stops its accrual within one interval; the other pair keeps going', async () => {
    await clientB.kill()
    const killedAt = serviceMs(clientB.nodeId, host.nodeId)
    const otherAt = serviceMs(clientA.nodeId, host.nodeId)
    // The host's devp2p notices a dead peer at once; its next report denies the pair.
    await waitFor(async () => !(await host.peerIds()).includes(clientB.nodeId), 'the host to drop the killed client', { timeoutMs: 5_000, intervalMs: POLL_MS })
    // Waiting for time to pass is the point here: nothing else can show that accrual stopped.
    await new Promise((r) => setTimeout(r, 3 * INTERVAL_MS))
    const grew = serviceMs(clientB.nodeId, host.nodeId) - killedAt
    console.log(`ethereumjs: after kill -9 of client B its pair accrued ${grew} ms more (interval ${INTERVAL_MS} ms)`)
    expect(grew, `pair kept accruing ${grew} ms after the kill`).toBeLessThanOrEqual(INTERVAL_MS)
    expect(serviceMs(clientA.nodeId, host.nodeId) - otherAt).toBeGreaterThanOrEqual(INTERVAL_MS)
    expect(reportedPeers(host.nodeId)).toEqual([clientA.nodeId])
  }, 30_000)

  test('the remaining client still follows the head through the host', async () => {
    await explain(async () => {
      const next = (await host.blockNumber()) + 1
      await waitFor(async () => (await host.blockNumber()) >= next, `the host to seal block ${next}`, { timeoutMs: 2 * PERIOD_S * 1000, intervalMs: POLL_MS })
      await waitFor(async () => (await clientA.blockNumber()) >= next, `client A to follow to block ${next}`, { timeoutMs: 5_000, intervalMs: POLL_MS })
    })
  }, 40_000)
})
