/**
 * Conformance: each stock reporter's exact frame sequence replayed over a real
 * WebSocket against a tracker on a loopback http.Server, then every kind of
 * bad input. Timeouts are shrunk through options instead of faking 90 s waits.
 */
import { describe, test, expect, afterEach } from 'vitest'
import fc from 'fast-check'
import { isTrackerPath, TrackerCloseCode, type TrackerOptions } from './trackerServer.ts'
import { trackerFeed } from './feed.ts'
import type { BestHead } from './state.ts'
import { ScriptedReporter, startTracker, waitForNode, isEmit, type RunningTracker } from '../../test/harness/trackerReporter.ts'
import { waitFor, within } from '../../test/harness/waitFor.ts'
import { Counter, Gauge, Registry } from 'prom-client'

const SECRET = 'pool-secret'
const BESU_KEY = '3f1d12044546b76342d59d4a05532c14b85aa669704bfe1f864fe079415aa2c02d743e03218e57a33fb94523adb54032871a6c51b2cc5514cb7c7e35b3ed0a99'
const hash = (n: number) => '0x' + n.toString(16).padStart(64, '0')

let running: RunningTracker | undefined
const reporters: ScriptedReporter[] = []

async function start(options: Partial<TrackerOptions> = {}): Promise<RunningTracker> {
  running = await startTracker({ secret: SECRET, ...options })
  return running
}
async function connect(options: { answerPings?: boolean } = {}): Promise<ScriptedReporter> {
  const r = await ScriptedReporter.open(running!.url, options)
  reporters.push(r)
  return r
}
/** Log in with a minimal hello and wait for ready. */
async function login(name: string, options: { answerPings?: boolean; secret?: string; info?: object } = {}): Promise<ScriptedReporter> {
  const r = await connect(options)
  r.emit('hello', { id: name, info: { name, canUpdateHistory: true, ...options.info }, secret: options.secret ?? SECRET })
  expect(await r.next()).toBe('{"emit":["ready"]}')
  return r
}
/** A node-ping round trip: proves the socket is still served and every earlier frame was processed. */
async function roundTrip(r: ScriptedReporter, id: string): Promise<void> {
  const clientTime = `rt-${Math.random()}`
  r.emit('node-ping', { id, clientTime })
  await r.waitFor((v) => isEmit(v, 'node-pong') && (v as { emit: [string, { clientTime: unknown }] }).emit[1].clientTime === clientTime, 3_000, 'node-pong')
}

afterEach(async () => {
  for (const r of reporters.splice(0)) r.close()
  await running?.close()
  running = undefined
})

describe('routing', () => {
  test.each([
    ['/api', true],
    ['/api/', true],
    ['/api/?_primuscb=1700000000000-0', true],
    ['/api?x=1', true],
    ['/api#frag', true],
    ['/', false],
    ['/apix', false],
    ['/api/primus', false],
    ['/v1/agent', false],
    ['', false],
  ])('isTrackerPath(%s) = %s', (url, expected) => {
    expect(isTrackerPath(url)).toBe(expected)
  })

  test('a primus-style URL with a query string logs in', async () => {
    const t = await start()
    const r = await ScriptedReporter.open(t.url + '/?_primuscb=1700000000000-0')
    reporters.push(r)
    r.emit('hello', { id: 'q', info: {}, secret: SECRET })
    expect(await r.next()).toBe('{"emit":["ready"]}')
  })
})

describe('reporters', () => {
  test('geth: exact login, string clientTime echoed, string latency, block/pending/stats, history on request, server pings answered', async () => {
    const t = await start({ pingIntervalMs: 100, silenceTimeoutMs: 2_000 })
    const geth = await connect({ answerPings: true })
    // The login frame exactly as go-ethereum's ethstats.go writes it (gorilla's WriteJSON adds the newline).
    geth.sendRaw(
      '{"emit":["hello",{"id":"geth-1","info":{"name":"geth-1","node":"Geth/v1.14.8-stable-a9523b64/linux-amd64/go1.22.6","port":30303,"net":"1337","protocol":"eth/68","api":"No","os":"linux","os_v":"amd64","client":"0.1.1","canUpdateHistory":true},"secret":"pool-secret"}]}\n',
    )
    // geth reads exactly one frame into map[string][]string and gives up unless it is this.
    expect(await geth.next()).toBe('{"emit":["ready"]}')

    const clientTime = '2024-05-01 12:00:00.123456789 +0000 UTC m=+12.345678901'
    geth.emit('node-ping', { id: 'geth-1', clientTime }, { newline: true })
    const pong = (await geth.waitForEmit('node-pong')) as { clientTime: unknown; serverTime: unknown }
    expect(pong.clientTime).toBe(clientTime)
    expect(typeof pong.serverTime).toBe('number')
    expect(Math.abs((pong.serverTime as number) - Date.now())).toBeLessThan(5_000)

    geth.emit('latency', { id: 'geth-1', latency: '3' }, { newline: true })
    geth.emit(
      'block',
      {
        id: 'geth-1',
        block: {
          number: 5,
          hash: hash(5),
          parentHash: hash(4),
          timestamp: 1700000060,
          miner: '0x0000000000000000000000000000000000000000',
          gasUsed: 21000,
          gasLimit: 30000000,
          difficulty: '0',
          totalDifficulty: '1',
          transactions: [{ hash: hash(99) }],
          transactionsRoot: hash(1),
          stateRoot: hash(2),
          uncles: [],
        },
      },
      { newline: true },
    )
    geth.emit('pending', { id: 'geth-1', stats: { pending: 4 } }, { newline: true })
    geth.emit('stats', { id: 'geth-1', stats: { active: true, syncing: false, mining: false, hashrate: 0, peers: 12, gasPrice: 1000000007, uptime: 100 } }, { newline: true })

    const node = await waitForNode(t.tracker, 'geth-1', (n) => n.stats !== null)
    expect(node).toMatchObject({
      connected: true,
      latencyMs: 3,
      pending: 4,
      nodeId: null,
      info: { node: 'Geth/v1.14.8-stable-a9523b64/linux-amd64/go1.22.6', port: 30303, net: '1337', protocol: 'eth/68', osVersion: 'amd64', canUpdateHistory: true },
      block: { number: 5, hash: hash(5), parentHash: hash(4), timestamp: 1700000060, gasUsed: 21000, gasLimit: 30000000, difficulty: '0', totalDifficulty: '1', transactionCount: 1, uncleCount: 0 },
      stats: { active: true, syncing: false, mining: false, peers: 12, gasPrice: '1000000007', uptime: 100 },
    })

    // History: ask only with a numeric list, as geth insists.
    expect(t.tracker.requestHistory('geth-1', [5, 4, 3])).toBe(true)
    const request = (await geth.waitForEmit('history')) as { list: unknown[] }
    expect(request).toEqual({ list: [5, 4, 3] })
    expect(request.list.every((n) => typeof n === 'number')).toBe(true)
    // geth fills the reply back to front.
    const blocks = [...request.list].reverse().map((n) => ({ number: n, hash: hash(n as number), transactions: [], uncles: [] }))
    geth.emit('history', { id: 'geth-1', history: blocks }, { newline: true })
    const withHistory = await waitForNode(t.tracker, 'geth-1', (n) => n.history !== null)
    expect(withHistory.history?.blocks).toEqual([3, 4, 5].map((n) => ({ number: n, hash: hash(n) })))

    // Server heartbeats arrive after ready and geth answers them; the socket stays up.
    await geth.until(() => geth.serverPings() >= 3, 3_000, 'three server pings')
    expect(geth.frames.findIndex((f) => f.startsWith('"primus::ping::'))).toBeGreaterThan(0)
    await roundTrip(geth, 'geth-1')
    expect(t.tracker.requestHistory('geth-1', [1, -1])).toBe(false)
    expect(t.tracker.requestHistory('nobody', [1])).toBe(false)
  })

  test('classic eth-net-intelligence-api: numeric fields, sync object, its own primus pings; never answers ours yet stays while it talks', async () => {
    const t = await start({ pingIntervalMs: 50, silenceTimeoutMs: 400 })
    const classic = await connect({ answerPings: false })
    classic.emit('hello', {
      id: 'myNode',
      info: { name: 'myNode', contact: 'ops@example.org', coinbase: null, node: 'Geth/v1.10.26-stable/linux-amd64/go1.18.5', net: '5', protocol: 66, api: '0.20.1', port: 30303, os: 'linux', os_v: '5.15.0', client: '0.1.1', canUpdateHistory: true },
      secret: SECRET,
    })
    expect(await classic.next()).toBe('{"emit":["ready"]}')

    classic.emit('block', {
      id: 'myNode',
      block: { number: 8000000, hash: hash(8000000), parentHash: hash(7999999), timestamp: 1700000000, miner: '0xabc', gasUsed: 7000000, gasLimit: 8000000, difficulty: '2', totalDifficulty: '58750003716598352816469', transactions: [hash(1), hash(2)], uncles: [] },
    })
    classic.emit('pending', { id: 'myNode', stats: { pending: 0 } })
    classic.emit('stats', {
      id: 'myNode',
      stats: { active: true, syncing: { startingBlock: 7999000, currentBlock: 8000000, highestBlock: 8000100, progress: 0.9 }, mining: false, hashrate: 0, peers: 25, gasPrice: '20000000000', uptime: 100 },
    })
    const clientTime = Date.now()
    classic.emit('node-ping', { id: 'myNode', clientTime })
    const pong = (await classic.waitForEmit('node-pong')) as { clientTime: unknown }
    expect(pong.clientTime).toBe(clientTime)
    classic.emit('latency', { id: 'myNode', latency: 2 })

    // Primus heartbeat from the client: answered with the same token.
    classic.sendRaw('"primus::ping::1700000000123"')
    await classic.waitFor((_, text) => text === '"primus::pong::1700000000123"', 3_000, 'primus pong')

    const node = await waitForNode(t.tracker, 'myNode', (n) => n.latencyMs === 2)
    expect(node).toMatchObject({
      info: { protocol: '66', net: '5', port: 30303, contact: 'ops@example.org' },
      block: { number: 8000000, totalDifficulty: '58750003716598352816469', transactionCount: 2 },
      pending: 0,
      stats: { syncing: true, syncProgress: { startingBlock: 7999000, currentBlock: 8000000, highestBlock: 8000100 }, peers: 25, gasPrice: '20000000000' },
    })

    // It ignores our pings but keeps sending node-pings: for well over the silence timeout it must stay.
    const talker = setInterval(() => classic.emit('node-ping', { id: 'myNode', clientTime: Date.now() }), 100)
    try {
      const since = Date.now()
      const pingsBefore = classic.serverPings()
      await classic.until(() => classic.serverPings() >= pingsBefore + 20 && Date.now() - since > 1_000, 5_000, '20 unanswered server pings over > 1 s')
      expect(classic.open).toBe(true)
      expect(t.tracker.node('myNode')?.connected).toBe(true)
    } finally {
      clearInterval(talker)
    }
    // Then it falls silent: closed for silence.
    const closed = await within(classic.closed, 3_000, 'close for silence')
    expect(closed.code).toBe(TrackerCloseCode.SILENT)
    await waitForNode(t.tracker, 'myNode', (n) => !n.connected)
    expect(t.tracker.counters().closed.silence).toBe(1)
  })

  test('Besu: string port, enode public key as id, hex block fields; its key proven when bound to its name', async () => {
    // The operator bound Besu's key (its name) to itself: the key is proven, and nodeByNodeId finds it in any spelling.
    const t = await start({ secrets: { [BESU_KEY]: { secret: 'besu-secret', nodeId: BESU_KEY } } })
    const besu = await connect({ answerPings: true })
    besu.emit('hello', {
      id: BESU_KEY,
      info: { name: 'besu-1', node: 'besu/v24.1.0/linux-x86_64/openjdk-java-17', port: '30303', net: '1', protocol: 'eth/68', api: 'No', os: 'linux', os_v: 'amd64', client: '0.1.1', canUpdateHistory: false },
      secret: 'besu-secret',
    })
    expect(await besu.next()).toBe('{"emit":["ready"]}')
    besu.emit('node-ping', { id: BESU_KEY, clientTime: '1700000000000' })
    expect(((await besu.waitForEmit('node-pong')) as { clientTime: unknown }).clientTime).toBe('1700000000000')
    besu.emit('block', { id: BESU_KEY, block: { number: '0x1b4', hash: hash(436).toUpperCase().replace('0X', '0x'), parentHash: hash(435), timestamp: '0x6553f100', gasUsed: '0x5208', gasLimit: '0x1c9c380', difficulty: '0x0', totalDifficulty: '0x20000', transactions: [], uncles: [] } })
    besu.emit('stats', { id: BESU_KEY, stats: { active: true, syncing: false, mining: false, hashrate: 0, peers: '0x5', gasPrice: '0x3b9aca00', uptime: 100 } })
    const node = await waitForNode(t.tracker, BESU_KEY, (n) => n.stats !== null && n.block !== null)
    expect(node).toMatchObject({
      nodeId: BESU_KEY,
      nodeIdProven: true,
      info: { name: 'besu-1', port: 30303 },
      block: { number: 436, hash: hash(436), timestamp: 0x6553f100, gasUsed: 21000, gasLimit: 30000000, difficulty: '0', totalDifficulty: '131072' },
      stats: { peers: 5, gasPrice: '1000000000' },
    })
    expect(t.tracker.nodeByNodeId(BESU_KEY)?.name).toBe(BESU_KEY)
    expect(t.tracker.nodeByNodeId('0x' + BESU_KEY.toUpperCase())?.name).toBe(BESU_KEY)
    // It did not say canUpdateHistory: the tracker does not ask it.
    expect(t.tracker.requestHistory(BESU_KEY, [1])).toBe(false)
  })

  test('Nethermind: os_V, reports sent straight after hello without waiting for ready', async () => {
    const t = await start()
    const nm = await connect({ answerPings: true })
    nm.emit('hello', { id: 'nethermind-1', info: { name: 'nethermind-1', node: 'Nethermind/v1.25.4/linux-x64/dotnet8.0.2', port: 30303, net: '1', protocol: 'eth/68', api: 'No', os: 'Linux', os_V: '5.15.0-91-generic', client: '0.1.1', canUpdateHistory: false }, secret: SECRET })
    nm.emit('stats', { id: 'nethermind-1', stats: { active: true, syncing: false, mining: false, hashrate: 0, peers: 50, gasPrice: 30000000000, uptime: 100 } })
    nm.emit('block', { id: 'nethermind-1', block: { number: 19000000, hash: hash(19000000), parentHash: hash(18999999), timestamp: 1705000000, miner: '0x1', gasUsed: 15000000, gasLimit: 30000000, difficulty: '0', totalDifficulty: '58750003716598352816469', transactions: [], uncles: [] } })
    nm.emit('latency', { id: 'nethermind-1', latency: 7 })
    expect(await nm.next()).toBe('{"emit":["ready"]}')
    const node = await waitForNode(t.tracker, 'nethermind-1', (n) => n.latencyMs === 7)
    expect(node).toMatchObject({ info: { osVersion: '5.15.0-91-generic', os: 'Linux' }, stats: { peers: 50 }, block: { number: 19000000 } })
    expect(t.tracker.counters().dropped.unauthenticated).toBe(0)
  })

  test("'end' from a reporter closes its socket and marks the node disconnected", async () => {
    const t = await start()
    const r = await login('leaver')
    r.emit('end', { id: 'leaver' })
    expect((await within(r.closed, 3_000, 'close after end')).code).toBe(1000)
    await waitForNode(t.tracker, 'leaver', (n) => !n.connected)
  })
})

describe('login', () => {
  test('wrong secret: the primus close frame, then the socket is closed; nothing stored', async () => {
    const t = await start()
    const r = await connect()
    r.emit('hello', { id: 'intruder', info: {}, secret: 'guess' })
    expect(await r.next()).toBe('"primus::server::close"')
    expect((await within(r.closed, 3_000, 'close after bad secret')).code).toBe(1008)
    expect(t.tracker.node('intruder')).toBeUndefined()
    expect(t.tracker.counters()).toMatchObject({ loginsRejected: 1, logins: 0 })
  })

  test('a hello without an id is refused the same way', async () => {
    await start()
    const r = await connect()
    r.emit('hello', { info: {}, secret: SECRET })
    expect(await r.next()).toBe('"primus::server::close"')
    await within(r.closed, 3_000, 'close')
  })

  test('per-node secrets: a listed name needs its own secret; others use the pool secret', async () => {
    const t = await start({ secrets: { 'host-a': 'secret-a' } })
    const wrong = await connect()
    wrong.emit('hello', { id: 'host-a', info: {}, secret: SECRET })
    expect(await wrong.next()).toBe('"primus::server::close"')
    await login('host-a', { secret: 'secret-a' })
    await login('host-b')
    expect(t.tracker.nodes().map((n) => n.name)).toEqual(['host-a', 'host-b'])
  })

  test('no secret configured: every login is refused', async () => {
    running = await startTracker({})
    const r = await connect()
    r.emit('hello', { id: 'x', info: {}, secret: '' })
    expect(await r.next()).toBe('"primus::server::close"')
  })

  test('before hello: reports are ignored and counted, heartbeats answered; hello still gets ready', async () => {
    const t = await start()
    const r = await connect()
    r.emit('block', { id: 'early', block: { number: 1 } })
    r.emit('stats', { id: 'early', stats: {} })
    r.sendRaw('"primus::ping::1"')
    expect(await r.next()).toBe('"primus::pong::1"')
    r.emit('hello', { id: 'early', info: {}, secret: SECRET })
    expect(await r.next()).toBe('{"emit":["ready"]}')
    expect(t.tracker.node('early')?.block).toBeNull()
    expect(t.tracker.counters().dropped.unauthenticated).toBe(2)
  })

  test('a socket that never says hello is closed after helloTimeoutMs', async () => {
    const t = await start({ helloTimeoutMs: 200 })
    const r = await connect()
    expect((await within(r.closed, 3_000, 'hello timeout')).code).toBe(TrackerCloseCode.HELLO_TIMEOUT)
    expect(t.tracker.counters().closed.hello_timeout).toBe(1)
  })

  test('a second login for a connected name: the newest wins, the older socket is closed with 4000, data kept', async () => {
    const t = await start()
    const first = await login('dup')
    first.emit('block', { id: 'dup', block: { number: 10, hash: hash(10) } })
    await waitForNode(t.tracker, 'dup', (n) => n.block?.number === 10)
    const second = await login('dup')
    expect((await within(first.closed, 3_000, 'older socket closed')).code).toBe(TrackerCloseCode.REPLACED)
    await waitFor(() => t.tracker.socketCount() === 1, 'the server to drop the older socket', { timeoutMs: 3_000, intervalMs: 5 })
    const node = t.tracker.node('dup')
    expect(node).toMatchObject({ connected: true, block: { number: 10 } })
    second.emit('block', { id: 'dup', block: { number: 11, hash: hash(11) } })
    await waitForNode(t.tracker, 'dup', (n) => n.block?.number === 11)
    // The old socket's close did not disconnect the node the new socket owns.
    expect(t.tracker.node('dup')?.connected).toBe(true)
    expect(t.tracker.counters().closed.replaced).toBe(1)
  })

  test('upgrades beyond maxSockets are refused with 503; the open sockets are unaffected', async () => {
    const t = await start({ maxSockets: 2 })
    const a = await login('a')
    await connect()
    await expect(ScriptedReporter.open(t.url)).rejects.toThrow(/503/)
    await roundTrip(a, 'a')
  })

  test('a second hello on a logged-in socket is ignored', async () => {
    const t = await start()
    const r = await login('once')
    r.emit('hello', { id: 'other-name', info: {}, secret: SECRET })
    await roundTrip(r, 'once')
    expect(t.tracker.node('other-name')).toBeUndefined()
    expect(t.tracker.counters().dropped.duplicate_hello).toBe(1)
  })
})

describe('bad input', () => {
  test('non-JSON, non-emit JSON, unknown topics and unreadable payloads are ignored and counted; the socket is still served', async () => {
    const t = await start()
    const r = await login('n1')
    for (const text of ['{not json', 'null', '42', '[1,2]', '{"foo":1}', '{"emit":[]}', '{"emit":[7,{}]}', '"hello"', '']) r.sendRaw(text)
    r.sendRaw(Buffer.from([0xff, 0xfe, 0x00]))
    r.emit('frobnicate', { id: 'n1' })
    r.emit('block', { id: 'n1', block: { number: 'soon' } })
    r.emit('block', { id: 'n1' })
    r.emit('stats', { id: 'n1', stats: 'fine' })
    r.emit('latency', { id: 'n1', latency: -4 })
    r.emit('pending', { id: 'n1', stats: { pending: 'lots' } })
    r.emit('peers', { id: 'n1', peers: 'everyone' })
    r.emit('history', { id: 'n1', history: 7 })
    await roundTrip(r, 'n1')
    const c = t.tracker.counters()
    expect(c.dropped).toMatchObject({ invalid: 10, unknown_topic: 1, bad_payload: 7, internal: 0 })
    expect(t.tracker.node('n1')).toMatchObject({ connected: true, block: null, stats: null, latencyMs: null, pending: null })
  })

  test('property: random JSON under every topic never breaks the socket or the tracker', async () => {
    const t = await start({ rateLimitBurst: 10_000 })
    const r = await login('fuzz')
    const topics = ['block', 'stats', 'pending', 'latency', 'history', 'peers', 'node-ping', 'update', 'hello', 'weird']
    const values = fc.sample(fc.jsonValue(), 300)
    values.forEach((value, i) => r.emit(topics[i % topics.length]!, value))
    values.forEach((value, i) => r.emit(topics[i % topics.length]!, { id: 'fuzz', block: value, stats: value, latency: value, history: value, peers: value, clientTime: value }))
    await roundTrip(r, 'fuzz')
    expect(t.tracker.counters().dropped.internal).toBe(0)
    expect(t.tracker.node('fuzz')?.connected).toBe(true)
  })

  test("a payload carrying another socket's node id is ignored and counted; that node's state is unchanged", async () => {
    const t = await start()
    const a = await login('node-a')
    a.emit('block', { id: 'node-a', block: { number: 10, hash: hash(10) } })
    a.emit('stats', { id: 'node-a', stats: { peers: 3 } })
    await waitForNode(t.tracker, 'node-a', (n) => n.block?.number === 10 && n.stats !== null)
    const before = t.tracker.node('node-a')

    const b = await login('node-b')
    b.emit('block', { id: 'node-a', block: { number: 999999, hash: hash(999999) } })
    b.emit('stats', { id: 'node-a', stats: { peers: 0 } })
    b.emit('latency', { id: 'node-a', latency: 1 })
    b.emit('peers', { id: 'node-a', peers: [BESU_KEY] })
    b.emit('block', { id: 'nobody', block: { number: 5 } })
    b.emit('end', { id: 'node-a' })
    await roundTrip(b, 'node-b')
    expect(t.tracker.node('node-a')).toEqual({ ...before, lastSeenMs: t.tracker.node('node-a')!.lastSeenMs })
    expect(t.tracker.counters().dropped.foreign_id).toBe(6)
    expect(t.tracker.bestHead()?.number).toBe(10)
    expect(a.open && b.open).toBe(true)
  })

  test('a 20 MiB frame closes that socket with 1009; others are unaffected', async () => {
    const t = await start()
    const big = await login('big')
    const other = await login('other')
    big.sendRaw(JSON.stringify({ emit: ['block', { id: 'big', block: { number: 1, junk: 'x'.repeat(20 * 1024 * 1024) } }] }))
    expect((await within(big.closed, 10_000, 'close 1009')).code).toBe(1009)
    await roundTrip(other, 'other')
    await waitForNode(t.tracker, 'big', (n) => !n.connected)
    expect(t.tracker.node('other')?.connected).toBe(true)
  })

  test('a frame just under the limit is accepted', async () => {
    const t = await start({ maxFrameBytes: 1024 * 1024 })
    const r = await login('edge')
    const frame = JSON.stringify({ emit: ['block', { id: 'edge', block: { number: 3, extraData: '' } }] })
    r.sendRaw(frame.replace('"extraData":""', `"extraData":"${'a'.repeat(1024 * 1024 - frame.length)}"`))
    await waitForNode(t.tracker, 'edge', (n) => n.block?.number === 3)
  })

  test('a ping flood from one socket is dropped and closed; other reporters are still served', async () => {
    const t = await start({ rateLimitPerSecond: 50, rateLimitBurst: 100, floodDropsPerSecond: 1_000 })
    const victim = await login('victim')
    const attacker = await login('attacker')
    for (let i = 0; i < 20_000; i++) attacker.sendRaw(`"primus::ping::${i}"`)
    await roundTrip(victim, 'victim')
    victim.emit('block', { id: 'victim', block: { number: 42 } })
    await waitForNode(t.tracker, 'victim', (n) => n.block?.number === 42)
    expect((await within(attacker.closed, 5_000, 'attacker closed')).code).toBe(1008)
    const c = t.tracker.counters()
    expect(c.dropped.rate_limited).toBeGreaterThanOrEqual(1_000)
    expect(c.closed.flood).toBe(1)
    // At most the burst (plus the trickle the bucket refills) was answered.
    expect(attacker.frames.filter((f) => f.startsWith('"primus::pong::')).length).toBeLessThan(200)
  })

  test('silence beyond the timeout closes a logged-in socket that does not answer pings', async () => {
    const t = await start({ pingIntervalMs: 50, silenceTimeoutMs: 300 })
    const r = await login('mute', { answerPings: false })
    const closed = await within(r.closed, 3_000, 'close for silence')
    expect(closed.code).toBe(TrackerCloseCode.SILENT)
    expect(r.serverPings()).toBeGreaterThan(0)
    await waitForNode(t.tracker, 'mute', (n) => !n.connected)
  })

  test('a reporter that answers pings is never closed for silence', async () => {
    const t = await start({ pingIntervalMs: 50, silenceTimeoutMs: 200 })
    const r = await login('chatty', { answerPings: true })
    await r.until(() => r.serverPings() >= 15, 5_000, '15 server pings (> 3 silence timeouts)')
    expect(r.open).toBe(true)
    expect(t.tracker.counters().closed.silence).toBe(0)
  })
})

describe('pool extension and derived data', () => {
  test('peers: node IDs normalised, deduplicated, invalid ones counted; enode in hello sets the node ID', async () => {
    const key = 'ab'.repeat(64)
    // host-1 is bound to its key, so the claim in its enode is proven (an unbound claim is covered in perNodeSecrets.test.ts).
    const t = await start({ secrets: { 'host-1': { secret: 'secret-1', nodeId: key } } })
    const r = await login('host-1', { secret: 'secret-1', info: { enode: `enode://${key}@203.0.113.5:30303` } })
    const p1 = 'cd'.repeat(64)
    r.emit('peers', { id: 'host-1', peers: [BESU_KEY, '0x' + p1.toUpperCase(), p1, 'not-a-key', 12] })
    const node = await waitForNode(t.tracker, 'host-1', (n) => n.peers !== null)
    expect(node).toMatchObject({ nodeId: key, nodeIdProven: true, enode: `enode://${key}@203.0.113.5:30303`, peers: [BESU_KEY, p1] })
    expect(node.peersUpdatedAtMs).toBeGreaterThan(0)
    expect(t.tracker.counters().invalidPeerIds).toBe(2)
    expect(t.tracker.nodeByNodeId(key)?.name).toBe('host-1')
  })

  test('bestHead, lag and the dashboard feed follow connected nodes; head events fire', async () => {
    const t = await start()
    const heads: (BestHead | undefined)[] = []
    t.tracker.on('head', (h) => heads.push(h))
    const a = await login('a')
    const b = await login('b')
    expect(t.tracker.bestHead()).toBeUndefined()
    a.emit('block', { id: 'a', block: { number: 100, hash: hash(100) } })
    b.emit('block', { id: 'b', block: { number: 97, hash: hash(97) } })
    b.emit('stats', { id: 'b', stats: { peers: 8, syncing: false } })
    b.emit('latency', { id: 'b', latency: '12' })
    await waitForNode(t.tracker, 'a', (n) => n.block?.number === 100)
    await waitForNode(t.tracker, 'b', (n) => n.latencyMs === 12)
    expect(t.tracker.bestHead()).toEqual({ number: 100, hash: hash(100) })
    expect(t.tracker.lag('b')).toBe(3)
    expect(t.tracker.lag('a')).toBe(0)

    const feed = trackerFeed(t.tracker, Date.now())
    expect(feed.bestHead).toEqual({ number: 100, hash: hash(100) })
    expect(feed.connected).toBe(2)
    expect(feed.nodes.find((n) => n.name === 'b')).toMatchObject({ blockNumber: 97, lag: 3, latencyMs: 12, peerCount: 8, syncing: false, connected: true, poolPeerIds: null })
    expect(JSON.parse(JSON.stringify(feed))).toEqual(feed)

    // The holder of the best head leaves: the next best takes over.
    a.close()
    await waitForNode(t.tracker, 'a', (n) => !n.connected)
    expect(t.tracker.bestHead()).toEqual({ number: 97, hash: hash(97) })
    expect(t.tracker.lag('b')).toBe(0)
    expect(trackerFeed(t.tracker).nodes.find((n) => n.name === 'a')).toMatchObject({ connected: false, lag: 0 })
    // A reorg that lowers the only connected head lowers the best head with it.
    b.emit('block', { id: 'b', block: { number: 95, hash: hash(95) } })
    await waitForNode(t.tracker, 'b', (n) => n.block?.number === 95)
    expect(t.tracker.bestHead()?.number).toBe(95)
    expect(heads.map((h) => h?.number)).toEqual([100, 97, 95])
  })

  test('update listeners get snapshots that are copies, and can unsubscribe', async () => {
    const t = await start()
    const kinds: string[] = []
    const off = t.tracker.on('update', (u) => {
      kinds.push(`${u.name}:${u.kind}`)
      if (u.node.block) u.node.block.number = -1
    })
    t.tracker.on('update', () => {
      throw new Error('a broken listener must not break the tracker')
    })
    const r = await login('l')
    r.emit('block', { id: 'l', block: { number: 1 } })
    await waitForNode(t.tracker, 'l', (n) => n.block?.number === 1)
    off()
    r.emit('pending', { id: 'l', stats: { pending: 1 } })
    await waitForNode(t.tracker, 'l', (n) => n.pending === 1)
    expect(kinds).toEqual(['l:login', 'l:block'])
  })

  test('Prometheus metrics are registered on the given registry', async () => {
    const t = await start()
    const r = await login('m')
    await roundTrip(r, 'm')
    const text = await t.registry.metrics()
    expect(text).toContain('vipnode_tracker_frames_total{direction="in"}')
    expect(text).toContain('vipnode_tracker_logins_total{result="ok"} 1')
    expect(text).toContain('vipnode_tracker_nodes 1')
  })

  test("existing metrics passed as {frames, nodes} are fed (the coordinator's own frame counter and a gauge)", async () => {
    const registry = new Registry()
    const frames = new Counter({ name: 'frames_total', help: 'h', labelNames: ['direction'] as const, registers: [registry] })
    const nodes = new Gauge({ name: 'nodes', help: 'h', registers: [registry] })
    running = await startTracker({ secret: SECRET }, { frames, nodes })
    const r = await login('s')
    await roundTrip(r, 's')
    const text = await registry.metrics()
    expect(text).toMatch(/frames_total\{direction="in"\} [2-9]/)
    expect(text).toMatch(/frames_total\{direction="out"\} [2-9]/)
    expect(text).toContain('nodes 1')
  })

  test('close() closes every socket with 1001', async () => {
    const t = await start()
    const r = await login('bye')
    await t.tracker.close()
    expect((await within(r.closed, 3_000, 'shutdown close')).code).toBe(1001)
    expect(t.tracker.socketCount()).toBe(0)
  })
})
