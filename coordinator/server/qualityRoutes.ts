/**
 * rpc service quality for operators (docs/rpcService.md#quality): each host's
 * live score and standing, and its service report per epoch (uptime, calls by
 * outcome, error rate, p50/p99 overall and per method, time on probation),
 * from services/hostQuality.ts. No authentication here: mounted behind the
 * admin bearer token at /v1/admin (payoutRoutes.ts) and behind the dashboard
 * login at /dashboard/api (dashboard/routes.ts).
 *
 * - GET …/quality[?epoch=N]: every host with a report for that epoch (default the running one).
 * - GET …/hosts/:nodeId/quality[?epoch=N]: one host, every kept epoch (the running one and the one before) or one.
 */
import { Router, type Request, type Response } from 'express'
import { parseNodeId, type NodeId } from '../../protocol/index.ts'
import type { CoordinatorServices } from '../rpc/context.ts'

/** `?epoch=N`: undefined when absent, null when malformed (answered 400). */
function epochParam(req: Request, res: Response): number | undefined | null {
  const raw = req.query.epoch
  if (raw === undefined) return undefined
  const n = typeof raw === 'string' && /^[1-9][0-9]{0,15}$/.test(raw) ? Number(raw) : NaN
  if (Number.isSafeInteger(n)) return n
  res.status(400).json({ error: { code: 'INVALID_PARAMS', message: 'epoch must be a positive integer' } })
  return null
}

export function qualityAdminRoutes(services: CoordinatorServices): Router {
  const r = Router()
  r.get('/quality', (req, res) => {
    const asked = epochParam(req, res)
    if (asked === null) return
    const now = services.clock.now()
    const epoch = asked ?? services.epochs.epochOf(now)
    res.json({ epoch, hosts: services.quality.reports(epoch, now) })
  })
  r.get('/hosts/:nodeId/quality', (req, res) => {
    let nodeId: NodeId
    try {
      nodeId = parseNodeId(req.params.nodeId)
    } catch (err) {
      res.status(400).json({ error: { code: 'INVALID_PARAMS', message: (err as Error).message } })
      return
    }
    const epoch = epochParam(req, res)
    if (epoch === null) return
    const report = services.quality.report(nodeId, services.clock.now(), epoch)
    if (!report) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: `nothing is known of the service of host ${nodeId.slice(0, 16)}…: it is not an rpc host this coordinator has seen in the last hour` } })
      return
    }
    res.json(report)
  })
  return r
}
