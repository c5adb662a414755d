/**
 * A stand-in beacon node's REST API, the part consensus light clients read:
 * `/eth/v1/beacon/light_client/{bootstrap/:root, updates, finality_update,
 * optimistic_update}` and `/eth/v1/beacon/headers[/:block_id]`, with
 * deterministic JSON in the beacon API's shapes (`{version, data}` for
 * light-client objects, `{execution_optimistic, finalized, data}` for
 * headers). Two stand-ins at the same slot answer byte for byte the same, so
 * a failover test can compare replies. Every other path answers 404 like a
 * beacon node ({code, message}).
 *
 * `requests` records every request that reached it (method and raw URL): a
 * test asserts that what the relay refuses never shows up here.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'

export interface FakeBeaconOptions {
  host?: string
  port?: number
  /** The head slot (default 8,200,000, period 1001). */
  slot?: number
  /** Fork name in `version` and the Eth-Consensus-Version header (default deneb). */
  fork?: string
}

export interface FakeBeacon {
  readonly url: string
  readonly port: number
  /** Every request that reached this stand-in, in order. */
  readonly requests: { method: string; url: string; accept: string | undefined }[]
  setSlot(slot: number): void
  /** Answer everything with 503, as a beacon node that is syncing or broken. */
  setDown(down: boolean): void
  /** Delay every answer. */
  setSlow(ms: number): void
  close(): Promise<void>
}

const SLOTS_PER_PERIOD = 8192

/** A deterministic 32-byte hex value for a label. */
export function fakeRoot(label: string): string {
  return `0x${createHash('sha256').update(`fake-beacon|${label}`).digest('hex')}`
}

function header(slot: number) {
  return {
    beacon: {
      slot: String(slot),
      proposer_index: String(slot % 1000),
      parent_root: fakeRoot(`block|${slot - 1}`),
      state_root: fakeRoot(`state|${slot}`),
      body_root: fakeRoot(`body|${slot}`),
    },
  }
}

function syncAggregate(slot: number) {
  return { sync_committee_bits: `0x${'ff'.repeat(64)}`, sync_committee_signature: `0x${createHash('sha512').update(`sig|${slot}`).digest('hex')}${'00'.repeat(32)}` }
}

const branch = (label: string, n: number) => Array.from({ length: n }, (_, i) => fakeRoot(`${label}|${i}`))

function committee(period: number) {
  return { pubkeys: Array.from({ length: 4 }, (_, i) => `${fakeRoot(`pk|${period}|${i}`)}${'00'.repeat(16)}`), aggregate_pubkey: `${fakeRoot(`agg|${period}`)}${'00'.repeat(16)}` }
}

export async function startFakeBeacon(options: FakeBeaconOptions = {}): Promise<FakeBeacon> {
  let slot = options.slot ?? 8_200_000
  const fork = options.fork ?? 'deneb'
  let down = false
  let slowMs = 0
  const requests: FakeBeacon['requests'] = []

  const lc = (data: unknown) => ({ status: 200, body: { version: fork, data } })
  const finalizedSlot = () => slot - 64

  function answer(method: string, raw: string): { status: number; body: unknown } {
    const url = new URL(raw, 'http://fake.invalid')
    const p = url.pathname
    if (method !== 'GET') return { status: 405, body: { code: 405, message: `method ${method} not allowed` } }
    const boot = /^\/eth\/v1\/beacon\/light_client\/bootstrap\/(0x[0-9a-f]{64})$/.exec(p)
    if (boot) {
      // Roots of blocks this stand-in "has": any root it made up for a slot near the head; others are unknown.
      const root = boot[1]!
      const at = [...Array(256).keys()].map((k) => finalizedSlot() - k).find((s) => fakeRoot(`block|${s}`) === root)
      if (at === undefined) return { status: 404, body: { code: 404, message: `LC bootstrap unavailable: block ${root} not found` } }
      return lc({ header: header(at), current_sync_committee: committee(Math.floor(at / SLOTS_PER_PERIOD)), current_sync_committee_branch: branch(`csc|${at}`, 5) })
    }
    if (p === '/eth/v1/beacon/light_client/updates') {
      const start = Number(url.searchParams.get('start_period'))
      const count = Number(url.searchParams.get('count'))
      if (!Number.isInteger(start) || !Number.isInteger(count) || count < 1) return { status: 400, body: { code: 400, message: 'invalid start_period or count' } }
      const last = Math.min(start + count - 1, Math.floor(slot / SLOTS_PER_PERIOD))
      const out = []
      for (let period = start; period <= last; period++) {
        const s = Math.min((period + 1) * SLOTS_PER_PERIOD - 1, slot)
        out.push({
          version: fork,
          data: {
            attested_header: header(s),
            next_sync_committee: committee(period + 1),
            next_sync_committee_branch: branch(`nsc|${period}`, 5),
            finalized_header: header(s - 64),
            finality_branch: branch(`fin|${period}`, 6),
            sync_aggregate: syncAggregate(s),
            signature_slot: String(s + 1),
          },
        })
      }
      return { status: 200, body: out }
    }
    if (p === '/eth/v1/beacon/light_client/finality_update') {
      return lc({ attested_header: header(slot - 1), finalized_header: header(finalizedSlot()), finality_branch: branch(`fin|${slot}`, 6), sync_aggregate: syncAggregate(slot), signature_slot: String(slot) })
    }
    if (p === '/eth/v1/beacon/light_client/optimistic_update') {
      return lc({ attested_header: header(slot - 1), sync_aggregate: syncAggregate(slot), signature_slot: String(slot) })
    }
    const h = /^\/eth\/v1\/beacon\/headers(?:\/([^/]+))?$/.exec(p)
    if (h) {
      const id = h[1] ?? 'head'
      const s = id === 'head' ? slot : id === 'finalized' ? finalizedSlot() : id === 'genesis' ? 0 : /^[0-9]+$/.test(id) ? Number(id) : undefined
      if (s === undefined || s > slot) return { status: 404, body: { code: 404, message: `block ${id} not found` } }
      const data = { root: fakeRoot(`block|${s}`), canonical: true, header: { message: header(s).beacon, signature: `0x${'00'.repeat(96)}` } }
      return { status: 200, body: { execution_optimistic: false, finalized: s <= finalizedSlot(), data: h[1] === undefined ? [data] : data } }
    }
    return { status: 404, body: { code: 404, message: `route ${p} not found` } }
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', accept: req.headers.accept })
    req.resume()
    const reply = () => {
      if (res.destroyed) return
      if (down) return void res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 503, message: 'beacon node is syncing' }))
      const { status, body } = answer(req.method ?? '', req.url ?? '/')
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 200 ? { 'eth-consensus-version': fork } : {}) }).end(JSON.stringify(body))
    }
    if (slowMs > 0) setTimeout(reply, slowMs)
    else reply()
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setSlot: (s) => void (slot = s),
    setDown: (d) => void (down = d),
    setSlow: (ms) => void (slowMs = ms),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
