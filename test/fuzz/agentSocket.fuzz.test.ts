/**
 * Hostile input on /v1/agent (issue 9): random and mutated frames against a
 * real coordinator on loopback, before and after authentication.
 *
 * For every frame the test knows what the transport must do (from the frame
 * alone: size, UTF-8, JSON-RPC shape) and checks that exactly that happened:
 * one spec-clean JSON-RPC error with a documented code (never INTERNAL_ERROR)
 * for each bad request, nothing for notifications and stray responses, a
 * close for frames past the hard size cap or with broken UTF-8. A frame that
 * was not accepted must leave every row of every table as it was. At the end
 * the coordinator must still be healthy and serve a fresh agent, and it must
 * not have logged a single error.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest'
import fc from 'fast-check'
import { AGENT_PATH, ErrorCode, normaliseOrigin, parseFrame, type ChallengeParams, type RpcId } from '../../protocol/index.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { testAgent, type TestAgent } from '../harness/agents.ts'
import { connectBody, identity, signedConnect, type DialledChallenge, type Identity } from '../harness/rawAgent.ts'
import { storeSnapshot, sqliteOf } from '../harness/storeState.ts'
import { FrameSocket, isValidUtf8, keepingLogger, mutateText, mutateValue, textMutation, valueMutation, weirdValue, type TextMutation, type ValueMutation } from '../harness/fuzzFrames.ts'
import { waitFor } from '../harness/waitFor.ts'

const MAX_FRAME = 8192
/** Before vipnode_connect succeeds a socket may send at most this (the default --max-preauth-frame-bytes); beyond it the socket is closed with 1009. */
const PRE_AUTH_FRAME = 16 * 1024
const RUNS_UNAUTHENTICATED = 400
const RUNS_AUTHENTICATED = 500
const CODES = new Set<number>(Object.values(ErrorCode))

let c: RunningCoordinator
let helperHost: TestAgent
const logger = keepingLogger()
const sockets: FrameSocket[] = []
let probeSeq = 0
const tally = { frames: 0, replies: 0, accepted: 0, closes: 0, byCode: new Map<number, number>() }

const agentUrl = () => c.url.replace(/^http/, 'ws') + AGENT_PATH

async function open(): Promise<FrameSocket> {
  const s = await FrameSocket.open(agentUrl())
  sockets.push(s)
  return s
}

/** The challenge on `s`, with the origin of `dialled` (the coordinator the socket was opened to) for signedConnect. */
async function challengeOf(s: FrameSocket, dialled: string = agentUrl()): Promise<DialledChallenge> {
  await s.until(() => s.parsed().some((f: any) => f?.method === 'vipnode_challenge'), 'challenge')
  const params = (s.parsed().find((f: any) => f?.method === 'vipnode_challenge') as { params: ChallengeParams }).params
  return { ...params, dialledOrigin: normaliseOrigin(dialled) }
}

/** What the coordinator must do with one frame, derived from the frame alone. */
type Expectation = { close: number } | { replies: 0 } | { replies: 1; id: RpcId | null; code?: number }

function expectationFor(data: Buffer, binary: boolean, preAuth: boolean): Expectation {
  if (data.length > (preAuth ? Math.min(PRE_AUTH_FRAME, MAX_FRAME * 4) : MAX_FRAME * 4)) return { close: 1009 }
  if (!binary && !isValidUtf8(data)) return { close: 1007 }
  if (data.length > MAX_FRAME) return { replies: 1, id: null, code: ErrorCode.PAYLOAD_TOO_LARGE }
  if (binary) return { replies: 1, id: null, code: ErrorCode.INVALID_REQUEST }
  const parsed = parseFrame(data.toString('utf8'))
  if (!parsed.ok) return { replies: 1, id: parsed.id, code: parsed.error.code }
  if (parsed.frame.kind === 'request') return { replies: 1, id: parsed.frame.id }
  return { replies: 0 }
}

const isResponse = (f: unknown): f is { jsonrpc: unknown; id: RpcId | null; result?: unknown; error?: { code: number; message: string } } =>
  typeof f === 'object' && f !== null && !('method' in f)

interface Outcome {
  closed: boolean
  accepted: boolean
}

/**
 * Send frames on one socket and check each reply. Ends with a probe request
 * (answered METHOD_NOT_FOUND): once its reply and all expected replies are in,
 * every frame has been handled.
 */
async function sendAndCheck(s: FrameSocket, frames: { data: Buffer; binary: boolean }[], preAuth = false): Promise<Outcome> {
  const mark = s.texts.length
  const expected: Extract<Expectation, { replies: 1 }>[] = []
  for (const f of frames) {
    const e = expectationFor(f.data, f.binary, preAuth)
    tally.frames++
    s.send(f.data, f.binary)
    if ('close' in e) {
      await s.until(() => s.closed !== undefined, `close ${e.close}`)
      expect(s.closed!.code, `frame of ${f.data.length} bytes`).toBe(e.close)
      tally.closes++
      return { closed: true, accepted: false }
    }
    if (e.replies === 1) expected.push(e)
  }
  const probeId = `\u0001probe-${++probeSeq}`
  s.send(JSON.stringify({ jsonrpc: '2.0', id: probeId, method: 'vipnode_probe' }))
  const replies = () => s.parsed(mark).filter(isResponse)
  await s.until(() => replies().length >= expected.length + 1 && replies().some((r) => r.id === probeId), 'replies and the probe', 8_000)
  const all = replies()
  const probe = all.find((r) => r.id === probeId)!
  expect(probe.error?.code).toBe(ErrorCode.METHOD_NOT_FOUND)
  const got = all.filter((r) => r !== probe)
  expect(got, `replies to ${frames.map((f) => f.data.toString('utf8').slice(0, 200)).join(' | ')}`).toHaveLength(expected.length)
  let accepted = false
  // Replies to different requests may come back in any order (handlers await the store); match them by id.
  const open = [...expected]
  for (const r of got) {
    tally.replies++
    expect(r.jsonrpc).toBe('2.0')
    const sameId = (e: (typeof open)[number]) => JSON.stringify(e.id) === JSON.stringify(r.id)
    // Several frames may share an id: pair this reply with one whose expected code it carries, if any.
    let i = open.findIndex((e) => sameId(e) && e.code !== undefined && e.code === r.error?.code)
    if (i < 0) i = open.findIndex((e) => sameId(e) && e.code === undefined)
    if (i < 0) i = open.findIndex(sameId)
    expect(i, `reply id ${JSON.stringify(r.id)} was not expected; expected ${JSON.stringify(open.map((e) => e.id))}`).toBeGreaterThanOrEqual(0)
    const e = open.splice(i, 1)[0]!
    if (r.error !== undefined) {
      expect(Object.keys(r).sort()).toEqual(['error', 'id', 'jsonrpc'])
      expect(CODES.has(r.error.code), `code ${r.error.code} is not in protocol/errors.ts`).toBe(true)
      expect(r.error.code, `internal error for ${frames.map((f) => f.data.toString('utf8').slice(0, 300)).join(' | ')}`).not.toBe(ErrorCode.INTERNAL_ERROR)
      expect(typeof r.error.message).toBe('string')
      if (e.code !== undefined) expect(r.error.code).toBe(e.code)
      tally.byCode.set(r.error.code, (tally.byCode.get(r.error.code) ?? 0) + 1)
    } else {
      expect(Object.keys(r).sort()).toEqual(['id', 'jsonrpc', 'result'])
      expect(e.code, 'a frame the transport must refuse was answered with a result').toBeUndefined()
      accepted = true
      tally.accepted++
    }
  }
  return { closed: false, accepted }
}

// ---------------------------------------------------------------- frame generators

interface FrameSpec {
  method: string
  params: unknown
  id: unknown
  valueMutations: ValueMutation[]
  textMutations: TextMutation[]
  binary: boolean
  /** Pad params to this many bytes (over the soft or the hard limit). */
  pad: number | undefined
}

const idArb = fc.oneof({ weight: 4, arbitrary: fc.nat() }, { weight: 2, arbitrary: fc.string({ maxLength: 20 }) }, { weight: 1, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: weirdValue })
/** Mostly unpadded; sometimes just over the soft limit (PAYLOAD_TOO_LARGE), rarely over the hard cap (1009). */
const padArb: fc.Arbitrary<number | undefined> = fc.oneof(
  { weight: 20, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constant(MAX_FRAME + 1) },
  { weight: 1, arbitrary: fc.constant(MAX_FRAME * 4 + 1) },
)
const mutationsArb = fc
  .tuple(fc.array(valueMutation, { maxLength: 3 }), fc.array(textMutation, { maxLength: 2 }))
  .filter(([v, t]) => v.length + t.length > 0)

function encode(spec: FrameSpec): { data: Buffer; binary: boolean } {
  let frame: unknown = { jsonrpc: '2.0', id: spec.id, method: spec.method, params: spec.params }
  if (spec.pad !== undefined) (frame as { params: unknown }).params = { ...(spec.params as object), pad: 'x'.repeat(spec.pad) }
  frame = mutateValue(frame, spec.valueMutations)
  const text = JSON.stringify(frame) ?? 'undefined'
  return { data: mutateText(text, spec.textMutations), binary: spec.binary }
}

/** Random frames that are not derived from anything valid. */
const randomFrame: fc.Arbitrary<{ data: Buffer; binary: boolean }> = fc.oneof(
  fc.string({ maxLength: 200 }).map((s) => ({ data: Buffer.from(s), binary: false })),
  fc.string({ maxLength: 100, unit: 'binary' }).map((s) => ({ data: Buffer.from(s), binary: false })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ data: Buffer.from(JSON.stringify(v)), binary: false })),
  fc.uint8Array({ maxLength: 300 }).map((b) => ({ data: Buffer.from(b), binary: false })),
  fc.uint8Array({ maxLength: 300 }).map((b) => ({ data: Buffer.from(b), binary: true })),
  fc.record({ jsonrpc: fc.oneof(fc.constant('2.0'), weirdValue), id: idArb, method: fc.oneof(fc.constantFrom('vipnode_connect', 'vipnode_update', 'vipnode_requestHosts', 'vipnode_admit', '__proto__', 'constructor', 'toString', 'hasOwnProperty', ''), fc.string({ maxLength: 130 })), params: weirdValue }, { requiredKeys: [] }).map((o) => ({ data: Buffer.from(JSON.stringify(o)), binary: false })),
  fc.integer({ min: 1, max: 3000 }).map((d) => ({ data: Buffer.from(`${'['.repeat(d)}${']'.repeat(d)}`), binary: false })),
  fc.integer({ min: 1, max: 2000 }).map((d) => ({ data: Buffer.from(`{"jsonrpc":"2.0","id":1,"method":"vipnode_update","params":${'{"a":'.repeat(d)}1${'}'.repeat(d)}}`), binary: false })),
)

// ---------------------------------------------------------------- valid bases

function updateParams(peer: Identity) {
  return {
    peers: [
      {
        id: peer.nodeId,
        enode: peer.enode,
        name: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4',
        caps: ['eth/68', 'snap/1'],
        network: { localAddress: '127.0.0.1:30303', remoteAddress: '127.0.0.1:40404', inbound: false, trusted: true, static: false },
        protocols: { eth: { version: 68 } },
      },
    ],
    block: { number: 100, hash: `0x${'ab'.repeat(32)}` },
  }
}

/** Wait until the store has recorded this socket's session as closed (the close handler writes it asynchronously). */
async function settledClose(s: FrameSocket, sessionId: string | undefined): Promise<void> {
  s.close()
  await s.until(() => s.closed !== undefined, 'own close')
  if (!sessionId) return
  const closedAt = () => sqliteOf(c).prepare('SELECT closed_at_ms FROM sessions WHERE id = ?').pluck().get(sessionId)
  await waitFor(() => closedAt() !== null && closedAt() !== undefined, 'the session close to be recorded', { intervalMs: 5 })
}

beforeAll(async () => {
  c = await testCoordinator(
    { maxFrameBytes: MAX_FRAME, rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000, updateIntervalMs: 60_000, challengeTtlMs: 60_000, maxPendingSocketsPerAddress: 100_000 },
    { logger },
  )
  // A host that acknowledges admissions, so valid vipnode_requestHosts calls can succeed.
  helperHost = await testAgent(c.url, { role: 'host', capacity: 10_000 })
})

afterAll(async () => {
  for (const s of sockets.splice(0)) s.close()
  await helperHost?.close()
  await c?.close()
  const codes = [...tally.byCode].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code}×${n}`).join(' ')
  console.log(`FUZZ /v1/agent: ${tally.frames} frames, ${tally.replies} replies (${tally.accepted} accepted), ${tally.closes} closes; codes ${codes}`)
})

describe('fuzz /v1/agent', () => {
  test('unauthenticated: mutated vipnode_connect and random frames get clean errors and change nothing', async () => {
    const id = identity()
    const caseArb = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('connect' as const), id: idArb, muts: mutationsArb, binary: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }), pad: padArb }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('update' as const, 'requestHosts' as const), id: idArb, muts: mutationsArb, binary: fc.constant(false), pad: padArb }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('random' as const), frames: fc.array(randomFrame, { minLength: 1, maxLength: 3 }) }) },
    )
    await fc.assert(
      fc.asyncProperty(caseArb, async (k) => {
        const s = await open()
        const challenge = await challengeOf(s)
        let frames: { data: Buffer; binary: boolean }[]
        if (k.kind === 'random') frames = k.frames
        else {
          const [method, params] =
            k.kind === 'connect'
              ? ['vipnode_connect', signedConnect(id, challenge, connectBody(id, { role: 'client' }))]
              : k.kind === 'update'
                ? ['vipnode_update', updateParams(identity())]
                : ['vipnode_requestHosts', { count: 2, kind: 'peer' }]
          frames = [encode({ method, params, id: k.id, valueMutations: k.muts[0], textMutations: k.muts[1], binary: k.binary, pad: k.pad })]
        }
        const before = storeSnapshot(c)
        const outcome = await sendAndCheck(s, frames, true)
        if (!outcome.accepted) expect(storeSnapshot(c), 'a rejected frame changed the store').toEqual(before)
        const session = c.services.sessions.get(id.nodeId)
        const sessionId = session?.session?.sessionId
        await settledClose(s, outcome.accepted ? sessionId : undefined)
        sockets.splice(sockets.indexOf(s), 1)
      }),
      { numRuns: RUNS_UNAUTHENTICATED, endOnFailure: true, includeErrorInReport: true },
    )
  }, 60_000)

  test('authenticated host and client: mutated vipnode_update / vipnode_requestHosts / vipnode_connect change nothing unless accepted', async () => {
    // The host is on another chain, so no client is ever admitted to this raw socket (it would never answer).
    const hostId = identity(30304)
    const clientId = identity(30305)
    const who = { host: { id: hostId, chainId: 1338, role: 'host' as const }, client: { id: clientId, chainId: 1337, role: 'client' as const } }
    const live: Partial<Record<'host' | 'client', { s: FrameSocket; sessionId: string }>> = {}
    const authenticate = async (which: 'host' | 'client') => {
      const w = who[which]
      const s = await open()
      const ch = await challengeOf(s)
      const body = connectBody(w.id, { role: w.role, chainId: w.chainId, ...(w.role === 'client' ? { capacity: undefined } : {}) })
      s.send(JSON.stringify({ jsonrpc: '2.0', id: 'auth', method: 'vipnode_connect', params: signedConnect(w.id, ch, body) }))
      await s.until(() => s.parsed().some((f: any) => f?.id === 'auth'), 'auth reply')
      const reply = s.parsed().find((f: any) => f?.id === 'auth') as { result?: { sessionId: string }; error?: unknown }
      expect(reply.error).toBeUndefined()
      live[which] = { s, sessionId: reply.result!.sessionId }
      return live[which]!
    }
    await authenticate('host')
    await authenticate('client')

    const caseArb = fc.record({
      target: fc.constantFrom('host' as const, 'client' as const),
      method: fc.constantFrom('vipnode_update', 'vipnode_update', 'vipnode_requestHosts', 'vipnode_connect', 'vipnode_admit'),
      id: idArb,
      muts: mutationsArb,
      pad: padArb,
      // Several frames sharing one id (duplicate ids), or random frames mixed in.
      repeat: fc.integer({ min: 1, max: 3 }),
      extra: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: randomFrame }),
    })
    await fc.assert(
      fc.asyncProperty(caseArb, async (k) => {
        const target = live[k.target]!.s.isOpen ? live[k.target]! : await authenticate(k.target)
        const s = target.s
        const params =
          k.method === 'vipnode_update'
            ? updateParams(k.target === 'client' ? helperHost.id : clientId)
            : k.method === 'vipnode_requestHosts'
              ? { count: 1, kind: 'peer' }
              : k.method === 'vipnode_connect'
                ? signedConnect(who[k.target].id, { challenge: 'ab'.repeat(32), poolId: 'test-pool', protocolVersion: 1, expiresAtMs: 0 }, connectBody(who[k.target].id))
                : { nodeId: helperHost.id.nodeId, enode: helperHost.id.enode, kind: 'peer' }
        const frames = Array.from({ length: k.repeat }, () => encode({ method: k.method, params, id: k.id, valueMutations: k.muts[0], textMutations: k.muts[1], binary: false, pad: k.pad }))
        if (k.extra) frames.push(k.extra)
        const before = storeSnapshot(c)
        const outcome = await sendAndCheck(s, frames)
        if (outcome.closed) {
          // Cut off for a frame past the hard cap or broken UTF-8: the session closes; authenticate again next time.
          const closedAt = () => sqliteOf(c).prepare('SELECT closed_at_ms FROM sessions WHERE id = ?').pluck().get(target.sessionId)
          await waitFor(() => closedAt() !== null, 'the session close to be recorded', { intervalMs: 5 })
          expect(closedAt()).not.toBeNull()
          return
        }
        if (!outcome.accepted) expect(storeSnapshot(c), 'a rejected frame changed the store').toEqual(before)
      }),
      { numRuns: RUNS_AUTHENTICATED, endOnFailure: true, includeErrorInReport: true },
    )

    // The sockets that took all of this still work.
    for (const which of ['host', 'client'] as const) {
      const t = live[which]!.s.isOpen ? live[which]! : await authenticate(which)
      const outcome = await sendAndCheck(t.s, [{ data: Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 'ok', method: 'vipnode_update', params: updateParams(helperHost.id) })), binary: false }])
      expect(outcome.accepted).toBe(true)
    }
  }, 60_000)

  test('deep nesting up to the default 1 MiB frame limit (400,000 levels) is parsed and refused or ignored, never a crash', async () => {
    const deepLogger = keepingLogger()
    const d = await testCoordinator({ rateLimitPerSecond: 1_000, rateLimitBurst: 1_000 }, { logger: deepLogger })
    try {
      const peer = identity()
      const deep = `${'['.repeat(400_000)}${']'.repeat(400_000)}`
      const hash = `0x${'ab'.repeat(32)}`
      const hostId = identity()
      const s = await FrameSocket.open(d.url.replace(/^http/, 'ws') + AGENT_PATH)
      sockets.push(s)
      const ch = await challengeOf(s, d.url)
      // Unauthenticated: a connect whose every field is fine but one is 400,000 levels deep is over the
      // pre-authentication frame limit, so the socket is closed (1009) before the frame is read; 8,000 levels fit.
      s.send(`{"jsonrpc":"2.0","id":"c","method":"vipnode_connect","params":${JSON.stringify(signedConnect(hostId, ch)).replace('"agentVersion":"test"', `"agentVersion":${deep}`)}}`)
      await s.until(() => s.closed !== undefined, 'close of the oversize connect')
      expect(s.closed!.code).toBe(1009)
      const s2 = await FrameSocket.open(d.url.replace(/^http/, 'ws') + AGENT_PATH)
      sockets.push(s2)
      const ch2 = await challengeOf(s2, d.url)
      const deepFits = `${'['.repeat(7_000)}${']'.repeat(7_000)}`
      s2.send(`{"jsonrpc":"2.0","id":"c","method":"vipnode_connect","params":${JSON.stringify(signedConnect(hostId, ch2)).replace('"agentVersion":"test"', `"agentVersion":${deepFits}`)}}`)
      await s2.until(() => s2.parsed().some((f: any) => f?.id === 'c'), 'connect reply')
      expect((s2.parsed().find((f: any) => f?.id === 'c') as { error: { code: number } }).error.code).toBe(ErrorCode.INVALID_PARAMS)
      const auth = await FrameSocket.open(d.url.replace(/^http/, 'ws') + AGENT_PATH)
      sockets.push(auth)
      auth.send(JSON.stringify({ jsonrpc: '2.0', id: 'auth', method: 'vipnode_connect', params: signedConnect(hostId, await challengeOf(auth, d.url)) }))
      await auth.until(() => auth.parsed().some((f: any) => f?.id === 'auth'), 'auth')
      const cases: [string, string, 'ok' | number][] = [
        ['in a peer\'s protocols (kept loose)', `{"peers":[{"id":"${peer.nodeId}","enode":"${peer.enode}","protocols":{"eth":${deep}}}],"block":{"number":1,"hash":"${hash}"}}`, 'ok'],
        ['in a peer\'s network', `{"peers":[{"id":"${peer.nodeId}","network":{"x":${deep}}}],"block":{"number":1,"hash":"${hash}"}}`, 'ok'],
        ['as an unknown member', `{"peers":[],"x":${deep},"block":{"number":1,"hash":"${hash}"}}`, 'ok'],
        ['as the block', `{"peers":[],"block":${deep}}`, ErrorCode.INVALID_PARAMS],
        ['as the params', deep, ErrorCode.INVALID_PARAMS],
      ]
      for (const [what, params, want] of cases) {
        auth.send(`{"jsonrpc":"2.0","id":${JSON.stringify(what)},"method":"vipnode_update","params":${params}}`)
        await auth.until(() => auth.parsed().some((f: any) => f?.id === what), what, 10_000)
        const r = auth.parsed().find((f: any) => f?.id === what) as { result?: unknown; error?: { code: number } }
        if (want === 'ok') expect(r.result, what).toBeDefined()
        else expect(r.error?.code, what).toBe(want)
      }
      expect(deepLogger.errors()).toEqual([])
    } finally {
      await d.close()
    }
  })

  test('afterwards: the coordinator is healthy, serves a fresh agent, and logged no error', async () => {
    const health = await fetch(`${c.url}/healthz`)
    expect(health.status).toBe(200)
    const fresh = await testAgent(c.url, { role: 'client' })
    try {
      const reply = await fresh.conn.call('vipnode_update', updateParams(helperHost.id))
      expect(reply).toMatchObject({ peers: expect.any(Array), drop: expect.any(Array) })
      const hosts = await fresh.conn.call('vipnode_requestHosts', { count: 1 })
      expect(hosts.hosts.map((h) => h.nodeId)).toEqual([helperHost.id.nodeId])
    } finally {
      await fresh.close()
    }
    const status = (await (await fetch(`${c.url}/v1/status`)).json()) as { hostsOnline: number }
    expect(status.hostsOnline).toBeGreaterThanOrEqual(1)
    expect(logger.errors(), JSON.stringify(logger.errors().slice(0, 3), null, 1)).toEqual([])
  })
})
