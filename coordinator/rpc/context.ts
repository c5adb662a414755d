import type { ChainRootStatus } from '../chain/chainService.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorConfig } from '../config.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import type { EpochStore, LedgerStore, NodeStore, ReportStore, Store } from '../store/store.ts'
import type { AssignmentService } from '../services/assignments.ts'
import type { MeteringService } from '../services/metering.ts'
import type { RefundService } from '../services/refunds.ts'
import type { DisputeService } from '../services/disputes.ts'
import type { SettlementService } from '../services/settlement.ts'
import type { EpochClock } from '../services/epochClock.ts'
import type { Tracker } from '../tracker/index.ts'
import type { ChainHeads } from '../services/chainHeads.ts'
import type { RelayTokens } from '../logic/relayTokens.ts'
import type { ClientAddress } from '../server/clientAddress.ts'
import type { SessionRegistry } from '../services/sessions.ts'
import type { LoginConnection, LoginService } from '../services/logins.ts'
import type { ReportService } from '../services/reports.ts'
import type { PayoutTrees } from '../services/payoutTrees.ts'
import type { HostQualityService } from '../services/hostQuality.ts'
import type { z } from 'zod'
import type { AgentMethod, agentToCoordinator } from '../../protocol/index.ts'

export type { PendingAuth } from '../services/logins.ts'

/** The transport's connection: an agent connection with its login state. */
export type ServerConnection = LoginConnection

/**
 * What the HTTP pages (server/, dashboard/, join/) may read: narrow, read-only
 * views of the store. Pages never get the Store itself, so none can write
 * (test/architecture.test.ts holds them to it).
 */
export interface PageReads {
  nodes: Pick<NodeStore, 'getNode' | 'listNodes'>
  ledger: Pick<LedgerStore, 'balanceOf' | 'balancesWithPrefix' | 'sumAll'>
  epochs: Pick<EpochStore, 'latestPayoutEpoch' | 'epochHeaders' | 'getEpoch' | 'epochPayouts'>
  usage: Pick<ReportStore, 'usage'>
  /** Payout proofs from the latest trees, kept loaded (services/payoutTrees.ts). */
  payoutTrees: PayoutTrees
}

export interface CoordinatorServices {
  config: CoordinatorConfig
  poolId: string
  /** For services and the composition root; pages read through `reads`. */
  store: Store
  reads: PageReads
  sessions: SessionRegistry
  /** vipnode_connect: checks a login and opens the session. */
  logins: LoginService
  /** vipnode_update: meters a report and answers whom to keep and drop. */
  reports: ReportService
  assignments: AssignmentService
  metering: MeteringService
  /** Client refunds (POST /v1/refunds) and whether a refunded node may be served again. */
  refunds: RefundService
  /** Releases pairs that do not corroborate in time and cools down the side to blame. */
  disputes: DisputeService
  settlement: SettlementService
  epochs: EpochClock
  /** The ethstats-compatible tracker: heads, latency and peers reported by nodes themselves. */
  tracker: Tracker
  /** Agents' heads per chain, sampled at most once a second (plausibility checks run per report). */
  chainHeads: ChainHeads
  /** rpc service: derives the tokens that let a client use a host's relay. */
  relayTokens: RelayTokens
  /** rpc service: hosts' scores, probation and per-epoch service reports from their clients' measures. */
  quality: HostQualityService
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
  /** On-chain pools: the chain's active and pending roots as of the last poll. */
  chainRoots?: () => ChainRootStatus | undefined
  /** The requester's address for every per-address limit (X-Forwarded-For only from --trust-proxy proxies). */
  clientAddress: ClientAddress
  /** The proxies named in --trust-proxy, normalised. */
  trustedProxies: ReadonlySet<string>
}

/** A handler parses its params, calls one service and shapes the reply its method's result schema describes. */
export type Handler<M extends AgentMethod = AgentMethod> = (params: unknown, conn: ServerConnection, services: CoordinatorServices) => Promise<z.infer<(typeof agentToCoordinator)[M]['result']>>
