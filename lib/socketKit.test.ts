import { afterEach, describe, expect, test } from 'vitest'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { PingLiveness, closeWithin, rawSize, rawText, sendBounded, whenClosed } from './socketKit.ts'
import { within } from '../test/harness/waitFor.ts'

/** A real server and a client connected to it; `clientOptions` shape the client's behaviour (autoPong). */
async function pair(clientOptions: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  const serverSide = new Promise<WebSocket>((resolve) => wss.once('connection', resolve))
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, clientOptions)
  await new Promise<void>((resolve, reject) => client.once('open', () => resolve()).once('error', reject))
  const server = await serverSide
  cleanups.push(async () => {
    client.terminate()
    for (const ws of wss.clients) ws.terminate()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
  })
  return { server, client }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c()
})

/** Just the fields sendBounded reads, to set bufferedAmount at will. */
function stubSocket(readyState: number, bufferedAmount: number) {
  const sent: string[] = []
  let terminated = false
  const ws = { OPEN: 1, readyState, bufferedAmount, send: (t: string) => sent.push(t), terminate: () => (terminated = true) }
  return { ws: ws as unknown as WebSocket, sent, terminated: () => terminated }
}

describe('sendBounded', () => {
  test('sends while the unsent data is within the bound', () => {
    const s = stubSocket(1, 100)
    expect(sendBounded(s.ws, 'x', 100)).toBe('sent')
    expect(s.sent).toEqual(['x'])
    expect(s.terminated()).toBe(false)
  })

  test('behavior: a consumer past the bound is cut, after onCut hears how much was buffered', () => {
    const s = stubSocket(1, 101)
    const seen: number[] = []
    expect(sendBounded(s.ws, 'x', 100, (b) => seen.push(b))).toBe('cut')
    expect(seen).toEqual([101])
    expect(s.sent).toEqual([])
    expect(s.terminated()).toBe(true)
  })

  test('behavior: nothing is sent on a socket that is not open', () => {
    const s = stubSocket(2, 0)
    expect(sendBounded(s.ws, 'x', 100)).toBe('not-open')
    expect(s.sent).toEqual([])
    expect(s.terminated()).toBe(false)
  })
})

describe('PingLiveness', () => {
  test('behavior: a peer that answers pings stays; one that does not is cut on the round after', async () => {
    const answering = await pair()
    const mute = await pair({ autoPong: false })
    // Rounds are driven by hand (the interval is far away) so the test waits for events, not for time.
    const liveness = new PingLiveness(3_600_000)
    try {
      liveness.track(answering.server)
      liveness.track(mute.server)
      const pong = new Promise<void>((resolve) => answering.server.once('pong', () => resolve()))
      liveness.round()
      await within(pong, 2_000, 'the pong of the answering peer')
      liveness.round()
      await within(whenClosed(mute.server), 2_000, 'the mute peer to be cut')
      expect(answering.server.readyState).toBe(WebSocket.OPEN)
      expect(liveness.size).toBe(1)
    } finally {
      liveness.stop()
    }
  })

  test('behavior: seen() counts as life, forget() stops watching', async () => {
    const a = await pair({ autoPong: false })
    const b = await pair({ autoPong: false })
    const liveness = new PingLiveness(3_600_000)
    try {
      liveness.track(a.server)
      liveness.track(b.server)
      liveness.round()
      liveness.seen(a.server)
      liveness.forget(b.server)
      liveness.round()
      expect(a.server.readyState).toBe(WebSocket.OPEN)
      expect(b.server.readyState).toBe(WebSocket.OPEN)
      expect(liveness.size).toBe(1)
    } finally {
      liveness.stop()
    }
  })

  test('behavior: sockets are spread over slices and one tick pings one slice, so no callback pings them all', async () => {
    const pairs = await Promise.all([pair(), pair(), pair(), pair()])
    // 1,000 slices (the interval is far away): each socket gets its own.
    const liveness = new PingLiveness(3_600_000)
    try {
      const pings = pairs.map((p) => {
        liveness.track(p.server)
        let n = 0
        const ping = p.server.ping.bind(p.server)
        p.server.ping = (...args: Parameters<WebSocket['ping']>) => {
          n++
          ping(...args)
        }
        return () => n
      })
      expect(liveness.largestSlice).toBe(1)
      liveness.tick()
      const pongs = pairs.slice(0, 2).map((p) => new Promise<void>((resolve) => p.server.once('pong', () => resolve())))
      expect(pings.map((n) => n())).toEqual([1, 0, 0, 0])
      liveness.tick()
      expect(pings.map((n) => n())).toEqual([1, 1, 0, 0])
      // A whole round (once the pongs are in) reaches every socket once more.
      await within(Promise.all(pongs), 2_000, 'the pongs of the first two')
      liveness.round()
      expect(pings.map((n) => n())).toEqual([2, 2, 1, 1])
    } finally {
      liveness.stop()
    }
  })
})

describe('closeWithin', () => {
  test('resolves on the close handshake of a peer that answers, long before the grace', async () => {
    const { server, client } = await pair()
    const clientClosed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)))
    await within(closeWithin(server, 1001, 'bye', 60_000), 2_000, 'the closing handshake')
    expect(await clientClosed).toBe(1001)
  })

  test('behavior: a peer that never answers the close is cut after the grace', async () => {
    const { server, client } = await pair()
    // The client reads nothing from now on, so it never answers the close frame.
    ;(client as unknown as { _socket: { pause(): void } })._socket.pause()
    const started = Date.now()
    await within(closeWithin(server, 1001, 'bye', 200), 5_000, 'the cut after the grace')
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    expect(server.readyState).toBe(WebSocket.CLOSED)
  })
})

test('rawSize and rawText read every shape ws delivers', () => {
  const buf = Buffer.from('héllo')
  expect(rawSize(buf)).toBe(6)
  expect(rawText(buf)).toBe('héllo')
  expect(rawSize([buf.subarray(0, 2), buf.subarray(2)])).toBe(6)
  expect(rawText([buf.subarray(0, 2), buf.subarray(2)])).toBe('héllo')
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)
  expect(rawSize(ab)).toBe(6)
  expect(rawText(ab)).toBe('héllo')
})
