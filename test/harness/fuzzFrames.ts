/**
 * Shared pieces of the hostile-input tests (test/fuzz): a raw WebSocket that
 * records every text frame and the close, a logger that keeps what a test
 * must see (errors, with their cause), and fast-check arbitraries that turn
 * a valid frame into random and mutated ones.
 */
import { isUtf8 } from 'node:buffer'
import WebSocket from 'ws'
import fc from 'fast-check'
import type { Logger } from '../../lib/logger.ts'

// ---------------------------------------------------------------- socket

export class FrameSocket {
  /** Every frame received, as text, in order. */
  readonly texts: string[] = []
  closed: { code: number; reason: string } | undefined
  private waiters = new Set<() => void>()

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.texts.push(data.toString('utf8'))
      this.wake()
    })
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() }
      this.wake()
    })
    ws.on('error', () => {
      // Reported through `closed`.
    })
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<FrameSocket> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024, ...options })
    const s = new FrameSocket(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    })
    return s
  }

  /** JSON values of the frames from index `from` on (unparseable ones as the symbol NOT_JSON). */
  parsed(from = 0): unknown[] {
    return this.texts.slice(from).map((t) => {
      try {
        return JSON.parse(t) as unknown
      } catch {
        return NOT_JSON
      }
    })
  }

  send(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary })
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN && this.closed === undefined
  }

  /** Wait until `done()` holds (woken by frames and the close), failing after `timeoutMs`. */
  async until(done: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    if (done()) return
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (done()) {
          cleanup()
          resolve()
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last frames: ${this.texts.slice(-3).join(' | ').slice(0, 600)}; closed: ${JSON.stringify(this.closed)}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        this.waiters.delete(check)
      }
      this.waiters.add(check)
    })
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate()
  }

  private wake(): void {
    for (const w of [...this.waiters]) w()
  }
}

export const NOT_JSON = Symbol('not JSON')

// ---------------------------------------------------------------- logger

export interface LoggedLine {
  level: string
  message: string
  context?: Record<string, unknown>
  error?: string
}

/** A Logger that keeps warn and error lines (with the error's stack): fuzz tests assert no error was logged. */
export function keepingLogger(): Logger & { lines: LoggedLine[]; errors(): LoggedLine[] } {
  const lines: LoggedLine[] = []
  const make = (): Logger => {
    const push =
      (level: string) =>
      (message: string, context?: Record<string, unknown>, error?: unknown): void => {
        if (level !== 'warn' && level !== 'error') return
        const line: LoggedLine = { level, message }
        if (context) line.context = context
        if (error !== undefined) line.error = error instanceof Error ? (error.stack ?? error.message) : String(error)
        lines.push(line)
      }
    return { level: 'warn', debug: () => undefined, info: () => undefined, warn: push('warn'), error: push('error'), child: () => make() }
  }
  return Object.assign(make(), { lines, errors: () => lines.filter((l) => l.level === 'error') })
}

// ---------------------------------------------------------------- arbitraries

/** Values that break schemas: wrong types, unsafe and non-finite numbers, odd strings, nesting. */
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(2 ** 53, 2 ** 53 + 2, -1, 0, -0, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 31, 2 ** 32, 2 ** 64),
  fc.string({ maxLength: 40 }),
  fc.string({ maxLength: 20, unit: 'binary' }),
  fc.constantFrom('', '0x', '0x' + 'f'.repeat(130), 'enode://', '__proto__', 'constructor', 'toString', 'x'.repeat(300), '\u0000', '\ud800', 'host', 'client', 'peer', 'rpc', '1337'),
  fc.array(fc.integer(), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.integer(), { maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
)

/** One mutation of a JSON value, applied by `mutateValue`; `pick` chooses the path deterministically. */
export type ValueMutation =
  | { op: 'replace'; pick: number; value: unknown }
  | { op: 'delete'; pick: number }
  | { op: 'add'; pick: number; key: string; value: unknown }
  | { op: 'nest'; pick: number; depth: number; kind: 'array' | 'object' }
  | { op: 'stringify'; pick: number }

export const valueMutation: fc.Arbitrary<ValueMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('replace' as const), pick: fc.nat(), value: weirdValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      pick: fc.nat(),
      key: fc.oneof(fc.constantFrom('constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'then', 'result', 'error', 'id', 'method'), fc.string({ maxLength: 10 })),
      value: weirdValue,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('nest' as const), pick: fc.nat(), depth: fc.integer({ min: 2, max: 2_000 }), kind: fc.constantFrom('array' as const, 'object' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('stringify' as const), pick: fc.nat() }) },
)

type Path = (string | number)[]

/** Every path into `value`, down to a depth of 32 (deeper parts of nested mutations are left alone). */
function paths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix)
  if (prefix.length >= 32) return out
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out))
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out)
  return out
}

function getAt(root: unknown, path: Path): unknown {
  let v: any = root
  for (const k of path) v = v?.[k]
  return v
}

function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value
  const parent: any = getAt(root, path.slice(0, -1))
  if (typeof parent === 'object' && parent !== null) Object.defineProperty(parent, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true })
  return root
}

function nest(depth: number, kind: 'array' | 'object', inner: unknown): unknown {
  let v = inner
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v }
  return v
}

/** Apply mutations to a deep copy of `value`. */
export function mutateValue(value: unknown, mutations: readonly ValueMutation[]): unknown {
  let root = structuredClone(value)
  // JSON.stringify recurses: keep the added nesting well under V8's stack (deeper frames are built as text).
  let nestBudget = 2_500
  for (const m of mutations) {
    const all = paths(root)
    const path = all[m.pick % all.length]!
    const here = getAt(root, path)
    switch (m.op) {
      case 'replace':
        root = setAt(root, path, structuredClone(m.value))
        break
      case 'delete': {
        if (path.length === 0) break
        const parent: any = getAt(root, path.slice(0, -1))
        const key = path[path.length - 1]!
        if (Array.isArray(parent)) parent.splice(Number(key), 1)
        else if (parent && typeof parent === 'object') delete parent[key]
        break
      }
      case 'add':
        // defineProperty makes even "constructor" an own, enumerable member that JSON.stringify writes out.
        if (typeof here === 'object' && here !== null && !Array.isArray(here)) Object.defineProperty(here, m.key, { value: structuredClone(m.value), enumerable: true, writable: true, configurable: true })
        else if (Array.isArray(here)) here.push(structuredClone(m.value))
        else root = setAt(root, path, { [m.key]: structuredClone(m.value) })
        break
      case 'nest': {
        const depth = Math.min(m.depth, nestBudget)
        nestBudget -= depth
        root = setAt(root, path, nest(depth, m.kind, here))
        break
      }
      case 'stringify':
        root = setAt(root, path, JSON.stringify(here) ?? 'undefined')
        break
    }
  }
  return root
}

/** Byte- and text-level damage to an encoded frame. */
export type TextMutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'protoKey'; key: '__proto__' | 'constructor' | 'prototype'; value: string }
  | { op: 'duplicateKey'; key: 'id' | 'method' | 'params' | 'jsonrpc'; value: string }
  | { op: 'hugeNumber'; pick: number; number: string }

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(',', '{', '}', '[', ']', '"', '\\', ':', 'null', '\\u0000', '\\ud800')) }),
  fc.record({
    op: fc.constant('protoKey' as const),
    key: fc.constantFrom('__proto__' as const, 'constructor' as const, 'prototype' as const),
    value: fc.constantFrom('{"isAdmin":true}', '{"jsonrpc":"2.0","method":"vipnode_connect"}', 'null', '1', '"x"', '[]', '{"__proto__":{"role":"host"}}'),
  }),
  fc.record({ op: fc.constant('duplicateKey' as const), key: fc.constantFrom('id' as const, 'method' as const, 'params' as const, 'jsonrpc' as const), value: fc.constantFrom('1', '"1"', 'null', '"vipnode_connect"', '{}', '"2.0"', '[1]') }),
  fc.record({ op: fc.constant('hugeNumber' as const), pick: fc.nat(), number: fc.constantFrom('1e999', '-1e999', '123456789012345678901234567890', '9007199254740993', '1.0000000000000002', '-0', '1E+2', '0.1e-400') }),
)

/** Apply text mutations; the result is bytes because flips may break UTF-8. */
export function mutateText(text: string, mutations: readonly TextMutation[]): Buffer {
  let buf = Buffer.from(text, 'utf8')
  for (const m of mutations) {
    switch (m.op) {
      case 'flip':
        if (buf.length > 0) {
          const i = m.at % buf.length
          buf[i] = buf[i]! ^ (1 << m.bit)
        }
        break
      case 'truncate':
        buf = buf.subarray(0, m.at % (buf.length + 1))
        break
      case 'insert': {
        const i = m.at % (buf.length + 1)
        buf = Buffer.concat([buf.subarray(0, i), Buffer.from(m.text, 'utf8'), buf.subarray(i)])
        break
      }
      case 'protoKey':
      case 'duplicateKey': {
        // Into the first object of the frame and, when there is one, into params too.
        let s = buf.toString('utf8')
        const member = `"${m.key}":${m.value},`
        s = s.replace(/^\s*\{/, (brace) => `${brace}${member}`)
        s = s.replace(/"params":\{/, (head) => `${head}${member}`)
        buf = Buffer.from(s, 'utf8')
        break
      }
      case 'hugeNumber': {
        const s = buf.toString('utf8')
        const numbers = [...s.matchAll(/(?<=[:,[]\s*)-?\d+(\.\d+)?([eE][+-]?\d+)?(?=\s*[,}\]])/g)]
        if (numbers.length === 0) break
        const hit = numbers[m.pick % numbers.length]!
        buf = Buffer.from(s.slice(0, hit.index) + m.number + s.slice(hit.index! + hit[0].length), 'utf8')
        break
      }
    }
  }
  return buf
}

/** Whether these bytes decode as UTF-8 without replacement (the ws server closes text frames that do not with 1007). */
export function isValidUtf8(buf: Buffer): boolean {
  return isUtf8(buf)
}
