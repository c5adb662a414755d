/** `vipnode host`: flags and env -> startHostAgent. */
import { Command } from 'commander'
import { opt, parseIntArg, wrap } from '../lib/cli.ts'
import { parseHostPort } from '../lib/hostPort.ts'
import { createLogger, type LogLevel } from '../lib/logger.ts'
import { agentNodeConfig, agentNodeOptions, poolTrustConfig, runAgentUntilSignal } from '../agent/agentNode.ts'
import { assertSecureCoordinatorUrl } from '../protocol/index.ts'
import { startHostAgent, type HostAgentConfig, type HostRelayConfig } from './hostAgent.ts'

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
    .addOption(opt('--service <kind>', 'peer: clients peer with the node over devp2p; rpc: light clients use its JSON-RPC through a relay').choices(['peer', 'rpc']).default('peer'))
    .addOption(opt('--relay-listen <host:port>', 'rpc: where the relay listens').argParser(wrap((t) => parseHostPort(t, '0.0.0.0'))).default({ host: '0.0.0.0', port: 8546 }, '0.0.0.0:8546'))
    .addOption(opt('--relay-url <url>', 'rpc: the URL clients reach the relay at (default: http://<listen address>:<bound port>, 127.0.0.1 for 0.0.0.0: set it for remote clients)'))
    .addOption(opt('--relay-node-http <url>', "rpc: the node's HTTP JSON-RPC to relay to (default: --node-rpc when it is http)"))
    .addOption(opt('--relay-node-ws <url>', "rpc: the node's WebSocket JSON-RPC, for subscriptions (default: --node-rpc when it is ws)"))
    .addOption(opt('--relay-rate <n>', 'rpc: relayed calls per second per client').argParser(parseIntArg(1, 100_000)).default(50))
  for (const o of agentNodeOptions()) cmd.addOption(o)
  return cmd.action(async (o: Record<string, unknown>) => {
    if (!o.coordinator) throw new Error("required option '--coordinator <url>' not specified (or set VIPNODE_COORDINATOR)")
    // Before the node is even dialled: an unencrypted pool URL off loopback is a configuration error.
    assertSecureCoordinatorUrl(o.coordinator as string, Boolean(o.insecureCoordinator))
    const log = createLogger({ level: o.logLevel as LogLevel })
    if (o.payout !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(o.payout as string)) throw new Error('--payout must be a 0x-prefixed 20-byte address')
    const config: HostAgentConfig = {
      ...agentNodeConfig(o),
      ...poolTrustConfig(o),
      coordinator: o.coordinator as string,
      capacity: o.capacity as number,
      ...(o.payout ? { payout: o.payout as string } : {}),
      ...(o.publicEnode ? { publicEnode: o.publicEnode as string } : {}),
      ...(o.region ? { region: o.region as string } : {}),
      ...(o.service === 'rpc' ? { relay: relayConfig(o) } : {}),
    }
    const agent = await startHostAgent(config, { log: log.child({ module: 'host' }) })
    log.info('host agent running', { nodeId: agent.identity.nodeId, enode: agent.identity.enode, capacity: config.capacity })
    runAgentUntilSignal(agent, log)
  })
}

/** The relay's settings from the flags; the node URLs default to --node-rpc when it speaks that transport. */
function relayConfig(o: Record<string, unknown>): HostRelayConfig {
  const nodeRpc = o.nodeRpc as string
  const nodeHttpUrl = (o.relayNodeHttp as string | undefined) ?? (/^https?:\/\//.test(nodeRpc) ? nodeRpc : undefined)
  if (!nodeHttpUrl) throw new Error("--service rpc needs the node's HTTP JSON-RPC: pass --relay-node-http (--node-rpc is not http)")
  const nodeWsUrl = (o.relayNodeWs as string | undefined) ?? (/^wss?:\/\//.test(nodeRpc) ? nodeRpc : undefined)
  const listen = o.relayListen as { host: string; port: number }
  return {
    listenHost: listen.host,
    listenPort: listen.port,
    // Without --relay-url the agent advertises the address it bound (the real port, also with --relay-listen …:0).
    ...(o.relayUrl ? { publicUrl: o.relayUrl as string } : {}),
    nodeHttpUrl,
    ...(nodeWsUrl ? { nodeWsUrl } : {}),
    ratePerSec: o.relayRate as number,
  }
}
