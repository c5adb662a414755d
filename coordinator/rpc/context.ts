import type { ChainRootStatus } from '../chain/chainService.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorConfig } from '../config.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import type { Store } from '../store/store.ts'
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
import type { AgentConnection, SessionRegistry } from '../services/sessions.ts'

/** The per-socket state the transport keeps for authentication. */
export interface PendingAuth {
  challenge: string
  expiresAtMs: number
  used: boolean
  /** The origin the socket was reached at (Host header), normalised; accepted when no --public-url is set. */
  reachedOrigin: string | undefined
}

export interface ServerConnection extends AgentConnection {
  auth: PendingAuth
  /** The socket is closing or closed: a login still awaiting the store must not attach it (rpc/connect.ts). */
  readonly closed: boolean
}

export interface CoordinatorServices {
  config: CoordinatorConfig
  poolId: string
  store: Store
  sessions: SessionRegistry
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

export type Handler = (params: unknown, conn: ServerConnection, services: CoordinatorServices) => Promise<unknown>
