/**
 * Hostile input on /api, the ethstats tracker mounted in a real coordinator
 * (issue 9): random and mutated primus frames, before and after login.
 *
 * The tracker answers little (ready, pongs, node-pong, server close), so the
 * checks are on its state: a frame that was not accepted (no login, no
 * report counted) leaves every node as it was (except `lastSeenMs`: any frame
 * is life, by design), a node logged in on another socket is never touched,
 * and nothing from a refused login shows up in GET /v1/tracker/nodes. Every
 * fuzz frame is followed by a primus heartbeat; its pong proves the frame
 * was handled (the tracker handles a socket's frames in order). At the end a
 * valid reporter still logs in and reports, and nothing was logged as an error.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest'
import fc from 'fast-check'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import type { TrackedNode } from '../../coordinator/tracker/index.ts'
import { READY_FRAME } from '../../coordinator/tracker/frames.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { FrameSocket, isValidUtf8, keepingLogger, mutateText, mutateValue, textMutation, valueMutation, weirdValue } from '../harness/fuzzFrames.ts'
import { waitFor } from '../harness/waitFor.ts'

const SECRET = 'fuzz-secret'
const RUNS_BEFORE_LOGIN = 400
const RUNS_AFTER_LOGIN = 500
/** Fresh socket after this many frames, to stay under the tracker's per-socket token bucket (burst 500, 100/s). */
const FRAMES_PER_SOCKET = 150

let c: RunningCoordinator
const logger = keepingLogger()
const sockets: FrameSocket[] = []
let pingSeq = 0
const tally = { frames: 0, accepted: 0, closes: 0 }

const trackerUrl = () => c.url.replace(/^http/, 'ws') + '/api'
const tracker = () => c.services.tracker

const info = (name: string) => ({
  name,
  node: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4',
  port: 30303,
  net: '1337',
  protocol: 'eth/68',
  api: 'No',
  os: 'linux',
  os_v: 'amd64',
  client: '0.1.1',
  canUpdateHistory: true,
  enode: `enode://${'a1'.repeat(64)}@127.0.0.1:30303`,
})
const hash = (n: number) => '0x' + n.toString(16).padStart(64, '0')
const block = (n: number) => ({ number: n, hash: hash(n), parentHash: hash(n - 1), timestamp: 1_700_000_000 + n, miner: `0x${'00'.repeat(20)}`, gasUsed: 0, gasLimit: 30_000_000, difficulty: '0', totalDifficulty: '0', transactions: [], uncles: [] })

/** A valid payload for each topic a reporter sends. */
function validEmit(topic: string, id: string): [string, unknown] {
  switch (topic) {
    case 'hello':
      return ['hello', { id, secret: SECRET, info: info(id) }]
    case 'block':
      return ['block', { id, block: block(50) }]
    case 'stats':
      return ['stats', { id, stats: { active: true, syncing: false, mining: false, hashrate: 0, peers: 5, gasPrice: '1000000000', uptime: 100 } }]
    case 'pending':
      return ['pending', { id, stats: { pending: 3 } }]
    case 'latency':
      return ['latency', { id, latency: '12' }]
    case 'node-ping':
      return ['node-ping', { id, clientTime: '2024-01-01T00:00:00Z' }]
    case 'history':
      return ['history', { id, history: [block(48), block(49)] }]
    case 'peers':
      return ['peers', { id, peers: ['b2'.repeat(64), `0x${'c3'.repeat(64)}`] }]
    default:
      return [topic, { id }]
  }
}
const TOPICS = ['hello', 'block', 'stats', 'pending', 'latency', 'node-ping', 'history', 'peers', 'update', 'end', 'ready', 'primus', '__proto__', 'constructor']

const randomFrame: fc.Arbitrary<{ data: Buffer; binary: boolean }> = fc.oneof(
  fc.string({ maxLength: 200 }).map((s) => ({ data: Buffer.from(s), binary: false })),
  fc.string({ maxLength: 80 }).map((s) => ({ data: Buffer.from(JSON.stringify(`primus::${s}`)), binary: false })),
  fc.constantFrom('primus::ping::', 'primus::pong::', 'primus::ping::' + 'x'.repeat(70), 'primus::server::close', 'primus::ping::\u0000').map((s) => ({ data: Buffer.from(JSON.stringify(s)), binary: false })),
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ data: Buffer.from(JSON.stringify(v)), binary: false })),
  fc.tuple(fc.oneof(fc.constantFrom(...TOPICS), fc.string({ maxLength: 20 })), weirdValue).map(([t, p]) => ({ data: Buffer.from(JSON.stringify({ emit: [t, p] })), binary: false })),
  fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.boolean()).map(([b, binary]) => ({ data: Buffer.from(b), binary })),
  fc.integer({ min: 1, max: 5_000 }).map((d) => ({ data: Buffer.from(`{"emit":["block",${'{"block":'.repeat(d)}1${'}'.repeat(d)}]}`), binary: false })),
  fc.integer({ min: 1, max: 5_000 }).map((d) => ({ data: Buffer.from(`{"emit":${'['.repeat(d)}"hello"${']'.repeat(d)}}`), binary: false })),
)

const mutatedFrame = (topics: string[], id: fc.Arbitrary<string>) =>
  fc
    .record({
      topic: fc.constantFrom(...topics),
      id,
      values: fc.array(valueMutation, { maxLength: 3 }),
      texts: fc.array(textMutation, { maxLength: 2 }),
      binary: fc.oneof({ weight: 10, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    })
    .filter((k) => k.values.length + k.texts.length > 0)
    .map((k) => {
      const emit = mutateValue({ emit: validEmit(k.topic, k.id) }, k.values)
      return { data: mutateText(JSON.stringify(emit) ?? 'null', k.texts), binary: k.binary }
    })

async function open(): Promise<FrameSocket> {
  const s = await FrameSocket.open(trackerUrl())
  sockets.push(s)
  return s
}

/** Send frames, then a heartbeat; resolves when its pong arrived (all frames handled) or the socket closed. */
async function sendAndSync(s: FrameSocket, frames: { data: Buffer; binary: boolean }[]): Promise<{ closed: boolean }> {
  const trackerCloses = () => Object.values(tracker().counters().closed).reduce((a, b) => a + b, 0)
  const closesBefore = trackerCloses()
  for (const f of frames) {
    tally.frames++
    s.send(f.data, f.binary)
    // A text frame with broken UTF-8 is a protocol error: ws closes with 1007 before the tracker sees it.
    if (!f.binary && !isValidUtf8(f.data)) {
      await s.until(() => s.closed !== undefined, 'close 1007')
      // Unless the tracker was already closing it for an earlier frame of this case (`end`, a refused hello).
      if (s.closed!.code !== 1007) expect({ code: s.closed!.code, closedByTracker: trackerCloses() > closesBefore }).toEqual({ code: expect.any(Number), closedByTracker: true })
      tally.closes++
      return { closed: true }
    }
  }
  const token = `sync-${++pingSeq}`
  s.send(JSON.stringify(`primus::ping::${token}`))
  await s.until(() => s.closed !== undefined || s.texts.includes(JSON.stringify(`primus::pong::${token}`)), `pong ${token}`)
  if (s.closed) tally.closes++
  return { closed: s.closed !== undefined }
}

/** A node as stored, without what any frame may change. */
const comparable = (n: TrackedNode | undefined) => (n ? { ...n, lastSeenMs: 0 } : undefined)
const reportsCounted = () => {
  const k = tracker().counters()
  return Object.values(k.reports).reduce((a, b) => a + b, 0) + k.logins
}
/** The public feed without the clock fields. */
async function feed(): Promise<unknown> {
  const body = (await (await fetch(`${c.url}/v1/tracker/nodes`)).json()) as { nodes: Record<string, unknown>[] }
  return body.nodes.map(({ lastSeenMs: _a, lastSeenAgoMs: _b, ...rest }) => rest)
}

async function login(name: string): Promise<FrameSocket> {
  const s = await open()
  s.send(JSON.stringify({ emit: validEmit('hello', name) }))
  await s.until(() => s.texts.includes(READY_FRAME), `ready for ${name}`)
  return s
}

beforeAll(async () => {
  c = await testCoordinator({ ethstatsSecret: SECRET }, { logger })
})

afterAll(async () => {
  for (const s of sockets.splice(0)) s.close()
  await c?.close()
  const k = tracker().counters()
  const dropped = Object.entries(k.dropped).filter(([, n]) => n > 0).map(([r, n]) => `${r}×${n}`).join(' ')
  console.log(`FUZZ /api: ${tally.frames} frames, ${tally.accepted} accepted, ${tally.closes} closes; logins ${k.logins} (refused ${k.loginsRejected}); dropped ${dropped}`)
})

describe('fuzz /api (ethstats tracker)', () => {
  test('before login: random frames and mutated hellos never create a node unless a login succeeded', async () => {
    const caseArb = fc.oneof(
      { weight: 3, arbitrary: fc.array(randomFrame, { minLength: 1, maxLength: 3 }) },
      // Mutations of a good hello (right secret): most are refused, some still log in.
      { weight: 4, arbitrary: fc.array(mutatedFrame(['hello'], fc.constantFrom('fuzz-a', 'fuzz-b', '__proto__', 'constructor')), { minLength: 1, maxLength: 2 }) },
      // Reports before any login.
      { weight: 2, arbitrary: fc.array(mutatedFrame(TOPICS.filter((t) => t !== 'hello'), fc.constantFrom('fuzz-a', 'victim')), { minLength: 1, maxLength: 3 }) },
    )
    await fc.assert(
      fc.asyncProperty(caseArb, async (frames) => {
        const socketsBefore = tracker().socketCount()
        const nodesBefore = JSON.stringify(tracker().nodes())
        const feedBefore = await feed()
        const s = await open()
        await sendAndSync(s, frames)
        const loggedIn = s.texts.includes(READY_FRAME)
        if (loggedIn) tally.accepted++
        else {
          expect(JSON.stringify(tracker().nodes()), 'a refused frame changed the tracker').toBe(nodesBefore)
          expect(await feed(), 'a refused frame shows in /v1/tracker/nodes').toEqual(feedBefore)
        }
        s.close()
        sockets.splice(sockets.indexOf(s), 1)
        // The close handler marks a logged-in node disconnected: let it run before the next case takes its snapshot.
        await s.until(() => s.closed !== undefined, 'own close')
        await waitFor(() => tracker().socketCount() <= socketsBefore, 'the tracker to drop the closed socket', { timeoutMs: 3_000, intervalMs: 2 })
      }),
      { numRuns: RUNS_BEFORE_LOGIN, endOnFailure: true, includeErrorInReport: true },
    )
  }, 60_000)

  test('after login: mutated reports change nothing unless counted, and never touch another socket’s node', async () => {
    const victimSocket = await login('victim')
    victimSocket.send(JSON.stringify({ emit: validEmit('block', 'victim') }))
    await sendAndSync(victimSocket, [])
    const victim = JSON.stringify(tracker().node('victim'))
    expect(tracker().node('victim')?.block?.number).toBe(50)

    let main = await login('fuzz-main')
    let sent = 0
    const caseArb = fc.oneof(
      { weight: 6, arbitrary: fc.array(mutatedFrame(TOPICS, fc.constantFrom('fuzz-main', 'fuzz-main', 'victim', 'nobody')), { minLength: 1, maxLength: 3 }) },
      { weight: 2, arbitrary: fc.array(randomFrame, { minLength: 1, maxLength: 3 }) },
    )
    await fc.assert(
      fc.asyncProperty(caseArb, async (frames) => {
        if (main.closed || sent >= FRAMES_PER_SOCKET) {
          main.close()
          main = await login('fuzz-main')
          sent = 0
        }
        sent += frames.length + 1
        const before = comparable(tracker().node('fuzz-main'))
        const counted = reportsCounted()
        const internal = tracker().counters().dropped.internal
        const { closed } = await sendAndSync(main, frames)
        expect(tracker().counters().dropped.internal, 'a frame handler threw').toBe(internal)
        expect(JSON.stringify(tracker().node('victim')), "another socket's node changed").toBe(victim)
        if (reportsCounted() > counted) tally.accepted++
        else if (!closed) expect(comparable(tracker().node('fuzz-main')), 'a dropped frame changed the node').toEqual(before)
      }),
      { numRuns: RUNS_AFTER_LOGIN, endOnFailure: true, includeErrorInReport: true },
    )
    expect(victimSocket.closed).toBeUndefined()
  }, 60_000)

  test('a frame over the 16 MiB cap closes that socket with 1009 and nothing else', async () => {
    const s = await open()
    s.send(JSON.stringify({ emit: ['hello', { id: 'huge', secret: SECRET, info: { name: 'x'.repeat(16 * 1024 * 1024) } }] }))
    await s.until(() => s.closed !== undefined, 'close 1009', 10_000)
    expect(s.closed!.code).toBe(1009)
    expect(tracker().node('huge')).toBeUndefined()
  })

  test('afterwards: a valid reporter logs in and reports, /healthz is fine, and nothing was logged as an error', async () => {
    const s = await login('after-fuzz')
    s.send(JSON.stringify({ emit: validEmit('block', 'after-fuzz') }))
    s.send(JSON.stringify({ emit: validEmit('stats', 'after-fuzz') }))
    await sendAndSync(s, [])
    const nodes = (await (await fetch(`${c.url}/v1/tracker/nodes`)).json()) as { nodes: { name: string; blockNumber: number | null; connected: boolean }[] }
    expect(nodes.nodes.find((n) => n.name === 'after-fuzz')).toMatchObject({ blockNumber: 50, connected: true })
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200)
    expect(tracker().counters().dropped.internal).toBe(0)
    expect(logger.errors(), JSON.stringify(logger.errors().slice(0, 3), null, 1)).toEqual([])
  })
})
