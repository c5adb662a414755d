import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { manualClock } from '../../lib/clock.ts'
import { silentLogger } from '../../lib/logger.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { createFakeNetwork } from '../../test/fakenode/fakeNetwork.ts'
import { startFakeNode, type FakeNode, type FakeNodeOptions } from '../../test/fakenode/fakeNode.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import { HELIOS_START, postRpc, rpcCall, wsRpcClient } from '../../test/harness/jsonRpcClient.ts'
import { callCost } from '../../agent/relay/computeUnits.ts'
import { DEFAULT_COST_TABLE, DEFAULT_RELAY_CU_RATE } from '../../protocol/costTable.ts'
import { relayRateLimit } from './rateLimit.ts'
import { DENIED_NAMESPACES } from './relayPolicy.ts'
import { startRelayServer, type RelayLimits, type RelayServer, type RelayServerOptions } from './relayServer.ts'
import { RelayTokenBook } from './tokenBook.ts'

const net = createFakeNetwork()
const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
  await net.closeAll()
})

const CLIENT = 'c1'.repeat(64) as NodeId
const OTHER = 'd2'.repeat(64) as NodeId
const newToken = () => randomBytes(32).toString('hex')

interface Setup {
  node: FakeNode
  tokens: RelayTokenBook
  token: string
  relay: RelayServer
}

async function setup(o: { limits?: Partial<RelayLimits>; fake?: Partial<FakeNodeOptions>; nodeWs?: boolean; relay?: Partial<RelayServerOptions> } = {}): Promise<Setup> {
  const node = await startFakeNode({ kind: 'geth', network: net, ...o.fake })
  const tokens = new RelayTokenBook()
  const token = newToken()
  tokens.add({ token, clientNodeId: CLIENT, expiresAtMs: Date.now() + 60_000 })
  const relay = await startRelayServer({
    nodeHttpUrl: node.url,
    ...(o.nodeWs === false ? {} : { nodeWsUrl: node.wsUrl }),
    tokens,
    logger: silentLogger,
    limits: { requestTimeoutMs: 2000, ...o.limits },
    ...o.relay,
  })
  cleanup.push(() => relay.close())
  return { node, tokens, token, relay }
}

const bearer = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` })
const post = (url: string, body: unknown, token?: string) => postRpc(url, body, bearer(token))
const call = rpcCall
const connect = (url: string, token: string) => wsRpcClient(url, (terminate) => cleanup.push(terminate), bearer(token))

/** The status and body of a refused WebSocket upgrade. */
function refusedUpgrade(url: string, headers: Record<string, string>): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    ws.on('open', () => reject(new Error('upgrade was accepted')))
    ws.on('error', () => {})
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      let text = ''
      res.on('data', (c) => (text += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }))
    })
  })
}

describe('relay server: auth', () => {
  it('error: a missing, unknown or expired token gets 401 with a JSON-RPC error, over HTTP and on upgrade', async () => {
    const { relay, tokens, node } = await setup()
    const expired = newToken()
    tokens.add({ token: expired, clientNodeId: OTHER, expiresAtMs: Date.now() - 1 })
    for (const token of [undefined, newToken(), expired, 'garbage']) {
      const r = await post(relay.url, call('eth_chainId'), token)
      expect(r.status).toBe(401)
      expect(r.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32010, message: expect.stringMatching(/relay token/) } })
    }
    const ws = await refusedUpgrade(relay.wsUrl, { authorization: `Bearer ${expired}` })
    expect(ws.status).toBe(401)
    expect(ws.json.error.code).toBe(-32010)
    expect((await refusedUpgrade(relay.wsUrl, {})).status).toBe(401)
    expect(node.rpcCalls).toEqual([])
    expect(relay.drainActivity().size).toBe(0)
  })
})

describe('relay server: policy', () => {
  it('behavior: relays allowed calls and returns the node answer', async () => {
    const { relay, token, node } = await setup()
    node.setHead(4)
    const r = await post(relay.url, call('eth_getBlockByNumber', ['latest', true], 'abc'), token)
    expect(r.status).toBe(200)
    const direct = await post(node.url, call('eth_getBlockByNumber', ['latest', true], 'abc'))
    expect(r.json).toEqual(direct.json)
  })

  it('behavior: refuses every dangerous namespace and never forwards it', async () => {
    const { relay, token, node } = await setup()
    for (const ns of DENIED_NAMESPACES) {
      const r = await post(relay.url, call(`${ns}_nodeInfo`), token)
      expect(r.status).toBe(200)
      expect(r.json.error).toEqual({ code: -32601, message: `method ${ns}_nodeInfo is not relayed by this pool host (the ${ns} namespace is never relayed)` })
    }
    for (const m of ['admin_addTrustedPeer', 'personal_unlockAccount', 'eth_sendTransaction', 'eth_sign', 'Admin_peers', 'eth_subscribe']) {
      expect((await post(relay.url, call(m), token)).json.error.code).toBe(-32601)
    }
    const c = await connect(relay.wsUrl, token)
    expect((await c.request('debug_traceBlockByNumber', ['latest'])).error.code).toBe(-32601)
    expect(node.rpcCalls).toEqual([])
    expect(node.calls).toEqual([])
  })

  it('behavior: a batch mixing allowed and forbidden calls is checked call by call, in order', async () => {
    const { relay, token, node } = await setup()
    const r = await post(relay.url, [call('eth_chainId', [], 1), call('admin_addPeer', ['enode://x'], 2), call('eth_blockNumber', [], 3), { jsonrpc: '2.0', id: 4 }, call('net_version', [], 1)], token)
    expect(r.status).toBe(200)
    expect(r.json.map((x: any) => [x.id, x.result ?? x.error.code])).toEqual([
      [1, '0x539'],
      [2, -32601],
      [3, '0x0'],
      [4, -32600],
      [1, '1337'], // duplicate client ids are answered correctly: the node hop uses its own ids
    ])
    expect(node.rpcCalls.map((c) => c.method)).toEqual(['eth_chainId', 'eth_blockNumber', 'net_version'])
  })

  it('behavior: notifications get no reply', async () => {
    const { relay, token, node } = await setup()
    const r = await post(relay.url, { jsonrpc: '2.0', method: 'eth_chainId', params: [] }, token)
    expect(r.status).toBe(200)
    expect(r.json).toBeUndefined()
    expect(node.rpcCalls.map((c) => c.method)).toEqual(['eth_chainId'])
  })
})

describe('relay server: limits', () => {
  it('behavior: rate limits per client in compute units: -32005 per call, 429 when the whole request is refused', async () => {
    // eth_chainId costs 5 CUs: three fit in a bucket of 15.
    const { relay, token, tokens, node } = await setup({ limits: { cuPerSec: 0.001, cuBurst: 15 } })
    const r = await post(relay.url, [1, 2, 3, 4, 5].map((i) => call('eth_chainId', [], i)), token)
    expect(r.status).toBe(200)
    expect(r.json.map((x: any) => x.error?.code ?? 'ok')).toEqual(['ok', 'ok', 'ok', -32005, -32005])
    expect(r.json[3].error.message).toBe('rate limited: this call costs 5 compute units; at most 0.001 per second per client (burst 15)')
    const single = await post(relay.url, call('eth_chainId'), token)
    expect(single.status).toBe(429)
    expect(single.json.error.code).toBe(-32005)
    expect(node.rpcCalls).toHaveLength(3)
    // Another client has its own bucket.
    const other = newToken()
    tokens.add({ token: other, clientNodeId: OTHER, expiresAtMs: Date.now() + 60_000 })
    expect((await post(relay.url, call('eth_chainId'), other)).status).toBe(200)
  })

  it('error: an oversized body gets 413 with a JSON error; so does an oversized batch', async () => {
    const { relay, token, node } = await setup({ limits: { maxBodyBytes: 64 * 1024, maxBatch: 10 } })
    const big = await post(relay.url, call('eth_call', [{ data: `0x${'00'.repeat(100_000)}` }]), token)
    expect(big.status).toBe(413)
    expect(big.json.error).toMatchObject({ code: -32018, message: expect.stringMatching(/over this relay's limit of 65536 bytes/) })
    const batch = await post(relay.url, Array.from({ length: 11 }, (_, i) => call('eth_chainId', [], i)), token)
    expect(batch.status).toBe(413)
    expect(node.rpcCalls).toEqual([])
  })

  it('error: a node that is down or slow gives 502/504 with a clear error', async () => {
    const { relay, token, node } = await setup({ limits: { requestTimeoutMs: 300 } })
    node.setDown(true)
    const down = await post(relay.url, [call('eth_chainId', [], 1), call('admin_peers', [], 2)], token)
    expect(down.status).toBe(502)
    expect(down.json[0].error).toEqual({ code: -32022, message: "the pool host's node is unavailable: HTTP 503" })
    expect(down.json[1].error.code).toBe(-32601) // refused calls keep their own answer
    node.setDown(false)
    node.setSlow(1000)
    const slow = await post(relay.url, call('eth_chainId'), token)
    expect(slow.status).toBe(504)
    expect(slow.json.error).toEqual({ code: -32023, message: "the pool host's node is unavailable: no answer within 300 ms" })
    node.setSlow(0)
    await node.close()
    const gone = await post(relay.url, call('eth_chainId'), token)
    expect(gone.status).toBe(502)
    expect(gone.json.error.message).toMatch(/unavailable: ECONNREFUSED/)
  })
})

describe('relay server: the node hop', () => {
  /** Calls until one reaches the node over its WebSocket: the relay opens its node socket in the background at start. */
  async function untilNodeSocket(relay: RelayServer, token: string, node: FakeNode): Promise<void> {
    await waitFor(async () => {
      await post(relay.url, call('eth_chainId'), token)
      return node.rpcCalls.at(-1)?.viaWebSocket === true
    }, 'a call over the node socket')
  }

  it('behavior: with the node\'s WebSocket, single calls take one shared socket; batches, notifications and eth_getLogs take HTTP; answers are the same', async () => {
    const { relay, token, node } = await setup()
    await untilNodeSocket(relay, token, node)
    node.setHead(5)
    const before = node.rpcCalls.length
    const single = await post(relay.url, { jsonrpc: '2.0', id: 'a', method: 'eth_blockNumber', params: [] }, token)
    expect(single.status).toBe(200)
    expect(single.json).toEqual({ jsonrpc: '2.0', id: 'a', result: '0x5' })
    // Two clients' calls with the same id in flight at once on the one socket: each gets its own answer.
    const [x, y] = await Promise.all([post(relay.url, { jsonrpc: '2.0', id: 7, method: 'eth_chainId' }, token), post(relay.url, { jsonrpc: '2.0', id: 7, method: 'net_version' }, token)])
    expect([x.json, y.json]).toEqual([{ jsonrpc: '2.0', id: 7, result: '0x539' }, { jsonrpc: '2.0', id: 7, result: '1337' }])
    const batch = await post(relay.url, [call('eth_chainId', [], 1), call('eth_blockNumber', [], 2)], token)
    expect(batch.json.map((r: { id: number; result: string }) => [r.id, r.result])).toEqual([[1, '0x539'], [2, '0x5']])
    expect((await post(relay.url, { jsonrpc: '2.0', method: 'eth_chainId' }, token)).status).toBe(200)
    await post(relay.url, call('eth_getLogs', [{ fromBlock: 'latest', toBlock: 'latest' }]), token)
    // A node error over the socket is the node's answer, as over HTTP.
    const unknown = await post(relay.url, call('eth_getBlockByNumber', ['not-a-block', false]), token)
    expect(unknown.json.error.code).toBeTypeOf('number')
    // Sorted: the two concurrent calls may reach the node in either order.
    const seen = node.rpcCalls.slice(before).map((c) => `${c.method} ${c.viaWebSocket === true ? 'ws' : 'http'}`).sort()
    expect(seen).toEqual([
      'eth_blockNumber http', // in the batch
      'eth_blockNumber ws',
      'eth_chainId http', // in the batch
      'eth_chainId http', // the notification
      'eth_chainId ws',
      'eth_getBlockByNumber ws',
      'eth_getLogs http',
      'net_version ws',
    ])
  })

  it('error: the node socket dropped: calls on it fail over as 502, the next calls take HTTP, and the socket comes back', async () => {
    const { relay, token, node } = await setup({ limits: { requestTimeoutMs: 5_000 } })
    await untilNodeSocket(relay, token, node)
    node.setSlow(300)
    const before = node.rpcCalls.length
    const inFlight = post(relay.url, call('eth_chainId'), token)
    await waitFor(() => node.rpcCalls.length > before, 'the slow call reached the node')
    expect(node.rpcCalls.at(-1)?.viaWebSocket).toBe(true)
    node.setDown(true) // terminates the node's WebSocket connections
    const lost = await inFlight
    expect(lost.status).toBe(502)
    expect(lost.json.error.message).toMatch(/pool host's node is unavailable: node connection closed/)
    node.setSlow(0)
    node.setDown(false)
    // Meanwhile the relay answers over HTTP: no call is refused because its socket is gone.
    const meanwhile = await post(relay.url, call('eth_blockNumber'), token)
    expect(meanwhile.json.result).toBe('0x0')
    expect(node.rpcCalls.at(-1)).toMatchObject({ method: 'eth_blockNumber' })
    expect(node.rpcCalls.at(-1)?.viaWebSocket).toBeUndefined()
    await untilNodeSocket(relay, token, node)
  })

  it('behavior: without the node\'s WebSocket every call takes HTTP', async () => {
    const { relay, token, node } = await setup({ nodeWs: false })
    for (let i = 0; i < 3; i++) expect((await post(relay.url, call('eth_chainId'), token)).json.result).toBe('0x539')
    expect(node.rpcCalls.map((c) => c.viaWebSocket === true)).toEqual([false, false, false])
  })
})

describe('relay server: WebSocket', () => {
  it('behavior: forwards subscription notifications and cleans up node-side subscriptions on close', async () => {
    const { relay, token, node } = await setup()
    const c = await connect(relay.wsUrl, token)
    expect((await c.request('eth_chainId')).result).toBe('0x539')
    const sub = (await c.request('eth_subscribe', ['newHeads'])).result
    expect(sub).toMatch(/^0x[0-9a-f]{32}$/)
    expect(node.subscriptions()).toBe(1)
    node.setHead(2)
    await waitFor(() => c.messages.filter((m) => m.method === 'eth_subscription').length === 2, 'two head notifications')
    const heads = c.messages.filter((m) => m.method === 'eth_subscription')
    expect(heads.map((h) => [h.params.subscription, h.params.result.number])).toEqual([
      [sub, '0x1'],
      [sub, '0x2'],
    ])
    expect((await c.request('eth_unsubscribe', ['0xdeadbeef'])).error).toEqual({ code: -32000, message: 'subscription not found' })
    await c.request('eth_subscribe', ['newHeads'])
    expect(node.subscriptions()).toBe(2)
    c.ws.close()
    await waitFor(() => node.subscriptions() === 0, 'node-side subscriptions to be removed')
    expect(node.rpcCalls.filter((x) => x.method === 'eth_unsubscribe')).toHaveLength(2)
    await waitFor(() => relay.sessionCount() === 0, 'the session to end')
  })

  it('behavior: a revoked token closes that client’s open sessions, and only theirs', async () => {
    const { relay, token, tokens } = await setup()
    const other = newToken()
    tokens.add({ token: other, clientNodeId: OTHER, expiresAtMs: Date.now() + 60_000 })
    const [a, b, o] = await Promise.all([connect(relay.wsUrl, token), connect(relay.wsUrl, token), connect(relay.wsUrl, other)])
    await a.request('eth_subscribe', ['newHeads'])
    expect(relay.sessionCount(CLIENT)).toBe(2)
    tokens.remove(CLIENT)
    expect(await a.closed).toEqual({ code: 4001, reason: 'relay token revoked' })
    expect((await b.closed).code).toBe(4001)
    expect((await o.request('eth_chainId')).result).toBe('0x539')
    // replace() without a token revokes it too.
    tokens.replace([])
    expect((await o.closed).code).toBe(4001)
  })

  it('behavior: an expired token closes the session at the next sweep', async () => {
    const clock = manualClock(Date.now())
    const { relay, token, tokens } = await setup({ limits: { sweepMs: 20 }, relay: { clock } })
    tokens.add({ token, clientNodeId: CLIENT, expiresAtMs: clock.now() + 1000 })
    const c = await connect(relay.wsUrl, token)
    expect((await c.request('eth_chainId')).result).toBe('0x539')
    clock.advance(1000)
    expect(await c.closed).toEqual({ code: 4001, reason: 'relay token expired' })
  })

  it('behavior: a node without a WebSocket endpoint refuses subscriptions clearly, still relays calls', async () => {
    const { relay, token } = await setup({ nodeWs: false })
    const c = await connect(relay.wsUrl, token)
    expect((await c.request('eth_subscribe', ['newHeads'])).error).toEqual({ code: -32601, message: 'method eth_subscribe is not available on this pool host: its node has no WebSocket endpoint' })
    expect((await c.request('eth_blockNumber')).result).toBe('0x0')
  })

  it("behavior: losing the node's WebSocket closes the session so the client re-subscribes", async () => {
    const { relay, token, node } = await setup()
    const c = await connect(relay.wsUrl, token)
    await c.request('eth_subscribe', ['newHeads'])
    node.setDown(true) // closes the node's WebSockets
    expect((await c.closed).code).toBe(1011)
  })
})

describe('relay server: activity', () => {
  it('behavior: counts only served calls per client, and a session as busy only while it holds a subscription', async () => {
    // The relay's clock: busy time is read from it, so the test says how much passed instead of sleeping.
    const clock = manualClock(Date.now())
    const { relay, token, tokens } = await setup({ relay: { clock } })
    const other = newToken()
    tokens.add({ token: other, clientNodeId: OTHER, expiresAtMs: Date.now() + 60_000 })
    await post(relay.url, [call('eth_chainId', [], 1), call('admin_peers', [], 2)], token) // the refusal is not service
    await post(relay.url, call('eth_chainId'), token)
    const idle = await connect(relay.wsUrl, token) // a session without a subscription is not service
    await idle.request('eth_chainId')
    const c = await connect(relay.wsUrl, other)
    await c.request('eth_blockNumber')
    await c.request('eth_subscribe', ['newHeads'])
    clock.advance(60)
    const first = relay.drainActivity()
    expect(first.get(CLIENT)?.requests).toBe(3)
    expect(first.get(CLIENT)!.busyMs).toBe(0)
    expect(first.get(OTHER)?.requests).toBe(2)
    expect(first.get(OTHER)!.busyMs).toBe(60)
    clock.advance(30)
    const second = relay.drainActivity()
    expect(second.has(CLIENT)).toBe(false)
    // The held subscription keeps counting as busy without any call.
    expect(second.get(OTHER)).toMatchObject({ requests: 0 })
    expect(second.get(OTHER)!.busyMs).toBe(30)
  })

  it('behavior: a node that answers every call with an error earns its relay nothing', async () => {
    const { relay, token, node } = await setup()
    node.setDown(true)
    for (let i = 0; i < 5; i++) await post(relay.url, call('eth_chainId'), token)
    expect(relay.drainActivity().size).toBe(0)
  })
})

describe('relay server: compute units and caps', () => {
  it('behavior: a Helios start-up passes at the default rate and is metered in compute units', async () => {
    const { relay, token, node } = await setup()
    const startCost = HELIOS_START.reduce((sum, c) => sum + callCost(DEFAULT_COST_TABLE, c.method, c.params, { maxRangeBlocks: 10_000 }), 0)
    const { burst } = relayRateLimit(DEFAULT_RELAY_CU_RATE)
    // As one batch, then every call on its own (Helios repeats the block reads every slot).
    const batch = await post(relay.url, HELIOS_START.map((c, i) => ({ ...c, id: i })), token)
    expect(batch.status).toBe(200)
    expect(batch.json.filter((r: any) => r.error)).toEqual([])
    for (const c of HELIOS_START) expect((await post(relay.url, c, token)).json.error).toBeUndefined()
    // Plus the relay's own eth_blockNumber: it had no head to resolve the eth_getLogs tags against (not metered).
    expect(node.rpcCalls.map((c) => c.method)).toEqual(['eth_blockNumber', ...HELIOS_START.map((c) => c.method), ...HELIOS_START.map((c) => c.method)])
    expect(relay.drainActivity().get(CLIENT)).toMatchObject({ requests: 2 * HELIOS_START.length, computeUnits: 2 * startCost })
    console.log(`figures: Helios start-up ${HELIOS_START.length} calls = ${startCost} CU; default ${DEFAULT_RELAY_CU_RATE} CU/s, burst ${burst} CU = ${Math.floor(burst / startCost)} start-ups back to back`)
    expect(startCost).toBe(266)
  })

  it('behavior: the bucket counts cost, not calls: a wide eth_getLogs takes what many cheap calls would', async () => {
    const { relay, token } = await setup({ limits: { cuPerSec: 0.001, cuBurst: 200 } })
    const logs = await post(relay.url, call('eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x63' }]), token) // 80 + 100 blocks
    expect(logs.json.error).toBeUndefined()
    const r = await post(relay.url, [1, 2, 3].map((i) => call('eth_blockNumber', [], i)), token) // 10 each: 20 left
    expect(r.json.map((x: any) => x.error?.code ?? 'ok')).toEqual(['ok', 'ok', -32005])
    expect(relay.drainActivity().get(CLIENT)?.computeUnits).toBe(200)
  })

  it('error: an eth_getLogs range over the cap is refused with -32602 before the node; tags count against the head', async () => {
    const { relay, token, node } = await setup({ limits: { maxLogsRange: 100 } })
    const wide = await post(relay.url, call('eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x64' }]), token)
    expect(wide.status).toBe(200)
    expect(wide.json.error).toEqual({ code: -32602, message: "eth_getLogs range of 101 blocks is over this pool host's limit of 100 blocks: ask for smaller ranges" })
    expect((await post(relay.url, call('eth_getLogs', [{ fromBlock: '0x0', toBlock: '0x63' }]), token)).json.error).toBeUndefined()
    // The relay asked the node for its head (0) once, for the first range call: a tag resolves against it.
    expect((await post(relay.url, call('eth_getLogs', [{ fromBlock: '0x0', toBlock: 'latest' }]), token)).json.error).toBeUndefined()
    relay.noteHead(500) // what the host agent does at every report
    const open = await post(relay.url, call('eth_getLogs', [{ fromBlock: '0x0', toBlock: 'latest' }]), token)
    expect(open.json.error).toEqual({ code: -32602, message: "eth_getLogs range of 501 blocks is over this pool host's limit of 100 blocks: ask for smaller ranges" })
    const filter = await post(relay.url, call('eth_newFilter', [{ fromBlock: 'earliest' }]), token)
    expect(filter.json.error.code).toBe(-32602)
    expect(node.rpcCalls.map((c) => c.method)).toEqual(['eth_blockNumber', 'eth_getLogs', 'eth_getLogs'])
    expect(relay.drainActivity().get(CLIENT)).toMatchObject({ requests: 2, computeUnits: 80 + 100 + 80 + 1 })
  })

  it('behavior: the relay learns the head from relayed eth_blockNumber replies', async () => {
    const { relay, token, node } = await setup({ limits: { maxLogsRange: 5 } })
    node.setHead(20)
    expect((await post(relay.url, call('eth_blockNumber'), token)).json.result).toBe('0x14')
    const r = await post(relay.url, call('eth_getLogs', [{ fromBlock: '0x1', toBlock: 'latest' }]), token)
    expect(r.json.error.message).toMatch(/range of 20 blocks/)
  })

  it('error: eth_call / eth_estimateGas asking for more gas than the cap are refused, not clamped; no gas is left to the node', async () => {
    const { relay, token, node } = await setup({ limits: { gasCap: 1_000_000 } })
    const tx = (gas?: string) => ({ to: `0x${'11'.repeat(20)}`, data: '0x', ...(gas ? { gas } : {}) })
    const over = await post(relay.url, [call('eth_call', [tx('0xf4241'), 'latest'], 1), call('eth_estimateGas', [tx('0x1000000')], 2)], token)
    expect(over.json[0].error).toEqual({ code: -32602, message: "eth_call gas 1000001 is over this pool host's cap of 1000000: send less gas or none (the node then uses its own cap)" })
    expect(over.json[1].error.code).toBe(-32602)
    const ok = await post(relay.url, [call('eth_call', [tx('0xf4240'), 'latest'], 1), call('eth_estimateGas', [tx()], 2)], token)
    expect(ok.json.map((x: any) => x.error)).toEqual([undefined, undefined])
    expect(node.rpcCalls.map((c) => c.method)).toEqual(['eth_call', 'eth_estimateGas'])
  })

  it('behavior: subscription notifications count compute units for the client', async () => {
    const { relay, token, node } = await setup()
    const c = await connect(relay.wsUrl, token)
    await c.request('eth_subscribe', ['newHeads'])
    node.setHead(3)
    await waitFor(() => c.messages.filter((m) => m.method === 'eth_subscription').length === 3, 'three head notifications')
    const { eth_subscribe } = DEFAULT_COST_TABLE.methods
    expect(relay.drainActivity().get(CLIENT)?.computeUnits).toBe(eth_subscribe! + 3 * DEFAULT_COST_TABLE.notification)
  })

  it('behavior: a cost table from the host raises what calls cost against the bucket', async () => {
    const costTable = { ...DEFAULT_COST_TABLE, methods: { ...DEFAULT_COST_TABLE.methods, eth_chainId: 100 } }
    const { relay, token } = await setup({ limits: { cuPerSec: 0.001, cuBurst: 150 }, relay: { costTable } })
    const r = await post(relay.url, [1, 2].map((i) => call('eth_chainId', [], i)), token)
    expect(r.json.map((x: any) => x.error?.code ?? 'ok')).toEqual(['ok', -32005])
  })
})
