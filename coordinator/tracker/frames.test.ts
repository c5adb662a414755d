/** The lenient parsers, one field dialect at a time, and a property: no input makes them throw. */
import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import {
  READY_FRAME,
  SERVER_CLOSE_FRAME,
  historyRequestFrame,
  nodePingClientTime,
  nodePongFrame,
  parseBlock,
  parseBlockPayload,
  parseFrame,
  parseHello,
  parseHistoryPayload,
  parseLatencyPayload,
  parsePeersPayload,
  parsePendingPayload,
  parseStatsPayload,
  parseSyncing,
  payloadId,
  pingFrame,
  pongFrame,
  toDecimalString,
  toSafeInt,
  validHistoryList,
  MAX_PEERS,
} from './frames.ts'

const KEY = 'a'.repeat(64) + 'b'.repeat(64)

describe('frames: parseFrame', () => {
  test('emit objects, with or without a payload, with a trailing newline as gorilla writes them', () => {
    expect(parseFrame('{"emit":["ready"]}')).toEqual({ kind: 'emit', topic: 'ready', payload: undefined })
    expect(parseFrame('{"emit":["block",{"id":"a"}]}\n')).toEqual({ kind: 'emit', topic: 'block', payload: { id: 'a' } })
  })

  test('primus heartbeats in both directions keep their token verbatim', () => {
    expect(parseFrame('"primus::ping::1700000000000"')).toEqual({ kind: 'ping', token: '1700000000000' })
    expect(parseFrame('"primus::pong::abc"')).toEqual({ kind: 'pong', token: 'abc' })
    expect(parseFrame(JSON.stringify('primus::ping::' + 'x'.repeat(65))).kind).toBe('invalid')
  })

  test.each(['', '{', 'not json', '42', 'null', '[1,2]', '{"foo":1}', '{"emit":[]}', '{"emit":[5]}', '{"emit":"hello"}', '"hello"', '"primus::server::close"'])(
    'invalid: %s',
    (text) => {
      expect(parseFrame(text).kind).toBe('invalid')
    },
  )

  test('encoders produce the exact frames the reporters compare against', () => {
    expect(READY_FRAME).toBe('{"emit":["ready"]}')
    expect(SERVER_CLOSE_FRAME).toBe('"primus::server::close"')
    expect(pingFrame(12)).toBe('"primus::ping::12"')
    expect(pongFrame('12')).toBe('"primus::pong::12"')
    expect(nodePongFrame('2024-05-01 12:00:00 +0000 UTC', 5)).toBe('{"emit":["node-pong",{"clientTime":"2024-05-01 12:00:00 +0000 UTC","serverTime":5}]}')
    expect(nodePongFrame(17, 5)).toBe('{"emit":["node-pong",{"clientTime":17,"serverTime":5}]}')
    expect(historyRequestFrame([3, 2])).toBe('{"emit":["history",{"list":[3,2]}]}')
  })
})

describe('frames: field converters', () => {
  test('integers from numbers, decimal and hex strings; nothing unsafe or negative', () => {
    expect(toSafeInt(5)).toBe(5)
    expect(toSafeInt('5')).toBe(5)
    expect(toSafeInt(' 0x1b4 ')).toBe(436)
    expect(toSafeInt('0X1B4')).toBe(436)
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53, '0x', '-1', '1e3', 'abc', '0x' + 'f'.repeat(20), null, true, {}, []]) expect(toSafeInt(bad)).toBeUndefined()
  })

  test('big integers keep every digit as decimal strings', () => {
    expect(toDecimalString('0x' + 'f'.repeat(32))).toBe((2n ** 128n - 1n).toString())
    expect(toDecimalString('58750003716598352816469')).toBe('58750003716598352816469')
    expect(toDecimalString(20_000_000_000)).toBe('20000000000')
    expect(toDecimalString('0')).toBe('0')
    expect(toDecimalString('-5')).toBeUndefined()
  })

  test('syncing: bool, strings, or an eth_syncing object', () => {
    expect(parseSyncing(false)).toEqual({ syncing: false, progress: null })
    expect(parseSyncing(true)).toEqual({ syncing: true, progress: null })
    expect(parseSyncing({ startingBlock: 0, currentBlock: '0x10', highestBlock: 20, progress: 0.8 })).toEqual({
      syncing: true,
      progress: { startingBlock: 0, currentBlock: 16, highestBlock: 20 },
    })
    expect(parseSyncing(undefined)).toEqual({ syncing: false, progress: null })
  })

  test('payload ids are strings; numbers are read as strings', () => {
    expect(payloadId({ id: 'n1' })).toBe('n1')
    expect(payloadId({ id: 7 })).toBe('7')
    expect(payloadId({})).toBeUndefined()
    expect(payloadId('x')).toBeUndefined()
  })
})

describe('frames: hello', () => {
  test('geth: numeric port, os_v, no key in the id', () => {
    const r = parseHello({
      id: 'geth-1',
      info: { name: 'geth-1', node: 'Geth/v1.14.8', port: 30303, net: '1337', protocol: 'eth/68', api: 'No', os: 'linux', os_v: 'amd64', client: '0.1.1', canUpdateHistory: true },
      secret: 's',
    })
    expect(r).toEqual({
      ok: true,
      value: {
        id: 'geth-1',
        secret: 's',
        nodeId: null,
        enode: null,
        info: { name: 'geth-1', node: 'Geth/v1.14.8', client: '0.1.1', os: 'linux', osVersion: 'amd64', protocol: 'eth/68', port: 30303, api: 'No', net: '1337', contact: '', canUpdateHistory: true },
      },
    })
  })

  test('Besu: string port and the node key as id (with or without 0x, any case)', () => {
    for (const id of [KEY, '0x' + KEY.toUpperCase()]) {
      const r = parseHello({ id, info: { port: '30303', os_v: '6.1' }, secret: 's' })
      expect(r.ok && r.value).toMatchObject({ id, nodeId: KEY, info: { port: 30303, osVersion: '6.1', canUpdateHistory: false } })
    }
  })

  test('Nethermind: os_V; classic: numeric protocol; an enode in info names the key', () => {
    const r = parseHello({ id: 'nm', info: { os_V: '5.15', protocol: 63, net: 1, enode: `enode://${KEY}@10.0.0.1:30303` }, secret: 's' })
    expect(r.ok && r.value).toMatchObject({ nodeId: KEY, enode: `enode://${KEY}@10.0.0.1:30303`, info: { osVersion: '5.15', protocol: '63', net: '1', name: 'nm' } })
  })

  test('refused: no id, an empty or over-long id, not an object; a bad port or enode is only dropped', () => {
    for (const bad of [null, 'x', [], {}, { id: '' }, { id: 'x'.repeat(257) }, { id: {} }]) expect(parseHello(bad).ok).toBe(false)
    const r = parseHello({ id: 'a', info: { port: 70000, enode: 'enode://nope' } })
    expect(r.ok && r.value).toMatchObject({ secret: '', nodeId: null, enode: null, info: { port: null } })
  })
})

describe('frames: reports', () => {
  test('blocks: geth numbers, Besu hex, classic decimals; transactions only counted', () => {
    const geth = parseBlock({ number: 5, hash: '0xAB', parentHash: '0xcd', timestamp: 1700000000, miner: '0x00', gasUsed: 21000, gasLimit: 30000000, difficulty: '0', totalDifficulty: '131072', transactions: [{ hash: '0x1' }], uncles: [] })
    expect(geth).toEqual({
      ok: true,
      value: { number: 5, hash: '0xab', parentHash: '0xcd', timestamp: 1700000000, miner: '0x00', gasUsed: 21000, gasLimit: 30000000, difficulty: '0', totalDifficulty: '131072', transactionCount: 1, uncleCount: 0 },
    })
    const besu = parseBlock({ number: '0x1b4', timestamp: '0x10', gasUsed: '0x5208', difficulty: '0x0', totalDifficulty: '0x20000' })
    expect(besu.ok && besu.value).toMatchObject({ number: 436, timestamp: 16, gasUsed: 21000, difficulty: '0', totalDifficulty: '131072', hash: '', transactionCount: 0 })
    expect(parseBlock({ number: '17' }).ok).toBe(true)
    for (const bad of [null, [], {}, { number: -1 }, { number: 'abc' }, { number: 1.5 }]) expect(parseBlock(bad).ok).toBe(false)
    expect(parseBlockPayload({ id: 'a' }).ok).toBe(false)
  })

  test('stats: geth shape, classic shape with a sync object and string gas price, missing mining/hashrate', () => {
    const geth = parseStatsPayload({ id: 'g', stats: { active: true, syncing: false, mining: false, hashrate: 0, peers: 12, gasPrice: 1000000000, uptime: 100 } })
    expect(geth.ok && geth.value).toMatchObject({ active: true, syncing: false, peers: 12, gasPrice: '1000000000', uptime: 100, pending: null, block: null })
    const classic = parseStatsPayload({ id: 'c', stats: { active: true, syncing: { startingBlock: 1, currentBlock: 5, highestBlock: 9 }, peers: '25', gasPrice: '20000000000', uptime: 99.5 } })
    expect(classic.ok && classic.value).toMatchObject({ syncing: true, syncProgress: { currentBlock: 5, highestBlock: 9 }, mining: false, hashrate: 0, peers: 25, gasPrice: '20000000000', uptime: 99.5 })
    expect(parseStatsPayload({ id: 'c', stats: null }).ok).toBe(false)
  })

  test('pending, latency (string or number), node-ping clientTime verbatim', () => {
    expect(parsePendingPayload({ stats: { pending: 3 } })).toEqual({ ok: true, value: 3 })
    expect(parsePendingPayload({ pending: '0x3' })).toEqual({ ok: true, value: 3 })
    expect(parsePendingPayload({ stats: {} }).ok).toBe(false)
    expect(parseLatencyPayload({ latency: '12' })).toEqual({ ok: true, value: 12 })
    expect(parseLatencyPayload({ latency: 3.5 })).toEqual({ ok: true, value: 3.5 })
    expect(parseLatencyPayload({ latency: 'soon' }).ok).toBe(false)
    expect(nodePingClientTime({ clientTime: '2024-05-01 12:00:00.1 +0000 UTC m=+0.1' })).toBe('2024-05-01 12:00:00.1 +0000 UTC m=+0.1')
    expect(nodePingClientTime({ clientTime: 1700000000000 })).toBe(1700000000000)
    expect(nodePingClientTime({ clientTime: { x: 1 } })).toBeNull()
    expect(nodePingClientTime({ clientTime: 'x'.repeat(300) })).toBeNull()
  })

  test('history: readable blocks kept, others skipped and counted', () => {
    expect(parseHistoryPayload({ id: 'g', history: [{ number: 3, hash: '0x3' }, { nope: 1 }, { number: '0x4', hash: '0x4' }] })).toEqual({
      ok: true,
      value: { blocks: [{ number: 3, hash: '0x3' }, { number: 4, hash: '0x4' }], skipped: 1 },
    })
    expect(parseHistoryPayload({ id: 'g', history: null })).toEqual({ ok: true, value: { blocks: [], skipped: 0 } })
    expect(parseHistoryPayload({ id: 'g', history: 'x' }).ok).toBe(false)
    expect(validHistoryList([1, 2, 3])).toBe(true)
    expect(validHistoryList([])).toBe(true)
    expect(validHistoryList([1, '2'])).toBe(false)
    expect(validHistoryList([-1])).toBe(false)
    expect(validHistoryList(new Array(1001).fill(1))).toBe(false)
  })

  test('peers: normalised, deduplicated, invalid ones counted, capped', () => {
    const other = 'c'.repeat(128)
    expect(parsePeersPayload({ id: 'h', peers: [KEY, '0x' + KEY.toUpperCase(), other, 'nope', 5, null] })).toEqual({ ok: true, value: { peers: [KEY, other], invalid: 3 } })
    expect(parsePeersPayload({ id: 'h', peers: 'x' }).ok).toBe(false)
    const many = Array.from({ length: MAX_PEERS + 10 }, (_, i) => i.toString(16).padStart(128, '0'))
    const r = parsePeersPayload({ id: 'h', peers: many })
    expect(r.ok && [r.value.peers.length, r.value.invalid]).toEqual([MAX_PEERS, 10])
  })
})

describe('frames: never throw', () => {
  test('property: every parser accepts any JSON value without throwing', () => {
    const parsers = [parseHello, parseBlock, parseBlockPayload, parseStatsPayload, parsePendingPayload, parseLatencyPayload, parseHistoryPayload, parsePeersPayload, nodePingClientTime, payloadId]
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        for (const parse of parsers) {
          parse(value)
          parse({ id: 'x', block: value, stats: value, history: value, peers: value, latency: value, clientTime: value, info: value })
        }
        parseFrame(JSON.stringify(value))
        parseFrame(JSON.stringify({ emit: ['block', value] }))
      }),
      { numRuns: 500 },
    )
  })

  test('property: any string is a frame or an invalid frame', () => {
    fc.assert(fc.property(fc.string(), (s) => ['ping', 'pong', 'emit', 'invalid'].includes(parseFrame(s).kind)))
  })
})
