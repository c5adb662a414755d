/**
 * The settings both agent commands (`vipnode host`, `vipnode client`) take for
 * their node and their pool: a zod shape each command's schema spreads in, and
 * the matching rows of its option table (lib/cliOptions.ts).
 */
import { z } from 'zod'
import { DEFAULT_LOG_LEVEL, LOG_LEVELS } from '../lib/logger.ts'
import { duration, flag, oneOf, text, type OptionTable } from '../lib/cliOptions.ts'
import { AGENT_NODE_TIMEOUT_MS } from './connectNode.ts'
import { DEFAULT_DATADIR, DEFAULT_DATADIR_TEXT } from './nodeIdentity.ts'
import type { AgentNodeConfig, PoolTrustConfig } from './agentNode.ts'

/** Where a node's admin RPC usually is: geth's default HTTP endpoint. */
export const DEFAULT_NODE_RPC = 'http://127.0.0.1:8545'

export const agentConfigShape = {
  nodeRpc: z.string().min(1).default(DEFAULT_NODE_RPC),
  nodekey: z.string().min(1).optional(),
  datadir: z.string().min(1).default(DEFAULT_DATADIR),
  /** Overrides the interval the coordinator asks for. */
  updateIntervalMs: z.number().int().positive().optional(),
  nodeTimeoutMs: z.number().int().positive().default(AGENT_NODE_TIMEOUT_MS),
  logLevel: z.enum(LOG_LEVELS).default(DEFAULT_LOG_LEVEL),
  /** The pool id the coordinator must announce; default: the one remembered from the first login. */
  poolId: z.string().min(1).optional(),
  /** Unset: allowed only when the coordinator is on loopback (agent/agentNode.ts privateAddressesAllowed). */
  allowPrivateAddresses: z.boolean().optional(),
  insecureCoordinator: z.boolean().optional(),
}

type AgentConfigInput = z.input<z.ZodObject<typeof agentConfigShape>>
export type AgentCliConfig = z.output<z.ZodObject<typeof agentConfigShape>>

export const agentOptionTable: OptionTable<AgentConfigInput> = {
  nodeRpc: { flags: '--node-rpc <url>', description: "the node's admin RPC: http://…, ws://… or an IPC socket path", parser: text },
  nodekey: { flags: '--nodekey <file>', description: "the node's key file (default: found under --datadir)", parser: text },
  datadir: { flags: '--datadir <dir>', description: "the node's data directory, to find its key", parser: text, defaultText: DEFAULT_DATADIR_TEXT },
  updateIntervalMs: { flags: '--update-interval <duration>', description: "how often to report peers (default: the coordinator's)", parser: duration },
  nodeTimeoutMs: { flags: '--node-timeout <duration>', description: 'how long to wait for the node', parser: duration },
  logLevel: { flags: '--log-level <level>', description: LOG_LEVELS.join('|'), parser: oneOf(LOG_LEVELS) },
  poolId: {
    flags: '--pool-id <id>',
    description: 'the pool id the coordinator must announce (default: the one remembered in <nodekey>.pools.json from the first login)',
    parser: text,
  },
  allowPrivateAddresses: {
    flags: '--allow-private-addresses',
    description:
      'client: dial host enodes and post to relay URLs on loopback, private or link-local addresses (also when a relay name resolves to one), and plain http relays; host: admit clients whose enodes are on such addresses (default: only when the coordinator itself is on loopback)',
    parser: flag,
  },
  insecureCoordinator: {
    flags: '--insecure-coordinator',
    description: 'allow plain ws:// or http:// to a coordinator that is not on loopback (labs only: anyone on the path can relay the login)',
    parser: flag,
  },
}

/** The node half of an agent's config. */
export function agentNodeConfig(c: AgentCliConfig): AgentNodeConfig & { updateIntervalMs?: number } {
  return {
    nodeRpc: c.nodeRpc,
    datadir: c.datadir,
    nodeTimeoutMs: c.nodeTimeoutMs,
    ...(c.nodekey !== undefined ? { nodekey: c.nodekey } : {}),
    ...(c.updateIntervalMs !== undefined ? { updateIntervalMs: c.updateIntervalMs } : {}),
  }
}

/** Who the agent trusts to be its pool: --pool-id, --insecure-coordinator, --allow-private-addresses. */
export function poolTrustConfig(c: AgentCliConfig): PoolTrustConfig {
  return {
    ...(c.poolId !== undefined ? { expectedPoolId: c.poolId } : {}),
    ...(c.insecureCoordinator ? { allowInsecureCoordinator: true } : {}),
    ...(c.allowPrivateAddresses ? { allowPrivateAddresses: true } : {}),
  }
}
