/**
 * The rpc service end to end, in one process: a coordinator, two host agents
 * with relays in front of stand-in nodes, and a client shim in rpc mode that
 * a scripted light client talks to. Real sockets and HTTP throughout.
 */
import { describe, test, expect } from 'vitest'
import { createFakeNetwork } from '../test/fakenode/fakeNetwork.ts'
import { testCoordinator } from '../test/harness/coordinator.ts'
import { waitFor } from '../test/harness/waitFor.ts'
import { generateNodeKey } from '../protocol/index.ts'
import { silentLogger } from '../lib/logger.ts'
import { startRpcClientShim } from './rpcClientShim.ts'
import { HELIOS_START, postRpc, rpcCall } from '../test/harness/jsonRpcClient.ts'
import { closeAfterEach, keyFileWriter, scratchDir } from '../test/harness/scratch.ts'
import { startRpcHost } from '../test/harness/rpcHosts.ts'

const dir = scratchDir('rpc')
const cleanup = closeAfterEach()
const net = createFakeNetwork()

const keyFile = keyFileWriter(dir)

const rpcHost = (coordinator: string) => startRpcHost(coordinator, { net, keyFile, cleanup })

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
    await waitFor(() => shim.proxy.targets().length === 2, 'two rpc hosts assigned')

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
    const used = (await waitFor(() => [a, b].find((h) => h.node.rpcCalls.some((x) => x.method === 'eth_getProof')), 'a host served the proof'))!
    const other = used === a ? b : a
    await used.agent.relay!.close()
    for (const req of HELIOS_START) {
      const { json } = await post(shim.proxy.url, req)
      expect(json.error, `${req.method} after failover`).toBeUndefined()
    }
    expect(other.node.rpcCalls.some((x) => x.method === 'eth_getProof')).toBe(true)

    // A light client polls the head (Helios: every block). Both sides report that traffic, so the pair accrues service.
    const metered = async () => (await c.services.store.usage()).find((u) => u.hostId === other.agent.identity.nodeId && u.clientId === shim.nodeId)?.serviceMs ?? 0
    const replies: Awaited<ReturnType<typeof post>>['json'][] = []
    await waitFor(
      async () => {
        replies.push((await post(shim.proxy.url, call('eth_blockNumber'))).json)
        return (await metered()) >= 300
      },
      'the pair to be metered',
      { timeoutMs: 10_000, intervalMs: 40 },
    )
    for (const json of replies) expect(json.error).toBeUndefined()
    expect(await metered()).toBeGreaterThanOrEqual(300)
    // The shim also reports each host's service (docs/rpcService.md#quality): the pool's service report on the
    // host that served the polls counts their calls with their latency.
    const serving = await waitFor(() => {
      const e = c.services.quality.report(other.agent.identity.nodeId, c.services.clock.now())?.epochs[0]
      return e && e.calls.ok >= replies.length ? e : undefined
    }, "the polls in the serving host's quality report")
    expect(serving!.p50Ms).not.toBeNull()
    // The dead host served nothing after it died, so it accrued nothing more (at most the 2-interval cap before).
    const deadHostMs = (await c.services.store.usage()).find((u) => u.hostId === used.agent.identity.nodeId)?.serviceMs ?? 0
    expect(deadHostMs).toBeLessThanOrEqual(600)
  })
})

describe('rpc service: addresses chosen by the other side (shim side)', () => {
  test('error: a shim without private addresses allowed never posts to a relay on loopback, even when the pool assigns it', async () => {
    // A development pool (it accepts the loopback relay), and a shim that does not trust that: defence in depth.
    const c = await testCoordinator({ updateIntervalMs: 300, relayTokenWindowMs: 60_000 })
    cleanup.push(() => c.close())
    const a = await rpcHost(c.url)
    const shim = await startRpcClientShim(
      { bootstrap: c.url, allowPrivateAddresses: false, nodekey: keyFile(generateNodeKey()), chainId: 1337, hosts: 1, listenHost: '127.0.0.1', listenPort: 0, updateIntervalMs: 100 },
      { log: silentLogger },
    )
    cleanup.push(() => shim.close())
    let reports = 0
    shim.onReport(() => reports++)
    await waitFor(() => c.services.assignments.hostsOf(shim.nodeId).includes(a.agent.identity.nodeId), 'the pool assigns the loopback host')
    const seen = reports
    await waitFor(() => reports >= seen + 3, 'three more reports with the grant')
    expect(shim.proxy.targets()).toEqual([])
    const proofsBefore = a.node.calls.filter((x) => x.method === 'eth_getProof').length
    const { json } = await post(shim.proxy.url, call('eth_getProof', ['0x0000000000000000000000000000000000000000', [], 'latest']))
    expect(json.result).toBeUndefined()
    expect(json.error).toBeDefined()
    expect(a.node.calls.filter((x) => x.method === 'eth_getProof').length).toBe(proofsBefore)
  })
})
