/**
 * The composition root: the one place that knows the concrete classes. It
 * builds, in order, logger, metrics, store, services, then HTTP and WebSocket
 * on one server; close() tears down in reverse.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { Registry } from 'prom-client'
import { coordinatorConfigSchema, type CoordinatorConfigInput, type CoordinatorConfig } from './config.ts'
import { createCoordinatorMetrics } from './metrics.ts'
import { openSqliteStore } from './store/sqlite/sqliteStore.ts'
import type { Store } from './store/store.ts'
import { SessionRegistry } from './services/sessions.ts'
import { AssignmentService } from './services/assignments.ts'
import { createAgentSocketServer } from './server/agentSocket.ts'
import { createHttpApp } from './server/httpServer.ts'
import type { CoordinatorServices } from './rpc/context.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import { createLogger, type Logger } from '../lib/logger.ts'
import { AGENT_PATH } from '../protocol/index.ts'

export interface CoordinatorOverrides {
  store?: Store
  clock?: Clock
  logger?: Logger
}

export interface RunningCoordinator {
  /** http://host:port */
  url: string
  port: number
  poolId: string
  config: CoordinatorConfig
  services: CoordinatorServices
  registry: Registry
  close(): Promise<void>
}

export async function startCoordinator(input: CoordinatorConfigInput, overrides: CoordinatorOverrides = {}): Promise<RunningCoordinator> {
  const config = coordinatorConfigSchema.parse(input)
  const clock = overrides.clock ?? systemClock
  const log = (overrides.logger ?? createLogger({ level: config.logLevel })).child({ module: 'coordinator' })
  const registry = new Registry()
  const metrics = createCoordinatorMetrics(registry)
  const store = overrides.store ?? openSqliteStore(config.db)

  const leftOpen = await store.closeOpenSessions(clock.now(), 'coordinator restarted')
  const poolId = await resolvePoolId(store, config.poolId)
  const sessions = new SessionRegistry(clock)
  const assignments = new AssignmentService(
    // Agents back off up to 30 s between reconnects; give them that after a restart before releasing anything.
    { admitTimeoutMs: config.admitTimeoutMs, releaseGraceMs: config.updateIntervalMs, startupGraceMs: Math.max(2 * config.updateIntervalMs, 30_000) },
    { store, sessions, clock, log: log.child({ module: 'assignments' }), metrics },
  )
  const restored = await assignments.load()
  const services: CoordinatorServices = { config, poolId, store, sessions, assignments, clock, log, metrics }

  let ready = false
  const agents = createAgentSocketServer(services)
  const app = createHttpApp(services, registry, () => ready)
  const server: Server = createServer(app)
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0]
    if (path === AGENT_PATH) agents.handleUpgrade(req, socket, head)
    else {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const url = `http://${host}:${port}`

  // Release assignments of agents that stayed away longer than the grace period.
  const sweeper = setInterval(
    () => {
      assignments.sweep().catch((err: unknown) => log.error('assignment sweep failed', {}, err))
    },
    Math.max(100, Math.floor(config.updateIntervalMs / 4)),
  )
  sweeper.unref()
  ready = true
  log.info('coordinator listening', { url, poolId, db: overrides.store ? 'custom' : config.db, restoredAssignments: restored, closedStaleSessions: leftOpen })

  let closing: Promise<void> | undefined
  return {
    url,
    port,
    poolId,
    config,
    services,
    registry,
    close() {
      closing ??= (async () => {
        ready = false
        clearInterval(sweeper)
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        await agents.close()
        server.closeAllConnections()
        await stopped
        await store.close()
        log.info('coordinator stopped')
      })()
      return closing
    },
  }
}

async function resolvePoolId(store: Store, configured: string | undefined): Promise<string> {
  if (configured) {
    await store.setMeta('poolId', configured)
    return configured
  }
  const existing = await store.getMeta('poolId')
  if (existing) return existing
  const generated = `pool-${randomBytes(6).toString('hex')}`
  await store.setMeta('poolId', generated)
  return generated
}
