/**
 * POST /v1/refunds: a client's signed refund request (protocol/refund.ts).
 * HTTP rather than a socket method, so a client that left, or whose node is
 * gone, can still ask, from the CLI or with a signature pasted into the join
 * page. Public and rate-limited per client address (`services.clientAddress`); errors carry the
 * protocol's code names (docs/protocol.md).
 */
import express, { Router } from 'express'
import { originFromHostHeader, parseParams, refundRequestSchema, REFUNDS_PATH, RpcError, type ErrorCodeName } from '../../protocol/index.ts'
import type { CoordinatorServices } from '../rpc/context.ts'
import { AddressRateLimiter } from './rateLimiter.ts'

/** Refunds are rare: a person retrying, not a crawler. */
const RATE_PER_SECOND = 1
const RATE_BURST = 10
const MAX_TRACKED_IPS = 10_000

const STATUS: Partial<Record<ErrorCodeName, number>> = {
  INVALID_PARAMS: 400,
  BAD_SIGNATURE: 401,
  WRONG_ORIGIN: 403,
  WRONG_POOL: 403,
  REPLAY: 409,
  REQUEST_EXPIRED: 400,
  NOTHING_TO_REFUND: 422,
}

export function refundRoutes(services: CoordinatorServices): Router {
  const r = Router()
  const limiter = new AddressRateLimiter(RATE_PER_SECOND, RATE_BURST, () => services.clock.now(), MAX_TRACKED_IPS)
  r.post(REFUNDS_PATH, limiter.middleware(services.clientAddress), express.json({ limit: '4kb', strict: true }), async (req, res) => {
    res.set('Cache-Control', 'no-store')
    try {
      const request = parseParams(refundRequestSchema, req.body, 'refund')
      const reached = originFromHostHeader(req.headers.host, 'encrypted' in req.socket && req.socket.encrypted === true)
      res.json(await services.refunds.request(request, reached))
    } catch (err) {
      if (err instanceof RpcError && err.codeName && STATUS[err.codeName]) {
        res.status(STATUS[err.codeName]!).json({ error: { code: err.codeName, message: err.message, ...(err.data === undefined ? {} : { data: err.data }) } })
        return
      }
      services.log.error('refund failed', {}, err)
      res.status(500).json({ error: { code: 'INTERNAL_ERROR', message: 'internal error' } })
    }
  })
  // Malformed JSON bodies (express.json) end here with a precise message rather than express's HTML page.
  r.use(REFUNDS_PATH, (err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (!err) return next()
    const status = (err as { status?: number }).status ?? 400
    res.status(status).json({ error: { code: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'INVALID_PARAMS', message: `the body must be one JSON object of at most 4 KiB: ${(err as Error).message}` } })
  })
  return r
}
