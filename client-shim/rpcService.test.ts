/**
 * The rpc service end to end, in one process: a coordinator, two host agents
 * with relays in front of stand-in nodes, and a client shim in rpc mode that
 * a scripted light client talks to. Real sockets and HTTP throughout.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFakeNode, type FakeNode } from '../test/fakenode/fakeNode.ts'
import { createFakeNetwork } from '../test/fakenode/fakeNetwork.ts'
import { testCoordinator } from '../test/harness/coordinator.ts'
import { eventually } from '../test/harness/agents.ts'
import { generateNodeKey } from '../protocol/index.ts'
import { silentLogger } from '../lib/logger.ts'
import { startHostAgent, type RunningHostAgent } from '../host-agent/hostAgent.ts'
import { startRpcClientShim } from './rpcClientShim.ts'
import { HELIOS_START, postRpc, rpcCall } from '../test/harness/jsonRpcClient.ts'

const dir = mkdtempSync(join(tmpdir(), 'vipnode-rpc-'))
const cleanup: (() => Promise<unknown>)[] = []
const net = createFakeNetwork()
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

function keyFile(key: string): string {
  const path = join(dir, `${Math.random().toString(16).slice(2)}.key`)
  writeFileSync(path, key)
  return path
}

async function rpcHost(coordinator: string): Promise<{ node: FakeNode; agent: RunningHostAgent }> {
  const node = await startFakeNode({ kind: 'geth', chainId: 1337, network: net })
  node.setHead(50)
  cleanup.push(() => node.close())
  const agent = await startHostAgent(
    { coordinator, nodeRpc: node.url, nodekey: keyFile(node.nodeKey), capacity: 5, updateIntervalMs: 100, relay: { listenHost: '127.0.0.1', listenPort: 0, nodeHttpUrl: node.url } },
    { log: silentLogger },
  )
  cleanup.push(() => agent.close())
  await agent.pool.ready()
  return { node, agent }
}

type Reply = { id?: unknown; result?: any; error?: { code: number; message: string } }
const call = rpcCall
const post = postRpc


describe('rpc service', () => {
  test('behavior: a light client is served through an assigned host, failover hides a dead host, and both sides meter the same traffic', async () => {
    const c = await testCoordinator({ updateIntervalMs: 300, relayTokenWindowMs: 60_000 })
    cleanup.push(() => c.close())
    const a = await rpcHost(c.url)
    const b = await rpcHost(c.url)
    expect(c.services.sessions.get(a.agent.identity.nodeId)?.session).toMatchObject({ kind: 'rpc', relayUrl: a.agent.relay!.url.replace(/\/$/, '') })

    const shim = await startRpcClientShim({ bootstrap: c.url, nodekey: keyFile(generateNodeKey()), chainId: 1337, hosts: 2, listenHost: '127.0.0.1', listenPort: 0, updateIntervalMs: 100 }, { log: silentLogger })
    cleanup.push(() => shim.close())
    await eventually(() => shim.proxy.targets().length === 2, 'two rpc hosts assigned')

    // The Helios start sequence, one by one and as a batch: the node's own answers come back.
    for (const req of HELIOS_START) {
      const { status, json } = await post(shim.proxy.url, req)
      expect(status).toBe(200)
      expect(json.error, `${req.method}: ${JSON.stringify(json.error)}`).toBeUndefined()
      const direct = await post(a.node.url, req)
      expect(json.result).toEqual(direct.json.result)
    }
    const batch = await post(shim.proxy.url, HELIOS_START.map((r, i) => ({ ...r, id: 100 + i })))
    expect(batch.json.map((r: Reply) => r.id).sort()).toEqual(HELIOS_START.map((_, i) => 100 + i))
    expect(batch.json.every((r: Reply) => r.result !== undefined)).toBe(true)

    // Dangerous methods are refused by the relay and never reach a node.
    const denied = await post(shim.proxy.url, call('admin_addPeer', ['enode://x']))
    expect(denied.json.error).toMatchObject({ code: -32601, message: expect.stringMatching(/not relayed/) })
    expect([...a.node.calls, ...b.node.calls].some((x) => x.method === 'admin_addPeer')).toBe(false)

    // A token the coordinator never issued is refused at the relay.
    const forged = await post(a.agent.relay!.url, call('eth_chainId'), { authorization: `Bearer ${'ab'.repeat(32)}` })
    expect(forged.status).toBe(401)

    // Kill the host in use: the next requests go to the other one without an error.
    const used = (await eventually(() => [a, b].find((h) => h.node.rpcCalls.some((x) => x.method === 'eth_getProof')), 'a host served the proof'))!
    const other = used === a ? b : a
    await used.agent.relay!.close()
    for (const req of HELIOS_START) {
      const { json } = await post(shim.proxy.url, req)
      expect(json.error, `${req.method} after failover`).toBeUndefined()
    }
    expect(other.node.rpcCalls.some((x) => x.method === 'eth_getProof')).toBe(true)

    // A light client polls the head (Helios: every block). Both sides report that traffic, so the pair accrues service.
    const metered = async () => (await c.services.store.usage()).find((u) => u.hostId === other.agent.identity.nodeId && u.clientId === shim.nodeId)?.serviceMs ?? 0
    const deadline = Date.now() + 10_000
    while ((await metered()) < 300 && Date.now() < deadline) {
      expect((await post(shim.proxy.url, call('eth_blockNumber'))).json.error).toBeUndefined()
      await new Promise((r) => setTimeout(r, 40))
    }
    expect(await metered()).toBeGreaterThanOrEqual(300)
    // The dead host served nothing after it died, so it accrued nothing more (at most the 2-interval cap before).
    const deadHostMs = (await c.services.store.usage()).find((u) => u.hostId === used.agent.identity.nodeId)?.serviceMs ?? 0
    expect(deadHostMs).toBeLessThanOrEqual(600)
  })
})
