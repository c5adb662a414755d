import { randomBytes } from 'node:crypto'
import { createServer, request as httpRequest } from 'node:http'
import { keccak256 } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { silentLogger } from '../../lib/logger.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { startRelayServer, type RelayServer } from '../../host-agent/relay/relayServer.ts'
import { RelayTokenBook } from '../../host-agent/relay/tokenBook.ts'
import { createFakeNetwork } from '../../test/fakenode/fakeNetwork.ts'
import { startFakeNode, type FakeNode } from '../../test/fakenode/fakeNode.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import { startRpcProxy, type RpcProxy, type RpcProxyOptions, type RpcTarget } from './rpcProxy.ts'
import { postRpc, rpcCall, wsRpcClient } from '../../test/harness/jsonRpcClient.ts'
import { recordingLogger } from '../../test/harness/agents.ts'
import { startDnsResponder } from '../../test/harness/dnsResponder.ts'

const net = createFakeNetwork()
const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
  await net.closeAll()
})

const CLIENT = 'c1'.repeat(64) as NodeId
const ZERO = `0x${'0'.repeat(40)}`

interface Host {
  node: FakeNode
  relay: RelayServer
  tokens: RelayTokenBook
  target: RpcTarget
}

/** A pool host: a fake node, its relay, and a token for CLIENT. The fake nodes share one deterministic chain. */
async function startHost(head = 6, options: { subscriptions?: boolean } = {}): Promise<Host> {
  const node = await startFakeNode({ kind: 'geth', network: net })
  node.setHead(head)
  const tokens = new RelayTokenBook()
  const token = randomBytes(32).toString('hex')
  tokens.add({ token, clientNodeId: CLIENT, expiresAtMs: Date.now() + 60_000 })
  const relay = await startRelayServer({ nodeHttpUrl: node.url, ...(options.subscriptions === false ? {} : { nodeWsUrl: node.wsUrl }), tokens, logger: silentLogger, limits: { requestTimeoutMs: 2000 } })
  cleanup.push(() => relay.close())
  return { node, relay, tokens, target: { hostNodeId: node.nodeId, relayUrl: relay.url, token } }
}

/** Relays on loopback IP literals: development addresses unless a test passes its own `relayAddresses`. */
async function startProxy(targets: RpcTarget[], options: Partial<RpcProxyOptions> = {}): Promise<RpcProxy> {
  const proxy = await startRpcProxy({ logger: silentLogger, relayAddresses: { allowPrivate: true }, requestTimeoutMs: 2000, resubscribeRetryMs: 100, ...options })
  cleanup.push(() => proxy.close())
  proxy.setTargets(targets)
  return proxy
}

const call = rpcCall
const post = postRpc
const wsClient = (url: string) => wsRpcClient(url, (terminate) => cleanup.push(terminate))

/** The Helios start-up sequence (what it asks its execution RPC for), as single calls. */
const HELIOS_START = [
  call('eth_chainId', [], 1),
  call('eth_getBlockByNumber', ['latest', false], 2),
  call('eth_getProof', [ZERO, [], 'latest'], 3),
  call('eth_getBlockByNumber', ['0x5', true], 4),
  call('eth_getBlockReceipts', ['0x5'], 5),
  call('eth_createAccessList', [{ to: ZERO, data: '0x' }, 'latest'], 6),
  call('eth_getLogs', [{ fromBlock: '0x1', toBlock: 'latest' }], 7),
  call('eth_getBalance', [ZERO, 'latest'], 8),
  call('eth_call', [{ to: ZERO, data: '0x' }, 'latest'], 9),
]

/** A loopback port nothing listens on. */
async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const { port } = srv.address() as { port: number }
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

const relayedMethods = (node: FakeNode) => node.rpcCalls.map((c) => c.method)

describe('rpc proxy: relaying', () => {
  it("default: the Helios start-up sequence through proxy -> relay -> node returns the node's answers", async () => {
    const a = await startHost()
    const proxy = await startProxy([a.target])
    for (const req of HELIOS_START) {
      const via = await post(proxy.url, req)
      const direct = await post(a.node.url, req)
      expect(via.status).toBe(200)
      expect(via.json.error, req.method).toBeUndefined()
      expect(via.json, req.method).toEqual(direct.json)
    }
    const batch = await post(proxy.url, HELIOS_START)
    expect(batch.json).toEqual((await post(a.node.url, HELIOS_START)).json)
    expect(batch.json.map((r: { id: number }) => r.id)).toEqual(HELIOS_START.map((r) => r.id))
  })

  it('behavior: sticks to one healthy host', async () => {
    const [a, b] = await Promise.all([startHost(), startHost()])
    const proxy = await startProxy([a.target, b.target])
    for (let i = 0; i < 5; i++) await post(proxy.url, call('eth_blockNumber'))
    expect(relayedMethods(a.node)).toHaveLength(5)
    expect(relayedMethods(b.node)).toHaveLength(0)
  })

  it('error: no targets, and every host failing, give a clear -32002 error', async () => {
    const proxy = await startProxy([])
    const none = await post(proxy.url, [call('eth_chainId', [], 1), call('eth_blockNumber', [], 2)])
    expect(none.status).toBe(200)
    expect(none.json).toEqual([1, 2].map((id) => ({ jsonrpc: '2.0', id, error: { code: -32002, message: 'no pool host available: the pool has not assigned any rpc host to this client yet' } })))

    const a = await startHost()
    a.node.setDown(true)
    const dead = { hostNodeId: 'ee'.repeat(64) as NodeId, relayUrl: `http://127.0.0.1:${await freePort()}/`, token: 'ab'.repeat(32) }
    proxy.setTargets([a.target, dead])
    const r = await post(proxy.url, call('eth_chainId'))
    expect(r.json.error.code).toBe(-32002)
    expect(r.json.error.message).toMatch(new RegExp(`^no pool host available: host ${a.node.nodeId.slice(0, 8)}: the pool host's node is unavailable: HTTP 503 \\(HTTP 502\\); host eeeeeeee: ECONNREFUSED$`))
  })

  it('behavior: fails over on a refused token (401), a down node (502) and a dead relay', async () => {
    const [a, b, c] = await Promise.all([startHost(), startHost(), startHost()])
    const proxy = await startProxy([{ ...a.target, token: 'ff'.repeat(32) }, b.target, c.target])
    expect((await post(proxy.url, call('eth_chainId'))).json.result).toBe('0x539')
    expect(relayedMethods(a.node)).toEqual([])
    expect(relayedMethods(b.node)).toEqual(['eth_chainId'])
    b.node.setDown(true)
    expect((await post(proxy.url, call('eth_chainId'))).json.result).toBe('0x539')
    expect(relayedMethods(c.node)).toEqual(['eth_chainId'])
    await c.relay.close()
    proxy.setTargets([a.target, b.target, c.target]) // a's token fixed; b still down, c gone
    expect((await post(proxy.url, call('eth_chainId'))).json.result).toBe('0x539')
    expect(relayedMethods(a.node)).toEqual(['eth_chainId'])
  })

  it('behavior: a raw transaction retried on a host that already has it is answered with its hash', async () => {
    const [a, b] = await Promise.all([startHost(), startHost()])
    const raw = '0x02f8730180843b9aca008504a817c800825208'
    await post(b.node.url, call('eth_sendRawTransaction', [raw])) // b has it already (e.g. gossip from a)
    a.node.setSlow(3000) // a takes it but never answers in time
    const proxy = await startProxy([a.target, b.target], { requestTimeoutMs: 500 })
    const r = await post(proxy.url, call('eth_sendRawTransaction', [raw], 42))
    expect(r.json).toEqual({ jsonrpc: '2.0', id: 42, result: keccak256(raw) })
    // Without a retry, "already known" is the node's answer and passes through unchanged.
    const again = await post(proxy.url, call('eth_sendRawTransaction', [raw], 43))
    expect(again.json.error).toEqual({ code: -32000, message: 'already known' })
  })

  it('behavior: passes policy refusals and rate limits through without failing over', async () => {
    const [a, b] = await Promise.all([startHost(), startHost()])
    const proxy = await startProxy([a.target, b.target])
    const r = await post(proxy.url, [call('admin_peers', [], 1), call('eth_chainId', [], 2)])
    expect(r.json[0].error).toMatchObject({ code: -32601, message: expect.stringMatching(/not relayed by this pool host/) })
    expect(r.json[1].result).toBe('0x539')
    expect(relayedMethods(a.node)).toEqual(['eth_chainId'])
    expect(relayedMethods(b.node)).toEqual([])
  })
})

describe('rpc proxy: the relay socket (relayLinks.ts)', () => {
  /** A relay that counts what came as posts and as socket frames, and answers every call with its transport. */
  async function countingRelay() {
    const seen = { posts: 0, frames: 0, postedMethods: [] as string[] }
    const answer = (m: { id: unknown; method: string }, via: string) => ({ jsonrpc: '2.0', id: m.id, result: `${m.method} via ${via}` })
    const srv = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        seen.posts++
        const msg = JSON.parse(body)
        for (const m of Array.isArray(msg) ? msg : [msg]) seen.postedMethods.push(m.method)
        const replies = (Array.isArray(msg) ? msg : [msg]).filter((m) => 'id' in m).map((m) => answer(m, 'post'))
        res.writeHead(200, { 'content-type': 'application/json' }).end(replies.length === 0 ? '' : JSON.stringify(Array.isArray(msg) ? replies : replies[0]))
      })
    })
    const wss = new WebSocketServer({ server: srv })
    wss.on('connection', (ws) => ws.on('message', (d) => {
      seen.frames++
      ws.send(JSON.stringify(answer(JSON.parse(d.toString()), 'socket')))
    }))
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
    cleanup.push(() => new Promise<void>((r) => {
      for (const ws of wss.clients) ws.terminate()
      srv.close(() => r())
    }))
    const target: RpcTarget = { hostNodeId: 'cc'.repeat(64) as NodeId, relayUrl: `http://127.0.0.1:${(srv.address() as { port: number }).port}/`, token: 'ab'.repeat(32) }
    return { seen, target }
  }

  it('behavior: single calls take the relay\'s socket once it is open; batches, notifications and large requests are posted', async () => {
    const { seen, target } = await countingRelay()
    const proxy = await startProxy([target])
    // The first call opens the socket in the background and is posted meanwhile.
    expect((await post(proxy.url, call('eth_chainId'))).json.result).toBe('eth_chainId via post')
    await waitFor(async () => (await post(proxy.url, call('eth_chainId'))).json.result === 'eth_chainId via socket', 'a call over the socket')
    const posts = seen.posts
    expect((await post(proxy.url, { jsonrpc: '2.0', id: 'x', method: 'eth_blockNumber', params: [] })).json).toEqual({ jsonrpc: '2.0', id: 'x', result: 'eth_blockNumber via socket' })
    expect((await post(proxy.url, [call('eth_chainId', [], 1), call('eth_blockNumber', [], 2)])).json.map((r: { result: string }) => r.result)).toEqual(['eth_chainId via post', 'eth_blockNumber via post'])
    expect((await post(proxy.url, { jsonrpc: '2.0', method: 'eth_sendRawTransaction', params: ['0x01'] })).status).toBe(200)
    const large = call('eth_call', [{ to: ZERO, data: `0x${'00'.repeat(40_000)}` }, 'latest'])
    expect((await post(proxy.url, large)).json.result).toBe('eth_call via post')
    expect(seen.posts - posts).toBe(3)
    expect(seen.postedMethods.slice(-4)).toEqual(['eth_chainId', 'eth_blockNumber', 'eth_sendRawTransaction', 'eth_call'])
  })

  /** Two real hosts, the proxy's socket to the first open, the first sticky. */
  async function twoHostsOnSockets() {
    const [a, b] = await Promise.all([startHost(), startHost()])
    const proxy = await startProxy([a.target, b.target])
    await waitFor(async () => {
      await post(proxy.url, call('eth_chainId'))
      return a.relay.sessionCount() === 1 && a.node.rpcCalls.length > 0
    }, 'the proxy\'s socket to the first host')
    // A call or two more so the last one surely went over the open socket.
    for (let i = 0; i < 2; i++) expect((await post(proxy.url, call('eth_chainId'))).json.result).toBe('0x539')
    proxy.drainActivity()
    a.relay.drainActivity()
    return { a, b, proxy }
  }

  it('error: a relay whose node is down answers the frame with its node error: the proxy fails over, and neither end meters the host', async () => {
    const { a, b, proxy } = await twoHostsOnSockets()
    a.node.setDown(true)
    const before = b.node.rpcCalls.length
    expect((await post(proxy.url, call('eth_blockNumber'))).json.result).toBe('0x6')
    expect(b.node.rpcCalls.slice(before).map((c) => c.method)).toEqual(['eth_blockNumber'])
    expect(proxy.drainActivity().get(a.node.nodeId)?.requests ?? 0).toBe(0)
    expect(a.relay.drainActivity().get(CLIENT)?.requests ?? 0).toBe(0)
  })

  it('error: the relay\'s socket closes with a call in flight: the call fails over to the next host', async () => {
    const { a, b, proxy } = await twoHostsOnSockets()
    a.node.setSlow(1_000)
    const before = a.node.rpcCalls.length
    const inFlight = post(proxy.url, call('eth_getBalance', [ZERO, 'latest']))
    await waitFor(() => a.node.rpcCalls.length > before, 'the call to reach the first host\'s node')
    await a.relay.close()
    const reply = await inFlight
    expect(reply.json.result).toBeDefined()
    expect(b.node.rpcCalls.at(-1)?.method).toBe('eth_getBalance')
  })
})

describe('rpc proxy: quality per host', () => {
  it('behavior: each call is counted under its host by outcome, and the served ones are timed per method', async () => {
    const [a, b, d, e] = await Promise.all([startHost(), startHost(), startHost(), startHost()])
    b.node.setDown(true) // the relay answers 502 with "node unavailable": a node error
    e.node.setSlow(3000) // no answer within the proxy's 500 ms: a timeout
    const dead = { hostNodeId: 'ee'.repeat(64) as NodeId, relayUrl: `http://127.0.0.1:${await freePort()}/`, token: 'ab'.repeat(32) }
    const refusing = { ...d.target, token: 'ff'.repeat(32) } // 401: refused
    const proxy = await startProxy([refusing, b.target, dead, e.target, a.target], { requestTimeoutMs: 500 })
    const batch = await post(proxy.url, [call('eth_chainId', [], 1), call('eth_getProof', [ZERO, [], 'latest'], 2)])
    expect(batch.json.map((r: { result?: unknown }) => r.result !== undefined)).toEqual([true, true])
    expect((await post(proxy.url, call('admin_peers'))).json.error.code).toBe(-32601) // the request's own fault, on the sticky host a
    const client = await wsClient(proxy.wsUrl)
    expect((await client.request('eth_subscribe', ['newHeads'])).result).toMatch(/^0x/)

    const byHost = new Map(proxy.drainQuality().map((q) => [q.nodeId, q]))
    const zero = { ok: 0, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 0, latency: [] }
    expect(byHost.get(d.node.nodeId)).toEqual({ ...zero, nodeId: d.node.nodeId, refused: 2 })
    expect(byHost.get(b.node.nodeId)).toEqual({ ...zero, nodeId: b.node.nodeId, nodeErrors: 2 })
    expect(byHost.get(dead.hostNodeId)).toEqual({ ...zero, nodeId: dead.hostNodeId, transport: 2 })
    expect(byHost.get(e.node.nodeId)).toEqual({ ...zero, nodeId: e.node.nodeId, timeouts: 2 })
    const good = byHost.get(a.node.nodeId)!
    expect({ ...good, latency: undefined }).toEqual({ ...zero, nodeId: a.node.nodeId, ok: 3, clientErrors: 1, latency: undefined })
    expect(good.latency.map((l) => l.method).sort()).toEqual(['eth_chainId', 'eth_getProof', 'eth_subscribe'])
    for (const l of good.latency) expect(l.buckets.reduce((x, y) => x + y, 0)).toBe(1)
    // Drained: the next report starts afresh.
    expect(proxy.drainQuality()).toEqual([])
  })
})

describe('rpc proxy: hosts that answer without serving', () => {
  it('behavior: a host answering every call with a JSON-RPC error is benched after 10 requests, the rest go to another host, and it is metered nothing', async () => {
    // A relay that answers HTTP 200 with "limit exceeded" for each call: an answer, so no failover per request.
    let refused = 0
    const srv = createServer((req, res) => {
      // A relay without WebSocket JSON-RPC: the proxy's socket is refused and its calls are posted.
      if (req.method !== 'POST') return void res.writeHead(404).end()
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        refused++
        const msg = JSON.parse(body)
        const reply = (m: { id: unknown }) => ({ jsonrpc: '2.0', id: m.id, error: { code: -32005, message: 'limit exceeded' } })
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.isArray(msg) ? msg.map(reply) : reply(msg)))
      })
    })
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
    cleanup.push(() => new Promise<void>((r) => srv.close(() => r())))
    const bad: RpcTarget = { hostNodeId: 'ba'.repeat(64) as NodeId, relayUrl: `http://127.0.0.1:${(srv.address() as { port: number }).port}/`, token: 'ab'.repeat(32) }
    const good = await startHost()
    const proxy = await startProxy([bad, good.target])
    for (let i = 0; i < 10; i++) expect((await post(proxy.url, call('eth_chainId'))).json.error?.code).toBe(-32005)
    expect(proxy.benchedHosts()).toEqual([bad.hostNodeId])
    for (let i = 0; i < 5; i++) expect((await post(proxy.url, call('eth_chainId'))).json.result).toBe('0x539')
    expect(refused).toBe(10)
    const activity = proxy.drainActivity()
    expect(activity.has(bad.hostNodeId)).toBe(false)
    expect(activity.get(good.node.nodeId)?.requests).toBe(5)
  })

  it('error: when every host is benched, the client is told why', async () => {
    const srv = createServer((req, res) => {
      req.resume()
      res.writeHead(429, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32005, message: 'rate limited' } }))
    })
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
    cleanup.push(() => new Promise<void>((r) => srv.close(() => r())))
    const bad: RpcTarget = { hostNodeId: 'ba'.repeat(64) as NodeId, relayUrl: `http://127.0.0.1:${(srv.address() as { port: number }).port}/`, token: 'ab'.repeat(32) }
    const proxy = await startProxy([bad])
    for (let i = 0; i < 10; i++) await post(proxy.url, call('eth_chainId'))
    const r = await post(proxy.url, call('eth_chainId'))
    expect(r.json.error).toEqual({ code: -32002, message: 'no pool host available: host babababa: benched (10 of its last 10 requests failed on its side)' })
  })
})

describe('rpc proxy: relay addresses (DNS rebinding)', () => {
  it('error: a relay name resolving to loopback gets no connection, over HTTP or WebSocket; its host is benched at once, logged once, and another host serves', async () => {
    const dns = await startDnsResponder()
    cleanup.push(() => dns.close())
    const honest = await startHost()
    const rebound = await startHost()
    // The rebound host's relay is the "victim": a real relay on 127.0.0.1 that would answer, reached only through the name.
    dns.answer('rebound.relay.test', ['127.0.0.1'])
    const named: RpcTarget = { ...rebound.target, relayUrl: rebound.target.relayUrl.replace('127.0.0.1', 'rebound.relay.test') }
    // Production addresses; the honest relay is an IP literal, which the shim checks when a grant arrives, never in a lookup.
    const relayAddresses = { allowPrivate: false, resolveName: dns.resolveName }

    for (const path of ['http', 'ws'] as const) {
      const log = recordingLogger()
      const proxy = await startProxy([named, honest.target], { relayAddresses, logger: log })
      if (path === 'http') {
        const r = await post(proxy.url, call('eth_chainId'))
        expect(r.json.result).toBe('0x539')
      } else {
        const client = await wsClient(proxy.wsUrl)
        const reply = await client.request('eth_subscribe', ['newHeads'])
        expect(typeof reply.result, JSON.stringify(reply)).toBe('string')
      }
      expect(proxy.benchedHosts(), path).toEqual([rebound.node.nodeId])
      const refusals = log.lines.filter((l) => l.message.startsWith('relay address refused'))
      expect(refusals, path).toEqual([
        {
          level: 'warn',
          message: 'relay address refused: pool host benched, nothing sent to it',
          context: { host: rebound.node.nodeId, relayName: 'rebound.relay.test', address: '127.0.0.1', reason: expect.stringMatching(/^relay address refused: rebound\.relay\.test resolves to 127\.0\.0\.1, a loopback address/) },
        },
      ])
      // Benched: the next requests do not even resolve the name.
      expect((await post(proxy.url, call('eth_blockNumber'))).json.result).toBeDefined()
      expect(log.lines.filter((l) => l.message.startsWith('relay address refused'))).toHaveLength(1)
    }
    expect(relayedMethods(rebound.node)).toEqual([])
    expect(rebound.node.calls.filter((c) => c.method.startsWith('eth_'))).toEqual([])
  })
})

describe('rpc proxy: relay redirects', () => {
  it('error: a relay answering with a redirect is a failed host; the redirect is not followed', async () => {
    let victimRequests = 0
    const victim = createServer((req, res) => {
      victimRequests++
      req.resume()
      res.end('{}')
    })
    await new Promise<void>((r) => victim.listen(0, '127.0.0.1', () => r()))
    cleanup.push(() => new Promise<void>((r) => victim.close(() => r())))
    const redirector = createServer((req, res) => {
      req.resume()
      res.writeHead(307, { location: `http://127.0.0.1:${(victim.address() as { port: number }).port}/admin` }).end()
    })
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', () => r()))
    cleanup.push(() => new Promise<void>((r) => redirector.close(() => r())))
    const target: RpcTarget = { hostNodeId: 'ee'.repeat(64) as NodeId, relayUrl: `http://127.0.0.1:${(redirector.address() as { port: number }).port}/`, token: 'ab'.repeat(32) }
    const proxy = await startProxy([target])
    const r = await post(proxy.url, call('eth_chainId'))
    expect(r.json.error).toEqual({ code: -32002, message: 'no pool host available: host eeeeeeee: relay redirected (HTTP 307): redirects are not followed' })
    expect(victimRequests).toBe(0)
  })
})

describe('rpc proxy: hosts going away', () => {
  it('behavior: a host killed mid-stream is replaced without the client seeing an error; the subscription keeps its id', async () => {
    const [a, b] = await Promise.all([startHost(2), startHost(2)])
    const proxy = await startProxy([a.target, b.target])
    const client = await wsClient(proxy.wsUrl)
    const sub = (await client.request('eth_subscribe', ['newHeads'])).result as string
    expect(sub).toMatch(/^0x[0-9a-f]{32}$/)
    expect(a.node.subscriptions()).toBe(1)
    // Both nodes follow the same chain.
    for (const h of [a, b]) h.node.setHead(3)
    await waitFor(() => client.heads(sub).length === 1, 'the first head from host a')

    // Host a dies: its relay and its node.
    await a.relay.close()
    await a.node.close({ notifyPeers: false })
    await waitFor(() => b.node.subscriptions() === 1, 'the subscription to move to host b')
    b.node.setHead(4)
    await waitFor(() => client.heads(sub).length === 2, 'the next head, from host b, under the same id')
    expect(client.heads(sub)).toEqual(['0x3', '0x4'])

    // The next requests, over WebSocket and HTTP, continue on b.
    expect((await client.request('eth_blockNumber')).result).toBe('0x4')
    expect((await post(proxy.url, call('eth_getBlockReceipts', ['0x4']))).json.result).toHaveLength(1)
    expect(client.messages.filter((m) => m.error)).toEqual([])

    expect((await client.request('eth_unsubscribe', [sub])).result).toBe(true)
    await waitFor(() => b.node.subscriptions() === 0, 'the unsubscribe to reach host b')
  })

  it('behavior: a first eth_subscribe refused by a host without a node WebSocket goes to one that has it', async () => {
    const [a, b] = await Promise.all([startHost(2, { subscriptions: false }), startHost(2)])
    const proxy = await startProxy([a.target, b.target])
    const client = await wsClient(proxy.wsUrl)
    const reply = await client.request('eth_subscribe', ['newHeads'])
    expect(reply.error).toBeUndefined()
    expect(b.node.subscriptions()).toBe(1)
    b.node.setHead(3)
    await waitFor(() => client.heads(reply.result).length === 1, 'a head from host b')
  })

  it('error: when no host can carry subscriptions, eth_subscribe says why for each', async () => {
    const [a, b] = await Promise.all([startHost(2, { subscriptions: false }), startHost(2, { subscriptions: false })])
    const proxy = await startProxy([a.target, b.target])
    const client = await wsClient(proxy.wsUrl)
    const reply = await client.request('eth_subscribe', ['newHeads'])
    expect(reply.error).toMatchObject({ code: -32002, message: expect.stringMatching(/no WebSocket endpoint.*no WebSocket endpoint/) })
  })

  it('behavior: a host removed by setTargets is never contacted again, and its subscriptions move', async () => {
    const [a, b] = await Promise.all([startHost(2), startHost(2)])
    const proxy = await startProxy([a.target, b.target])
    const client = await wsClient(proxy.wsUrl)
    const sub = (await client.request('eth_subscribe', ['newHeads'])).result as string
    await post(proxy.url, call('eth_chainId'))
    // The subscription is on a (the relay's sessions also hold the proxy's socket for single calls, relayLinks.ts).
    expect(a.node.subscriptions()).toBe(1)

    proxy.setTargets([b.target])
    await waitFor(() => a.relay.sessionCount() === 0 && a.node.subscriptions() === 0, 'the session on a to close')
    await waitFor(() => b.node.subscriptions() === 1, 'the subscription to move to b')
    a.relay.drainActivity()
    const before = a.node.rpcCalls.length
    for (let i = 0; i < 3; i++) await post(proxy.url, call('eth_blockNumber'))
    await client.request('eth_chainId')
    for (const h of [a, b]) h.node.setHead(3)
    await waitFor(() => client.heads(sub).length === 1, 'a head from b')
    expect(a.node.rpcCalls.length).toBe(before)
    expect(a.relay.drainActivity().size).toBe(0)
    expect(relayedMethods(b.node).filter((m) => m === 'eth_blockNumber')).toHaveLength(3)
  })

  it('behavior: subscriptions wait for a host when all are gone, and resume when one is assigned', async () => {
    const [a, b] = await Promise.all([startHost(2), startHost(2)])
    const proxy = await startProxy([a.target])
    const client = await wsClient(proxy.wsUrl)
    const sub = (await client.request('eth_subscribe', ['newHeads'])).result as string
    proxy.setTargets([])
    await waitFor(() => a.node.subscriptions() === 0, 'a to lose the subscription')
    expect((await client.request('eth_chainId')).error.code).toBe(-32002)
    proxy.setTargets([b.target])
    await waitFor(() => b.node.subscriptions() === 1, 'b to take the subscription')
    b.node.setHead(3)
    await waitFor(() => client.heads(sub).length === 1, 'a head under the original id')
  })

  it('behavior: a revoked token moves the subscription to another host', async () => {
    const [a, b] = await Promise.all([startHost(2), startHost(2)])
    const proxy = await startProxy([a.target, b.target])
    const client = await wsClient(proxy.wsUrl)
    const sub = (await client.request('eth_subscribe', ['newHeads'])).result as string
    a.tokens.remove(CLIENT)
    await waitFor(() => b.node.subscriptions() === 1, 'b to take the subscription')
    b.node.setHead(3)
    await waitFor(() => client.heads(sub).length === 1, 'a head from b')
  })
})

describe('rpc proxy: accounting and guards', () => {
  it('behavior: activity counters on both sides agree per pair', async () => {
    const [a, b] = await Promise.all([startHost(), startHost()])
    const proxy = await startProxy([a.target, b.target])
    await post(proxy.url, call('eth_blockNumber')) // both ends learn the head: eth_getLogs to "latest" costs the same on both
    await post(proxy.url, HELIOS_START) // 9 calls
    await post(proxy.url, call('admin_peers')) // refused by the relay: not service, counted by neither
    const client = await wsClient(proxy.wsUrl)
    const sub = (await client.request('eth_subscribe', ['newHeads'])).result
    await client.request('eth_blockNumber')
    await client.request('eth_unsubscribe', [sub])
    a.node.setDown(true) // the next call fails over to b: a counts nothing for it (it answered 502)
    await post(proxy.url, call('eth_chainId'))
    await new Promise((r) => setTimeout(r, 30))

    const proxySide = proxy.drainActivity()
    const relayA = a.relay.drainActivity().get(CLIENT)
    const relayB = b.relay.drainActivity().get(CLIENT)
    expect(proxySide.get(a.node.nodeId)?.requests).toBe(1 + 9 + 3)
    expect(relayA?.requests).toBe(proxySide.get(a.node.nodeId)?.requests)
    expect(proxySide.get(b.node.nodeId)?.requests).toBe(1)
    expect(relayB?.requests).toBe(1)
    // Compute units too: 10 + the start-up (eth_getLogs 0x1..0x6: 80 + 6) + subscribe, notifications, blockNumber, unsubscribe.
    const helios = 5 + 20 + 20 + 20 + 40 + 100 + 86 + 20 + 20
    expect(proxySide.get(a.node.nodeId)?.computeUnits).toBeGreaterThanOrEqual(10 + helios + 10 + 10 + 10)
    expect(relayA?.computeUnits).toBe(proxySide.get(a.node.nodeId)?.computeUnits)
    expect([proxySide.get(b.node.nodeId)?.computeUnits, relayB?.computeUnits]).toEqual([5, 5])
    // The open subscription session counted as busy on both sides.
    expect(proxySide.get(a.node.nodeId)!.busyMs).toBeGreaterThan(0)
    expect(relayA!.busyMs).toBeGreaterThan(0)
  })

  it('behavior: compute units of subscriptions and their notifications agree on both sides', async () => {
    const a = await startHost(6)
    const proxy = await startProxy([a.target])
    const client = await wsClient(proxy.wsUrl)
    const sub = (await client.request('eth_subscribe', ['newHeads'])).result
    a.node.setHead(9)
    await waitFor(() => client.heads(sub).length === 3, 'three heads through the proxy')
    await client.request('eth_getLogs', [{ fromBlock: '0x1', toBlock: 'latest' }]) // both ends learned head 9 from the notifications
    const proxySide = proxy.drainActivity().get(a.node.nodeId)
    const relaySide = a.relay.drainActivity().get(CLIENT)
    expect(proxySide?.computeUnits).toBe(10 + 3 * 10 + 80 + 9)
    expect(relaySide?.computeUnits).toBe(proxySide?.computeUnits)
  })

  it('error: refuses foreign Host headers and browser origins unless allowed; allowed origins get CORS', async () => {
    const a = await startHost()
    const proxy = await startProxy([a.target], { allowedOrigins: ['https://wallet.example'] })
    // fetch will not send a foreign Host header; node:http will (as a DNS-rebinding browser would).
    const evilHost = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(proxy.url, { method: 'POST', headers: { host: 'evil.example', 'content-type': 'application/json' } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end(JSON.stringify(call('eth_chainId')))
    })
    expect(evilHost).toBe(403)
    const evilOrigin = await post(proxy.url, call('eth_chainId'), { origin: 'https://evil.example' })
    expect(evilOrigin.status).toBe(403)
    expect(evilOrigin.json.error.message).toMatch(/not allowed/)
    const ok = await post(proxy.url, call('eth_chainId'), { origin: 'https://wallet.example' })
    expect(ok.json.result).toBe('0x539')
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://wallet.example')
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(proxy.wsUrl, { headers: { origin: 'https://evil.example' } })
      ws.on('error', () => {})
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
    })
    expect(refused).toBe(403)
    expect(relayedMethods(a.node)).toEqual(['eth_chainId'])
  })

  it('error: eth_subscribe over HTTP says to use the WebSocket; bad JSON is a parse error', async () => {
    const proxy = await startProxy([])
    expect((await post(proxy.url, call('eth_subscribe', ['newHeads']))).json.error.message).toBe(`eth_subscribe needs a WebSocket: connect to ${proxy.wsUrl}`)
    const res = await fetch(proxy.url, { method: 'POST', body: '{nope' })
    expect(((await res.json()) as any).error.code).toBe(-32700)
  })
})
