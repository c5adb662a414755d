/** `vipnode client`: flags and env (the table in config.ts) -> startClientShim (peer) or startRpcClientShim (rpc). */
import { Command } from 'commander'
import { createLogger } from '../lib/logger.ts'
import { runAgentUntilSignal } from '../agent/agentNode.ts'
import { agentNodeConfig, poolTrustConfig } from '../agent/agentOptions.ts'
import { assertSecureCoordinatorUrl, coordinatorUrls } from '../protocol/index.ts'
import { startClientShim, type ClientShimConfig } from './clientShim.ts'
import { startRpcClientShim } from './rpcClientShim.ts'
import { clientOptions, type ClientCliConfig } from './config.ts'

export function clientCommand(): Command {
  const command = new Command('client').description(
    'run the client shim: keep a node peered with pool hosts (peer), or serve a local JSON-RPC endpoint for light clients through pool hosts (rpc)',
  )
  // --bootstrap is checked when the config is read, not by commander: a mandatory option here would also be demanded of `vipnode client status`.
  clientOptions.addTo(command)
  // Options after `status` belong to it (it has its own --bootstrap and --nodekey).
  command.enablePositionalOptions()
  return command.action(async () => {
    const c = clientOptions.read(command)
    const rpc = c.service === 'rpc' ? rpcIdentity(c) : undefined
    if (clientOptions.printConfig(command, c)) return
    // Before the node is even dialled: an unencrypted pool URL off loopback is a configuration error.
    for (const url of coordinatorUrls(c.bootstrap)) assertSecureCoordinatorUrl(url, Boolean(c.insecureCoordinator))
    const log = createLogger({ level: c.logLevel })
    if (rpc) {
      const shim = await startRpcClientShim(
        {
          ...rpc,
          bootstrap: c.bootstrap,
          hosts: c.hosts,
          ...poolTrustConfig(c),
          listenHost: c.listen.host,
          listenPort: c.listen.port,
          ...(c.allowOrigin !== undefined ? { allowedOrigins: c.allowOrigin } : {}),
          ...(c.metricsListen ? { metricsListen: c.metricsListen } : {}),
          ...(c.beaconListen !== undefined ? { beaconListen: c.beaconListen } : {}),
          ...(c.updateIntervalMs !== undefined ? { updateIntervalMs: c.updateIntervalMs } : {}),
        },
        { log: log.child({ module: 'client' }) },
      )
      log.info('rpc endpoint ready: point your light client or wallet here', { url: shim.proxy.url, ws: shim.proxy.wsUrl, nodeId: shim.nodeId, ...(shim.beacon ? { beacon: shim.beacon.url } : {}) })
      runAgentUntilSignal(shim, log)
      return
    }
    if (c.beaconListen !== undefined) throw new Error('--beacon-listen is part of the rpc service: pass --service rpc as well')
    const config: ClientShimConfig = { ...agentNodeConfig(c), ...poolTrustConfig(c), bootstrap: c.bootstrap, hosts: c.hosts }
    const shim = await startClientShim(config, { log: log.child({ module: 'client' }) })
    log.info('client shim running', { nodeId: shim.identity.nodeId, hosts: config.hosts })
    runAgentUntilSignal(shim, log)
  })
}

/** An rpc client has no node: its identity is a key file (`vipnode keygen`), and it names the chain it wants. */
function rpcIdentity(c: ClientCliConfig): { nodekey: string; chainId: number } {
  if (c.nodekey === undefined) throw new Error('--service rpc needs --nodekey FILE: the identity the pool bills (create one with `vipnode keygen`)')
  if (c.chainId === undefined) throw new Error('--service rpc needs --chain-id (1 for mainnet)')
  return { nodekey: c.nodekey, chainId: c.chainId }
}
