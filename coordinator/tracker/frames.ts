/**
 * The ethstats wire format, parsed leniently and encoded exactly.
 *
 * Every reporter speaks a slightly different dialect of the same protocol
 * (geth sends numbers as strings here, Besu sends hex there, Nethermind spells
 * `os_V`), so every field is read through a tolerant converter and a field
 * that cannot be read becomes null instead of failing the whole frame. Only a
 * field the tracker cannot do without (the id in hello, the number of a block)
 * rejects a payload. Nothing here throws on any input and nothing does I/O.
 */
import { parseEnode, parseNodeId, type NodeId } from '../../protocol/enode.ts'

/** Strings from reporters are cut to this length: they end up in memory, logs and the dashboard. */
export const MAX_TEXT = 256
/** Longest primus heartbeat token echoed back; primus sends a millisecond timestamp. */
export const MAX_HEARTBEAT_TOKEN = 64
/** Longest string `clientTime` echoed verbatim in node-pong (geth's Go time string is ~60 chars). */
export const MAX_CLIENT_TIME = 256
/** Most block numbers one history request may ask for; geth fetches each from disk. */
export const MAX_HISTORY_REQUEST = 1000
/** Most blocks of a history reply kept per node. */
export const MAX_HISTORY_KEPT = 256
/** Most peer node IDs one `peers` frame may carry; the rest are dropped and counted. */
export const MAX_PEERS = 5000

// ---------------------------------------------------------------------------
// Frames

export type Frame =
  | { kind: 'ping'; token: string }
  | { kind: 'pong'; token: string }
  | { kind: 'emit'; topic: string; payload: unknown }
  | { kind: 'invalid'; reason: string }

const PING_PREFIX = 'primus::ping::'
const PONG_PREFIX = 'primus::pong::'

/** One text frame holds one JSON value: a primus heartbeat string or `{"emit":[topic, payload?]}`. */
export function parseFrame(text: string): Frame {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { kind: 'invalid', reason: 'not JSON' }
  }
  if (typeof value === 'string') {
    for (const [prefix, kind] of [
      [PING_PREFIX, 'ping'],
      [PONG_PREFIX, 'pong'],
    ] as const) {
      if (value.startsWith(prefix)) {
        const token = value.slice(prefix.length)
        // The token is echoed back; a long one would let a client make us write what it likes.
        if (token.length > MAX_HEARTBEAT_TOKEN) return { kind: 'invalid', reason: 'heartbeat token too long' }
        return { kind, token }
      }
    }
    return { kind: 'invalid', reason: 'unknown string frame' }
  }
  if (!isRecord(value)) return { kind: 'invalid', reason: 'not an emit object' }
  const emit = value['emit']
  if (!Array.isArray(emit) || emit.length === 0 || typeof emit[0] !== 'string') {
    return { kind: 'invalid', reason: 'not an emit object' }
  }
  return { kind: 'emit', topic: emit[0], payload: emit[1] }
}

/** The only acceptable answer to a good hello; geth compares it field by field and gives up on anything else. */
export const READY_FRAME = '{"emit":["ready"]}'
/** What primus sends before ending a spark; the classic reporters stop reconnecting on it. */
export const SERVER_CLOSE_FRAME = '"primus::server::close"'

export const pingFrame = (nowMs: number): string => JSON.stringify(`${PING_PREFIX}${nowMs}`)
export const pongFrame = (token: string): string => JSON.stringify(`${PONG_PREFIX}${token}`)
export const emitFrame = (topic: string, payload: unknown): string => JSON.stringify({ emit: [topic, payload] })

/** node-pong echoes clientTime exactly as received: geth sends a Go time string, the Node reporter a number. */
export function nodePongFrame(clientTime: string | number | null, serverTimeMs: number): string {
  return emitFrame('node-pong', { clientTime, serverTime: serverTimeMs })
}

/** geth drops the connection unless `list` is an array of JSON numbers, so only that shape is ever sent. */
export function historyRequestFrame(list: readonly number[]): string {
  return emitFrame('history', { list })
}

// ---------------------------------------------------------------------------
// Lenient field converters

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const DECIMAL = /^\d+$/
const HEX = /^0x[0-9a-f]+$/i

/** A non-negative safe integer from a number, a decimal string or a 0x hex string; otherwise undefined. */
export function toSafeInt(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const s = value.trim()
  // Longer strings cannot be safe integers; the cap also keeps parsing cheap.
  if (s.length === 0 || s.length > 20) return undefined
  const n = DECIMAL.test(s) ? Number(s) : HEX.test(s) ? Number.parseInt(s.slice(2), 16) : Number.NaN
  return Number.isSafeInteger(n) ? n : undefined
}

/** A finite non-negative number (fractions allowed) from a number or a decimal/hex string. */
export function toNonNegative(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const s = value.trim()
  if (s.length === 0 || s.length > 32) return undefined
  if (HEX.test(s)) return toSafeInt(s)
  if (!/^\d+(\.\d+)?([eE][+-]?\d+)?$/.test(s)) return undefined
  const n = Number(s)
  return Number.isFinite(n) ? n : undefined
}

/** A big unsigned integer (difficulty, gas price in wei) as a decimal string; JS numbers would lose digits. */
export function toDecimalString(value: unknown): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return undefined
    return Number.isSafeInteger(value) ? String(value) : BigInt(Math.trunc(value)).toString()
  }
  if (typeof value !== 'string') return undefined
  const s = value.trim()
  if (s.length === 0 || s.length > 80) return undefined
  if (DECIMAL.test(s)) return BigInt(s).toString()
  if (HEX.test(s)) return BigInt(s).toString()
  return undefined
}

export function toBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value
  if (value === 'true' || value === 1) return true
  if (value === 'false' || value === 0) return false
  return undefined
}

/** Strings (and numbers, which some reporters send for string fields) cut to a bounded length. */
export function toText(value: unknown, max = MAX_TEXT): string | undefined {
  if (typeof value === 'string') return value.length > max ? value.slice(0, max) : value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

/** The `id` a payload claims; reporters put it in every frame. */
export function payloadId(payload: unknown): string | undefined {
  if (!isRecord(payload)) return undefined
  const id = payload['id']
  if (typeof id === 'string') return id
  if (typeof id === 'number' && Number.isFinite(id)) return String(id)
  return undefined
}

type Result<T> = { ok: true; value: T } | { ok: false; reason: string }
const ok = <T>(value: T): Result<T> => ({ ok: true, value })
const fail = <T>(reason: string): Result<T> => ({ ok: false, reason })

// ---------------------------------------------------------------------------
// hello

export interface NodeInfo {
  /** Display name; defaults to the hello id. */
  name: string
  /** The node software, e.g. "Geth/v1.14.0-stable/linux-amd64/go1.22.2". */
  node: string
  /** The reporter's version (geth always says "0.1.1"). */
  client: string
  os: string
  /** `os_v` (geth, Besu, classic reporter) or `os_V` (Nethermind). */
  osVersion: string
  protocol: string
  /** devp2p listening port; geth sends a number, Besu and the classic reporter may send a string. */
  port: number | null
  api: string
  /** Network id as a string. */
  net: string
  contact: string
  canUpdateHistory: boolean
}

export interface Hello {
  id: string
  secret: string
  info: NodeInfo
  /** The node's public key, from `info.enode` or an id that is itself a key (Besu). */
  nodeId: NodeId | null
  enode: string | null
}

export const MAX_ID = 256

export function parseHello(payload: unknown): Result<Hello> {
  if (!isRecord(payload)) return fail('hello payload is not an object')
  const id = payloadId(payload)
  if (id === undefined || id.length === 0 || id.length > MAX_ID) return fail('hello needs an id of 1 to 256 characters')
  const rawSecret = payload['secret']
  // An absent secret is an empty one: it can only match a tracker configured with "" as its secret.
  const secret = typeof rawSecret === 'string' ? rawSecret : typeof rawSecret === 'number' ? String(rawSecret) : ''
  const raw = isRecord(payload['info']) ? payload['info'] : {}
  const text = (key: string) => toText(raw[key]) ?? ''
  const port = toSafeInt(raw['port'])
  const info: NodeInfo = {
    name: text('name') || id,
    node: text('node'),
    client: text('client'),
    os: text('os'),
    osVersion: toText(raw['os_v']) ?? toText(raw['os_V']) ?? '',
    protocol: text('protocol'),
    port: port !== undefined && port <= 65535 ? port : null,
    api: text('api'),
    net: text('net'),
    contact: text('contact'),
    canUpdateHistory: toBool(raw['canUpdateHistory']) ?? false,
  }
  let nodeId: NodeId | null = null
  let enode: string | null = null
  const enodeText = toText(raw['enode'], 512)
  if (enodeText !== undefined) {
    try {
      nodeId = parseEnode(enodeText).nodeId
      enode = enodeText.trim()
    } catch {
      // A malformed enode is only information lost, not a reason to refuse the node.
    }
  }
  nodeId ??= tryNodeId(id)
  return ok({ id, secret, info, nodeId, enode })
}

function tryNodeId(text: string): NodeId | null {
  try {
    return parseNodeId(text)
  } catch {
    return null
  }
}

// ---------------------------------------------------------------------------
// block, history

export interface BlockReport {
  number: number
  hash: string
  parentHash: string
  timestamp: number | null
  miner: string
  gasUsed: number | null
  gasLimit: number | null
  difficulty: string | null
  totalDifficulty: string | null
  transactionCount: number
  uncleCount: number
}

/** A block as geth (numbers), Besu (hex strings) or Nethermind/classic (numbers and decimal strings) send it. */
export function parseBlock(value: unknown): Result<BlockReport> {
  if (!isRecord(value)) return fail('block is not an object')
  const number = toSafeInt(value['number'])
  if (number === undefined) return fail('block number is not a non-negative integer')
  const lower = (key: string) => (toText(value[key], 80) ?? '').toLowerCase()
  const txs = value['transactions']
  const uncles = value['uncles']
  return ok({
    number,
    hash: lower('hash'),
    parentHash: lower('parentHash'),
    timestamp: toSafeInt(value['timestamp']) ?? null,
    miner: lower('miner'),
    gasUsed: toSafeInt(value['gasUsed']) ?? null,
    gasLimit: toSafeInt(value['gasLimit']) ?? null,
    difficulty: toDecimalString(value['difficulty']) ?? null,
    totalDifficulty: toDecimalString(value['totalDifficulty']) ?? null,
    // Only counted: a block may list thousands of transactions and nothing here needs them.
    transactionCount: Array.isArray(txs) ? txs.length : 0,
    uncleCount: Array.isArray(uncles) ? uncles.length : 0,
  })
}

export function parseBlockPayload(payload: unknown): Result<BlockReport> {
  if (!isRecord(payload)) return fail('block payload is not an object')
  return parseBlock(payload['block'])
}

export interface HistoryEntry {
  number: number
  hash: string
}

/** `{id, history:[blocks]}`; unreadable blocks are skipped, at most MAX_HISTORY_KEPT are kept. */
export function parseHistoryPayload(payload: unknown): Result<{ blocks: HistoryEntry[]; skipped: number }> {
  if (!isRecord(payload)) return fail('history payload is not an object')
  const list = payload['history']
  // The classic reporter sends null history when its node failed to answer.
  if (list === null || list === undefined) return ok({ blocks: [], skipped: 0 })
  if (!Array.isArray(list)) return fail('history is not an array')
  const blocks: HistoryEntry[] = []
  let skipped = 0
  for (const item of list) {
    const parsed = blocks.length < MAX_HISTORY_KEPT ? parseBlock(item) : undefined
    if (parsed?.ok) blocks.push({ number: parsed.value.number, hash: parsed.value.hash })
    else skipped++
  }
  return ok({ blocks, skipped })
}

/** Checks a list of block numbers before it is sent to a reporter as a history request. */
export function validHistoryList(list: readonly unknown[]): list is number[] {
  return list.length <= MAX_HISTORY_REQUEST && list.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)
}

// ---------------------------------------------------------------------------
// stats, pending, latency, node-ping

export interface SyncProgress {
  startingBlock: number | null
  currentBlock: number | null
  highestBlock: number | null
}

export interface StatsReport {
  active: boolean
  /**
   * As reported. Note that geth's ethstats sends `current >= highest`, i.e.
   * true when it is *not* syncing; the load balancer uses block lag instead.
   */
  syncing: boolean
  syncProgress: SyncProgress | null
  mining: boolean
  hashrate: number
  peers: number | null
  gasPrice: string | null
  uptime: number | null
  /** Old reporters put pending and the head block into stats too. */
  pending: number | null
  block: BlockReport | null
}

/** `syncing` is a bool (geth, Besu) or eth_syncing's object (classic reporter, Nethermind). */
export function parseSyncing(value: unknown): { syncing: boolean; progress: SyncProgress | null } {
  const flag = toBool(value)
  if (flag !== undefined) return { syncing: flag, progress: null }
  if (!isRecord(value)) return { syncing: false, progress: null }
  return {
    syncing: true,
    progress: {
      startingBlock: toSafeInt(value['startingBlock']) ?? null,
      currentBlock: toSafeInt(value['currentBlock']) ?? null,
      highestBlock: toSafeInt(value['highestBlock']) ?? null,
    },
  }
}

export function parseStatsPayload(payload: unknown): Result<StatsReport> {
  if (!isRecord(payload)) return fail('stats payload is not an object')
  const stats = payload['stats']
  if (!isRecord(stats)) return fail('stats is not an object')
  const { syncing, progress } = parseSyncing(stats['syncing'])
  const block = 'block' in stats ? parseBlock(stats['block']) : undefined
  return ok({
    // A node that reports stats at all is active unless it says otherwise.
    active: toBool(stats['active']) ?? true,
    syncing,
    syncProgress: progress,
    mining: toBool(stats['mining']) ?? false,
    hashrate: toNonNegative(stats['hashrate']) ?? 0,
    peers: toSafeInt(stats['peers']) ?? null,
    gasPrice: toDecimalString(stats['gasPrice']) ?? null,
    uptime: toNonNegative(stats['uptime']) ?? null,
    pending: toSafeInt(stats['pending']) ?? null,
    block: block?.ok ? block.value : null,
  })
}

/** `{id, stats:{pending}}`; a bare `{id, pending}` is accepted too. */
export function parsePendingPayload(payload: unknown): Result<number> {
  if (!isRecord(payload)) return fail('pending payload is not an object')
  const stats = payload['stats']
  const pending = toSafeInt(isRecord(stats) ? stats['pending'] : payload['pending'])
  return pending === undefined ? fail('pending is not a non-negative integer') : ok(pending)
}

/** Latencies above this (about 3 hours) are nonsense and rejected. */
const MAX_LATENCY_MS = 10_000_000

/** `{id, latency}`: geth sends a decimal string, the others a number. */
export function parseLatencyPayload(payload: unknown): Result<number> {
  if (!isRecord(payload)) return fail('latency payload is not an object')
  const latency = toNonNegative(payload['latency'])
  if (latency === undefined || latency > MAX_LATENCY_MS) return fail('latency is not a non-negative number of milliseconds')
  return ok(latency)
}

/** clientTime to echo: a string or number verbatim, anything else (or too long) as null, like the classic server. */
export function nodePingClientTime(payload: unknown): string | number | null {
  if (!isRecord(payload)) return null
  const t = payload['clientTime']
  if (typeof t === 'string') return t.length <= MAX_CLIENT_TIME ? t : null
  if (typeof t === 'number' && Number.isFinite(t)) return t
  return null
}

// ---------------------------------------------------------------------------
// peers (pool extension)

/**
 * `{id, peers:[nodeId, …]}`: the node IDs of the node's current devp2p peers.
 * IDs are normalised (0x prefix dropped, lower case) and deduplicated; invalid
 * ones and those beyond MAX_PEERS are dropped and counted, not fatal.
 */
export function parsePeersPayload(payload: unknown): Result<{ peers: NodeId[]; invalid: number }> {
  if (!isRecord(payload)) return fail('peers payload is not an object')
  const list = payload['peers']
  if (!Array.isArray(list)) return fail('peers is not an array')
  const seen = new Set<NodeId>()
  let invalid = 0
  for (let i = 0; i < list.length; i++) {
    if (seen.size >= MAX_PEERS) {
      invalid += list.length - i
      break
    }
    const item = list[i]
    const id = typeof item === 'string' && item.length <= 132 ? tryNodeId(item) : null
    if (id) seen.add(id)
    else invalid++
  }
  return ok({ peers: [...seen], invalid })
}
