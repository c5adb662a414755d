/**
 * The beacon API routes the rpc service relays for consensus light clients
 * (Helios, the Nimbus verified proxy, the Lodestar prover): the light-client
 * sync protocol's REST endpoints and block headers, read-only GETs only.
 * Both ends check every request here: the shim's beacon endpoint refuses
 * before anything leaves the machine, and the host's relay refuses again
 * before anything reaches its beacon node (a client need not use our shim).
 *
 * The path a relay forwards is rebuilt from the parsed parts, never copied:
 * a request that passes carries exactly the route and the known query
 * parameters, with values of the expected shape, and nothing else.
 */

/** Most light-client updates one request may ask for: the spec's MAX_REQUEST_LIGHT_CLIENT_UPDATES. */
export const MAX_LIGHT_CLIENT_UPDATES = 128

/** The prefix a request must have to be a beacon request at all (anything else at a relay is JSON-RPC). */
export const BEACON_PATH_PREFIX = '/eth/'

/** What a refused request gets: an HTTP status and a beacon-API style error body `{code, message}`. */
export interface BeaconRefusal {
  ok: false
  status: number
  message: string
}

export interface BeaconRoute {
  ok: true
  /** The route's name, for logs and costs. */
  route: 'bootstrap' | 'updates' | 'finality_update' | 'optimistic_update' | 'header' | 'headers'
  /** The path and query to forward, rebuilt from the parsed parts. */
  path: string
  /** updates: how many were asked for (the cost scales with it). */
  count?: number
}

const ROOT = /^0x[0-9a-fA-F]{64}$/
const UINT = /^(0|[1-9][0-9]{0,19})$/
/** A block id for headers: a named state, a slot, or a block root. */
const BLOCK_ID = /^(head|genesis|finalized|justified|0|[1-9][0-9]{0,19}|0x[0-9a-fA-F]{64})$/

/** The routes in words, for refusals. */
export const BEACON_ROUTES_TEXT =
  '/eth/v1/beacon/light_client/{bootstrap/<block root>, updates?start_period=<n>&count=<1..128>, finality_update, optimistic_update} and /eth/v1/beacon/headers[/<block id>]'

export function isBeaconPath(rawUrl: string | undefined): boolean {
  return (rawUrl ?? '').startsWith(BEACON_PATH_PREFIX)
}

/** Check one request (its HTTP method and raw URL) against the allowlist: the route to forward, or why not. */
export function checkBeaconRequest(method: string | undefined, rawUrl: string): BeaconRoute | BeaconRefusal {
  let url: URL
  try {
    url = new URL(rawUrl, 'http://beacon.invalid')
  } catch {
    return refuse(400, 'malformed request URL')
  }
  const p = url.pathname
  const route = matchRoute(p)
  if (!route) return refuse(404, `${p.slice(0, 200)} is not relayed by the pool: only the light-client routes ${BEACON_ROUTES_TEXT}`)
  if (method !== 'GET') return refuse(405, `the beacon API is relayed read-only: ${method ?? '?'} ${p} is refused, use GET`)
  const q = url.searchParams
  const allowed = route.query
  for (const name of new Set(q.keys())) {
    if (!allowed.includes(name)) return refuse(400, `query parameter ${JSON.stringify(name.slice(0, 64))} is not relayed for ${p}${allowed.length > 0 ? ` (only ${allowed.join(', ')})` : ''}`)
    if (q.getAll(name).length > 1) return refuse(400, `query parameter ${name} given more than once`)
  }
  switch (route.route) {
    case 'bootstrap':
      if (!ROOT.test(route.arg!)) return refuse(400, `bootstrap needs a block root (0x and 64 hex digits), got ${JSON.stringify(route.arg!.slice(0, 80))}`)
      return { ok: true, route: 'bootstrap', path: `/eth/v1/beacon/light_client/bootstrap/${route.arg!.toLowerCase()}` }
    case 'updates': {
      const start = q.get('start_period')
      const count = q.get('count')
      if (start === null || !UINT.test(start)) return refuse(400, 'updates needs start_period, a sync committee period (a whole number)')
      if (count === null || !UINT.test(count)) return refuse(400, `updates needs count, a whole number from 1 to ${MAX_LIGHT_CLIENT_UPDATES}`)
      const n = Number(count)
      if (n < 1 || n > MAX_LIGHT_CLIENT_UPDATES) return refuse(400, `updates count ${count} is out of range: 1 to ${MAX_LIGHT_CLIENT_UPDATES} per request`)
      return { ok: true, route: 'updates', path: `/eth/v1/beacon/light_client/updates?start_period=${start}&count=${n}`, count: n }
    }
    case 'finality_update':
    case 'optimistic_update':
      return { ok: true, route: route.route, path: `/eth/v1/beacon/light_client/${route.route}` }
    case 'header':
      if (!BLOCK_ID.test(route.arg!)) return refuse(400, `headers needs a block id (head, genesis, finalized, justified, a slot or a block root), got ${JSON.stringify(route.arg!.slice(0, 80))}`)
      return { ok: true, route: 'header', path: `/eth/v1/beacon/headers/${route.arg!.toLowerCase()}` }
    case 'headers': {
      const slot = q.get('slot')
      const parent = q.get('parent_root')
      if (slot !== null && !UINT.test(slot)) return refuse(400, 'headers slot must be a whole number')
      if (parent !== null && !ROOT.test(parent)) return refuse(400, 'headers parent_root must be a block root (0x and 64 hex digits)')
      const query = [...(slot !== null ? [`slot=${slot}`] : []), ...(parent !== null ? [`parent_root=${parent.toLowerCase()}`] : [])]
      return { ok: true, route: 'headers', path: `/eth/v1/beacon/headers${query.length > 0 ? `?${query.join('&')}` : ''}` }
    }
  }
}

function matchRoute(p: string): { route: BeaconRoute['route']; arg?: string; query: string[] } | undefined {
  const lc = '/eth/v1/beacon/light_client/'
  if (p.startsWith(lc)) {
    const rest = p.slice(lc.length)
    const m = /^bootstrap\/([^/]+)$/.exec(rest)
    if (m) return { route: 'bootstrap', arg: m[1]!, query: [] }
    if (rest === 'updates') return { route: 'updates', query: ['start_period', 'count'] }
    if (rest === 'finality_update' || rest === 'optimistic_update') return { route: rest, query: [] }
    return undefined
  }
  if (p === '/eth/v1/beacon/headers') return { route: 'headers', query: ['slot', 'parent_root'] }
  const h = /^\/eth\/v1\/beacon\/headers\/([^/]+)$/.exec(p)
  if (h) return { route: 'header', arg: h[1]!, query: [] }
  return undefined
}

function refuse(status: number, message: string): BeaconRefusal {
  return { ok: false, status, message }
}

/** A beacon-API style error body, as beacon nodes answer errors. */
export function beaconError(status: number, message: string): { code: number; message: string } {
  return { code: status, message }
}

/** Headers passed on from a beacon node's reply (SSZ or JSON, and which fork it is). */
export const BEACON_REPLY_HEADERS = ['content-type', 'eth-consensus-version'] as const

/** The Accept values forwarded to a beacon node; anything else is sent as JSON. */
export function forwardedAccept(accept: string | undefined): string {
  return accept !== undefined && /application\/octet-stream/i.test(accept) ? 'application/octet-stream' : 'application/json'
}

/** Largest beacon reply read (128 updates in JSON are a few MiB): beyond it the host has failed. */
export const MAX_BEACON_REPLY_BYTES = 16 << 20
