/**
 * Every kind of bad input on /v1/agent, over a real WebSocket on loopback:
 * each gets its JSON-RPC error code and leaves the store untouched.
 */
import { describe, test, expect, beforeEach, afterEach } from 'vitest'
import { ErrorCode, PROTOCOL_VERSION } from '../../protocol/index.ts'
import { manualClock } from '../../lib/clock.ts'
import { RawAgent, identity, signedConnect, connectBody, authenticated } from '../../test/harness/rawAgent.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import type { RunningCoordinator } from '../coordinator.ts'
import type { SqliteStore } from '../store/sqlite/sqliteStore.ts'

let c: RunningCoordinator
const agents: RawAgent[] = []
async function open(): Promise<RawAgent> {
  const a = await RawAgent.open(c.url)
  agents.push(a)
  return a
}

/** Rows in every table that bad input must not touch. */
function storedRows() {
  const db = (c.services.store as SqliteStore).sqlite
  const count = (t: string) => db.prepare(`SELECT count(*) FROM ${t}`).pluck().get()
  return { nodes: count('nodes'), sessions: count('sessions'), reports: count('reports'), assignments: count('assignments'), ledger: count('ledger_entries') }
}

beforeEach(async () => {
  c = await testCoordinator({ maxFrameBytes: 4096, rateLimitPerSecond: 5, rateLimitBurst: 10 })
})
afterEach(async () => {
  for (const a of agents.splice(0)) a.close()
  await c.close()
})

describe('agent socket: authentication', () => {
  test('default: a challenge arrives on open, bound to this pool', async () => {
    const a = await open()
    const ch = await a.challenge()
    expect(ch).toMatchObject({ poolId: 'test-pool', protocolVersion: PROTOCOL_VERSION })
    expect(ch.challenge).toMatch(/^[0-9a-f]{64}$/)
  })

  test('default: a correctly signed connect authenticates and is stored', async () => {
    const id = identity()
    const { reply } = await authenticated(c.url, id)
    expect(reply.error).toBeUndefined()
    expect(reply.result).toMatchObject({ poolId: 'test-pool', nodeId: id.nodeId, role: 'host', balanceWei: '0' })
    expect(await c.services.store.getNode(id.nodeId)).toMatchObject({ role: 'host', capacity: 5, chainId: 1337 })
  })

  test('error: a signature by another key is BAD_SIGNATURE and stores nothing', async () => {
    const a = await open()
    const id = identity()
    const reply = await a.request('vipnode_connect', signedConnect(id, await a.challenge(), connectBody(id), identity().key))
    expect(reply.error?.code).toBe(ErrorCode.BAD_SIGNATURE)
    expect('result' in reply).toBe(false)
    expect(storedRows()).toMatchObject({ nodes: 0, sessions: 0 })
  })

  test('error: a body changed after signing is BAD_SIGNATURE', async () => {
    const a = await open()
    const id = identity()
    const params = signedConnect(id, await a.challenge())
    const reply = await a.request('vipnode_connect', { ...params, capacity: 500 })
    expect(reply.error?.code).toBe(ErrorCode.BAD_SIGNATURE)
  })

  test("error: another socket's challenge is REPLAY, and a challenge works only once", async () => {
    const a = await open()
    const b = await open()
    const id = identity()
    const stolen = signedConnect(id, await a.challenge())
    await b.challenge()
    expect((await b.request('vipnode_connect', stolen)).error?.code).toBe(ErrorCode.REPLAY)
    // A bad first try burns the challenge: the same socket cannot try again.
    const first = await a.request('vipnode_connect', { ...stolen, capacity: 9 })
    expect(first.error?.code).toBe(ErrorCode.BAD_SIGNATURE)
    expect((await a.request('vipnode_connect', stolen)).error?.code).toBe(ErrorCode.REPLAY)
    expect(storedRows().nodes).toBe(0)
  })

  test('error: an expired challenge is CHALLENGE_EXPIRED', async () => {
    await c.close()
    const clock = manualClock(Date.now())
    c = await testCoordinator({ challengeTtlMs: 60_000 }, { clock })
    const a = await open()
    const id = identity()
    const ch = await a.challenge()
    clock.advance(60_001)
    expect((await a.request('vipnode_connect', signedConnect(id, ch))).error?.code).toBe(ErrorCode.CHALLENGE_EXPIRED)
    expect(storedRows().nodes).toBe(0)
  })

  test('error: a node ID that is not the enode key is ENODE_MISMATCH', async () => {
    const a = await open()
    const id = identity()
    const other = identity()
    const reply = await a.request('vipnode_connect', signedConnect(id, await a.challenge(), connectBody(id, { enode: other.enode })))
    expect(reply.error?.code).toBe(ErrorCode.ENODE_MISMATCH)
  })

  test('error: an unsupported protocol version, a second connect, and hosts without capacity', async () => {
    const id = identity()
    const a = await open()
    const v = await a.request('vipnode_connect', signedConnect(id, await a.challenge(), connectBody(id, { protocolVersion: 99 })))
    expect(v.error?.code).toBe(ErrorCode.UNSUPPORTED_VERSION)

    const b = await open()
    const noCap = await b.request('vipnode_connect', signedConnect(id, await b.challenge(), connectBody(id, { capacity: 0 })))
    expect(noCap.error).toMatchObject({ code: ErrorCode.INVALID_PARAMS, message: expect.stringContaining('capacity') })

    const { agent, reply } = await authenticated(c.url, id)
    agents.push(agent)
    expect(reply.error).toBeUndefined()
    const again = await agent.request('vipnode_connect', signedConnect(id, await agent.challenge()))
    expect(again.error?.code).toBe(ErrorCode.ALREADY_AUTHENTICATED)
  })

  test('error: a pool bound to a chain refuses other chains with WRONG_NETWORK', async () => {
    await c.close()
    c = await testCoordinator({ chainId: 1 })
    const { agent, reply } = await authenticated(c.url, identity())
    agents.push(agent)
    expect(reply.error).toMatchObject({ code: ErrorCode.WRONG_NETWORK, message: expect.stringContaining('chain 1') })
    expect(storedRows().nodes).toBe(0)
  })

  test('behavior: a second connection for the same node wins; the older is closed with a reason', async () => {
    const id = identity()
    const first = await authenticated(c.url, id)
    agents.push(first.agent)
    const second = await authenticated(c.url, id)
    agents.push(second.agent)
    expect(second.reply.error).toBeUndefined()
    expect(await first.agent.waitClosed()).toEqual({ code: 4000, reason: expect.stringContaining('superseded') })
    const sessionId = (second.reply.result as { sessionId: string }).sessionId
    expect(c.services.sessions.get(id.nodeId)?.session?.sessionId).toBe(sessionId)
    const stale = await c.services.store.getSession((first.reply.result as { sessionId: string }).sessionId)
    expect(stale?.closedAtMs).not.toBeNull()
  })

  test('error: calls before authentication are UNAUTHORIZED', async () => {
    const a = await open()
    await a.challenge()
    const reply = await a.request('vipnode_update', { peers: [], block: { number: 1, hash: `0x${'11'.repeat(32)}` } })
    expect(reply.error?.code).toBe(ErrorCode.UNAUTHORIZED)
    expect((await a.request('vipnode_requestHosts', { count: 1 })).error?.code).toBe(ErrorCode.UNAUTHORIZED)
    expect(storedRows()).toMatchObject({ reports: 0, assignments: 0 })
  })

  test('error: hosts may not request hosts', async () => {
    const { agent } = await authenticated(c.url, identity())
    agents.push(agent)
    const reply = await agent.request('vipnode_requestHosts', { count: 1 })
    expect(reply.error).toMatchObject({ code: ErrorCode.UNAUTHORIZED, message: 'only clients may request hosts' })
  })
})

describe('agent socket: malformed frames', () => {
  test('error: invalid JSON is PARSE_ERROR with id null', async () => {
    const a = await open()
    a.sendText('{"jsonrpc":"2.0","id":1,"method":')
    const f = await a.waitFor(() => a.frames.find((f) => f.error), 'error')
    expect(f).toEqual({ jsonrpc: '2.0', id: null, error: { code: ErrorCode.PARSE_ERROR, message: 'frame is not valid JSON' } })
  })

  test.each([
    ['a number', '42'],
    ['a string', '"hello"'],
    ['null', 'null'],
    ['a batch', '[{"jsonrpc":"2.0","id":1,"method":"vipnode_update"}]'],
    ['no jsonrpc member', '{"id":1,"method":"vipnode_update"}'],
    ['a non-string method', '{"jsonrpc":"2.0","id":1,"method":7}'],
    ['scalar params', '{"jsonrpc":"2.0","id":1,"method":"vipnode_update","params":3}'],
  ])('error: %s is INVALID_REQUEST', async (_what, text) => {
    const a = await open()
    a.sendText(text)
    const f = await a.waitFor(() => a.frames.find((f) => f.error), 'error')
    expect(f.error?.code).toBe(ErrorCode.INVALID_REQUEST)
    expect('result' in f).toBe(false)
  })

  test('error: a binary frame is INVALID_REQUEST', async () => {
    const a = await open()
    a.sendText(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"vipnode_update"}'), true)
    const f = await a.waitFor(() => a.frames.find((f) => f.error), 'error')
    expect(f.error).toMatchObject({ code: ErrorCode.INVALID_REQUEST, message: expect.stringContaining('binary') })
  })

  test('error: an unknown method is METHOD_NOT_FOUND, before and after authentication', async () => {
    const a = await open()
    expect((await a.request('eth_sendTransaction', {})).error?.code).toBe(ErrorCode.METHOD_NOT_FOUND)
    expect((await a.request('__proto__', {})).error?.code).toBe(ErrorCode.METHOD_NOT_FOUND)
    const { agent } = await authenticated(c.url, identity())
    agents.push(agent)
    expect((await agent.request('vipnode_mintMoney', {})).error?.code).toBe(ErrorCode.METHOD_NOT_FOUND)
  })

  test('error: wrong param types are INVALID_PARAMS naming the field, and store nothing', async () => {
    const a = await open()
    const id = identity()
    const ch = await a.challenge()
    const reply = await a.request('vipnode_connect', { ...signedConnect(id, ch), chainId: 'one' })
    expect(reply.error).toMatchObject({ code: ErrorCode.INVALID_PARAMS, message: expect.stringContaining('chainId') })

    const { agent } = await authenticated(c.url, id)
    agents.push(agent)
    const bad = await agent.request('vipnode_update', { peers: 'all of them', block: { number: -1, hash: 'x' } })
    expect(bad.error).toMatchObject({ code: ErrorCode.INVALID_PARAMS, message: expect.stringMatching(/peers.*block/) })
    expect(storedRows().reports).toBe(0)
  })

  test('error: samePeers without an earlier report in the session, or beside peerIds, is INVALID_PARAMS and stores nothing', async () => {
    const { agent } = await authenticated(c.url, identity())
    agents.push(agent)
    const block = { number: 1, hash: `0x${'11'.repeat(32)}` }
    const first = await agent.request('vipnode_update', { samePeers: true, block })
    expect(first.error).toMatchObject({ code: ErrorCode.INVALID_PARAMS, message: expect.stringContaining('no earlier report') })
    const both = await agent.request('vipnode_update', { samePeers: true, peerIds: [], block })
    expect(both.error).toMatchObject({ code: ErrorCode.INVALID_PARAMS, message: expect.stringContaining('samePeers') })
    expect(storedRows().reports).toBe(0)
    // After a report that names its peers, samePeers is accepted.
    expect((await agent.request('vipnode_update', { peerIds: [], block })).error).toBeUndefined()
    expect((await agent.request('vipnode_update', { samePeers: true, block })).error).toBeUndefined()
  })

  test('error: an oversized frame is PAYLOAD_TOO_LARGE; a huge one closes the socket with 1009', async () => {
    const a = await open()
    a.sendText(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'vipnode_update', params: { pad: 'x'.repeat(5000) } }))
    const f = await a.waitFor(() => a.frames.find((f) => f.error), 'error')
    expect(f.error).toMatchObject({ code: ErrorCode.PAYLOAD_TOO_LARGE, message: expect.stringContaining('4096') })
    expect(a.closed).toBeUndefined()

    const b = await open()
    b.sendText('x'.repeat(4096 * 4 + 1))
    expect((await b.waitClosed()).code).toBe(1009)
  })

  test('behavior: a flood from one socket is rate-limited without hurting another', async () => {
    const flooder = await open()
    for (let i = 0; i < 100; i++) flooder.sendText(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'vipnode_nothing' }))
    await flooder.waitFor(() => flooder.frames.some((f) => f.error?.code === ErrorCode.RATE_LIMITED), 'rate limit')
    const limited = () => flooder.frames.filter((f) => f.error?.code === ErrorCode.RATE_LIMITED).length
    await flooder.waitFor(() => flooder.frames.filter((f) => f.error).length >= 100, 'all replies')
    expect(limited()).toBeGreaterThanOrEqual(85)

    const { agent, reply } = await authenticated(c.url, identity())
    agents.push(agent)
    expect(reply.error).toBeUndefined()
  })

  test('behavior: a socket that never authenticates is closed after the challenge TTL', async () => {
    await c.close()
    c = await testCoordinator({ challengeTtlMs: 200 })
    const a = await open()
    expect(await a.waitClosed()).toEqual({ code: 4001, reason: expect.stringContaining('authentication timeout') })
  })

  test('behavior: after all of the above the store holds only what good calls wrote', async () => {
    const a = await open()
    a.sendText('garbage')
    await a.request('vipnode_update', {})
    await a.request('vipnode_connect', { nodeId: 'zz' })
    expect(storedRows()).toEqual({ nodes: 0, sessions: 0, reports: 0, assignments: 0, ledger: 0 })
  })
})
