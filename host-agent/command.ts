/** `vipnode host`: flags and env (the table in config.ts) -> startHostAgent. */
import { Command } from 'commander'
import { createLogger } from '../lib/logger.ts'
import { runAgentUntilSignal } from '../agent/agentNode.ts'
import { agentNodeConfig, poolTrustConfig } from '../agent/agentOptions.ts'
import { assertSecureCoordinatorUrl, coordinatorUrls } from '../protocol/index.ts'
import { startHostAgent, type HostAgentConfig, type HostRelayConfig } from './hostAgent.ts'
import { hostOptions, type HostCliConfig } from './config.ts'
import { loadCostTable } from './relay/costTableFile.ts'

export function hostCommand(): Command {
  const command = new Command('host')
    .description("run a host agent beside a full node: serve the pool's clients and earn for it")
    .enablePositionalOptions()
  // --coordinator is checked when the config is read, not by commander: a mandatory option here would also be demanded of `host claim`.
  return hostOptions.addTo(command).action(async () => {
    const c = hostOptions.read(command)
    if (hostOptions.printConfig(command, c)) return
    // Before the node is even dialled: an unencrypted pool URL off loopback is a configuration error.
    for (const url of coordinatorUrls(c.coordinator)) assertSecureCoordinatorUrl(url, Boolean(c.insecureCoordinator))
    if (c.relayBeacon !== undefined && c.service !== 'rpc') throw new Error('--relay-beacon is part of the rpc service: pass --service rpc as well')
    const log = createLogger({ level: c.logLevel })
    const config: HostAgentConfig = {
      ...agentNodeConfig(c),
      ...poolTrustConfig(c),
      coordinator: c.coordinator,
      capacity: c.capacity,
      ...(c.payout !== undefined ? { payout: c.payout } : {}),
      ...(c.publicEnode !== undefined ? { publicEnode: c.publicEnode } : {}),
      ...(c.region !== undefined ? { region: c.region } : {}),
      ...(c.service === 'rpc' ? { relay: relayConfig(c) } : {}),
      ...(c.metricsListen ? { metricsListen: c.metricsListen } : {}),
    }
    const agent = await startHostAgent(config, { log: log.child({ module: 'host' }) })
    log.info('host agent running', { nodeId: agent.identity.nodeId, enode: agent.identity.enode, capacity: config.capacity })
    runAgentUntilSignal(agent, log)
  })
}

/** The relay's settings from the flags; the node URLs default to --node-rpc when it speaks that transport. */
function relayConfig(c: HostCliConfig): HostRelayConfig {
  const nodeHttpUrl = c.relayNodeHttp ?? (/^https?:\/\//.test(c.nodeRpc) ? c.nodeRpc : undefined)
  if (!nodeHttpUrl) throw new Error("--service rpc needs the node's HTTP JSON-RPC: pass --relay-node-http (--node-rpc is not http)")
  const nodeWsUrl = c.relayNodeWs ?? (/^wss?:\/\//.test(c.nodeRpc) ? c.nodeRpc : undefined)
  return {
    listenHost: c.relayListen.host,
    listenPort: c.relayListen.port,
    // Without --relay-url the agent advertises the address it bound (the real port, also with --relay-listen …:0).
    ...(c.relayUrl !== undefined ? { publicUrl: c.relayUrl } : {}),
    nodeHttpUrl,
    ...(nodeWsUrl ? { nodeWsUrl } : {}),
    cuPerSec: c.relayCuRate,
    // Read now: a missing or malformed file stops the command with its error before anything starts.
    costTable: loadCostTable(c.relayCostTable),
    maxLogsRange: c.relayMaxLogsRange,
    gasCap: c.relayGasCap,
    ...(c.relayBeacon !== undefined ? { beaconUrl: beaconUrl(c.relayBeacon) } : {}),
  }
}

/** The beacon node's base URL, checked before anything starts. */
function beaconUrl(raw: string): string {
  if (!/^https?:\/\//.test(raw) || !URL.canParse(raw)) throw new Error(`--relay-beacon: expected the consensus client's http(s) REST API URL, got "${raw}"`)
  return raw
}
