/**
 * What both agents do before talking to the pool: reach the local node
 * (retrying while it is down), prove the node key is the node's own, and
 * read the chain it is on.
 */
import type { EthNode } from '../ethnode/index.ts'
import type { ConnectHello, Role } from '../protocol/index.ts'
import { coordinatorUrls, isLoopbackHost } from '../protocol/index.ts'
import type { Logger } from '../lib/logger.ts'
import { VERSION } from '../lib/packageVersion.ts'
import { connectNodeWithRetry } from './connectNode.ts'
import { findNodeKeyFile, verifyNodeIdentity, type NodeIdentity } from './nodeIdentity.ts'
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
    // Several replicas: a development pool only if every one of them is on this machine.
    return coordinatorUrls(coordinatorUrl).every((u) => isLoopbackHost(new URL(u).hostname))
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

/** Run an agent until SIGTERM; a refusal by the pool that reconnecting cannot fix exits with 2. */
export function runAgentUntilSignal(agent: { pool: { on(event: 'fatal', l: () => void): unknown }; close(): Promise<void> }, log: Logger): void {
  agent.pool.on('fatal', () => {
    process.exitCode = 2
    void agent.close()
  })
  onGracefulShutdown(() => agent.close(), log)
}
