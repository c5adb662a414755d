/** The host agent in-process against a stand-in node and a real coordinator on loopback. */
import { describe, test, expect } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startFakeNode, type FakeNode } from '../test/fakenode/fakeNode.ts'
import { testCoordinator } from '../test/harness/coordinator.ts'
import { recordingLogger, testAgent } from '../test/harness/agents.ts'
import { waitFor } from '../test/harness/waitFor.ts'
import { generateNodeKey, ErrorCode, RpcError, normaliseOrigin } from '../protocol/index.ts'
import { silentLogger } from '../lib/logger.ts'
import type { RunningCoordinator } from '../coordinator/coordinator.ts'
import { startHostAgent, type RunningHostAgent } from './hostAgent.ts'
import { IdentityError } from '../agent/nodeIdentity.ts'
import { closeAfterEach, keyFileWriter, scratchDir } from '../test/harness/scratch.ts'

const dir = scratchDir('host')
const cleanup = closeAfterEach()

const keyFile = keyFileWriter(dir)

async function fake(kind: FakeNode['kind'] = 'geth'): Promise<FakeNode> {
  const n = await startFakeNode({ kind, chainId: 1337 })
  cleanup.push(() => n.close())
  return n
}

async function setup(): Promise<{ c: RunningCoordinator; node: FakeNode; agent: RunningHostAgent }> {
  const c = await testCoordinator({ updateIntervalMs: 300 })
  cleanup.push(() => c.close())
  const node = await fake()
  const agent = await startHostAgent({ coordinator: c.url, nodeRpc: node.url, nodekey: keyFile(node.nodeKey), capacity: 3, updateIntervalMs: 100 }, { log: silentLogger })
  cleanup.push(() => agent.close())
  await agent.pool.ready()
  return { c, node, agent }
}

describe('host agent', () => {
  test('default: authenticates with the node key and reports the node head', async () => {
    const { c, node, agent } = await setup()
    node.setHead(4242)
    await waitFor(async () => (await c.services.store.latestReport(agent.identity.nodeId))?.blockNumber === 4242, 'report with head')
    expect(agent.identity.nodeId).toBe(node.nodeId)
    expect(await c.services.store.getNode(node.nodeId)).toMatchObject({ role: 'host', capacity: 3, clientVersion: node.clientVersion })
  })

  test('error: a malformed admit or an unknown method is refused and the node is untouched', async () => {
    const { c, node } = await setup()
    const conn = c.services.sessions.get(node.nodeId)!
    const bad = await conn.call('vipnode_admit', { nodeId: 'zz', enode: 'enode://nope' }).catch((e: RpcError) => e)
    expect(bad).toMatchObject({ code: ErrorCode.INVALID_PARAMS, message: expect.stringContaining('nodeId') })
    const unknown = await conn.call('vipnode_rmRf', {}).catch((e: RpcError) => e)
    expect(unknown).toMatchObject({ code: ErrorCode.METHOD_NOT_FOUND })
    const self = await conn.call('vipnode_admit', { nodeId: node.nodeId, enode: node.enode }).catch((e: RpcError) => e)
    expect(self).toMatchObject({ code: ErrorCode.INVALID_PARAMS })
    expect(node.calls.filter((x) => x.method !== 'admin_nodeInfo' && x.method !== 'admin_peers')).toEqual([])
  })

  test('behavior: admits on order, drops clients the pool no longer vouches for, and removes trust on close', async () => {
    const { c, node, agent } = await setup()
    const stray = await fake()
    const conn = c.services.sessions.get(node.nodeId)!
    await conn.call('vipnode_admit', { nodeId: stray.nodeId, enode: stray.enode })
    expect(node.trusted.has(stray.nodeId)).toBe(true)
    // The coordinator never recorded this assignment, so the next report's vouched list lacks it.
    // The node forgets it first; the agent's own book follows when the node's reply arrives.
    await waitFor(() => !node.trusted.has(stray.nodeId) && !agent.admitted.has(stray.nodeId), 'unvouched client dropped')
    expect(agent.admitted.has(stray.nodeId)).toBe(false)

    const client = await testAgent(c.url, { role: 'client' })
    cleanup.push(() => client.close())
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    expect(node.trusted.has(client.id.nodeId)).toBe(true)
    // Three more reports (their times; a report that changes nothing adds no history row, so ids do not count them).
    const seen = new Set([(await c.services.store.latestReport(node.nodeId))!.observedAtMs])
    await waitFor(async () => seen.add((await c.services.store.latestReport(node.nodeId))!.observedAtMs).size > 3, 'more reports')
    expect(node.trusted.has(client.id.nodeId)).toBe(true) // vouched: kept
    await agent.close()
    expect(node.trusted.has(client.id.nodeId)).toBe(false)
    expect(node.calls.map((x) => x.method)).toEqual(expect.arrayContaining(['admin_removeTrustedPeer', 'admin_removePeer']))
  })

  test('behavior: a node that goes down is retried; the agent keeps running and resumes', async () => {
    const c = await testCoordinator({ updateIntervalMs: 300 })
    cleanup.push(() => c.close())
    const node = await fake()
    const log = recordingLogger()
    const agent = await startHostAgent({ coordinator: c.url, nodeRpc: node.url, nodekey: keyFile(node.nodeKey), capacity: 3, updateIntervalMs: 100 }, { log })
    cleanup.push(() => agent.close())
    await agent.pool.ready()
    node.setDown(true)
    await waitFor(() => log.lines.some((l) => l.level === 'error' && l.message === 'report failed'), 'a failed report')
    node.setHead(99)
    node.setDown(false)
    await waitFor(async () => (await c.services.store.latestReport(agent.identity.nodeId))?.blockNumber === 99, 'reports resume')
  })

  test('error: a node key that is not the node\'s own refuses to start, with the reason', async () => {
    const node = await fake()
    const err = await startHostAgent({ coordinator: 'http://127.0.0.1:1', nodeRpc: node.url, nodekey: keyFile(generateNodeKey()), capacity: 1 }, { log: silentLogger }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(IdentityError)
    expect((err as Error).message).toMatch(/belongs to node .* but the node at the RPC URL is/)
  })

  test('error: a --public-enode for another node ID refuses to start', async () => {
    const node = await fake()
    const other = await fake()
    const err = await startHostAgent({ coordinator: 'http://127.0.0.1:1', nodeRpc: node.url, nodekey: keyFile(node.nodeKey), publicEnode: other.enode, capacity: 1 }, { log: silentLogger }).catch((e: unknown) => e)
    expect(err).toMatchObject({ message: expect.stringContaining('--public-enode') })
  })

  test('error: a --public-enode with a DNS name refuses to start (the pool accepts IP addresses only)', async () => {
    const node = await fake()
    const dns = node.enode.replace(/@[^:]+:/, '@node.example.org:')
    const err = await startHostAgent({ coordinator: 'http://127.0.0.1:1', nodeRpc: node.url, nodekey: keyFile(node.nodeKey), publicEnode: dns, capacity: 1 }, { log: silentLogger }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(IdentityError)
    expect((err as Error).message).toBe('--public-enode: enode host must be an IP address, got "node.example.org"; pass --public-enode with this node\'s public IP address')
  })

  test('error: a client enode with a DNS name is refused as INVALID_PARAMS about the client, and the node is untouched', async () => {
    const { c, node } = await setup()
    const client = await fake()
    const conn = c.services.sessions.get(node.nodeId)!
    const dns = client.enode.replace(/@[^:]+:/, '@unresolvable.invalid:')
    const refused = await conn.call('vipnode_admit', { nodeId: client.nodeId, enode: dns }).catch((e: RpcError) => e)
    expect(refused).toMatchObject({ code: ErrorCode.INVALID_PARAMS, message: 'invalid params for vipnode_admit: enode: enode host must be an IP address, got "unresolvable.invalid"' })
    expect(node.trusted.has(client.nodeId)).toBe(false)
  })

  test('error: outside development, a client enode on a non-public address is refused as INVALID_PARAMS about the client, and the node is untouched', async () => {
    // A development pool (it accepts loopback enodes) and a host agent that does not trust that: defence in depth.
    const c = await testCoordinator({ updateIntervalMs: 300 })
    cleanup.push(() => c.close())
    const node = await fake('besu') // Besu dials the clients it admits
    const log = recordingLogger()
    const agent = await startHostAgent({ coordinator: c.url, allowPrivateAddresses: false, nodeRpc: node.url, nodekey: keyFile(node.nodeKey), capacity: 3, updateIntervalMs: 100 }, { log })
    cleanup.push(() => agent.close())
    await agent.pool.ready()
    const client = await fake()
    const conn = c.services.sessions.get(node.nodeId)!
    for (const host of ['127.0.0.1', '10.0.0.7', '[fd00::5]', '169.254.169.254']) {
      const enode = client.enode.replace(/@[^@]+:(\d+)/, `@${host}:$1`)
      const refused = await conn.call('vipnode_admit', { nodeId: client.nodeId, enode }).catch((e: RpcError) => e)
      expect(refused, host).toMatchObject({ code: ErrorCode.INVALID_PARAMS, message: expect.stringMatching(/^invalid params for vipnode_admit: enode: enode host .* is a (loopback|private|link-local) address .*\(this host runs without --allow-private-addresses\)$/) })
    }
    expect(node.calls.filter((x) => /allowlist|addPeer|TrustedPeer/i.test(x.method))).toEqual([])
    expect(agent.admitted.size).toBe(0)
    expect(log.lines.filter((l) => l.message === 'client enode refused: not admitting it')).toHaveLength(4)
  })

  test('behavior: the pool id is remembered beside the node key on first login', async () => {
    const { c, node } = await setup()
    const file = readdirSync(dir).find((f) => f.endsWith('.key.pools.json') && JSON.parse(readFileSync(join(dir, f), 'utf8'))[normaliseOrigin(c.url)] === c.poolId)
    expect(file, `no known pools file for ${node.nodeId.slice(0, 8)} in ${dir}`).toBeDefined()
  })

  test('error: a node without the admin API names the flag to add', async () => {
    const node = await startFakeNode({ kind: 'geth', missingMethods: ['admin_nodeInfo'] })
    cleanup.push(() => node.close())
    const err = await startHostAgent({ coordinator: 'http://127.0.0.1:1', nodeRpc: node.url, nodekey: keyFile(node.nodeKey), capacity: 1 }, { log: silentLogger }).catch((e: unknown) => e)
    expect(err).toMatchObject({ explain: expect.stringContaining('--http.api admin,eth,net,web3') })
  })
})
