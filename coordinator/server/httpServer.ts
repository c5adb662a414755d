/** The HTTP side: health, public status and metrics. Dashboard and bootstrap routes join here. */
import express, { type Express } from 'express'
import type { Registry } from 'prom-client'
import type { CoordinatorServices } from '../rpc/context.ts'
import { PROTOCOL_VERSION } from '../../protocol/index.ts'
import { VERSION } from '../../lib/packageVersion.ts'
import { payoutRoutes } from './payoutRoutes.ts'
import { bootstrapRoutes } from './bootstrapRoutes.ts'
import { dashboardRoutes } from '../dashboard/routes.ts'
import { trackerFeed } from '../tracker/index.ts'

export interface StatusBody {
  poolId: string
  version: string
  protocolVersion: number
  chainId: number | null
  hostsOnline: number
  clientsOnline: number
  freeSlots: number
  networks: { chainId: number; hostsOnline: number; freeSlots: number }[]
  priceWeiPerHostMinute: string
}

export function status(services: CoordinatorServices): StatusBody {
  const byChain = new Map<number, { hostsOnline: number; freeSlots: number }>()
  for (const h of services.sessions.sessions('host')) {
    const entry = byChain.get(h.chainId) ?? { hostsOnline: 0, freeSlots: 0 }
    entry.hostsOnline++
    entry.freeSlots += Math.max(0, h.capacity - services.assignments.loadOf(h.nodeId))
    byChain.set(h.chainId, entry)
  }
  const networks = [...byChain].map(([chainId, v]) => ({ chainId, ...v })).sort((a, b) => a.chainId - b.chainId)
  return {
    poolId: services.poolId,
    version: VERSION,
    protocolVersion: PROTOCOL_VERSION,
    chainId: services.config.chainId ?? null,
    hostsOnline: services.sessions.count('host'),
    clientsOnline: services.sessions.count('client'),
    freeSlots: networks.reduce((n, x) => n + x.freeSlots, 0),
    networks,
    priceWeiPerHostMinute: services.config.priceWeiPerMinute.toString(),
  }
}

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
  app.use(bootstrapRoutes(services))
  app.use(dashboardRoutes(services)) // GET / (public status page) and /dashboard (admin, behind a login)
  // What nodes report about themselves through ethstats: public, like an ethstats page.
  app.get('/v1/tracker/nodes', (_req, res) => {
    res.json(trackerFeed(services.tracker, services.clock.now()))
  })
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics())
  })
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } })
  })
  return app
}
