/** `vipnode host`: flags and env -> startHostAgent. */
import { Command } from 'commander'
import { opt, parseIntArg } from '../lib/cli.ts'
import { createLogger, type LogLevel } from '../lib/logger.ts'
import { agentNodeConfig, agentNodeOptions, runAgentUntilSignal } from '../agent/agentNode.ts'
import { startHostAgent, type HostAgentConfig } from './hostAgent.ts'

export function hostCommand(): Command {
  const cmd = new Command('host')
    .description("run a host agent beside a full node: serve the pool's clients and earn for it")
    .enablePositionalOptions()
    // Checked in the action, not by commander: a mandatory option here would also be demanded of `host claim`.
    .addOption(opt('--coordinator <url>', 'the coordinator base URL (http(s):// or ws(s)://) (required)'))
    .addOption(opt('--payout <address>', 'the 0x address that receives earnings'))
    .addOption(opt('--capacity <n>', 'how many pool clients this node serves at most').argParser(parseIntArg(1, 10_000)).default(10))
    .addOption(opt('--public-enode <enode>', "the enode clients should dial (behind NAT); must carry this node's ID"))
    .addOption(opt('--region <name>', 'a region label for clients that prefer nearby hosts'))
  for (const o of agentNodeOptions()) cmd.addOption(o)
  return cmd.action(async (o: Record<string, unknown>) => {
    if (!o.coordinator) throw new Error("required option '--coordinator <url>' not specified (or set VIPNODE_COORDINATOR)")
    const log = createLogger({ level: o.logLevel as LogLevel })
    if (o.payout !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(o.payout as string)) throw new Error('--payout must be a 0x-prefixed 20-byte address')
    const config: HostAgentConfig = {
      ...agentNodeConfig(o),
      coordinator: o.coordinator as string,
      capacity: o.capacity as number,
      ...(o.payout ? { payout: o.payout as string } : {}),
      ...(o.publicEnode ? { publicEnode: o.publicEnode as string } : {}),
      ...(o.region ? { region: o.region as string } : {}),
    }
    const agent = await startHostAgent(config, { log: log.child({ module: 'host' }) })
    log.info('host agent running', { nodeId: agent.identity.nodeId, enode: agent.identity.enode, capacity: config.capacity })
    runAgentUntilSignal(agent, log)
  })
}
