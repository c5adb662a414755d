/** `vipnode client`: flags and env -> startClientShim. */
import { Command } from 'commander'
import { opt, parseDurationArg, parseIntArg } from '../lib/cli.ts'
import { createLogger, type LogLevel } from '../lib/logger.ts'
import { onGracefulShutdown } from '../lib/shutdown.ts'
import { DEFAULT_DATADIR } from '../agent/nodeIdentity.ts'
import { startClientShim, type ClientShimConfig } from './clientShim.ts'

export function clientCommand(): Command {
  return new Command('client')
    .description('run the client shim beside a node: get hosts from the pool and keep the node peered with them')
    .addOption(opt('--bootstrap <url>', 'the coordinator base URL (http(s):// or ws(s)://)').makeOptionMandatory())
    .addOption(opt('--node-rpc <url>', "the node's admin RPC: http://…, ws://… or an IPC socket path").default('http://127.0.0.1:8545'))
    .addOption(opt('--nodekey <file>', "the node's key file (default: found under --datadir)"))
    .addOption(opt('--datadir <dir>', "the node's data directory, to find its key").default(DEFAULT_DATADIR))
    .addOption(opt('--hosts <n>', 'how many hosts to keep').argParser(parseIntArg(1, 16)).default(3))
    .addOption(opt('--update-interval <duration>', "how often to report peers (default: the coordinator's)").argParser(parseDurationArg))
    .addOption(opt('--node-timeout <duration>', 'how long to wait for the node').argParser(parseDurationArg).default(5_000, '5s'))
    .addOption(opt('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').default('info'))
    .action(async (o: Record<string, unknown>) => {
      const log = createLogger({ level: o.logLevel as LogLevel })
      const config: ClientShimConfig = {
        bootstrap: o.bootstrap as string,
        nodeRpc: o.nodeRpc as string,
        datadir: o.datadir as string,
        hosts: o.hosts as number,
        nodeTimeoutMs: o.nodeTimeout as number,
        ...(o.nodekey ? { nodekey: o.nodekey as string } : {}),
        ...(o.updateInterval ? { updateIntervalMs: o.updateInterval as number } : {}),
      }
      const shim = await startClientShim(config, { log: log.child({ module: 'client' }) })
      shim.pool.on('fatal', () => {
        process.exitCode = 2
        void shim.close()
      })
      log.info('client shim running', { nodeId: shim.identity.nodeId, hosts: config.hosts })
      onGracefulShutdown(() => shim.close(), log)
    })
}
