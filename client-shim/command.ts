/** `vipnode client`: flags and env -> startClientShim. */
import { Command } from 'commander'
import { opt, parseIntArg } from '../lib/cli.ts'
import { createLogger, type LogLevel } from '../lib/logger.ts'
import { agentNodeConfig, agentNodeOptions, runAgentUntilSignal } from '../agent/agentNode.ts'
import { startClientShim, type ClientShimConfig } from './clientShim.ts'

export function clientCommand(): Command {
  const cmd = new Command('client')
    .description('run the client shim beside a node: get hosts from the pool and keep the node peered with them')
    .addOption(opt('--bootstrap <url>', 'the coordinator base URL (http(s):// or ws(s)://)').makeOptionMandatory())
    .addOption(opt('--hosts <n>', 'how many hosts to keep').argParser(parseIntArg(1, 16)).default(3))
  for (const o of agentNodeOptions()) cmd.addOption(o)
  return cmd.action(async (o: Record<string, unknown>) => {
    const log = createLogger({ level: o.logLevel as LogLevel })
    const config: ClientShimConfig = { ...agentNodeConfig(o), bootstrap: o.bootstrap as string, hosts: o.hosts as number }
    const shim = await startClientShim(config, { log: log.child({ module: 'client' }) })
    log.info('client shim running', { nodeId: shim.identity.nodeId, hosts: config.hosts })
    runAgentUntilSignal(shim, log)
  })
}
