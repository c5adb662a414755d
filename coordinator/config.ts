/**
 * The coordinator's configuration: one zod schema, defaults in code. The CLI
 * maps flags and VIPNODE_* environment variables onto it.
 */
import { z } from 'zod'
import { isIP } from 'node:net'
import { normaliseAddress } from './server/clientAddress.ts'

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
    /**
     * A new pair must corroborate (both sides report each other) within this long, and a corroborated pair
     * again within 2.5 update intervals, or it is released as disputed. Default: three update intervals, at least 15 s.
     */
    connectGraceMs: z.number().int().positive().optional(),
    /** Slow start: the slots a host serving nobody yet is offered, growing by two per client it serves; 0 turns it off. */
    slowStartSlots: z.number().int().min(0).max(1_000_000).default(2),
    /** The most hosts one client may hold at a time (admissions in flight included). */
    maxHostsPerClient: z.number().int().min(1).max(16).default(16),
    /** Host region preferred for clients that declare none (and for GET /v1/bootstrap without ?region). */
    region: z.string().min(1).max(32).optional(),
    /**
     * Agent sockets one remote address may hold open before authenticating; further upgrades from it are
     * refused with HTTP 429 (connection-flood limit). Authenticated sockets do not count.
     */
    maxPendingSocketsPerAddress: z.number().int().positive().default(1024),
    /**
     * Sockets waiting to authenticate, all addresses together (agent sockets and tracker sockets each); further
     * upgrades get HTTP 503 until some authenticate or close.
     */
    maxPendingSockets: z.number().int().positive().default(10_000),
    /** Authenticated sockets one address (IPv4, or IPv6 /64) may hold, agents and tracker reporters each; more are refused at login. */
    maxAgentsPerAddress: z.number().int().positive().default(1024),
    /**
     * Largest frame a socket may send before it authenticates (a vipnode_connect or a tracker hello); a larger one
     * closes the socket with 1009 before it is buffered. After authentication maxFrameBytes applies.
     */
    maxPreAuthFrameBytes: z.number().int().min(4096).max(1024 * 1024).default(16 * 1024),
    /**
     * Reverse proxies whose X-Forwarded-For (client address) and X-Forwarded-Proto are believed. Every
     * per-address limit counts the forwarded client instead of the proxy; anyone else's headers are ignored.
     */
    trustProxy: z.array(z.string().refine((a) => isIP(normaliseAddress(a)) !== 0, { message: 'must be an IP address' })).default([]),
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
    /**
     * A file of per-node tracker secrets, `name:secret` per line (# comments and blank lines allowed), read at start
     * and again on SIGHUP. A listed name logs in only with its own secret; unlisted names use ethstatsSecret, if set.
     */
    ethstatsSecretsFile: z.string().min(1).optional(),
    /** Bearer token for the admin API; without it the admin API is off. */
    adminToken: z.string().min(16).optional(),
    /** A file holding the admin token (first line, trimmed); kept out of the process list, unlike --admin-token. */
    adminTokenFile: z.string().min(1).optional(),
    /**
     * The most trial credit granted in one epoch, drawn from the `trial-budget`
     * ledger account (`vipnode credit --trial-budget`). Without it trials are
     * unbounded, which only an off-chain pool may allow.
     */
    trialBudgetPerEpochWei: z.bigint().positive().optional(),
    /**
     * Report history (and closed sessions, released assignments) older than this is deleted in small batches:
     * the dispute window. 0 keeps no history beyond each node's latest report; null (`off`) keeps it for ever.
     */
    reportRetentionMs: z.number().int().min(0).nullable().default(7 * 86_400_000),
    /**
     * Development only: accept relay URLs and enodes on loopback, private, link-local and other non-public
     * addresses, and plain http relay URLs. Off: such addresses are refused at vipnode_connect.
     */
    allowPrivateAddresses: z.boolean().default(false),
    /** Serve /metrics on this separate host:port only (and no longer on the public port). */
    metricsListen: z.object({ host: z.string(), port: z.number().int().min(0).max(65535) }).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /**
     * The URLs agents dial this coordinator at; a login signed for any other origin is WRONG_ORIGIN. Unset: the
     * Host header each socket arrived with, which a reverse proxy may rewrite, so production pools set this.
     */
    publicUrls: z
      .array(z.string().refine((u) => URL.canParse(u) && /^(https?|wss?):\/\//.test(u), { message: 'must be an http(s):// or ws(s):// URL' }))
      .optional(),
  })
  .strict()
  .refine((c) => !(c.adminToken && c.adminTokenFile), { message: 'give --admin-token or --admin-token-file, not both', path: ['adminTokenFile'] })
  .refine((c) => !c.chainRpc || (c.contract && c.operatorKey), { message: '--chain-rpc needs --contract and --operator-key', path: ['chainRpc'] })
  // On chain, trial money would be paid out of other clients' deposits (or stop roots from being posted).
  .refine((c) => !c.chainRpc || c.trialWei === 0n || c.trialBudgetPerEpochWei !== undefined, {
    message: '--trial with --chain-rpc needs --trial-budget-per-epoch and a trial budget funded with vipnode credit --trial-budget',
    path: ['trialWei'],
  })

export type CoordinatorConfig = z.output<typeof coordinatorConfigSchema>
export type CoordinatorConfigInput = z.input<typeof coordinatorConfigSchema>

export const defaultCoordinatorConfig: CoordinatorConfig = coordinatorConfigSchema.parse({})
