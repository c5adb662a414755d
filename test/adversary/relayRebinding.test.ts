/**
 * Attack 15, DNS rebinding (issue 18 item 5): an rpc host advertises a relay
 * URL on a DNS name that resolves to a public address when the coordinator
 * checks it at vipnode_connect, then to 127.0.0.1. Before, every client shim
 * of the pool then posted its light client's calls, with its relay token,
 * to whatever listens on its own machine at that port.
 *
 * Real parts: a production coordinator (no --allow-private-addresses) and a
 * production client shim, in process on loopback; a DNS responder on
 * loopback UDP that both resolve the name through (the only injected
 * piece: neither would otherwise know the name); a "victim" TCP server on
 * 127.0.0.1 that records every connection and byte. The attacker is a host
 * on a real pool socket with a public enode and the rebinding name as its
 * relay URL.
 *
 * Bound: the victim gets no connection (so no request and no token); the
 * light client gets -32002 naming the refusal; the shim logs one line with
 * the host, the name and the refused address, benches the host and hands it
 * back, and the pool releases the pair as client-replaced. The control at
 * the end shows the name does reach the victim when private addresses are
 * allowed (development), so the refusal is the check, not a dead name.
 */
import { describe, expect, test } from 'vitest'
import { createServer, type Socket } from 'node:net'
import { testCoordinator } from '../harness/coordinator.ts'
import { recordingLogger, testAgent } from '../harness/agents.ts'
import { waitFor } from '../harness/waitFor.ts'
import { identity } from '../harness/rawAgent.ts'
import { postRpc, rpcCall } from '../harness/jsonRpcClient.ts'
import { startDnsResponder } from '../harness/dnsResponder.ts'
import { closeAfterEach, keyFileWriter, scratchDir } from '../harness/scratch.ts'
import { formatEnode, generateNodeKey, RPC_REQUIRED_METHODS } from '../../protocol/index.ts'
import { startRpcClientShim } from '../../client-shim/rpcClientShim.ts'

const INTERVAL_MS = 300
const HEAD = 50
const NAME = 'relay.rebind.test'
const dir = scratchDir('adv15')
const cleanup = closeAfterEach()
const keyFile = keyFileWriter(dir)

/** What listens on the client's own machine: it records everything that reaches it. */
async function victimServer(): Promise<{ port: number; connections: () => number; received: () => string }> {
  let connections = 0
  const chunks: Buffer[] = []
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    connections++
    sockets.add(s)
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
    s.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
  })
  return { port: (server.address() as { port: number }).port, connections: () => connections, received: () => Buffer.concat(chunks).toString('latin1') }
}

describe('adversary: DNS rebinding of a relay name (attack 15)', () => {
  test('bound: a relay name that rebinds to 127.0.0.1 after the connect check gets no connection from the shim; the light client gets a clear error and the host is handed back', async () => {
    const dns = await startDnsResponder()
    cleanup.push(() => dns.close())
    const victim = await victimServer()
    const relayUrl = `https://${NAME}:${victim.port}/`

    // The coordinator checks the name at connect: it answers a public address.
    dns.answer(NAME, ['1.1.1.1'])
    const log = recordingLogger()
    const c = await testCoordinator({ allowPrivateAddresses: false, updateIntervalMs: INTERVAL_MS, relayTokenWindowMs: 60_000 }, { logger: log, resolveName: dns.resolveName })
    cleanup.push(() => c.close())
    const id = identity()
    const attacker = await testAgent(
      c.url,
      { role: 'host', kind: 'rpc', relayUrl, capabilities: [...RPC_REQUIRED_METHODS], capacity: 5, enode: formatEnode({ nodeId: id.nodeId, host: '8.8.8.8', tcpPort: 30303, udpPort: 30303 }) },
      {},
      id,
    )
    cleanup.push(() => attacker.close())
    expect(c.services.sessions.get(id.nodeId)?.session?.relayUrl).toBe(relayUrl)
    expect(dns.queries.some((q) => q.name === NAME)).toBe(true)
    const reporting = setInterval(() => {
      attacker.conn.call('vipnode_update', { peerIds: [], block: { number: HEAD, hash: `0x${'ab'.repeat(32)}` }, relays: [] }).catch(() => undefined)
    }, INTERVAL_MS)
    cleanup.push(async () => clearInterval(reporting))

    // The rebinding: from now on the name points at the client's own machine.
    dns.answer(NAME, ['127.0.0.1'])
    const queriesBefore = dns.queries.length

    const shimLog = recordingLogger()
    const shim = await startRpcClientShim(
      { bootstrap: c.url, allowPrivateAddresses: false, nodekey: keyFile(generateNodeKey()), chainId: 1337, hosts: 1, listenHost: '127.0.0.1', listenPort: 0, updateIntervalMs: 100 },
      { log: shimLog, resolveName: dns.resolveName },
    )
    cleanup.push(() => shim.close())
    await waitFor(() => shim.proxy.targets().some((t) => t.hostNodeId === id.nodeId), 'the attacker assigned to the client', { timeoutMs: 10_000 })

    // The light client's call: refused before any connection, with a clear error.
    const askedAt = Date.now()
    const { json } = await postRpc(shim.proxy.url, rpcCall('eth_blockNumber'))
    const answeredMs = Date.now() - askedAt
    expect(json.result).toBeUndefined()
    expect(json.error.code).toBe(-32002)
    expect(json.error.message).toBe(
      `no pool host available: host ${id.nodeId.slice(0, 8)}: relay address refused: ${NAME} resolves to 127.0.0.1, a loopback address in 127.0.0.0/8 (loopback): only public addresses are accepted (this client runs without --allow-private-addresses)`,
    )
    // The shim asked the name itself, at connect time.
    expect(dns.queries.slice(queriesBefore).some((q) => q.name === NAME)).toBe(true)
    const refusals = shimLog.lines.filter((l) => l.message.startsWith('relay address refused'))
    expect(refusals).toHaveLength(1)
    expect(refusals[0]).toMatchObject({ level: 'warn', context: { host: id.nodeId, relayName: NAME, address: '127.0.0.1' } })

    // Benched at once and handed back: the pool releases the pair and assigns nothing else (there is no other host).
    await waitFor(() => log.lines.some((l) => l.message === 'assignment released' && l.context?.host === id.nodeId), 'the attacker released', { timeoutMs: 10_000 })
    const releasedMs = Date.now() - askedAt
    expect(log.lines.find((l) => l.message === 'assignment released' && l.context?.host === id.nodeId)?.context).toMatchObject({ client: shim.nodeId, reason: 'client-replaced' })
    await waitFor(() => shim.proxy.targets().length === 0, 'the attacker gone from the proxy')
    const after = await postRpc(shim.proxy.url, rpcCall('eth_blockNumber'))
    expect(after.json.error).toMatchObject({ code: -32002, message: expect.stringMatching(/^no pool host available/) })
    expect(attacker.calls.filter((x) => x.method === 'vipnode_admit')).toHaveLength(1)

    // Nothing ever reached the victim: no connection, so no request and no token.
    expect(victim.connections()).toBe(0)
    expect(victim.received()).toBe('')

    // Control: the same name, resolver and victim with private addresses allowed (development) do connect.
    const devShim = await startRpcClientShim(
      { bootstrap: c.url, allowPrivateAddresses: true, nodekey: keyFile(generateNodeKey()), chainId: 1337, hosts: 1, listenHost: '127.0.0.1', listenPort: 0, updateIntervalMs: 100 },
      { log: recordingLogger(), resolveName: dns.resolveName },
    )
    cleanup.push(() => devShim.close())
    await waitFor(() => devShim.proxy.targets().some((t) => t.hostNodeId === id.nodeId), 'the attacker assigned to the development shim', { timeoutMs: 10_000 })
    await postRpc(devShim.proxy.url, rpcCall('eth_blockNumber'))
    expect(victim.connections()).toBeGreaterThan(0)
    console.log(
      `figures: DNS rebinding: production shim 0 connections to the victim, the light client answered -32002 in ${answeredMs} ms, ` +
        `the host released (client-replaced) ${releasedMs} ms after the call (shim reports every 100 ms); development control ${victim.connections()} connection(s) to the victim`,
    )
  })
})
