/**
 * Test support: a scripted ethstats reporter over a real `ws` client, and a
 * tracker mounted on a real loopback http.Server the way the coordinator
 * mounts it. Waits are event-driven with deadlines, never fixed sleeps.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocket } from 'ws'
import { Registry } from 'prom-client'
import { silentLogger } from '../../lib/logger.ts'
import { systemClock } from '../../lib/clock.ts'
import { createTracker, isTrackerPath, type Tracker, type TrackerOptions } from '../../coordinator/tracker/trackerServer.ts'
import type { TrackedNode } from '../../coordinator/tracker/state.ts'
import type { TrackerMetricsSink } from '../../coordinator/tracker/metrics.ts'
import { within } from './waitFor.ts'

export interface CloseInfo {
  code: number
  reason: string
}

export class ScriptedReporter {
  /** Every text frame received, in order, byte for byte. */
  readonly frames: string[] = []
  readonly closed: Promise<CloseInfo>
  private cursor = 0
  private wakers = new Set<() => void>()
  private isClosed = false

  private constructor(
    readonly ws: WebSocket,
    /** Answer `primus::ping::` with `primus::pong::`, as geth does; the classic reporter does not. */
    private readonly answerPings: boolean,
  ) {
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8')
      this.frames.push(text)
      if (this.answerPings && text.startsWith('"primus::ping::')) ws.send(text.replace('primus::ping::', 'primus::pong::'))
      this.wake()
    })
    this.closed = new Promise((resolve) => {
      ws.on('close', (code: number, reason: Buffer) => {
        this.isClosed = true
        resolve({ code, reason: reason.toString() })
        this.wake()
      })
    })
    ws.on('error', () => {
      // Surfaced through `closed`; a test asserting on the close code does not want an unhandled error.
    })
  }

  static async open(url: string, options: { answerPings?: boolean } = {}): Promise<ScriptedReporter> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 })
    const reporter = new ScriptedReporter(ws, options.answerPings ?? false)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return reporter
  }

  get open(): boolean {
    return !this.isClosed && this.ws.readyState === WebSocket.OPEN
  }

  /** Send one text frame exactly as given. */
  sendRaw(text: string | Buffer): void {
    this.ws.send(text)
  }

  /** `{"emit":[topic, payload]}` as JSON; geth's gorilla encoder adds a newline, which `newline` reproduces. */
  emit(topic: string, payload?: unknown, options: { newline?: boolean } = {}): void {
    const text = JSON.stringify({ emit: payload === undefined ? [topic] : [topic, payload] })
    this.ws.send(options.newline ? `${text}\n` : text)
  }

  /** The next frame not yet consumed. */
  async next(timeoutMs = 3_000): Promise<string> {
    await this.until(() => this.cursor < this.frames.length, timeoutMs, 'a frame')
    return this.frames[this.cursor++]!
  }

  /** The first unconsumed frame whose parsed JSON satisfies `match`; frames before it are consumed too. */
  async waitFor(match: (value: unknown, text: string) => boolean, timeoutMs = 3_000, what = 'a matching frame'): Promise<unknown> {
    let found: unknown
    await this.until(
      () => {
        while (this.cursor < this.frames.length) {
          const text = this.frames[this.cursor++]!
          const value = safeParse(text)
          if (match(value, text)) {
            found = value
            return true
          }
        }
        return false
      },
      timeoutMs,
      what,
    )
    return found
  }

  /** Wait for an emit frame with this topic and return its payload. */
  async waitForEmit(topic: string, timeoutMs = 3_000): Promise<unknown> {
    const frame = await this.waitFor((v) => isEmit(v, topic), timeoutMs, `emit "${topic}"`)
    return (frame as { emit: unknown[] }).emit[1]
  }

  /** Heartbeats the server has sent so far. */
  serverPings(): number {
    return this.frames.filter((f) => f.startsWith('"primus::ping::')).length
  }

  async until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return
    await new Promise<void>((resolve, reject) => {
      const waker = () => {
        if (condition()) {
          cleanup()
          resolve()
        } else if (this.isClosed) {
          cleanup()
          reject(new Error(`socket closed while waiting for ${what}`))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        this.wakers.delete(waker)
      }
      this.wakers.add(waker)
    })
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate()
  }

  private wake(): void {
    for (const w of [...this.wakers]) w()
  }
}

export function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export function isEmit(value: unknown, topic: string): boolean {
  return typeof value === 'object' && value !== null && Array.isArray((value as { emit?: unknown }).emit) && (value as { emit: unknown[] }).emit[0] === topic
}

/** Wait until the tracker's view of `name` satisfies `condition`, woken by tracker events. */
export async function waitForNode(tracker: Tracker, name: string, condition: (node: TrackedNode) => boolean, timeoutMs = 3_000): Promise<TrackedNode> {
  const check = () => {
    const node = tracker.node(name)
    return node && condition(node) ? node : undefined
  }
  const now = check()
  if (now) return now
  let off: (() => void) | undefined
  try {
    return await within(
      new Promise<TrackedNode>((resolve) => {
        off = tracker.on('update', () => {
          const node = check()
          if (node) resolve(node)
        })
      }),
      timeoutMs,
      `tracker node "${name}" to reach the expected state`,
    )
  } finally {
    off?.()
  }
}

export interface RunningTracker {
  tracker: Tracker
  registry: Registry
  server: Server
  url: string
  close(): Promise<void>
}

/** A tracker behind a loopback http.Server, routed with isTrackerPath as the coordinator does. */
export async function startTracker(options: TrackerOptions = { secret: 'pool-secret' }, metrics?: TrackerMetricsSink): Promise<RunningTracker> {
  const registry = new Registry()
  const tracker = createTracker(options, { log: silentLogger, clock: systemClock, metrics: metrics ?? registry })
  const server = createServer((_req, res) => {
    res.statusCode = 404
    res.end()
  })
  server.on('upgrade', (req, socket, head) => {
    if (isTrackerPath(req.url ?? '')) tracker.handleUpgrade(req, socket, head)
    else socket.destroy()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    tracker,
    registry,
    server,
    url: `ws://127.0.0.1:${port}/api`,
    async close() {
      await tracker.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
