/**
 * The composition root: the one place that knows the concrete classes. It
 * builds, in order, logger, metrics, store, services, then HTTP and WebSocket
 * on one server; close() tears down in reverse.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Registry } from 'prom-client'
import { coordinatorConfigSchema, type CoordinatorConfigInput, type CoordinatorConfig } from './config.ts'
import { createCoordinatorMetrics, instrumentStore } from './metrics.ts'
import { describeDb, openStore } from './store/openStore.ts'
import type { Store } from './store/store.ts'
import { SessionRegistry } from './services/sessions.ts'
import { LoginService } from './services/logins.ts'
import { ReportService } from './services/reports.ts'
import { DEFAULT_RETURN_WATCH, ReturnWatch, type ReturnWatchPolicy } from './services/returnWatch.ts'
import { PayoutTrees } from './services/payoutTrees.ts'
import { AssignmentService } from './services/assignments.ts'
import { MeteringService } from './services/metering.ts'
import { Accounts } from './logic/accounts.ts'
import { RefundService } from './services/refunds.ts'
import { SettlementService } from './services/settlement.ts'
import { DisputeService } from './services/disputes.ts'
import { disputePolicyFor } from './logic/disputes.ts'
import { EpochClock } from './services/epochClock.ts'
import { HistoryPruner } from './services/historyPruner.ts'
import { SingletonDuties } from './services/singletonDuties.ts'
import { closeDeadReplicaSessions, replicaLeaseName } from './services/replicaSessions.ts'
import { NatsClusterBus, soloBus, type ClusterBus } from './services/clusterBus.ts'
import { HostDirectory } from './services/hostDirectory.ts'
import { ClusterService } from './services/cluster.ts'
import { ChainService } from './chain/chainService.ts'
import { createTracker, isTrackerPath } from './tracker/index.ts'
import { boundCount, readTrackerSecretsFile } from './tracker/secretsFile.ts'
import { trackerHeadOf } from './tracker/trackerHeads.ts'
import { RelayTokens } from './logic/relayTokens.ts'
import { ChainHeads } from './services/chainHeads.ts'
import { HostQualityService } from './services/hostQuality.ts'
import { qualityPolicyFor, type QualityPolicy } from './logic/hostQuality.ts'
import { answerCheckPolicyFor, type AnswerCheckPolicy } from './logic/checkedAnswers.ts'
import { loadOperatorWallet } from './chain/operatorKey.ts'
import { clientAddressResolver, parseTrustedProxies } from './server/clientAddress.ts'
import { createAgentSocketServer } from './server/agentSocket.ts'
import { createHttpApp, createMetricsApp } from './server/httpServer.ts'
import { closeDashboard } from './dashboard/routes.ts'
import type { CoordinatorServices } from './rpc/context.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import { createLogger, type Logger } from '../lib/logger.ts'
import { AGENT_PATH, isLoopbackHost } from '../protocol/index.ts'
import { secp256k1Implementation } from '../lib/secp256k1.ts'
import type { ResolveName } from '../lib/resolveName.ts'

/** Pending connections the kernel may queue for accept (capped by net.core.somaxconn, 4096 on current Linux). */
const LISTEN_BACKLOG = 4_096

export interface CoordinatorOverrides {
  store?: Store
  clock?: Clock
  logger?: Logger
  /** How relay URL names are checked at connect; default the system resolver (tests: their own DNS responder). */
  resolveName?: ResolveName
  /** The service-quality policy, over the defaults from the update interval (logic/hostQuality.ts qualityPolicyFor); for tests. */
  quality?: Partial<QualityPolicy>
  /** The checked-answers policy, over the defaults from the update interval (logic/checkedAnswers.ts answerCheckPolicyFor); for tests. */
  answers?: Partial<AnswerCheckPolicy>
  /** How the return of the previous run's agents is watched after a start (services/returnWatch.ts); for tests. */
  returnWatch?: ReturnWatchPolicy
}

export interface RunningCoordinator {
  /** http://host:port */
  url: string
  port: number
  /** With --metrics-listen: http://host:port where /metrics is served instead of on the public port. */
  metricsUrl: string | undefined
  poolId: string
  /** This process's replica id (its sessions' rows, its lease, its subjects on the cluster bus). */
  replicaId: string
  config: CoordinatorConfig
  services: CoordinatorServices
  registry: Registry
  /** Present when the coordinator settles on chain. */
  chain: ChainService | undefined
  /** Read --ethstats-secrets-file again (SIGHUP); a bad file is logged and the secrets in force are kept. */
  reloadTrackerSecrets(): boolean
  close(): Promise<void>
}

export async function startCoordinator(input: CoordinatorConfigInput, overrides: CoordinatorOverrides = {}): Promise<RunningCoordinator> {
  const parsedConfig = coordinatorConfigSchema.parse(input)
  // The admin token from its file: kept out of the process list and the environment of child processes.
  const config: CoordinatorConfig = parsedConfig.adminTokenFile ? { ...parsedConfig, adminToken: readAdminTokenFile(parsedConfig.adminTokenFile) } : parsedConfig
  const clock = overrides.clock ?? systemClock
  const log = (overrides.logger ?? createLogger({ level: config.logLevel })).child({ module: 'coordinator' })
  const trustedProxies = parseTrustedProxies(config.trustProxy)
  const clientAddress = clientAddressResolver(trustedProxies)
  const trackerSecrets = config.ethstatsSecretsFile ? readTrackerSecretsFile(config.ethstatsSecretsFile) : undefined
  const registry = new Registry()
  const metrics = createCoordinatorMetrics(registry)
  const store = instrumentStore(overrides.store ?? (await openStore(config.db)), metrics)

  // This process's replica id, held as a lease for its life: siblings sharing the database leave its sessions alone.
  const replicaId = randomUUID()
  const replicaLease = await store.tryLease(replicaLeaseName(replicaId))
  const leftOpen = await closeDeadReplicaSessions(store, { self: replicaId, nowMs: clock.now(), reason: 'coordinator restarted', includeLegacy: true })
  const poolId = await resolvePoolId(store, config.poolId)
  // Replicas talk over NATS (docs/cluster.md); alone, the solo bus answers every request with a refusal.
  let bus: ClusterBus
  try {
    bus = config.nats ? await NatsClusterBus.open({ url: config.nats, poolId, replicaId }, { log: log.child({ module: 'cluster' }), metrics }) : soloBus(replicaId)
  } catch (err) {
    await replicaLease?.release()
    await store.close()
    throw new Error(`--nats ${config.nats}: cannot reach the NATS server (${(err as Error).message})`, { cause: err })
  }
  // A sibling silent for three update intervals is taken for gone, as a host silent that long is stale.
  const directory = new HostDirectory({ selfReplicaId: replicaId, maxAgeMs: 3 * config.updateIntervalMs })
  const relayTokens = new RelayTokens(await relaySecret(store), config.relayTokenWindowMs)
  const sessions = new SessionRegistry(clock)
  const tracker = createTracker(
    {
      ...(config.ethstatsSecret ? { secret: config.ethstatsSecret } : {}),
      ...(trackerSecrets ? { secrets: trackerSecrets } : {}),
      // The same edge limits as /v1/agent, counted separately.
      maxPendingPerAddress: config.maxPendingSocketsPerAddress,
      maxPending: config.maxPendingSockets,
      maxLoggedInPerAddress: config.maxAgentsPerAddress,
      clientAddress,
    },
    { log: log.child({ module: 'tracker' }), clock, metrics: registry },
  )
  // Hosts that miss three reports are stale (below): their heads stop counting toward the best head too.
  const chainHeads = new ChainHeads(sessions, clock, 3 * config.updateIntervalMs, undefined, (now) => directory.hosts(now))
  const disputePolicy = disputePolicyFor(config)
  const epochs = await EpochClock.open(store, config.epochMs, clock.now())
  // rpc hosts' scores from their clients' measures; a host silent for three intervals is down for its uptime, as it is stale.
  const quality = new HostQualityService(
    { policy: { ...qualityPolicyFor(config.updateIntervalMs), ...overrides.quality }, answers: { ...answerCheckPolicyFor(config.updateIntervalMs), ...overrides.answers }, staleAfterMs: 3 * config.updateIntervalMs },
    { clock, log: log.child({ module: 'quality' }), metrics, epochs },
  )
  metrics.setProbationCount(() => quality.onProbation())
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
      corroboratedForMs: disputePolicy.gapMs,
      slowStartSlots: config.slowStartSlots,
      maxHostsPerClient: config.maxHostsPerClient,
    },
    { store, sessions, clock, relayTokens, log: log.child({ module: 'assignments' }), metrics, heads: chainHeads, trackerHeadOf: trackerHeadOf(tracker), quality, directory, bus },
  )
  // Every session still open belongs to a live sibling coordinator (the dead ones' were closed above): its pairs are its own.
  const restored = await assignments.load(new Set((await store.openSessionNodes()).filter((s) => s.replicaId !== replicaId).map((s) => s.nodeId)))
  if (config.chainRpc && config.trialWei > 0n) {
    await requireFundedTrialBudget(store, config.trialWei).catch(async (err: unknown) => {
      await store.close()
      throw err
    })
  }
  const metering = new MeteringService(
    // A report older than two intervals no longer corroborates anything, and a gap counts for at most two intervals.
    { capMs: 2 * config.updateIntervalMs, priceWeiPerMinute: config.priceWeiPerMinute, pricePerCuWei: config.pricePerCuWei, holdCuRate: config.holdCuRate, minBalanceWei: config.minBalanceWei, trialWei: config.trialWei, trialBudgetPerEpochWei: config.trialBudgetPerEpochWei },
    { store, assignments, epochs, clock, log: log.child({ module: 'metering' }), metrics },
  )
  await metering.load()
  assignments.onRelease((clientId, hostId) => metering.forgetPair(clientId, hostId))
  // A pair taken over from a sibling starts its chain afresh: whatever this replica loaded for it at start is stale.
  assignments.onAdopt((clientId, hostId) => metering.forgetPair(clientId, hostId))
  const refunds = new RefundService(
    { poolId, contract: config.contract?.toLowerCase() ?? '', publicUrls: config.publicUrls ?? [] },
    { store, metering, assignments, clock, log: log.child({ module: 'refunds' }), metrics },
  )
  await refunds.load()
  const disputes = new DisputeService(disputePolicy, { assignments, metering, sessions, clock, log: log.child({ module: 'disputes' }), metrics })
  const settlement = new SettlementService({ feeBps: config.feeBps, feeAddress: config.feeAddress, pricePerCuWei: config.pricePerCuWei }, { store, epochs, clock, log: log.child({ module: 'settlement' }), metrics })
  metrics.setStateSizes(() => stateSizes(services))
  // A host's: the directory goes out before the move is announced, so siblings know where the host lives when they hear of it.
  const adoptPairs = async (nodeId: Parameters<AssignmentService['adoptHost']>[0], role: 'host' | 'client') => {
    if (role === 'client') return assignments.adoptClient(nodeId)
    return assignments.adoptHost(nodeId, () => cluster.publish())
  }
  const logins = new LoginService({ config, poolId, replicaId, store, sessions, metering, clock, log, metrics, adoptPairs, ...(overrides.resolveName ? { resolveName: overrides.resolveName } : {}) })
  const reports = new ReportService({ config, store, sessions, assignments, metering, chainHeads, clock, log, metrics, quality, bus })
  const cluster = new ClusterService({ updateIntervalMs: config.updateIntervalMs }, { bus, directory, assignments, reports, sessions, chainHeads, clock, log: log.child({ module: 'cluster' }), metrics })
  await cluster.start()
  const reads = { nodes: store, ledger: store, epochs: store, usage: store, payoutTrees: new PayoutTrees(store) }
  const services: CoordinatorServices = { config, poolId, store, reads, sessions, logins, reports, assignments, metering, refunds, disputes, settlement, epochs, tracker, chainHeads, relayTokens, quality, clock, log, metrics, clientAddress, trustedProxies }

  // Settlement, the chain and retention run on one coordinator of those sharing a database (services/singletonDuties.ts).
  const duties = new SingletonDuties({}, { store, log: log.child({ module: 'duties' }), onChange: (held) => metrics.singletonDuties.set(held ? 1 : 0) })
  await duties.start()

  let chain: ChainService | undefined
  if (config.chainRpc && config.contract && config.operatorKey) {
    const wallet = await loadOperatorWallet(config.operatorKey, config.operatorPasswordFile, (msg) => log.warn(msg))
    chain = new ChainService(
      { chainRpc: config.chainRpc, contract: config.contract, confirmations: config.confirmations, pollMs: config.chainPollMs, txTimeoutMs: 60_000, maxAttempts: 5 },
      { store, wallet, clock, log: log.child({ module: 'chain' }), registry, runs: () => duties.held() },
    )
    await chain.start()
    const started = chain
    services.chainRoots = () => started.rootStatus()
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
    // A restarted pool's agents all dial at once: Node's default accept queue (511) overflowed and the kernel
    // dropped SYNs, which TCP retries only after 1, 3, 7, 15, 31 s (issue 20). The kernel caps this at somaxconn.
    server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  const url = `http://${host}:${port}`
  // --metrics-listen: /metrics on its own address (a private interface, a scraper's network), not on the public port.
  let metricsServer: Server | undefined
  let metricsUrl: string | undefined
  if (config.metricsListen) {
    metricsServer = createServer(createMetricsApp(registry))
    const ms = metricsServer
    await new Promise<void>((resolve, reject) => {
      ms.once('error', reject)
      ms.listen(config.metricsListen!.port, config.metricsListen!.host, () => {
        ms.off('error', reject)
        resolve()
      })
    })
    const mh = config.metricsListen.host.includes(':') ? `[${config.metricsListen.host}]` : config.metricsListen.host
    metricsUrl = `http://${mh}:${(ms.address() as AddressInfo).port}`
  }

  // Release assignments of agents that stayed away longer than the grace period.
  const sweeper = setInterval(
    () => {
      assignments
        .sweep()
        .then(() => disputes.sweep())
        .then(() => {
          // In-memory state of nodes that are gone and hold nothing (docs/security.md, limits).
          metering.prune((id) => !sessions.isOnline(id) && !assignments.holdsAnything(id))
          reports.pruneSiblingClients()
          quality.sweep(clock.now(), (id) => !sessions.isOnline(id) && !assignments.holdsAnything(id))
          chainHeads.prune()
        })
        .catch((err: unknown) => log.error('assignment sweep failed', {}, err))
    },
    Math.max(100, Math.floor(config.updateIntervalMs / 4)),
  )
  sweeper.unref()
  // Settle ended epochs now (catching up after downtime) and then at a tenth of the epoch length, at most every 30 s.
  const settleTick = () => {
    if (!duties.held()) return
    // Sessions of sibling coordinators that died since (their replica lease is free).
    closeDeadReplicaSessions(store, { self: replicaId, nowMs: clock.now(), reason: 'coordinator gone', includeLegacy: false })
      .then((closed) => closed > 0 && log.info('sessions of a gone coordinator closed', { sessions: closed }))
      .catch((err: unknown) => log.error('closing sessions of gone coordinators failed', {}, err))
    settlement
      .settleDue()
      .then(async (settled) => {
        metrics.ledgerImbalance.set(Number(await store.sumAll()))
        if (settled.length > 0) await chain?.tick()
      })
      .catch((err: unknown) => log.error('settlement failed', {}, err))
  }
  settleTick()
  // Report retention: history beyond the dispute window goes, in small batches (services/historyPruner.ts).
  const settledUntilMs = async () => {
    const last = await store.lastSettledEpoch()
    return last === 0 ? 0 : epochs.bounds(last).endMs
  }
  const pruner = config.reportRetentionMs === null ? undefined : new HistoryPruner({ retentionMs: config.reportRetentionMs }, { store, clock, log: log.child({ module: 'retention' }), settledUntilMs, metrics, runs: () => duties.held() })
  pruner?.start()
  const settler = setInterval(settleTick, Math.min(30_000, Math.max(50, Math.floor(config.epochMs / 10))))
  settler.unref()
  // Solo coordinators: how many of the previous run's agents are back (replicas' agents move to siblings instead).
  const agentsOnline = () => sessions.count('host') + sessions.count('client')
  const returnWatch = config.nats ? undefined : await ReturnWatch.open(overrides.returnWatch ?? DEFAULT_RETURN_WATCH, leftOpen, { store, online: agentsOnline, clock, log })
  metrics.previousRunAgents.set(returnWatch?.previousRun ?? 0)
  ready = true
  log.info('coordinator listening', { url, replicaId, secp256k1: secp256k1Implementation, ...(metricsUrl ? { metricsUrl } : {}), poolId, db: overrides.store ? 'custom' : describeDb(config.db), restoredAssignments: restored, closedStaleSessions: leftOpen })
  returnWatch?.start()
  if (trackerSecrets) log.info('tracker per-node secrets loaded', { file: config.ethstatsSecretsFile, names: Object.keys(trackerSecrets).length, boundNodeIds: boundCount(trackerSecrets) })
  if (config.allowPrivateAddresses && !isLoopbackHost(config.host)) {
    // Development mode on a reachable interface: hosts may point clients at loopback and private networks.
    log.warn('--allow-private-addresses is on: hosts may advertise loopback, private and link-local enodes and plain http relays; use it only for development pools')
  }
  if (!config.publicUrls?.length && !isLoopbackHost(config.host)) {
    // The Host header is the dialler's word: a relaying pool can forge it, and behind a proxy it is the proxy's view.
    log.warn('no --public-url: agent logins are checked against the Host header each socket arrived with; set --public-url to the URL agents dial')
  }

  let closing: Promise<void> | undefined
  return {
    url,
    port,
    metricsUrl,
    poolId,
    replicaId,
    config,
    services,
    registry,
    chain,
    reloadTrackerSecrets() {
      if (!config.ethstatsSecretsFile) return false
      try {
        const secrets = readTrackerSecretsFile(config.ethstatsSecretsFile)
        tracker.setSecrets(secrets)
        log.info('tracker secrets reloaded', { file: config.ethstatsSecretsFile, names: Object.keys(secrets).length, boundNodeIds: boundCount(secrets) })
        return true
      } catch (err) {
        log.error('tracker secrets not reloaded: the secrets in force are kept', { file: config.ethstatsSecretsFile }, err)
        return false
      }
    },
    close() {
      closing ??= (async () => {
        ready = false
        returnWatch?.stop()
        // The next start waits for these agents (services/returnWatch.ts); a failed write only loses that view.
        if (returnWatch) await ReturnWatch.noteStop(store, agentsOnline(), clock.now()).catch((err: unknown) => log.warn('agents at stop not recorded', {}, err))
        clearInterval(sweeper)
        clearInterval(settler)
        await pruner?.stop()
        closeDashboard(services)
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        if (metricsServer) {
          const ms = metricsServer
          const metricsStopped = new Promise<void>((resolve) => ms.close(() => resolve()))
          ms.closeAllConnections()
          await metricsStopped
        }
        cluster.stop()
        await agents.close()
        await tracker.close()
        server.closeAllConnections()
        await stopped
        // Let a settlement in progress finish: it is one transaction, but it must not meet a closed store.
        if (duties.held()) await settlement.settleDue().catch(() => undefined)
        await chain?.close()
        // After the sockets: releases of this replica's pairs still reach the siblings; drained, not cut.
        await bus.close()
        await duties.stop()
        await replicaLease?.release()
        await store.close()
        log.info('coordinator stopped')
      })()
      return closing
    },
  }
}

/** Entries per in-memory map keyed by node, pair or chain (vipnode_state_entries). */
export function stateSizes(s: Pick<CoordinatorServices, 'sessions' | 'assignments' | 'metering' | 'chainHeads' | 'quality' | 'reports'>): Record<string, number> {
  return { ...s.sessions.sizes(), ...s.assignments.sizes(), ...s.metering.sizes(), ...s.quality.sizes(), chainHeads: s.chainHeads.size, siblingClients: s.reports.siblingClientCount }
}

/** The admin token file's first line, trimmed; at least 16 characters like --admin-token. */
function readAdminTokenFile(path: string): string {
  const token = (readFileSync(path, 'utf8').split(/\r?\n/)[0] ?? '').trim()
  if (token.length < 16) throw new Error(`--admin-token-file ${path}: the token on its first line must be at least 16 characters`)
  return token
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

/**
 * On chain, trial money must exist: roots promise what the ledger credited,
 * so unfunded trials would be paid out of other clients' deposits (or stop
 * the roots). The config already requires --trial-budget-per-epoch with
 * --trial and --chain-rpc; this refuses to start until the budget holds at
 * least one trial.
 */
async function requireFundedTrialBudget(store: Store, trialWei: bigint): Promise<void> {
  let funded = await store.balanceOf(Accounts.trialBudget)
  for (const balance of (await store.balancesWithPrefix('trial-epoch:')).values()) funded += balance
  if (funded < trialWei) {
    throw new Error(`--trial with --chain-rpc needs a funded trial budget: it holds ${funded} wei, less than one trial (${trialWei} wei); fund it with vipnode credit --db FILE --trial-budget <amount>`)
  }
}
