/**
 * The coordinator's configuration: one zod schema, defaults in code. The CLI
 * maps flags and VIPNODE_* environment variables onto it.
 */
import { z } from 'zod'

export const coordinatorConfigSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** SQLite file; ':memory:' for a throwaway pool. */
    db: z.string().default('./data/vipnode.db'),
    /** Identifies this pool in every signature; generated once and kept in the store when not set. */
    poolId: z.string().min(1).max(64).optional(),
    /** When set, agents on other chains are refused with WRONG_NETWORK. */
    chainId: z.number().int().positive().optional(),
    /** How often agents report; also the grace period before a vanished agent's assignments are released. */
    updateIntervalMs: z.number().int().positive().default(30_000),
    /** How long an issued challenge stays valid, and how long a socket may stay unauthenticated. */
    challengeTtlMs: z.number().int().positive().default(30_000),
    /** Frames above this size get PAYLOAD_TOO_LARGE; frames above 4x are cut off by the socket. */
    maxFrameBytes: z.number().int().positive().default(1024 * 1024),
    /** Token bucket per socket: sustained frames per second, and the burst allowed. */
    rateLimitPerSecond: z.number().positive().default(20),
    rateLimitBurst: z.number().int().positive().default(60),
    /** How long a host has to acknowledge vipnode_admit. */
    admitTimeoutMs: z.number().int().positive().default(5_000),
    /** Further rounds of admissions on other hosts when some refuse or time out (0: ask once). */
    admitRetries: z.number().int().min(0).max(5).default(1),
    /** Hosts more than this many blocks behind the pool's best head get no new clients, and lose theirs if it lasts. */
    maxBlockLag: z.number().int().min(0).max(1_000_000).default(8),
    /** Host region preferred for clients that declare none (and for GET /v1/bootstrap without ?region). */
    region: z.string().min(1).max(32).optional(),
    /**
     * Agent sockets one remote address may hold open before authenticating; further upgrades from it are
     * refused with HTTP 429 (connection-flood limit). Authenticated sockets do not count.
     */
    maxPendingSocketsPerAddress: z.number().int().positive().default(1024),
    /** How often sockets are pinged; a socket that misses one ping is closed (half-open detection). */
    pingIntervalMs: z.number().int().positive().default(30_000),
    /** rpc service: relay tokens live one to two of these windows; agents pick up fresh ones with every report. */
    relayTokenWindowMs: z.number().int().min(1_000).default(600_000),
    /** Price per host-minute in wei; 0 makes a free pool that serves every client. */
    priceWeiPerMinute: z.bigint().nonnegative().default(0n),
    /** One-time credit for each new client node, in wei. */
    trialWei: z.bigint().nonnegative().default(0n),
    /** A paying client below this balance is not served (and is evicted). */
    minBalanceWei: z.bigint().nonnegative().default(0n),
    /** Where clients top up; sent in low-balance notices. */
    topupUrl: z.string().url().optional(),
    /** Epoch length: revenue is split among hosts at each epoch end. */
    epochMs: z.number().int().positive().default(86_400_000),
    /** Pool fee in basis points of each epoch's revenue. */
    feeBps: z.number().int().min(0).max(10_000).default(0),
    feeAddress: z.string().regex(/^0x[0-9a-fA-F]{40}$/).optional(),
    /** On-chain settlement: the chain's JSON-RPC URL, the payout contract and the operator's key file. */
    chainRpc: z.string().url().optional(),
    contract: z.string().regex(/^0x[0-9a-fA-F]{40}$/).optional(),
    operatorKey: z.string().optional(),
    operatorPasswordFile: z.string().optional(),
    /** Deposits are credited once this many blocks deep. */
    confirmations: z.number().int().min(0).max(1_000).default(12),
    chainPollMs: z.number().int().positive().default(15_000),
    /** The secret ethstats reporters log in to the tracker at /api with; without it the tracker refuses every login. */
    ethstatsSecret: z.string().min(1).optional(),
    /** Bearer token for the admin API; without it the admin API is off. */
    adminToken: z.string().min(16).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict()
  .refine((c) => !c.chainRpc || (c.contract && c.operatorKey), { message: '--chain-rpc needs --contract and --operator-key', path: ['chainRpc'] })

export type CoordinatorConfig = z.output<typeof coordinatorConfigSchema>
export type CoordinatorConfigInput = z.input<typeof coordinatorConfigSchema>

export const defaultCoordinatorConfig: CoordinatorConfig = coordinatorConfigSchema.parse({})
