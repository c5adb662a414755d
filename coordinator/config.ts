/**
 * The coordinator's configuration: one zod schema with the defaults (a module's
 * own constant where the module also needs it), and beside it the table of
 * flags (`coordinatorOptions`) that `vipnode coordinator` is built from.
 */
import { z } from 'zod'
import { isIP } from 'node:net'
import { normaliseAddress } from './server/clientAddress.ts'
import { DEFAULT_ADMIT_RETRIES, DEFAULT_MAX_BLOCK_LAG, DEFAULT_SLOW_START_SLOTS } from './services/assignments.ts'
import { DEFAULT_UPDATE_INTERVAL_MS, MAX_HOSTS_PER_REQUEST } from '../protocol/index.ts'
import { DEFAULT_LOG_LEVEL, LOG_LEVELS } from '../lib/logger.ts'
import { defineOptions, duration, durationOrOff, flag, hostPort, integer, list, oneOf, positiveNumber, text, wei } from '../lib/cliOptions.ts'
import { DEFAULT_LOGIN_RATE } from './server/socketGate.ts'
import { DEFAULT_RELAY_CU_RATE } from '../protocol/costTable.ts'

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
    updateIntervalMs: z.number().int().positive().default(DEFAULT_UPDATE_INTERVAL_MS),
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
    admitRetries: z.number().int().min(0).max(5).default(DEFAULT_ADMIT_RETRIES),
    /** Hosts more than this many blocks behind the pool's best head get no new clients, and lose theirs if it lasts. */
    maxBlockLag: z.number().int().min(0).max(1_000_000).default(DEFAULT_MAX_BLOCK_LAG),
    /**
     * A new pair must corroborate (both sides report each other) within this long, and a corroborated pair
     * again within 2.5 update intervals, or it is released as disputed. Default: three update intervals, at least 15 s.
     */
    connectGraceMs: z.number().int().positive().optional(),
    /** Slow start: the slots a host serving nobody yet is offered, growing by two per client it serves; 0 turns it off. */
    slowStartSlots: z.number().int().min(0).max(1_000_000).default(DEFAULT_SLOW_START_SLOTS),
    /** The most hosts one client may hold at a time (admissions in flight included). */
    maxHostsPerClient: z.number().int().min(1).max(MAX_HOSTS_PER_REQUEST).default(MAX_HOSTS_PER_REQUEST),
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
    /**
     * Agent logins started per second, in bursts of loginBurst (coordinator/server/socketGate.ts). Beyond it an
     * upgrade gets HTTP 503 with the slot to come back at (Retry-After, X-Vipnode-Retry-After-Ms and a slot token
     * the agent presents then): a restarted pool takes its agents back in order instead of all at once.
     */
    loginRate: z.number().int().positive().default(DEFAULT_LOGIN_RATE),
    loginBurst: z.number().int().positive().default(DEFAULT_LOGIN_RATE),
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
    /** rpc service: price per corroborated compute unit in wei, instead of or as well as --price; the epoch split then follows what clients paid each host. */
    pricePerCuWei: z.bigint().nonnegative().default(0n),
    /**
     * With --price-per-cu: compute units per second a client must be able to pay each rpc host it holds, for one
     * update interval, to be given hosts (coordinator/logic/affordableHosts.ts). Default: the relay's default rate.
     */
    holdCuRate: z.number().int().min(1).max(100_000_000).default(DEFAULT_RELAY_CU_RATE),
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
     * A file of per-node tracker secrets, `name:secret` or `name:secret:nodeId` per line (# comments and blank lines
     * allowed), read at start and again on SIGHUP. A listed name logs in only with its own secret; unlisted names use
     * ethstatsSecret, if set. Only a name bound to a node ID proves it (tracker/secretsFile.ts, docs/tracker.md).
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
    /**
     * NATS server the replicas of one pool talk through (docs/cluster.md): the host directory, admissions on
     * another replica's host, forwarded client reports. Only with a PostgreSQL --db. Unset: this coordinator runs alone.
     */
    nats: z.string().refine((u) => URL.canParse(u) && /^(nats|tls|wss?):\/\//.test(u), { message: 'must be a nats://, tls://, ws:// or wss:// URL' }).optional(),
    /** Serve /metrics on this separate host:port only (and no longer on the public port). */
    metricsListen: z.object({ host: z.string(), port: z.number().int().min(0).max(65535) }).optional(),
    logLevel: z.enum(LOG_LEVELS).default(DEFAULT_LOG_LEVEL),
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
  // A SQLite file belongs to one process: replicas must share a database, so a bus between SQLite coordinators
  // would have each bill its own copy of the pool.
  .refine((c) => !c.nats || /^postgres(?:ql)?:\/\//i.test(c.db), { message: '--nats needs a PostgreSQL --db (postgres://…): replicas share one database, and a SQLite file belongs to one coordinator', path: ['nats'] })
  // On chain, trial money would be paid out of other clients' deposits (or stop roots from being posted).
  .refine((c) => !c.chainRpc || c.trialWei === 0n || c.trialBudgetPerEpochWei !== undefined, {
    message: '--trial with --chain-rpc needs --trial-budget-per-epoch and a trial budget funded with vipnode credit --trial-budget',
    path: ['trialWei'],
  })

export type CoordinatorConfig = z.output<typeof coordinatorConfigSchema>
export type CoordinatorConfigInput = z.input<typeof coordinatorConfigSchema>

export const defaultCoordinatorConfig: CoordinatorConfig = coordinatorConfigSchema.parse({})

/**
 * `vipnode coordinator`'s flags, one per key of the schema (each also read from
 * VIPNODE_<FLAG>). Defaults come from the schema above; --help, --print-config
 * and the README check are built from this table.
 */
export const coordinatorOptions = defineOptions(coordinatorConfigSchema, {
  host: { flags: '--host <address>', description: 'interface to listen on', parser: text },
  port: { flags: '--port <port>', description: 'TCP port to listen on (0 picks a free one)', parser: integer(0, 65535) },
  db: { flags: '--db <file|url>', description: "SQLite database file (':memory:' for a throwaway pool), or a postgres:// URL", parser: text },
  poolId: { flags: '--pool-id <id>', description: 'pool identity bound into every signature (default: generated once, kept in the database)', parser: text },
  chainId: { flags: '--chain-id <id>', description: 'only accept nodes on this chain', parser: integer(1, Number.MAX_SAFE_INTEGER) },
  updateIntervalMs: { flags: '--update-interval <duration>', description: 'how often agents report peers', parser: duration },
  challengeTtlMs: { flags: '--challenge-ttl <duration>', description: 'how long a socket may take to authenticate', parser: duration },
  maxFrameBytes: { flags: '--max-frame-bytes <n>', description: 'largest agent frame accepted', parser: integer(1024, 64 * 1024 * 1024) },
  rateLimitPerSecond: { flags: '--rate-limit <perSecond>', description: 'frames per second allowed per socket', parser: positiveNumber },
  rateLimitBurst: { flags: '--rate-burst <n>', description: 'burst of frames allowed per socket', parser: integer(1, 1_000_000) },
  admitTimeoutMs: { flags: '--admit-timeout <duration>', description: 'how long a host has to acknowledge an admission', parser: duration },
  admitRetries: { flags: '--admit-retries <n>', description: 'further rounds on other hosts when admissions fail (0: ask once)', parser: integer(0, 5) },
  maxBlockLag: { flags: '--max-block-lag <blocks>', description: "hosts further behind the pool's best head get no new clients, and lose theirs if it lasts", parser: integer(0, 1_000_000) },
  connectGraceMs: {
    flags: '--connect-grace <duration>',
    description: 'how long a new pair has to corroborate before it is released as disputed (default: 3 update intervals, at least 15s)',
    parser: duration,
  },
  slowStartSlots: { flags: '--slow-start-slots <n>', description: 'slots offered to a host that serves nobody yet; two more per client it serves (0: off)', parser: integer(0, 1_000_000) },
  maxHostsPerClient: { flags: '--max-hosts-per-client <n>', description: 'most hosts one client may hold at a time', parser: integer(1, MAX_HOSTS_PER_REQUEST) },
  region: { flags: '--region <name>', description: 'host region preferred for clients that declare none', parser: text },
  maxPendingSocketsPerAddress: {
    flags: '--max-pending-per-address <n>',
    description: 'agent sockets one address may hold open before authenticating (HTTP 429 beyond)',
    parser: integer(1, 1_000_000),
  },
  maxPendingSockets: {
    flags: '--max-pending-sockets <n>',
    description: 'agent (and tracker) sockets waiting to authenticate, all addresses together (HTTP 503 beyond)',
    parser: integer(1, 10_000_000),
  },
  loginRate: {
    flags: '--login-rate <n>',
    description: 'agent logins started per second; more are told when to come back (HTTP 503 with a slot)',
    parser: integer(1, 1_000_000),
  },
  loginBurst: { flags: '--login-burst <n>', description: 'agent logins admitted at once before --login-rate applies', parser: integer(1, 1_000_000) },
  maxAgentsPerAddress: {
    flags: '--max-agents-per-address <n>',
    description: 'authenticated agent (and tracker) sockets one address or IPv6 /64 may hold (login refused beyond)',
    parser: integer(1, 10_000_000),
  },
  maxPreAuthFrameBytes: {
    flags: '--max-preauth-frame-bytes <n>',
    description: 'largest frame before vipnode_connect succeeds (the socket is closed with 1009 beyond)',
    parser: integer(4096, 1024 * 1024),
  },
  trustProxy: {
    flags: '--trust-proxy <addresses>',
    description: 'reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are believed; per-address limits then count the forwarded client',
    parser: list,
  },
  pingIntervalMs: { flags: '--ping-interval <duration>', description: 'WebSocket ping interval (half-open detection)', parser: duration },
  relayTokenWindowMs: { flags: '--relay-token-window <duration>', description: 'rpc service: relay tokens live one to two windows', parser: duration },
  priceWeiPerMinute: {
    flags: '--price <amount>',
    description: 'price per host-minute: wei, or 100 gwei, 0.001 ether (0: a free pool that serves everyone)',
    parser: wei,
  },
  pricePerCuWei: {
    flags: '--price-per-cu <amount>',
    description: 'rpc service: price per corroborated compute unit (wei, or 1 gwei …), instead of or as well as --price; the split then follows what clients paid each host',
    parser: wei,
  },
  holdCuRate: {
    flags: '--hold-cu-rate <n>',
    description: 'with --price-per-cu: compute units per second a client must be able to pay each rpc host it holds, for one update interval, to be given hosts',
    parser: integer(1, 100_000_000),
  },
  trialWei: { flags: '--trial <amount>', description: 'one-time credit for each new client node', parser: wei },
  minBalanceWei: { flags: '--min-balance <amount>', description: 'paying clients below this are not served', parser: wei },
  topupUrl: { flags: '--topup-url <url>', description: 'where clients top up; sent in low-balance notices with ?node=<id>', parser: text },
  epochMs: { flags: '--epoch <duration>', description: 'settlement period', parser: duration },
  feeBps: { flags: '--fee-bps <n>', description: 'pool fee in basis points of revenue', parser: integer(0, 10_000) },
  feeAddress: { flags: '--fee-address <0x…>', description: 'receives the pool fee (required when --fee-bps > 0)', parser: text },
  chainRpc: { flags: '--chain-rpc <url>', description: 'settle on chain: JSON-RPC URL of the chain with the payout contract', parser: text },
  contract: { flags: '--contract <0x…>', description: 'the VipnodePool contract address', parser: text },
  operatorKey: {
    flags: '--operator-key <file>',
    description: "the contract operator's JSON keystore (password from VIPNODE_OPERATOR_PASSWORD or --operator-password-file)",
    parser: text,
  },
  operatorPasswordFile: { flags: '--operator-password-file <file>', description: 'file holding the keystore password', parser: text },
  confirmations: { flags: '--confirmations <n>', description: 'blocks before a deposit is credited', parser: integer(0, 1_000) },
  chainPollMs: { flags: '--chain-poll <duration>', description: 'how often to read deposits and post roots', parser: duration },
  ethstatsSecret: {
    flags: '--ethstats-secret <secret>',
    description: 'shared secret for nodes reporting with --ethstats name:secret@host:port (tracker at /api)',
    parser: text,
    secret: true,
  },
  ethstatsSecretsFile: {
    flags: '--ethstats-secrets-file <file>',
    description: "per-node tracker secrets, name:secret or name:secret:nodeId per line (read at start and on SIGHUP); a listed name logs in only with its own secret, and only a bound node ID can confirm a host's head",
    parser: text,
  },
  adminToken: {
    flags: '--admin-token <token>',
    description: 'bearer token for the admin API (at least 16 characters; off without it). Visible in the process list: prefer --admin-token-file',
    parser: text,
    secret: true,
  },
  adminTokenFile: { flags: '--admin-token-file <file>', description: 'file whose first line is the admin token', parser: text },
  trialBudgetPerEpochWei: {
    flags: '--trial-budget-per-epoch <amount>',
    description: 'most trial credit granted per epoch, out of the budget funded with vipnode credit --trial-budget (required with --trial and --chain-rpc)',
    parser: wei,
  },
  reportRetentionMs: {
    flags: '--report-retention <duration|off>',
    description: "how long report history, closed sessions and released assignments are kept (the dispute window); 0: only each node's latest report; off: for ever",
    parser: durationOrOff,
  },
  allowPrivateAddresses: {
    flags: '--allow-private-addresses',
    description: 'development only: accept relay URLs and enodes on loopback, private or link-local addresses, and plain http relay URLs (refused otherwise)',
    parser: flag,
  },
  nats: {
    flags: '--nats <url>',
    description: 'NATS server (nats://host:4222) the replicas of this pool talk through: host directory, admissions and reports across replicas; needs a postgres:// --db',
    parser: text,
  },
  metricsListen: { flags: '--metrics-listen <host:port>', description: 'serve /metrics only on this separate address (no longer on the public port)', parser: hostPort() },
  logLevel: { flags: '--log-level <level>', description: LOG_LEVELS.join('|'), parser: oneOf(LOG_LEVELS) },
  publicUrls: {
    flags: '--public-url <url...>',
    description: 'the URL(s) agents dial this pool at, repeatable or comma-separated; logins signed for any other origin are refused (set it in production: behind a proxy the Host header may differ)',
    parser: list,
  },
})
