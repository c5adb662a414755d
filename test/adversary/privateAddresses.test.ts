/**
 * Addresses chosen by the other side (issue 18.5). A host advertised any relay
 * URL and any enode; clients' shims then posted there and client nodes dialled
 * it: a stranger could point the pool's clients at their own loopback (a local
 * node's admin RPC), the cloud metadata address or a private network. Now a
 * pool not started for development refuses non-public relay URLs and enodes
 * (and plain http relays) at vipnode_connect, storing nothing.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { lookup } from 'node:dns/promises'
import { hostname } from 'node:os'
import { ErrorCode, formatEnode, RPC_REQUIRED_METHODS } from '../../protocol/index.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { authenticated, identity } from '../harness/rawAgent.ts'
import { storeSnapshot } from '../harness/storeState.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'

let c: RunningCoordinator | undefined
afterEach(async () => {
  await c?.close()
  c = undefined
})

const rpcHost = (relayUrl: string) => ({ role: 'host' as const, kind: 'rpc' as const, relayUrl, capabilities: [...RPC_REQUIRED_METHODS], capacity: 5 })
const withHost = (host: string) => {
  const id = identity()
  return { ...id, enode: formatEnode({ nodeId: id.nodeId, host, tcpPort: 30303, udpPort: 30303 }) }
}

describe('addresses chosen by the other side (production pool: no --allow-private-addresses)', () => {
  test('error: hosts and clients with enodes on loopback, private, CGNAT, ULA, link-local, mapped or unspecified addresses are refused; nothing is stored', async () => {
    c = await testCoordinator({ allowPrivateAddresses: false })
    const before = storeSnapshot(c)
    const cases: [string, 'host' | 'client', RegExp][] = [
      ['127.0.0.1', 'host', /enode host 127\.0\.0\.1 is a loopback address in 127\.0\.0\.0\/8/],
      ['10.1.2.3', 'client', /RFC 1918 private/],
      ['100.64.0.9', 'host', /carrier-grade NAT/],
      ['fd00::5', 'host', /unique local/],
      ['fe80::1%eth0', 'client', /zone id/],
      ['169.254.169.254', 'host', /link-local/],
      ['::ffff:127.0.0.1', 'host', /IPv4-mapped\) embedding 127\.0\.0\.0\/8/],
      ['0.0.0.0', 'client', /unspecified/],
    ]
    for (const [host, role, message] of cases) {
      const id = withHost(host)
      const { agent, reply } = await authenticated(c.url, id, { role, ...(role === 'client' ? { capacity: undefined } : {}) })
      expect(reply.error?.code, host).toBe(ErrorCode.INVALID_PARAMS)
      expect(reply.error?.message, host).toMatch(/^invalid params for vipnode_connect: enode: /)
      expect(reply.error?.message, host).toMatch(message)
      expect(c.services.sessions.get(id.nodeId)).toBeUndefined()
      agent.close()
    }
    expect(storeSnapshot(c)).toEqual(before)
  })

  test('error: rpc hosts with relay URLs on loopback (any IPv4 spelling), private ranges, localhost or plain http are refused; nothing is stored', async () => {
    c = await testCoordinator({ allowPrivateAddresses: false })
    const before = storeSnapshot(c)
    const cases: [string, RegExp][] = [
      ['https://127.0.0.1:8545/', /relay URL host 127\.0\.0\.1 is a loopback address/],
      ['https://2130706433/', /127\.0\.0\.1 is a loopback/],
      ['https://0x7f.0.0.1/', /127\.0\.0\.1 is a loopback/],
      ['https://[::ffff:7f00:1]/', /loopback/],
      ['https://localhost:8545/', /localhost \(RFC 6761\)/],
      ['https://192.168.1.20/', /RFC 1918/],
      ['https://169.254.169.254/latest', /link-local/],
      ['http://1.1.1.1/', /not https/],
    ]
    for (const [url, message] of cases) {
      const id = withHost('8.8.8.8')
      const { agent, reply } = await authenticated(c.url, id, rpcHost(url))
      expect(reply.error?.code, url).toBe(ErrorCode.INVALID_PARAMS)
      expect(reply.error?.message, url).toMatch(/^invalid params for vipnode_connect: relayUrl: /)
      expect(reply.error?.message, url).toMatch(message)
      expect(c.services.sessions.get(id.nodeId)).toBeUndefined()
      agent.close()
    }
    expect(storeSnapshot(c)).toEqual(before)
  })

  test('error: a relay URL whose DNS name resolves to a non-public address (or not at all) is refused', async () => {
    c = await testCoordinator({ allowPrivateAddresses: false })
    // This machine's own name: in a container or on a laptop it resolves to a loopback or private address.
    const name = hostname()
    const answers = await lookup(name, { all: true }).then((a) => a.map((x) => x.address), () => [] as string[])
    const id = withHost('8.8.8.8')
    const { agent, reply } = await authenticated(c.url, id, rpcHost(`https://${name}/relay`))
    expect(reply.error?.code).toBe(ErrorCode.INVALID_PARAMS)
    expect(reply.error?.message).toMatch(answers.length > 0 ? new RegExp(`relayUrl: ${name.replace(/\./g, '\\.')} resolves to .*(loopback|private|link-local)`) : /could not be resolved|did not resolve/)
    expect(c.services.sessions.get(id.nodeId)).toBeUndefined()
    agent.close()
  })

  test('default: public enodes and https relay URLs on public addresses are accepted; an rpc client enode (never dialled) may stay on loopback', async () => {
    c = await testCoordinator({ allowPrivateAddresses: false })
    const host = withHost('8.8.8.8')
    const peerHost = await authenticated(c.url, host)
    expect(peerHost.reply.result).toMatchObject({ nodeId: host.nodeId, role: 'host', allowPrivateAddresses: false })
    const v6 = withHost('2a00:1450:4001:82a::200e')
    const rpc = await authenticated(c.url, v6, rpcHost('https://1.1.1.1:8443/relay'))
    expect(rpc.reply.result).toMatchObject({ nodeId: v6.nodeId })
    const rpcClient = identity() // 127.0.0.1, as the rpc client shim sends
    const client = await authenticated(c.url, rpcClient, { role: 'client', kind: 'rpc', capacity: undefined })
    expect(client.reply.result).toMatchObject({ nodeId: rpcClient.nodeId, role: 'client' })
    expect(c.services.sessions.get(host.nodeId)).toBeDefined()
    expect(c.services.sessions.get(v6.nodeId)?.session?.relayUrl).toBe('https://1.1.1.1:8443/relay')
    for (const a of [peerHost, rpc, client]) a.agent.close()
  })

  test('behavior: a development pool (--allow-private-addresses) accepts loopback enodes and plain http relays, and says so', async () => {
    c = await testCoordinator({ allowPrivateAddresses: true })
    const id = withHost('127.0.0.1')
    const { agent, reply } = await authenticated(c.url, id, rpcHost('http://127.0.0.1:8545/'))
    expect(reply.result).toMatchObject({ nodeId: id.nodeId, allowPrivateAddresses: true })
    agent.close()
  })
})
