/** `vipnode coordinator`: flags and env -> config -> startCoordinator. No wiring here. */
import { Command } from 'commander'
import { formatDuration, parseDuration } from '../lib/duration.ts'
import { opt, parseDurationArg, parseIntArg, parseNumberArg, durationDefault, wrap } from '../lib/cli.ts'
import { createLogger } from '../lib/logger.ts'
import { onGracefulShutdown } from '../lib/shutdown.ts'
import { defaultCoordinatorConfig as d, coordinatorConfigSchema, type CoordinatorConfigInput } from './config.ts'
import { describeZodError, parseAmount } from '../protocol/index.ts'

const parseAmountArg = wrap(parseAmount)
import { parseHostPort } from '../lib/hostPort.ts'
import { startCoordinator } from './coordinator.ts'

export function coordinatorCommand(): Command {
  return new Command('coordinator')
    .description('run the pool coordinator: agent WebSocket, bootstrap, status and metrics on one port')
    .addOption(opt('--host <address>', 'interface to listen on').default(d.host))
    .addOption(opt('--port <port>', 'TCP port to listen on (0 picks a free one)').argParser(parseIntArg(0, 65535)).default(d.port))
    .addOption(opt('--db <file|url>', "SQLite database file (':memory:' for a throwaway pool), or a postgres:// URL").default(d.db))
    .addOption(opt('--pool-id <id>', 'pool identity bound into every signature (default: generated once, kept in the database)'))
    .addOption(opt('--chain-id <id>', 'only accept nodes on this chain').argParser(parseIntArg(1, Number.MAX_SAFE_INTEGER)))
    .addOption(opt('--update-interval <duration>', 'how often agents report peers').argParser(parseDurationArg).default(...durationDefault(d.updateIntervalMs)))
    .addOption(opt('--challenge-ttl <duration>', 'how long a socket may take to authenticate').argParser(parseDurationArg).default(...durationDefault(d.challengeTtlMs)))
    .addOption(opt('--admit-timeout <duration>', 'how long a host has to acknowledge an admission').argParser(parseDurationArg).default(...durationDefault(d.admitTimeoutMs)))
    .addOption(opt('--admit-retries <n>', 'further rounds on other hosts when admissions fail (0: ask once)').argParser(parseIntArg(0, 5)).default(d.admitRetries))
    .addOption(opt('--relay-token-window <duration>', 'rpc service: relay tokens live one to two windows').argParser(parseDurationArg).default(...durationDefault(d.relayTokenWindowMs)))
    .addOption(opt('--max-block-lag <blocks>', "hosts further behind the pool's best head get no new clients, and lose theirs if it lasts").argParser(parseIntArg(0, 1_000_000)).default(d.maxBlockLag))
    .addOption(opt('--connect-grace <duration>', 'how long a new pair has to corroborate before it is released as disputed (default: 3 update intervals, at least 15s)').argParser(parseDurationArg))
    .addOption(opt('--slow-start-slots <n>', 'slots offered to a host that serves nobody yet; two more per client it serves (0: off)').argParser(parseIntArg(0, 1_000_000)).default(d.slowStartSlots))
    .addOption(opt('--max-hosts-per-client <n>', 'most hosts one client may hold at a time').argParser(parseIntArg(1, 16)).default(d.maxHostsPerClient))
    .addOption(opt('--region <name>', 'host region preferred for clients that declare none'))
    .addOption(opt('--ping-interval <duration>', 'WebSocket ping interval (half-open detection)').argParser(parseDurationArg).default(...durationDefault(d.pingIntervalMs)))
    .addOption(opt('--max-pending-per-address <n>', 'agent sockets one address may hold open before authenticating (HTTP 429 beyond)').argParser(parseIntArg(1, 1_000_000)).default(d.maxPendingSocketsPerAddress))
    .addOption(opt('--max-pending-sockets <n>', 'agent (and tracker) sockets waiting to authenticate, all addresses together (HTTP 503 beyond)').argParser(parseIntArg(1, 10_000_000)).default(d.maxPendingSockets))
    .addOption(opt('--max-agents-per-address <n>', 'authenticated agent (and tracker) sockets one address or IPv6 /64 may hold (login refused beyond)').argParser(parseIntArg(1, 10_000_000)).default(d.maxAgentsPerAddress))
    .addOption(opt('--max-preauth-frame-bytes <n>', 'largest frame before vipnode_connect succeeds (the socket is closed with 1009 beyond)').argParser(parseIntArg(4096, 1024 * 1024)).default(d.maxPreAuthFrameBytes))
    .addOption(opt('--trust-proxy <addresses>', 'reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are believed; per-address limits then count the forwarded client'))
    .addOption(opt('--max-frame-bytes <n>', 'largest agent frame accepted').argParser(parseIntArg(1024, 64 * 1024 * 1024)).default(d.maxFrameBytes))
    .addOption(opt('--rate-limit <perSecond>', 'frames per second allowed per socket').argParser(parseNumberArg).default(d.rateLimitPerSecond))
    .addOption(opt('--rate-burst <n>', 'burst of frames allowed per socket').argParser(parseIntArg(1, 1_000_000)).default(d.rateLimitBurst))
    .addOption(opt('--price <amount>', 'price per host-minute: wei, or 100 gwei, 0.001 ether (0: a free pool that serves everyone)').argParser(parseAmountArg).default(d.priceWeiPerMinute, '0'))
    .addOption(opt('--trial <amount>', 'one-time credit for each new client node').argParser(parseAmountArg).default(d.trialWei, '0'))
    .addOption(opt('--trial-budget-per-epoch <amount>', 'most trial credit granted per epoch, out of the budget funded with vipnode credit --trial-budget (required with --trial and --chain-rpc)').argParser(parseAmountArg))
    .addOption(opt('--min-balance <amount>', 'paying clients below this are not served').argParser(parseAmountArg).default(d.minBalanceWei, '0'))
    .addOption(opt('--topup-url <url>', 'where clients top up; sent in low-balance notices with ?node=<id>'))
    .addOption(opt('--epoch <duration>', 'settlement period').argParser(parseDurationArg).default(...durationDefault(d.epochMs)))
    .addOption(opt('--fee-bps <n>', 'pool fee in basis points of revenue').argParser(parseIntArg(0, 10_000)).default(d.feeBps))
    .addOption(opt('--fee-address <0x…>', 'receives the pool fee (required when --fee-bps > 0)'))
    .addOption(opt('--chain-rpc <url>', 'settle on chain: JSON-RPC URL of the chain with the payout contract'))
    .addOption(opt('--contract <0x…>', 'the VipnodePool contract address'))
    .addOption(opt('--operator-key <file>', "the contract operator's JSON keystore (password from VIPNODE_OPERATOR_PASSWORD or --operator-password-file)"))
    .addOption(opt('--operator-password-file <file>', 'file holding the keystore password'))
    .addOption(opt('--confirmations <n>', 'blocks before a deposit is credited').argParser(parseIntArg(0, 1_000)).default(d.confirmations))
    .addOption(opt('--chain-poll <duration>', 'how often to read deposits and post roots').argParser(parseDurationArg).default(...durationDefault(d.chainPollMs)))
    .addOption(opt('--ethstats-secret <secret>', 'shared secret for nodes reporting with --ethstats name:secret@host:port (tracker at /api)'))
    .addOption(opt('--ethstats-secrets-file <file>', 'per-node tracker secrets, name:secret per line (read at start and on SIGHUP); a listed name logs in only with its own secret'))
    .addOption(opt('--admin-token <token>', 'bearer token for the admin API (at least 16 characters; off without it). Visible in the process list: prefer --admin-token-file'))
    .addOption(opt('--admin-token-file <file>', 'file whose first line is the admin token'))
    .addOption(
      opt('--report-retention <duration|off>', "how long report history, closed sessions and released assignments are kept (the dispute window); 0: only each node's latest report; off: for ever")
        .argParser(parseRetentionArg)
        .default(d.reportRetentionMs, d.reportRetentionMs === null ? 'off' : formatDuration(d.reportRetentionMs)),
    )
    .addOption(opt('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').default(d.logLevel))
    .addOption(opt('--public-url <url...>', 'the URL(s) agents dial this pool at, repeatable or comma-separated; logins signed for any other origin are refused (set it in production: behind a proxy the Host header may differ)'))
    .addOption(opt('--allow-private-addresses', 'development only: accept relay URLs and enodes on loopback, private or link-local addresses, and plain http relay URLs (refused otherwise)'))
    .addOption(opt('--metrics-listen <host:port>', 'serve /metrics only on this separate address (no longer on the public port)').argParser(wrap((t) => parseHostPort(t))))
    .action(async (o: Record<string, unknown>, command: Command) => {
      const config: CoordinatorConfigInput = {
        host: o.host as string,
        port: o.port as number,
        db: o.db as string,
        updateIntervalMs: o.updateInterval as number,
        challengeTtlMs: o.challengeTtl as number,
        admitTimeoutMs: o.admitTimeout as number,
        admitRetries: o.admitRetries as number,
        maxBlockLag: o.maxBlockLag as number,
        ...(o.connectGrace !== undefined ? { connectGraceMs: o.connectGrace as number } : {}),
        slowStartSlots: o.slowStartSlots as number,
        maxHostsPerClient: o.maxHostsPerClient as number,
        relayTokenWindowMs: o.relayTokenWindow as number,
        ...(o.region ? { region: o.region as string } : {}),
        pingIntervalMs: o.pingInterval as number,
        maxFrameBytes: o.maxFrameBytes as number,
        maxPendingSocketsPerAddress: o.maxPendingPerAddress as number,
        maxPendingSockets: o.maxPendingSockets as number,
        maxAgentsPerAddress: o.maxAgentsPerAddress as number,
        maxPreAuthFrameBytes: o.maxPreauthFrameBytes as number,
        ...(o.trustProxy ? { trustProxy: splitList(o.trustProxy as string) } : {}),
        rateLimitPerSecond: o.rateLimit as number,
        rateLimitBurst: o.rateBurst as number,
        logLevel: o.logLevel as CoordinatorConfigInput['logLevel'],
        reportRetentionMs: o.reportRetention as number | null,
        priceWeiPerMinute: o.price as bigint,
        trialWei: o.trial as bigint,
        ...(o.trialBudgetPerEpoch !== undefined ? { trialBudgetPerEpochWei: o.trialBudgetPerEpoch as bigint } : {}),
        minBalanceWei: o.minBalance as bigint,
        epochMs: o.epoch as number,
        feeBps: o.feeBps as number,
        ...(o.topupUrl ? { topupUrl: o.topupUrl as string } : {}),
        ...(o.feeAddress ? { feeAddress: o.feeAddress as string } : {}),
        ...(o.adminToken ? { adminToken: o.adminToken as string } : {}),
        ...(o.ethstatsSecret ? { ethstatsSecret: o.ethstatsSecret as string } : {}),
        ...(o.ethstatsSecretsFile ? { ethstatsSecretsFile: o.ethstatsSecretsFile as string } : {}),
        ...(o.adminTokenFile ? { adminTokenFile: o.adminTokenFile as string } : {}),
        confirmations: o.confirmations as number,
        chainPollMs: o.chainPoll as number,
        ...(o.chainRpc ? { chainRpc: o.chainRpc as string } : {}),
        ...(o.contract ? { contract: o.contract as string } : {}),
        ...(o.operatorKey ? { operatorKey: o.operatorKey as string } : {}),
        ...(o.operatorPasswordFile ? { operatorPasswordFile: o.operatorPasswordFile as string } : {}),
        ...(o.poolId ? { poolId: o.poolId as string } : {}),
        ...(o.chainId ? { chainId: o.chainId as number } : {}),
        ...(o.allowPrivateAddresses ? { allowPrivateAddresses: true } : {}),
        ...(o.metricsListen ? { metricsListen: o.metricsListen as { host: string; port: number } } : {}),
        ...(o.publicUrl ? { publicUrls: splitList(o.publicUrl as string | string[]) } : {}),
      }
      const logger = createLogger({ level: config.logLevel ?? 'info' })
      const parsed = coordinatorConfigSchema.safeParse(config)
      if (!parsed.success) throw new Error(`invalid configuration: ${describeZodError(parsed.error)}`)
      if (o.adminToken && command.getOptionValueSource('adminToken') === 'cli') {
        logger.warn('the admin token was given on the command line, where every local user can read it (ps): use --admin-token-file or VIPNODE_ADMIN_TOKEN')
      }
      const coordinator = await startCoordinator(config, { logger })
      // SIGHUP: read the tracker's per-node secrets again (add or revoke a reporter without a restart).
      if (config.ethstatsSecretsFile) process.on('SIGHUP', () => coordinator.reloadTrackerSecrets())
      onGracefulShutdown(() => coordinator.close(), logger)
    })
}

/** `--report-retention`: a duration, `0` (no history beyond the latest report per node) or `off` (keep for ever). */
export const parseRetentionArg = wrap((text: string): number | null => {
  const t = text.trim()
  if (t === 'off') return null
  if (t === '0') return 0
  return parseDuration(t)
})

/** `--public-url a --public-url b`, `--public-url a,b` and `VIPNODE_PUBLIC_URL=a,b` all mean [a, b]. */
function splitList(value: string | string[]): string[] {
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v.length > 0)
}
