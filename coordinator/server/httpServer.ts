/** The HTTP side: health, public status and metrics. Dashboard and bootstrap routes join here. */
import express, { type Express } from 'express'
import type { Registry } from 'prom-client'
import type { CoordinatorServices } from '../rpc/context.ts'
import { status } from './status.ts'
import { VERSION } from '../../lib/packageVersion.ts'
import { payoutRoutes } from './payoutRoutes.ts'
import { refundRoutes } from './refundRoutes.ts'
import { bootstrapRoutes } from './bootstrapRoutes.ts'
import { dashboardRoutes } from '../dashboard/routes.ts'
import { joinRoutes } from '../join/routes.ts'
import { trackerFeed } from '../tracker/index.ts'

export function createHttpApp(services: CoordinatorServices, registry: Registry, isReady: () => boolean): Express {
  const app = express()
  app.disable('x-powered-by')
  app.get('/healthz', (_req, res) => {
    const ready = isReady()
    res.status(ready ? 200 : 503).json({ ok: ready, poolId: services.poolId, version: VERSION })
  })
  app.get('/v1/status', (_req, res) => {
    res.json(status(services))
  })
  app.use(payoutRoutes(services))
  app.use(refundRoutes(services)) // POST /v1/refunds: a client's signed refund request
  app.use(bootstrapRoutes(services))
  app.use(joinRoutes(services)) // GET /join (deposits and claims from a browser wallet), /v1/join/config, /v1/nodes/:nodeId
  app.use(dashboardRoutes(services)) // GET / (public status page) and /dashboard (admin, behind a login)
  // What nodes report about themselves through ethstats: public, like an ethstats page.
  app.get('/v1/tracker/nodes', (_req, res) => {
    res.json(trackerFeed(services.tracker, services.clock.now()))
  })
  // With --metrics-listen, /metrics is served only on that address (createMetricsApp) and is a 404 here.
  if (!services.config.metricsListen) app.get('/metrics', metricsHandler(registry))
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } })
  })
  return app
}

function metricsHandler(registry: Registry) {
  return async (_req: express.Request, res: express.Response) => {
    res.type(registry.contentType).send(await registry.metrics())
  }
}

/** The app on --metrics-listen: /metrics and nothing else. */
export function createMetricsApp(registry: Registry): Express {
  const app = express()
  app.disable('x-powered-by')
  app.get('/metrics', metricsHandler(registry))
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } })
  })
  return app
}
