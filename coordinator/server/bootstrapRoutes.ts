/**
 * GET /v1/bootstrap: the load balancer's answer over plain HTTP, as enode
 * URIs, for nodes that run no shim (paste them as static nodes, or feed them
 * to --bootnodes).
 *
 * The caller is not authenticated: it cannot prove it owns `nodeId`. So the
 * answer does not depend on that node's history (no stickiness, no cool-down:
 * it would reveal the node's recent hosts), and this endpoint only previews: it runs the same filters and choice as
 * vipnode_requestHosts but reserves nothing, asks no host to admit anyone and
 * starts no charge. Otherwise anyone could make hosts trust, and the pool bill,
 * a node that is not theirs. The hosts offered have free slots; whether they
 * accept the node as an ordinary peer is up to them. It is rate-limited per IP
 * because every call walks all hosts and lands in the decision log.
 */
import { addressKey } from './clientAddress.ts'
import { Router, type Request } from 'express'
import { DEFAULT_HOSTS_PER_CLIENT, MAX_HOSTS_PER_REQUEST, parseNodeId, type NodeId } from '../../protocol/index.ts'
import type { CoordinatorServices } from '../rpc/context.ts'
import { AddressRateLimiter } from './rateLimiter.ts'

export const BOOTSTRAP_PATH = '/v1/bootstrap'
/** Per IP: one request per second sustained, ten at once. Plenty for a node operator, little for a crawler. */
const RATE_PER_SECOND = 1
const RATE_BURST = 10
/** Buckets kept; beyond it the least recently used IP is forgotten (it gets a full bucket back). */
const MAX_TRACKED_IPS = 10_000

export interface BootstrapQuery {
  count: number
  chainId: number
  nodeId?: NodeId
  region?: string
  format: 'json' | 'text'
}

type Parsed = { ok: true; value: BootstrapQuery } | { ok: false; code: 'INVALID_PARAMS' | 'WRONG_NETWORK'; message: string }

/** Validate the query string; `poolChainId` is the chain the pool is restricted to, if any. Pure. */
export function parseBootstrapQuery(query: Record<string, unknown>, poolChainId: number | undefined, acceptsText: boolean): Parsed {
  const one = (name: string): string | undefined | null => {
    const v = query[name]
    if (v === undefined) return undefined
    return typeof v === 'string' ? v : null
  }
  const bad = (message: string): Parsed => ({ ok: false, code: 'INVALID_PARAMS', message })

  const countText = one('count')
  if (countText === null) return bad('count must be given once')
  const count = countText === undefined ? DEFAULT_HOSTS_PER_CLIENT : /^\d{1,3}$/.test(countText) ? Number(countText) : NaN
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS_PER_REQUEST) return bad(`count must be a whole number from 1 to ${MAX_HOSTS_PER_REQUEST}`)

  const networkText = one('network')
  if (networkText === null) return bad('network must be given once')
  let chainId: number
  if (networkText === undefined) {
    if (poolChainId === undefined) return bad('network is required: the chain id, e.g. network=1 (this pool serves several chains)')
    chainId = poolChainId
  } else {
    chainId = /^\d{1,16}$/.test(networkText) ? Number(networkText) : NaN
    if (!Number.isSafeInteger(chainId) || chainId < 1) return bad('network must be a chain id: a positive whole number, e.g. network=1')
    if (poolChainId !== undefined && chainId !== poolChainId) return { ok: false, code: 'WRONG_NETWORK', message: `this pool serves chain ${poolChainId}, not ${chainId}` }
  }

  const nodeText = one('nodeId')
  if (nodeText === null) return bad('nodeId must be given once')
  let nodeId: NodeId | undefined
  if (nodeText !== undefined) {
    try {
      nodeId = parseNodeId(nodeText)
    } catch {
      return bad('nodeId must be a node ID: 128 hex characters (the 64-byte public key)')
    }
  }

  const region = one('region')
  if (region === null || (region !== undefined && !/^[A-Za-z0-9._-]{1,32}$/.test(region))) return bad('region must be 1 to 32 letters, digits, dots, dashes or underscores')

  const format = one('format')
  if (format === null || (format !== undefined && format !== 'json' && format !== 'text')) return bad('format must be json or text')

  return {
    ok: true,
    value: {
      count,
      chainId,
      ...(nodeId ? { nodeId } : {}),
      ...(region ? { region } : {}),
      format: format ?? (acceptsText ? 'text' : 'json'),
    },
  }
}

export function bootstrapRoutes(services: CoordinatorServices): Router {
  const { assignments, config, clock, log } = services
  const limiter = new AddressRateLimiter(RATE_PER_SECOND, RATE_BURST, () => clock.now(), MAX_TRACKED_IPS)

  const r = Router()
  r.get(BOOTSTRAP_PATH, (req: Request, res) => {
    res.set('Cache-Control', 'no-store')
    // The client's address (X-Forwarded-For only from --trust-proxy: a header anyone can set would make the limit useless), IPv6 per /64.
    if (!limiter.take(addressKey(services.clientAddress(req)))) {
      res.set('Retry-After', '1').status(429).json({ error: { code: 'RATE_LIMITED', message: `at most ${RATE_PER_SECOND} request per second (burst ${RATE_BURST}) per address` } })
      return
    }
    const wantsText = req.accepts(['application/json', 'text/plain']) === 'text/plain'
    const parsed = parseBootstrapQuery(req.query as Record<string, unknown>, config.chainId, wantsText)
    if (!parsed.ok) {
      res.status(400).json({ error: { code: parsed.code, message: parsed.message } })
      return
    }
    const q = parsed.value
    // Anonymous: the preview must not depend on the node's history (stickiness would list its recent hosts to
    // anyone who knows its node ID), so the node ID only keeps the node from being offered to itself.
    const result = assignments.preview({ chainId: q.chainId, count: q.count, kind: 'peer', region: q.region ?? null })
    const enodes = result.hosts.filter((h) => h.nodeId !== q.nodeId).map((h) => h.enode)
    log.debug('bootstrap preview', { chainId: q.chainId, requested: q.count, offered: enodes.length, node: q.nodeId ?? null })
    const status = enodes.length === 0 ? 503 : 200
    if (q.format === 'text') {
      res.status(status).type('text/plain')
      // One enode per line; with none, the reason instead, so a script piping this somewhere fails loudly (503).
      res.send(enodes.length > 0 ? `${enodes.join('\n')}\n` : `${result.message ?? 'no hosts available'}\n`)
      return
    }
    res.status(status).json(result.message ? { hosts: enodes, message: result.message } : { hosts: enodes })
  })
  return r
}
