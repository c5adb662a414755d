/** `vipnode host`: flags and env -> startHostAgent. */
import { Command } from 'commander'
import { opt, parseDurationArg, parseIntArg } from '../lib/cli.ts'
import { createLogger, type LogLevel } from '../lib/logger.ts'
import { onGracefulShutdown } from '../lib/shutdown.ts'
import { DEFAULT_DATADIR } from '../agent/nodeIdentity.ts'
import { startHostAgent, type HostAgentConfig } from './hostAgent.ts'

export function hostCommand(): Command {
  return new Command('host')
    .description('run a host agent beside a full node: serve the pool\'s clients and earn for it')
    .addOption(opt('--coordinator <url>', 'the coordinator base URL (http(s):// or ws(s)://)').makeOptionMandatory())
    .addOption(opt('--node-rpc <url>', "the node's admin RPC: http://…, ws://… or an IPC socket path").default('http://127.0.0.1:8545'))
    .addOption(opt('--nodekey <file>', "the node's key file (default: found under --datadir)"))
    .addOption(opt('--datadir <dir>', "the node's data directory, to find its key").default(DEFAULT_DATADIR))
    .addOption(opt('--payout <address>', 'the 0x address that receives earnings'))
    .addOption(opt('--capacity <n>', 'how many pool clients this node serves at most').argParser(parseIntArg(1, 10_000)).default(10))
    .addOption(opt('--public-enode <enode>', 'the enode clients should dial (behind NAT); must carry this node\'s ID'))
    .addOption(opt('--region <name>', 'a region label for clients that prefer nearby hosts'))
    .addOption(opt('--update-interval <duration>', "how often to report peers (default: the coordinator's)").argParser(parseDurationArg))
    .addOption(opt('--node-timeout <duration>', 'how long to wait for the node').argParser(parseDurationArg).default(5_000, '5s'))
    .addOption(opt('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').default('info'))
    .action(async (o: Record<string, unknown>) => {
      const log = createLogger({ level: o.logLevel as LogLevel })
      if (o.payout !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(o.payout as string)) throw new Error('--payout must be a 0x-prefixed 20-byte address')
      const config: HostAgentConfig = {
        coordinator: o.coordinator as string,
        nodeRpc: o.nodeRpc as string,
        datadir: o.datadir as string,
        capacity: o.capacity as number,
        nodeTimeoutMs: o.nodeTimeout as number,
        ...(o.nodekey ? { nodekey: o.nodekey as string } : {}),
        ...(o.payout ? { payout: o.payout as string } : {}),
        ...(o.publicEnode ? { publicEnode: o.publicEnode as string } : {}),
        ...(o.region ? { region: o.region as string } : {}),
        ...(o.updateInterval ? { updateIntervalMs: o.updateInterval as number } : {}),
      }
      const agent = await startHostAgent(config, { log: log.child({ module: 'host' }) })
      agent.pool.on('fatal', () => {
        process.exitCode = 2
        void agent.close()
      })
      log.info('host agent running', { nodeId: agent.identity.nodeId, enode: agent.identity.enode, capacity: config.capacity })
      onGracefulShutdown(() => agent.close(), log)
    })
}
