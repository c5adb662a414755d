/**
 * Limits at the edge of /v1/agent (issue 18.3), over real sockets on
 * loopback: small frames before authentication, a global cap on sockets
 * waiting to authenticate (HTTP 503), authenticated sockets per address, and
 * IPv6 addresses counted per /64 (through a trusted proxy's X-Forwarded-For,
 * since loopback offers one IPv6 address only).
 */
import { describe, test, expect, afterEach } from 'vitest'
import { AGENT_PATH, ErrorCode, normaliseOrigin, type ChallengeParams } from '../../protocol/index.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import type { CoordinatorConfigInput } from '../../coordinator/config.ts'
import { CloseCode } from '../../coordinator/services/sessions.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { connectBody, identity, signedConnect, type Identity } from '../harness/rawAgent.ts'
import { FrameSocket } from '../harness/fuzzFrames.ts'
import { storeSnapshot } from '../harness/storeState.ts'
import { waitFor } from '../harness/waitFor.ts'

let c: RunningCoordinator | undefined
const sockets: FrameSocket[] = []
const url = () => c!.url.replace(/^http/, 'ws') + AGENT_PATH

async function start(config: CoordinatorConfigInput): Promise<RunningCoordinator> {
  c = await testCoordinator({ challengeTtlMs: 30_000, ...config })
  return c
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close()
  await c?.close()
  c = undefined
})

/** Open a socket (optionally from another loopback address, or with headers); the HTTP status when refused. */
async function attempt(options: { localAddress?: string; headers?: Record<string, string> } = {}): Promise<FrameSocket | number> {
  try {
    const s = await FrameSocket.open(url(), options)
    sockets.push(s)
    return s
  } catch (err) {
    const m = /HTTP (\d+)/.exec((err as Error).message)
    if (m) return Number(m[1])
    throw err
  }
}

async function open(options: { localAddress?: string; headers?: Record<string, string> } = {}): Promise<FrameSocket> {
  const s = await attempt(options)
  if (typeof s === 'number') throw new Error(`upgrade refused with HTTP ${s}`)
  return s
}

async function challengeOf(s: FrameSocket): Promise<ChallengeParams & { dialledOrigin: string }> {
  await s.until(() => s.parsed().some((f: any) => f?.method === 'vipnode_challenge'), 'challenge')
  const params = (s.parsed().find((f: any) => f?.method === 'vipnode_challenge') as { params: ChallengeParams }).params
  return { ...params, dialledOrigin: normaliseOrigin(url()) }
}

async function login(s: FrameSocket, id: Identity = identity(), overrides: Parameters<typeof connectBody>[1] = {}): Promise<{ result?: any; error?: { code: number; message: string } }> {
  const ch = await challengeOf(s)
  s.send(JSON.stringify({ jsonrpc: '2.0', id: 'auth', method: 'vipnode_connect', params: signedConnect(id, ch, connectBody(id, { role: 'client', capacity: undefined, ...overrides })) }))
  await s.until(() => s.parsed().some((f: any) => f?.id === 'auth'), 'auth reply')
  return s.parsed().find((f: any) => f?.id === 'auth') as { result?: any; error?: { code: number; message: string } }
}

describe('frames before authentication', () => {
  test('the largest legitimate vipnode_connect fits the pre-authentication limit with room to spare', async () => {
    await start({})
    const s = await open()
    const id = identity()
    const ch = await challengeOf(s)
    // Every field at the schema's maximum (protocol/methods.ts): the biggest connect an honest agent can send.
    const body = connectBody(id, {
      role: 'host',
      kind: 'rpc',
      clientVersion: 'G'.repeat(256),
      agentVersion: 'a'.repeat(64),
      payout: `0x${'ab'.repeat(20)}`,
      capacity: 10_000,
      region: 'r'.repeat(32),
      relayUrl: `https://${'h'.repeat(490)}.example/`,
      capabilities: Array.from({ length: 64 }, (_, i) => `${String(i).padStart(2, '0')}${'m'.repeat(62)}`),
    })
    const frame = JSON.stringify({ jsonrpc: '2.0', id: 'auth', method: 'vipnode_connect', params: signedConnect(id, ch, body) })
    const honest = JSON.stringify({ jsonrpc: '2.0', id: 'auth', method: 'vipnode_connect', params: signedConnect(id, ch, connectBody(id)) })
    console.log(`figures: largest schema-valid vipnode_connect ${Buffer.byteLength(frame)} bytes, a typical one ${Buffer.byteLength(honest)} bytes; pre-authentication limit ${c!.config.maxPreAuthFrameBytes} bytes`)
    expect(Buffer.byteLength(frame)).toBeLessThan(c!.config.maxPreAuthFrameBytes / 2)
    s.send(frame)
    await s.until(() => s.parsed().some((f: any) => f?.id === 'auth'), 'reply to the largest connect')
    expect(s.closed).toBeUndefined()
  })

  test('an oversize frame before vipnode_connect closes the socket with 1009 and changes nothing; after it the normal limit applies', async () => {
    await start({ maxPreAuthFrameBytes: 16 * 1024 })
    const s = await open()
    const id = identity()
    const ch = await challengeOf(s)
    const before = storeSnapshot(c!)
    // A valid, signed connect padded past the limit: refused for its size alone.
    const params = { ...signedConnect(id, ch, connectBody(id, { role: 'client', capacity: undefined })), pad: 'x'.repeat(17 * 1024) }
    s.send(JSON.stringify({ jsonrpc: '2.0', id: 'auth', method: 'vipnode_connect', params }))
    await s.until(() => s.closed !== undefined, 'close')
    // 1009 is WebSocket's "message too big"; ws sends it without a reason text (the coordinator logs "Max payload size exceeded").
    expect(s.closed!.code).toBe(1009)
    expect(s.parsed().some((f: any) => f?.id === 'auth')).toBe(false)
    expect(storeSnapshot(c!)).toEqual(before)
    expect(c!.services.sessions.get(id.nodeId)).toBeUndefined()

    // Authenticated, a 100 KB frame (over the pre-auth limit, under --max-frame-bytes) is read and answered.
    const t = await open()
    expect((await login(t)).result).toBeDefined()
    t.send(JSON.stringify({ jsonrpc: '2.0', id: 'big', method: 'vipnode_update', params: { peers: [], block: { number: 1, hash: `0x${'11'.repeat(32)}` }, pad: 'y'.repeat(100_000) } }))
    await t.until(() => t.parsed().some((f: any) => f?.id === 'big'), 'reply to the big frame')
    expect(t.closed).toBeUndefined()
  })

  test('a frame over the limit sent in fragments is refused the same way', async () => {
    await start({ maxPreAuthFrameBytes: 16 * 1024 })
    const s = await open()
    await challengeOf(s)
    const chunk = Buffer.alloc(6 * 1024, 0x20)
    s.ws.send(chunk, { fin: false })
    s.ws.send(chunk, { fin: false })
    s.ws.send(chunk, { fin: true })
    await s.until(() => s.closed !== undefined, 'close')
    expect(s.closed!.code).toBe(1009)
  })
})

describe('sockets waiting to authenticate, all addresses together', () => {
  test('beyond --max-pending-sockets upgrades get HTTP 503 from any address; capacity returns as sockets close or authenticate', async () => {
    await start({ maxPendingSockets: 4, maxPendingSocketsPerAddress: 100 })
    const held = await Promise.all([1, 2, 3, 4].map((i) => open({ localAddress: `127.0.0.${i}` })))
    expect(c!.services.config.maxPendingSockets).toBe(4)
    expect(await attempt({ localAddress: '127.0.0.9' })).toBe(503)
    expect(await attempt({ localAddress: '127.0.0.1' })).toBe(503)
    // One authenticates: its slot is free again.
    expect((await login(held[0]!)).result).toBeDefined()
    const fifth = await waitFor(async () => {
      const s = await attempt({ localAddress: '127.0.0.9' })
      if (typeof s === 'number') throw new Error(`still ${s}`)
      return s
    }, 'a slot after one authenticated')
    expect(await attempt({ localAddress: '127.0.0.10' })).toBe(503)
    // One closes: its slot is free again.
    held[1]!.close()
    const sixth = await waitFor(async () => {
      const s = await attempt({ localAddress: '127.0.0.10' })
      if (typeof s === 'number') throw new Error(`still ${s}`)
      return s
    }, 'a slot after one closed')
    expect((await login(sixth)).result).toBeDefined()
    expect((await login(fifth)).result).toBeDefined()
  })
})

describe('authenticated sockets per address', () => {
  test('beyond --max-agents-per-address a login is refused with RATE_LIMITED and 4002, storing nothing; another address is served', async () => {
    await start({ maxAgentsPerAddress: 2 })
    for (let i = 0; i < 2; i++) expect((await login(await open())).result).toBeDefined()
    const third = await open()
    const id = identity()
    const before = storeSnapshot(c!)
    const reply = await login(third, id)
    expect(reply.error?.code).toBe(ErrorCode.RATE_LIMITED)
    expect(reply.error?.message).toMatch(/already holds 2 authenticated agents/)
    await third.until(() => third.closed !== undefined, 'close')
    expect(third.closed!.code).toBe(CloseCode.ADDRESS_FULL)
    expect(storeSnapshot(c!)).toEqual(before)
    expect(c!.services.sessions.get(id.nodeId)).toBeUndefined()
    // Another address is not affected.
    expect((await login(await open({ localAddress: '127.0.0.2' }))).result).toBeDefined()
    // When one of the two leaves, the address may log in again.
    sockets[0]!.close()
    await waitFor(async () => {
      const r = await login(await open())
      if (!r.result) throw new Error(JSON.stringify(r.error))
      return true
    }, 'a login after one left')
  })
})

describe('IPv6 /64 and trusted proxies', () => {
  test('addresses in one /64 share the per-address budget; another /64 has its own; an untrusted sender cannot pick its address', async () => {
    await start({ maxPendingSocketsPerAddress: 2, trustProxy: ['127.0.0.1'] })
    const via = (xff: string, localAddress = '127.0.0.1') => attempt({ localAddress, headers: { 'x-forwarded-for': xff } })
    expect(await via('2001:db8:1:2::1')).toBeInstanceOf(FrameSocket)
    expect(await via('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBeInstanceOf(FrameSocket)
    // Same /64, a third address: refused.
    expect(await via('2001:db8:1:2::ffff')).toBe(429)
    // The next /64 is another address.
    expect(await via('2001:db8:1:3::1')).toBeInstanceOf(FrameSocket)
    // An IPv4 client behind the proxy is itself.
    expect(await via('198.51.100.7')).toBeInstanceOf(FrameSocket)
    // 127.0.0.2 is not a trusted proxy: its X-Forwarded-For is ignored, all its sockets count as 127.0.0.2.
    expect(await via('2001:db8:9::1', '127.0.0.2')).toBeInstanceOf(FrameSocket)
    expect(await via('2001:db8:9::2', '127.0.0.2')).toBeInstanceOf(FrameSocket)
    expect(await via('2001:db8:a::1', '127.0.0.2')).toBe(429)
  })

  test('IPv6 loopback: ::1 counts as its own /64', async () => {
    c = await testCoordinator({ host: '::1', maxPendingSocketsPerAddress: 1 })
    expect(c.url).toMatch(/^http:\/\/\[::1\]:/)
    expect(await attempt()).toBeInstanceOf(FrameSocket)
    expect(await attempt()).toBe(429)
  })
})

describe('the tracker at /api: the same gate', () => {
  const trackerUrl = () => `${c!.url.replace(/^http/, 'ws')}/api`
  test('an oversize frame before hello closes with 1009; after login large reports pass; pending sockets capped in all (503)', async () => {
    await start({ ethstatsSecret: 'pool-secret', maxPendingSockets: 2 })
    const big = JSON.stringify({ emit: ['stats', { id: 'n', stats: { pad: 'x'.repeat(70 * 1024) } }] })
    const early = await FrameSocket.open(trackerUrl())
    sockets.push(early)
    early.send(big)
    await early.until(() => early.closed !== undefined, 'close')
    expect(early.closed!.code).toBe(1009)

    const s = await FrameSocket.open(trackerUrl())
    sockets.push(s)
    s.send(JSON.stringify({ emit: ['hello', { id: 'n', info: {}, secret: 'pool-secret' }] }))
    await s.until(() => s.texts.includes('{"emit":["ready"]}'), 'ready')
    s.send(big)
    s.send(JSON.stringify({ emit: ['node-ping', { id: 'n', clientTime: 'after-big' }] }))
    await s.until(() => s.texts.some((t) => t.includes('after-big')), 'pong after the big frame')
    expect(s.closed).toBeUndefined()

    // Two sockets waiting for hello (from two addresses) fill the tracker's pending cap; the login above does not count.
    const w1 = await FrameSocket.open(trackerUrl(), { localAddress: '127.0.0.2' })
    const w2 = await FrameSocket.open(trackerUrl(), { localAddress: '127.0.0.3' })
    sockets.push(w1, w2)
    await expect(FrameSocket.open(trackerUrl(), { localAddress: '127.0.0.4' })).rejects.toThrow(/HTTP 503/)
    w1.close()
    const next = await waitFor(() => FrameSocket.open(trackerUrl(), { localAddress: '127.0.0.4' }), 'a tracker slot after one closed')
    sockets.push(next)
  })
})
