/**
 * Attack 9 (issue 16): an rpc host whose relay answers every call with 429
 * (or a JSON-RPC error) used to stay the light client's sticky host — a 429
 * is an answer, not a failover — while both sides reported "traffic", so the
 * pool paid it for serving nothing.
 *
 * Real parts: an in-process coordinator on loopback with a price, the real
 * rpc client shim (proxy + pool connection), a real honest host agent with
 * its relay in front of a stand-in node. The attacker is a host agent on a
 * real pool socket that advertises its own relay (an HTTP server answering
 * 429 to everything) and claims relay traffic with the client in every
 * report, as a greedy host would.
 *
 * Bound: the attacker's corroborated service with the client is 0 ms and
 * the client is charged 0 wei for it, however much it claims; the proxy
 * benches it after 10 unserved requests, hands it back to the pool (released
 * as client-replaced, not offered again), and the light client's calls are
 * then served by the honest host.
 */
import { describe, test, expect } from 'vitest'
import { createServer, type Server } from 'node:http'
import { createFakeNetwork } from '../fakenode/fakeNetwork.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { recordingLogger, testAgent } from '../harness/agents.ts'
import { waitFor } from '../harness/waitFor.ts'
import { identity } from '../harness/rawAgent.ts'
import { postRpc, rpcCall } from '../harness/jsonRpcClient.ts'
import { generateNodeKey, RPC_REQUIRED_METHODS, type NodeId } from '../../protocol/index.ts'
import { startRpcClientShim } from '../../client-shim/rpcClientShim.ts'
import { closeAfterEach, keyFileWriter, scratchDir } from '../harness/scratch.ts'
import { startRpcHost } from '../harness/rpcHosts.ts'

const INTERVAL_MS = 300
const HEAD = 50
const PRICE_WEI_PER_MINUTE = 6_000_000_000n
const dir = scratchDir('adv9')
const cleanup = closeAfterEach()
const net = createFakeNetwork()

const keyFile = keyFileWriter(dir)

const honestHost = (coordinator: string) => startRpcHost(coordinator, { net, keyFile, cleanup, head: HEAD })

/** A relay that refuses everything with 429, as a host that wants pay without load would. */
async function refusingRelay(): Promise<{ url: string; requests: () => number; server: Server }> {
  let requests = 0
  const server = createServer((req, res) => {
    req.resume()
    // The shim's socket upgrade (a GET) is refused the same way; only calls count.
    if (req.method === 'POST') requests++
    res.writeHead(429, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32005, message: 'rate limited' } }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(() => new Promise((r) => server.close(r)))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, requests: () => requests, server }
}

describe('adversary: error-serving rpc host (attack 9)', () => {
  test('bound: a relay that answers every call with 429 earns 0 ms and 0 wei, is benched and handed back, and an honest host serves the light client', async () => {
    const log = recordingLogger()
    const c = await testCoordinator({ updateIntervalMs: INTERVAL_MS, relayTokenWindowMs: 60_000, priceWeiPerMinute: PRICE_WEI_PER_MINUTE, trialWei: 10n ** 18n }, { logger: log })
    cleanup.push(() => c.close())

    // The attacker: a real pool session as an rpc host, its relay refusing everything, its reports claiming the client.
    const relay = await refusingRelay()
    const attacker = await testAgent(c.url, { role: 'host', kind: 'rpc', relayUrl: relay.url, capabilities: [...RPC_REQUIRED_METHODS], capacity: 5 }, {}, identity(30401))
    cleanup.push(() => attacker.close())
    let claims = 0
    let clientId: NodeId | undefined
    const claiming = setInterval(() => {
      const relays = clientId ? [{ nodeId: clientId, requests: relay.requests() + 10, busyMs: INTERVAL_MS }] : []
      attacker.conn.call('vipnode_update', { peerIds: [], block: { number: HEAD, hash: `0x${'ab'.repeat(32)}` }, relays }).then(
        () => void (claims += relays.length),
        () => undefined,
      )
    }, INTERVAL_MS)
    cleanup.push(async () => clearInterval(claiming))

    const shimLog = recordingLogger()
    const shim = await startRpcClientShim({ bootstrap: c.url, nodekey: keyFile(generateNodeKey()), chainId: 1337, hosts: 2, listenHost: '127.0.0.1', listenPort: 0, updateIntervalMs: 100 }, { log: shimLog })
    cleanup.push(() => shim.close())
    clientId = shim.nodeId
    await waitFor(() => shim.proxy.targets().some((t) => t.hostNodeId === attacker.id.nodeId), 'the attacker assigned to the client')

    // The light client gets only refusals from it, ten requests over several report intervals (while the
    // attacker claims them), and then the proxy benches it.
    const firstRefusalAt = Date.now()
    for (let i = 0; i < 10; i++) {
      const { json } = await postRpc(shim.proxy.url, rpcCall('eth_blockNumber'))
      expect(json.error?.code).toBe(-32005)
      await new Promise((r) => setTimeout(r, INTERVAL_MS / 2))
    }
    expect(relay.requests()).toBe(10)
    const bench = await waitFor(() => shimLog.lines.find((l) => l.message.startsWith('pool host benched')), 'the proxy to bench the attacker')
    expect(bench!.context).toMatchObject({ host: attacker.id.nodeId, reason: '10 of its last 10 requests failed on its side' })

    // The shim hands it back (replace); the pool releases the pair as client-replaced and gives the honest host instead.
    const releasedAfterMs = (await waitFor(() => log.lines.some((l) => l.message === 'assignment released' && l.context?.host === attacker.id.nodeId), 'the attacker released'), Date.now() - firstRefusalAt)
    const honest = await honestHost(c.url)
    await waitFor(() => {
      const t = shim.proxy.targets()
      return t.length === 1 && t[0]!.hostNodeId === honest.agent.identity.nodeId
    }, 'the honest host in place of the attacker', { timeoutMs: 10_000 })
    const released = log.lines.find((l) => l.message === 'assignment released' && l.context?.host === attacker.id.nodeId)
    expect(released?.context).toMatchObject({ client: shim.nodeId, reason: 'client-replaced' })

    // Served by the honest host from now on, until its service is metered (the bound below is not vacuous).
    const usage = async (host: NodeId) => (await c.services.store.usage()).find((u) => u.hostId === host && u.clientId === shim.nodeId)
    const replies: Awaited<ReturnType<typeof postRpc>>['json'][] = []
    await waitFor(
      async () => {
        replies.push((await postRpc(shim.proxy.url, rpcCall('eth_blockNumber'))).json)
        return ((await usage(honest.agent.identity.nodeId))?.serviceMs ?? 0) >= 2 * INTERVAL_MS
      },
      'the honest host to be metered for two intervals',
      { timeoutMs: 10_000, intervalMs: 40 },
    )
    for (const json of replies) {
      expect(json.error).toBeUndefined()
      expect(json.result).toBe(`0x${HEAD.toString(16)}`)
    }
    const honestUsage = await usage(honest.agent.identity.nodeId)
    expect(honestUsage?.serviceMs).toBeGreaterThanOrEqual(2 * INTERVAL_MS)
    expect(honestUsage?.chargedWei).toBeGreaterThan(0n)
    expect(relay.requests()).toBe(10) // benched and released: never contacted again

    // The bound: the attacker's claims never corroborate.
    const attackerUsage = await usage(attacker.id.nodeId)
    expect(attackerUsage?.serviceMs ?? 0).toBe(0)
    expect(attackerUsage?.chargedWei ?? 0n).toBe(0n)
    expect(claims).toBeGreaterThan(0)
    // Not offered to this client again.
    expect(c.services.assignments.hostsOf(shim.nodeId)).not.toContain(attacker.id.nodeId)
    expect(attacker.calls.filter((x) => x.method === 'vipnode_admit')).toHaveLength(1)
    console.log(
      `[attack 9] error-serving host: ${claims} reports claiming traffic, ${relay.requests()} requests refused with 429 before the bench; ` +
        `released ${releasedAfterMs} ms after the first refusal (requests spaced ${INTERVAL_MS / 2} ms); ` +
        `service credited to it ${attackerUsage?.serviceMs ?? 0} ms, client charged ${attackerUsage?.chargedWei ?? 0n} wei; ` +
        `honest host after failover: ${honestUsage?.serviceMs} ms, ${honestUsage?.chargedWei} wei`,
    )
  })
})
