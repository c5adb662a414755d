/**
 * Connection floods from one address (issue 9): an address may hold at most
 * `maxPendingSocketsPerAddress` agent sockets that have not authenticated;
 * further upgrades from it get HTTP 429 before any WebSocket exists. Other
 * addresses (127.0.0.2 here: all of 127/8 is loopback on Linux) are served
 * meanwhile, and the address gets its slots back as its sockets authenticate
 * or close.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest'
import { AGENT_PATH, normaliseOrigin, type ChallengeParams } from '../../protocol/index.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { connectBody, identity, signedConnect } from '../harness/rawAgent.ts'
import { FrameSocket, keepingLogger } from '../harness/fuzzFrames.ts'
import { startTracker } from '../harness/trackerReporter.ts'
import { waitFor } from '../harness/waitFor.ts'
import { READY_FRAME } from '../../coordinator/tracker/frames.ts'

const LIMIT = 20
const FLOOD = 200
let c: RunningCoordinator
const logger = keepingLogger()
const sockets: FrameSocket[] = []
const url = () => c.url.replace(/^http/, 'ws') + AGENT_PATH

async function attempt(localAddress?: string, target = url()): Promise<FrameSocket | number> {
  try {
    const s = await FrameSocket.open(target, localAddress ? { localAddress } : {})
    sockets.push(s)
    return s
  } catch (err) {
    const m = /HTTP (\d+)/.exec((err as Error).message)
    if (m) return Number(m[1])
    throw err
  }
}

async function authenticate(s: FrameSocket, role: 'host' | 'client' = 'client'): Promise<unknown> {
  await s.until(() => s.parsed().some((f: any) => f?.method === 'vipnode_challenge'), 'challenge')
  const ch = (s.parsed().find((f: any) => f?.method === 'vipnode_challenge') as { params: ChallengeParams }).params
  const id = identity()
  s.send(JSON.stringify({ jsonrpc: '2.0', id: 'auth', method: 'vipnode_connect', params: signedConnect(id, { ...ch, dialledOrigin: normaliseOrigin(c.url) }, connectBody(id, { role, ...(role === 'client' ? { capacity: undefined } : {}) })) }))
  await s.until(() => s.parsed().some((f: any) => f?.id === 'auth'), 'auth reply')
  return s.parsed().find((f: any) => f?.id === 'auth')
}

beforeAll(async () => {
  c = await testCoordinator({ maxPendingSocketsPerAddress: LIMIT, challengeTtlMs: 30_000 }, { logger })
})
afterAll(async () => {
  for (const s of sockets.splice(0)) s.close()
  await c?.close()
})

describe('connection flood from one address', () => {
  test('behavior: beyond the limit upgrades get HTTP 429; another address is served meanwhile; slots come back', async () => {
    const started = performance.now()
    const results = await Promise.all(Array.from({ length: FLOOD }, () => attempt()))
    const floodMs = performance.now() - started
    const open = results.filter((r): r is FrameSocket => typeof r !== 'number')
    const refused = results.filter((r) => typeof r === 'number')
    expect(open).toHaveLength(LIMIT)
    expect(new Set(refused)).toEqual(new Set([429]))
    expect(refused).toHaveLength(FLOOD - LIMIT)
    // One warning per address while it floods, not one per refused upgrade.
    expect(logger.lines.filter((l) => l.message === 'connection flood: upgrade refused')).toHaveLength(1)

    // Another address is not affected: it connects, authenticates and is served.
    const other = await attempt('127.0.0.2')
    expect(other).toBeInstanceOf(FrameSocket)
    const reply = (await authenticate(other as FrameSocket)) as { result?: { role: string } }
    expect(reply.result?.role).toBe('client')
    ;(other as FrameSocket).send(JSON.stringify({ jsonrpc: '2.0', id: 'u', method: 'vipnode_update', params: { peers: [], block: { number: 1, hash: `0x${'11'.repeat(32)}` } } }))
    await (other as FrameSocket).until(() => (other as FrameSocket).parsed().some((f: any) => f?.id === 'u' && f.result), 'update served')

    // Still full for 127.0.0.1 ...
    expect(await attempt()).toBe(429)
    // ... until one of its sockets authenticates (authenticated sockets do not count) ...
    expect(((await authenticate(open[0]!, 'host')) as { result?: unknown }).result).toBeDefined()
    const next = await attempt()
    expect(next).toBeInstanceOf(FrameSocket)
    expect(await attempt()).toBe(429)
    // ... or closes.
    for (const s of open.slice(1)) s.close()
    await Promise.all(open.slice(1).map((s) => s.until(() => s.closed !== undefined, 'close')))
    const back = await waitFor(
      async () => {
        const r = await attempt()
        return r !== 429 && r
      },
      'an upgrade from 127.0.0.1 past the 429s',
      { timeoutMs: 3_000, intervalMs: 0 },
    )
    expect(back).toBeInstanceOf(FrameSocket)
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200)
    expect(logger.errors()).toEqual([])
    console.log(`FLOOD ${FLOOD} upgrades from 127.0.0.1 in ${floodMs.toFixed(0)} ms: ${open.length} accepted, ${refused.length} refused with 429 (limit ${LIMIT} unauthenticated per address); 127.0.0.2 served`)
  }, 30_000)
})

describe('connection flood on the tracker (/api)', () => {
  test('behavior: beyond the per-address limit of sockets without a login, upgrades get HTTP 429; a login frees a slot; other addresses connect', async () => {
    const t = await startTracker({ secret: 'flood-secret', maxPendingPerAddress: LIMIT })
    try {
      const results = await Promise.all(Array.from({ length: FLOOD }, () => attempt(undefined, t.url)))
      const open = results.filter((r): r is FrameSocket => typeof r !== 'number')
      expect(open).toHaveLength(LIMIT)
      expect(results.filter((r) => r === 429)).toHaveLength(FLOOD - LIMIT)
      const other = await attempt('127.0.0.2', t.url)
      expect(other).toBeInstanceOf(FrameSocket)
      // A login frees its slot.
      open[0]!.send(JSON.stringify({ emit: ['hello', { id: 'flood-0', secret: 'flood-secret', info: {} }] }))
      await open[0]!.until(() => open[0]!.texts.includes(READY_FRAME), 'ready')
      expect(await attempt(undefined, t.url)).toBeInstanceOf(FrameSocket)
      expect(await attempt(undefined, t.url)).toBe(429)
      expect(t.tracker.nodes().map((n) => n.name)).toEqual(['flood-0'])
    } finally {
      for (const s of sockets.splice(0)) s.close()
      await t.close()
    }
  }, 30_000)
})
