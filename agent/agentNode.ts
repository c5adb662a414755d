/**
 * What both agents do before talking to the pool: reach the local node
 * (retrying while it is down), prove the node key is the node's own, and
 * read the chain it is on.
 */
import type { EthNode } from '../ethnode/index.ts'
import type { ConnectHello, Role } from '../protocol/index.ts'
import { isLoopbackHost } from '../protocol/index.ts'
import type { Logger } from '../lib/logger.ts'
import { VERSION } from '../lib/packageVersion.ts'
import { connectNodeWithRetry } from './connectNode.ts'
import { findNodeKeyFile, verifyNodeIdentity, DEFAULT_DATADIR, type NodeIdentity } from './nodeIdentity.ts'
import type { Option } from 'commander'
import { opt, parseDurationArg } from '../lib/cli.ts'
import { onGracefulShutdown } from '../lib/shutdown.ts'
import { KnownPools } from './knownPools.ts'

/** Node options shared by `vipnode host` and `vipnode client`. */
export interface AgentNodeConfig {
  nodeRpc: string
  nodekey?: string
  datadir?: string
  publicEnode?: string
  nodeTimeoutMs?: number
}

export interface AgentNode {
  node: EthNode
  identity: NodeIdentity
  chainId: number
  /** Close the node connection if this module opened it. */
  close(): Promise<void>
  /** The signed body of vipnode_connect for this node. */
  hello(role: Role, extra?: Partial<ConnectHello>): ConnectHello
}

export async function openAgentNode(config: AgentNodeConfig, deps: { log: Logger; ethNode?: EthNode }, signal: AbortSignal): Promise<AgentNode> {
  const node = deps.ethNode ?? (await connectNodeWithRetry(config.nodeRpc, deps.log.child({ module: 'node' }), signal, config.nodeTimeoutMs))
  if (!node) throw new Error('stopped before the node answered')
  const close = async () => {
    if (!deps.ethNode) await node.close()
  }
  try {
    const identity = await verifyNodeIdentity(node, findNodeKeyFile(config.nodekey, config.datadir), config.publicEnode)
    const chainId = await node.chainId()
    return {
      node,
      identity,
      chainId,
      close,
      hello: (role, extra = {}) => ({
        protocolVersion: 1,
        role,
        nodeId: identity.nodeId,
        enode: identity.enode,
        chainId,
        clientVersion: node.clientVersion,
        agentVersion: VERSION,
        kind: 'peer',
        ...extra,
      }),
    }
  } catch (err) {
    await close()
    throw err
  }
}

/** The flags both agent commands take for their node, and their mapping onto AgentNodeConfig. */
export function agentNodeOptions(): Option[] {
  return [
    opt('--node-rpc <url>', "the node's admin RPC: http://…, ws://… or an IPC socket path").default('http://127.0.0.1:8545'),
    opt('--nodekey <file>', "the node's key file (default: found under --datadir)"),
    opt('--datadir <dir>', "the node's data directory, to find its key").default(DEFAULT_DATADIR),
    opt('--update-interval <duration>', "how often to report peers (default: the coordinator's)").argParser(parseDurationArg),
    opt('--node-timeout <duration>', 'how long to wait for the node').argParser(parseDurationArg).default(5_000, '5s'),
    opt('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent').default('info'),
    opt('--pool-id <id>', 'the pool id the coordinator must announce (default: the one remembered in <nodekey>.pools.json from the first login)'),
    opt('--allow-private-addresses', 'client: dial host enodes and post to relay URLs on loopback, private or link-local addresses, and plain http relays (default: only when the coordinator itself is on loopback)'),
    opt('--insecure-coordinator', 'allow plain ws:// or http:// to a coordinator that is not on loopback (labs only: anyone on the path can relay the login)'),
  ]
}

/** Who the agent trusts to be its pool: --pool-id and --insecure-coordinator (see agent/knownPools.ts). */
export interface PoolTrustConfig {
  expectedPoolId?: string
  allowInsecureCoordinator?: boolean
  /** Hosts on non-public addresses and plain http relays are used; default: only with a coordinator on loopback. */
  allowPrivateAddresses?: boolean
}

/**
 * Whether this agent uses addresses on loopback, private or link-local ranges that the pool hands it
 * (defence in depth: the coordinator refuses them too unless it runs with --allow-private-addresses).
 * Decided here, not by the coordinator's word: a development pool is one on this machine, or one the
 * operator says is (--allow-private-addresses).
 */
export function privateAddressesAllowed(coordinatorUrl: string, trust: PoolTrustConfig): boolean {
  if (trust.allowPrivateAddresses !== undefined) return trust.allowPrivateAddresses
  try {
    return isLoopbackHost(new URL(coordinatorUrl).hostname)
  } catch {
    return false
  }
}

/** The PoolConnection options that carry PoolTrustConfig, for an agent whose key is in `keyFile`. */
export function poolTrustOptions(keyFile: string, trust: PoolTrustConfig): { knownPools: KnownPools; allowInsecureCoordinator: boolean } {
  return {
    knownPools: new KnownPools({ file: KnownPools.fileFor(keyFile), ...(trust.expectedPoolId !== undefined ? { expectedPoolId: trust.expectedPoolId } : {}) }),
    allowInsecureCoordinator: trust.allowInsecureCoordinator ?? false,
  }
}

export function poolTrustConfig(o: Record<string, unknown>): PoolTrustConfig {
  return {
    ...(o.poolId ? { expectedPoolId: o.poolId as string } : {}),
    ...(o.insecureCoordinator ? { allowInsecureCoordinator: true } : {}),
    ...(o.allowPrivateAddresses ? { allowPrivateAddresses: true } : {}),
  }
}

export function agentNodeConfig(o: Record<string, unknown>): AgentNodeConfig & { updateIntervalMs?: number } {
  return {
    nodeRpc: o.nodeRpc as string,
    datadir: o.datadir as string,
    nodeTimeoutMs: o.nodeTimeout as number,
    ...(o.nodekey ? { nodekey: o.nodekey as string } : {}),
    ...(o.updateInterval ? { updateIntervalMs: o.updateInterval as number } : {}),
  }
}

/** Run an agent until SIGTERM; a refusal by the pool that reconnecting cannot fix exits with 2. */
export function runAgentUntilSignal(agent: { pool: { on(event: 'fatal', l: () => void): unknown }; close(): Promise<void> }, log: Logger): void {
  agent.pool.on('fatal', () => {
    process.exitCode = 2
    void agent.close()
  })
  onGracefulShutdown(() => agent.close(), log)
}
