/** `vipnode client`: flags and env -> startClientShim (peer) or startRpcClientShim (rpc). */
import { Command } from 'commander'
import { opt, parseIntArg, wrap } from '../lib/cli.ts'
import { parseHostPort } from '../lib/hostPort.ts'
import { createLogger, type LogLevel } from '../lib/logger.ts'
import { agentNodeConfig, agentNodeOptions, poolTrustConfig, runAgentUntilSignal } from '../agent/agentNode.ts'
import { assertSecureCoordinatorUrl } from '../protocol/index.ts'
import { startClientShim, type ClientShimConfig } from './clientShim.ts'
import { startRpcClientShim } from './rpcClientShim.ts'

export function clientCommand(): Command {
  const cmd = new Command('client')
    .description('run the client shim: keep a node peered with pool hosts (peer), or serve a local JSON-RPC endpoint for light clients through pool hosts (rpc)')
    // Required, checked in the action: a mandatory option here would also be demanded of `vipnode client status`.
    .addOption(opt('--bootstrap <url>', 'the coordinator base URL (http(s):// or ws(s)://)'))
    .addOption(opt('--hosts <n>', 'how many hosts to keep').argParser(parseIntArg(1, 16)).default(3))
    .addOption(opt('--service <kind>', 'peer: peer a local node with hosts; rpc: a local JSON-RPC endpoint relayed through hosts (no node needed)').choices(['peer', 'rpc']).default('peer'))
    .addOption(opt('--listen <host:port>', 'rpc: where the local JSON-RPC endpoint listens (HTTP and WebSocket)').argParser(wrap((t) => parseHostPort(t))).default({ host: '127.0.0.1', port: 8545 }, '127.0.0.1:8545'))
    .addOption(opt('--chain-id <id>', 'rpc: the chain to get hosts for').argParser(parseIntArg(1, Number.MAX_SAFE_INTEGER)))
    .addOption(opt('--allow-origin <origin...>', 'rpc: browser origins allowed to use the endpoint (default none)'))
  for (const o of agentNodeOptions()) cmd.addOption(o)
  // Options after `status` belong to it (it has its own --bootstrap and --nodekey).
  cmd.enablePositionalOptions()
  return cmd.action(async (o: Record<string, unknown>) => {
    if (!o.bootstrap) throw new Error("required option '--bootstrap <url>' not specified")
    // Before the node is even dialled: an unencrypted pool URL off loopback is a configuration error.
    assertSecureCoordinatorUrl(o.bootstrap as string, Boolean(o.insecureCoordinator))
    const log = createLogger({ level: o.logLevel as LogLevel })
    if (o.service === 'rpc') {
      if (!o.nodekey) throw new Error('--service rpc needs --nodekey FILE: the identity the pool bills (create one with `vipnode keygen`)')
      if (!o.chainId) throw new Error('--service rpc needs --chain-id (1 for mainnet)')
      const listen = o.listen as { host: string; port: number }
      const shim = await startRpcClientShim(
        {
          bootstrap: o.bootstrap as string,
          nodekey: o.nodekey as string,
          chainId: o.chainId as number,
          hosts: o.hosts as number,
          ...poolTrustConfig(o),
          listenHost: listen.host,
          listenPort: listen.port,
          ...(o.allowOrigin ? { allowedOrigins: o.allowOrigin as string[] } : {}),
          ...(o.updateInterval ? { updateIntervalMs: o.updateInterval as number } : {}),
        },
        { log: log.child({ module: 'client' }) },
      )
      log.info('rpc endpoint ready: point your light client or wallet here', { url: shim.proxy.url, ws: shim.proxy.wsUrl, nodeId: shim.nodeId })
      runAgentUntilSignal(shim, log)
      return
    }
    const config: ClientShimConfig = { ...agentNodeConfig(o), ...poolTrustConfig(o), bootstrap: o.bootstrap as string, hosts: o.hosts as number }
    const shim = await startClientShim(config, { log: log.child({ module: 'client' }) })
    log.info('client shim running', { nodeId: shim.identity.nodeId, hosts: config.hosts })
    runAgentUntilSignal(shim, log)
  })
}
