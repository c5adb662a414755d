/**
 * Live updates for the dashboard over Server-Sent Events. Every open stream
 * gets a fresh snapshot when it connects, whenever the set of connected
 * agents or assignments changes, and every `pushIntervalMs` regardless, but
 * never sooner than `pushGapMs` after the last push: at thousands of agents a
 * snapshot is megabytes, and a reconnect storm changes the agents every 250 ms.
 * Online hosts and clients are sampled into a ring buffer for the charts,
 * every `sampleIntervalMs` and at each change. One snapshot is built per push
 * and shared by all streams.
 */
import type { Request, Response } from 'express'
import type { CoordinatorServices } from '../rpc/context.ts'
import { liveCounts, SampleRing, SnapshotBuilder, snapshotJson } from './snapshot.ts'

export interface DashboardHubOptions {
  /** A full snapshot to every stream at least this often. */
  pushIntervalMs: number
  /** How often the online counts are sampled for the charts. */
  sampleIntervalMs: number
  /** How many samples are kept (8,640 at 10 s is a day). */
  sampleCapacity: number
  /** How often agent connects and disconnects are looked for (an in-memory comparison). */
  watchIntervalMs: number
  /** The least time between two pushes (it grows with what a push costs: `pushGapMs`). */
  minPushGapMs: number
}

export const defaultHubOptions: DashboardHubOptions = { pushIntervalMs: 5_000, sampleIntervalMs: 10_000, sampleCapacity: 8_640, watchIntervalMs: 250, minPushGapMs: 1_000 }

/**
 * How long after a push that took `costMs` (build, JSON and writes, wall time) the next may start: at least
 * `minGapMs`, and 20 times the cost, so snapshots take at most about 5 % of the coordinator however large the pool.
 */
export function pushGapMs(costMs: number, minGapMs: number): number {
  return Math.max(minGapMs, 20 * costMs)
}

/**
 * A stream whose unsent data grows past this, or past two snapshots where they are larger (6.7 MB each at 20,000
 * agents), is a stalled browser tab and is dropped.
 */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024

interface Stream {
  res: Response
  /** The dashboard session the stream was opened with; null for a bearer token. */
  sessionId: string | null
}

export class DashboardHub {
  readonly samples: SampleRing
  readonly builder: SnapshotBuilder
  private readonly streams = new Set<Stream>()
  private readonly timers: NodeJS.Timeout[] = []
  private fingerprint = ''
  private pushing: Promise<void> | undefined
  private pushAgain = false
  /** No push starts before this (`pushGapMs`); one asked for sooner is made then. */
  private nextPushAtMs = 0
  private deferred: NodeJS.Timeout | undefined
  private closed = false

  constructor(
    private readonly services: CoordinatorServices,
    private readonly opts: DashboardHubOptions,
    /** Whether the session a stream was opened with is still logged in. */
    private readonly sessionValid: (sessionId: string) => boolean,
  ) {
    this.samples = new SampleRing(opts.sampleCapacity)
    this.builder = new SnapshotBuilder(services, this.samples)
  }

  start(): void {
    this.fingerprint = this.currentFingerprint()
    this.sample()
    const every = (ms: number, f: () => void) => {
      const t = setInterval(f, ms)
      t.unref()
      this.timers.push(t)
    }
    every(this.opts.sampleIntervalMs, () => this.sample())
    every(this.opts.watchIntervalMs, () => {
      const now = this.currentFingerprint()
      if (now === this.fingerprint) return
      this.fingerprint = now
      this.sample()
      this.push()
    })
    every(this.opts.pushIntervalMs, () => this.push())
  }

  get streamCount(): number {
    return this.streams.size
  }

  /** Open an event stream on this response; the first snapshot follows at once. */
  attach(req: Request, res: Response, sessionId: string | null): void {
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    })
    res.flushHeaders()
    res.write('retry: 2000\n\n')
    const stream: Stream = { res, sessionId }
    this.streams.add(stream)
    req.on('close', () => this.streams.delete(stream))
    this.push()
  }

  /** Build one snapshot and send it to every stream; concurrent calls coalesce into one more. */
  push(): void {
    if (this.closed || this.streams.size === 0) return
    if (this.pushing) {
      this.pushAgain = true
      return
    }
    const wait = this.nextPushAtMs - performance.now()
    if (wait > 0) {
      this.deferred ??= setTimeout(() => {
        this.deferred = undefined
        this.push()
      }, wait)
      this.deferred.unref()
      return
    }
    const startedAt = performance.now()
    this.pushing = this.builder
      .build()
      .then(snapshotJson)
      .then((json) => {
        // Written in three pieces: the JSON of a large pool is megabytes, not to be copied into one more string.
        for (const s of this.streams) {
          if (s.sessionId !== null && !this.sessionValid(s.sessionId)) {
            this.end(s, 'event: expired\ndata: {}\n\n')
          } else if (s.res.writableLength > Math.max(MAX_BUFFERED_BYTES, 2 * json.length)) {
            this.services.log.warn('dashboard stream dropped: client not reading', { buffered: s.res.writableLength })
            this.end(s)
          } else {
            s.res.write('event: snapshot\ndata: ')
            s.res.write(json)
            s.res.write('\n\n')
          }
        }
      })
      .catch((err: unknown) => this.services.log.error('dashboard snapshot failed', {}, err))
      .finally(() => {
        const now = performance.now()
        this.nextPushAtMs = now + pushGapMs(now - startedAt, this.opts.minPushGapMs)
        this.pushing = undefined
        if (this.pushAgain) {
          this.pushAgain = false
          this.push()
        }
      })
  }

  /** End the streams of one dashboard session (on logout). */
  endSession(sessionId: string): void {
    for (const s of this.streams) if (s.sessionId === sessionId) this.end(s, 'event: expired\ndata: {}\n\n')
  }

  close(): void {
    this.closed = true
    clearTimeout(this.deferred)
    for (const t of this.timers.splice(0)) clearInterval(t)
    for (const s of this.streams) this.end(s)
  }

  private end(s: Stream, last?: string): void {
    this.streams.delete(s)
    if (last) s.res.write(last)
    s.res.end()
  }

  private sample(): void {
    const { hosts, clients, freeSlots } = liveCounts(this.services)
    this.samples.push({ t: this.services.clock.now(), hosts, clients, freeSlots })
  }

  /** Changes whenever agents connect or leave, or assignments change: O(1), it runs four times a second. */
  private currentFingerprint(): string {
    return `${this.services.sessions.version}:${this.services.assignments.version}`
  }
}
