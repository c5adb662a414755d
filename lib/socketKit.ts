/**
 * WebSocket mechanics the socket servers share (the coordinator's /v1/agent,
 * the tracker's /api, the host's rpc relay): a send that cuts a consumer who
 * does not read, ping/pong liveness for half-open sockets, closing that waits
 * for `close` events with a grace before cutting, and reading a frame's bytes.
 *
 * Policy stays with each server: which log line, which metric, which close
 * code. The helpers say what happened (a callback, a return value) and the
 * caller reports it in its own words. The per-address gate in front of the
 * coordinator's two servers is `coordinator/server/socketGate.ts`; per-socket
 * frame rates use `TokenBucket` from `rateLimit.ts`.
 */
import type { RawData, WebSocket } from 'ws'

export type SendOutcome = 'sent' | 'not-open' | 'cut'

/**
 * Send `text`, unless the socket already holds more than `maxBufferedBytes`
 * unsent: then the peer is not reading (a slow consumer), and buffering more
 * would let one peer take the server's memory, so the socket is terminated.
 * `onCut` runs first with the buffered amount (for the caller's log and
 * metrics). Nothing is sent on a socket that is not open.
 */
export function sendBounded(ws: WebSocket, text: string, maxBufferedBytes: number, onCut?: (bufferedBytes: number) => void): SendOutcome {
  if (ws.readyState !== ws.OPEN) return 'not-open'
  if (ws.bufferedAmount > maxBufferedBytes) {
    onCut?.(ws.bufferedAmount)
    ws.terminate()
    return 'cut'
  }
  ws.send(text)
  return 'sent'
}

/**
 * Finds half-open sockets (the peer vanished without a FIN): every
 * `intervalMs` each tracked socket that has not been seen since its last
 * ping (a pong, or whatever the caller counts with `seen`) is terminated,
 * and the others are pinged. One timer for all sockets; a socket leaves on
 * `close` or `forget`.
 *
 * The sockets are spread over slices, one slice per tick of about
 * `PING_TICK_MS`: pinging 5,000 sockets in one callback held the event loop
 * for 147 ms (a frame write each), and every agent's report waited behind it
 * (issue 20). Each socket is still pinged once per interval.
 */
export const PING_TICK_MS = 100

export class PingLiveness {
  /** One map per slice: socket → seen since its last ping. */
  private readonly slices: Map<WebSocket, boolean>[]
  private readonly sliceOf = new Map<WebSocket, number>()
  private readonly timer: NodeJS.Timeout
  private nextSlot = 0
  private cursor = 0

  constructor(intervalMs: number) {
    const count = Math.max(1, Math.min(1_000, Math.round(intervalMs / PING_TICK_MS)))
    this.slices = Array.from({ length: count }, () => new Map())
    this.timer = setInterval(() => this.tick(), intervalMs / count)
    this.timer.unref()
  }

  track(ws: WebSocket): void {
    const slot = this.nextSlot
    this.nextSlot = (this.nextSlot + 1) % this.slices.length
    this.sliceOf.set(ws, slot)
    this.slices[slot]!.set(ws, true)
    ws.on('pong', () => this.seen(ws))
    ws.once('close', () => this.forget(ws))
  }

  /** The peer showed life (a pong, or any frame where the server counts that). */
  seen(ws: WebSocket): void {
    const slot = this.sliceOf.get(ws)
    if (slot !== undefined) this.slices[slot]!.set(ws, true)
  }

  /** Stop watching a socket the server is already closing. */
  forget(ws: WebSocket): void {
    const slot = this.sliceOf.get(ws)
    if (slot === undefined) return
    this.sliceOf.delete(ws)
    this.slices[slot]!.delete(ws)
  }

  /** One tick: the next slice's silent sockets are cut and the rest pinged. */
  tick(): void {
    const slice = this.slices[this.cursor]!
    this.cursor = (this.cursor + 1) % this.slices.length
    for (const [ws, alive] of slice) {
      if (!alive) {
        this.forget(ws)
        ws.terminate()
        continue
      }
      slice.set(ws, false)
      ws.ping()
    }
  }

  /** A whole interval's ticks at once (tests drive rounds by hand). */
  round(): void {
    for (let i = 0; i < this.slices.length; i++) this.tick()
  }

  /** Sockets in the largest slice: the most one tick pings. */
  get largestSlice(): number {
    return Math.max(...this.slices.map((s) => s.size))
  }

  get size(): number {
    return this.sliceOf.size
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

/** Resolves when the socket has emitted `close` (at once if it is closed already). */
export function whenClosed(ws: WebSocket): Promise<void> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve()
  return new Promise((resolve) => ws.once('close', () => resolve()))
}

/**
 * Start the closing handshake and resolve on `close`. A peer that is gone
 * (the usual reason to close) never answers, so after `graceMs` the socket is
 * terminated, which emits `close` too.
 */
export function closeWithin(ws: WebSocket, code: number, reason: string, graceMs: number): Promise<void> {
  const closed = whenClosed(ws)
  if (ws.readyState === ws.CLOSED) return closed
  const timer = setTimeout(() => ws.terminate(), graceMs)
  void closed.then(() => clearTimeout(timer))
  ws.close(code, reason)
  return closed
}

/** Close every socket (`closeWithin`) and resolve when all have emitted `close`. */
export async function closeAll(sockets: Iterable<WebSocket>, code: number, reason: string, graceMs: number): Promise<void> {
  await Promise.all([...sockets].map((ws) => closeWithin(ws, code, reason, graceMs)))
}

/** A frame's length in bytes, whatever shape `ws` delivered it in. */
export function rawSize(data: RawData): number {
  if (Buffer.isBuffer(data)) return data.length
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0)
  return data.byteLength
}

/** A frame read as UTF-8 text. */
export function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data).toString('utf8')
}
