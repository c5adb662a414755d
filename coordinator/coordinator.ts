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
import { createCoordinatorMetrics, instrumentStore } from './metrics.ts'
import { openSqliteStore } from './store/sqlite/sqliteStore.ts'
import type { Store } from './store/store.ts'
import { SessionRegistry } from './services/sessions.ts'
import { AssignmentService } from './services/assignments.ts'
import { MeteringService } from './services/metering.ts'
import { SettlementService } from './services/settlement.ts'
import { EpochClock } from './services/epochClock.ts'
import { ChainService } from './chain/chainService.ts'
import { createTracker, isTrackerPath } from './tracker/index.ts'
import { trackerHeads } from './tracker/trackerHeads.ts'
import { RelayTokens } from './logic/relayTokens.ts'
import { ChainHeads } from './services/chainHeads.ts'
import { loadOperatorWallet } from './chain/operatorKey.ts'
import { createAgentSocketServer } from './server/agentSocket.ts'
import { createHttpApp } from './server/httpServer.ts'
import { closeDashboard } from './dashboard/routes.ts'
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
  /** Present when the coordinator settles on chain. */
  chain: ChainService | undefined
  close(): Promise<void>
}

export async function startCoordinator(input: CoordinatorConfigInput, overrides: CoordinatorOverrides = {}): Promise<RunningCoordinator> {
  const config = coordinatorConfigSchema.parse(input)
  const clock = overrides.clock ?? systemClock
  const log = (overrides.logger ?? createLogger({ level: config.logLevel })).child({ module: 'coordinator' })
  const registry = new Registry()
  const metrics = createCoordinatorMetrics(registry)
  const store = instrumentStore(overrides.store ?? openSqliteStore(config.db), metrics)

  const leftOpen = await store.closeOpenSessions(clock.now(), 'coordinator restarted')
  const poolId = await resolvePoolId(store, config.poolId)
  const relayTokens = new RelayTokens(await relaySecret(store), config.relayTokenWindowMs)
  const sessions = new SessionRegistry(clock)
  const tracker = createTracker(config.ethstatsSecret ? { secret: config.ethstatsSecret } : {}, { log: log.child({ module: 'tracker' }), clock, metrics: registry })
  const chainHeads = new ChainHeads(sessions, clock)
  const assignments = new AssignmentService(
    // Agents back off up to 30 s between reconnects; give them that after a restart before releasing anything.
    // A host must lag for two update intervals (two reports) before its clients are moved; one that misses three
    // reports in a row (its node hangs: no lag shows on a quiet chain) is stale and loses them too.
    {
      admitTimeoutMs: config.admitTimeoutMs,
      releaseGraceMs: config.updateIntervalMs,
      startupGraceMs: Math.max(2 * config.updateIntervalMs, 30_000),
      maxBlockLag: config.maxBlockLag,
      lagGraceMs: 2 * config.updateIntervalMs,
      staleAfterMs: 3 * config.updateIntervalMs,
      admitRetries: config.admitRetries,
      region: config.region,
    },
    { store, sessions, clock, relayTokens, log: log.child({ module: 'assignments' }), metrics, heads: trackerHeads(tracker, (chainId) => chainHeads.medianOn(chainId), 64) },
  )
  const restored = await assignments.load()
  const epochs = await EpochClock.open(store, config.epochMs, clock.now())
  const metering = new MeteringService(
    // A report older than two intervals no longer corroborates anything, and a gap counts for at most two intervals.
    { capMs: 2 * config.updateIntervalMs, priceWeiPerMinute: config.priceWeiPerMinute, minBalanceWei: config.minBalanceWei, trialWei: config.trialWei },
    { store, assignments, epochs, clock, log: log.child({ module: 'metering' }), metrics },
  )
  await metering.load()
  assignments.onRelease((clientId, hostId) => metering.forgetPair(clientId, hostId))
  const settlement = new SettlementService({ feeBps: config.feeBps, feeAddress: config.feeAddress }, { store, epochs, clock, log: log.child({ module: 'settlement' }), metrics })
  const services: CoordinatorServices = { config, poolId, store, sessions, assignments, metering, settlement, epochs, tracker, chainHeads, relayTokens, clock, log, metrics }

  let chain: ChainService | undefined
  if (config.chainRpc && config.contract && config.operatorKey) {
    const wallet = await loadOperatorWallet(config.operatorKey, config.operatorPasswordFile, (msg) => log.warn(msg))
    chain = new ChainService(
      { chainRpc: config.chainRpc, contract: config.contract, confirmations: config.confirmations, pollMs: config.chainPollMs, txTimeoutMs: 60_000, maxAttempts: 5 },
      { store, wallet, clock, log: log.child({ module: 'chain' }), registry },
    )
    await chain.start()
  }

  let ready = false
  const agents = createAgentSocketServer(services)
  const app = createHttpApp(services, registry, () => ready)
  const server: Server = createServer(app)
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0]
    if (path === AGENT_PATH) agents.handleUpgrade(req, socket, head)
    else if (isTrackerPath(req.url ?? '')) tracker.handleUpgrade(req, socket, head)
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
  // Settle ended epochs now (catching up after downtime) and then at a tenth of the epoch length, at most every 30 s.
  const settleTick = () => {
    settlement
      .settleDue()
      .then(async (settled) => {
        metrics.ledgerImbalance.set(Number(await store.sumAll()))
        if (settled.length > 0) await chain?.tick()
      })
      .catch((err: unknown) => log.error('settlement failed', {}, err))
  }
  settleTick()
  const settler = setInterval(settleTick, Math.min(30_000, Math.max(50, Math.floor(config.epochMs / 10))))
  settler.unref()
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
    chain,
    close() {
      closing ??= (async () => {
        ready = false
        clearInterval(sweeper)
        clearInterval(settler)
        closeDashboard(services)
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        await agents.close()
        await tracker.close()
        server.closeAllConnections()
        await stopped
        // Let a settlement in progress finish: it is one transaction, but it must not meet a closed store.
        await settlement.settleDue().catch(() => undefined)
        await chain?.close()
        await store.close()
        log.info('coordinator stopped')
      })()
      return closing
    },
  }
}

/** A value kept in the store's meta table: read it, or generate it once and keep it. */
async function keptMeta(store: Store, key: string, generate: () => string): Promise<string> {
  const existing = await store.getMeta(key)
  if (existing) return existing
  const generated = generate()
  await store.setMeta(key, generated)
  return generated
}

/** The key relay tokens are derived from: random at first start, then kept, so tokens survive restarts. */
async function relaySecret(store: Store): Promise<Uint8Array> {
  return Buffer.from(await keptMeta(store, 'relaySecret', () => randomBytes(32).toString('hex')), 'hex')
}

async function resolvePoolId(store: Store, configured: string | undefined): Promise<string> {
  if (configured) {
    await store.setMeta('poolId', configured)
    return configured
  }
  return keptMeta(store, 'poolId', () => `pool-${randomBytes(6).toString('hex')}`)
}
