/**
 * `vipnode host`'s configuration: one zod schema (the agent settings shared
 * with `vipnode client` spread in from agent/agentOptions.ts) and beside it the
 * table of flags the command is built from. host-agent/command.ts maps the
 * result onto HostAgentConfig.
 */
import { z } from 'zod'
import { agentConfigShape, agentOptionTable } from '../agent/agentOptions.ts'
import { defineOptions, hostPort, integer, oneOf, text } from '../lib/cliOptions.ts'
import { DEFAULT_MAX_LOGS_RANGE, DEFAULT_RELAY_GAS_CAP } from './relay/rateLimit.ts'
import { DEFAULT_RELAY_CU_RATE } from '../protocol/costTable.ts'

export const SERVICE_KINDS = ['peer', 'rpc'] as const
/** Slots a host offers the pool unless it says (the pool may offer fewer: slow start). */
export const DEFAULT_HOST_CAPACITY = 10
/** The relay's default listen address: all interfaces, the port after a node's usual 8545. */
export const DEFAULT_RELAY_LISTEN = { host: '0.0.0.0', port: 8546 }

export const hostConfigSchema = z
  .object({
    /** The coordinator base URL, http(s):// or ws(s)://. */
    coordinator: z.string().min(1),
    payout: z
      .string()
      .regex(/^0x[0-9a-fA-F]{40}$/, { message: 'must be a 0x-prefixed 20-byte address' })
      .optional(),
    capacity: z.number().int().min(1).max(10_000).default(DEFAULT_HOST_CAPACITY),
    publicEnode: z.string().min(1).optional(),
    region: z.string().min(1).optional(),
    service: z.enum(SERVICE_KINDS).default('peer'),
    /** rpc service: the relay's listen address, the URL clients reach it at, the node's endpoints it relays to, the rate per client. */
    relayListen: z.object({ host: z.string(), port: z.number().int().min(0).max(65535) }).default(DEFAULT_RELAY_LISTEN),
    relayUrl: z.string().min(1).optional(),
    relayNodeHttp: z.string().min(1).optional(),
    relayNodeWs: z.string().min(1).optional(),
    relayCuRate: z.number().int().min(1).max(100_000_000).default(DEFAULT_RELAY_CU_RATE),
    relayCostTable: z.string().min(1).optional(),
    relayMaxLogsRange: z.number().int().min(1).max(100_000_000).default(DEFAULT_MAX_LOGS_RANGE),
    relayGasCap: z.number().int().min(21_000).max(Number.MAX_SAFE_INTEGER).default(DEFAULT_RELAY_GAS_CAP),
    /** Prometheus metrics (the relay's with --service rpc, and the process's) at GET /metrics on this address. */
    metricsListen: z.object({ host: z.string(), port: z.number().int().min(0).max(65535) }).optional(),
    /** rpc: the consensus client's REST API base URL, for the beacon light-client routes. */
    relayBeacon: z.string().min(1).optional(),
    ...agentConfigShape,
  })
  .strict()

export type HostCliConfig = z.output<typeof hostConfigSchema>

export const hostOptions = defineOptions(hostConfigSchema, {
  coordinator: { flags: '--coordinator <url>', description: 'the coordinator base URL (http(s):// or ws(s)://); replicas of one pool separated by commas (required)', parser: text },
  payout: { flags: '--payout <address>', description: 'the 0x address that receives earnings', parser: text },
  capacity: { flags: '--capacity <n>', description: 'how many pool clients this node serves at most', parser: integer(1, 10_000) },
  publicEnode: { flags: '--public-enode <enode>', description: "the enode clients should dial (behind NAT); must carry this node's ID", parser: text },
  region: { flags: '--region <name>', description: 'a region label for clients that prefer nearby hosts', parser: text },
  service: {
    flags: '--service <kind>',
    description: 'peer: clients peer with the node over devp2p; rpc: light clients use its JSON-RPC through a relay',
    parser: oneOf(SERVICE_KINDS),
  },
  relayListen: { flags: '--relay-listen <host:port>', description: 'rpc: where the relay listens', parser: hostPort('0.0.0.0') },
  relayUrl: {
    flags: '--relay-url <url>',
    description: 'rpc: the URL clients reach the relay at (default: http://<listen address>:<bound port>, 127.0.0.1 for 0.0.0.0: set it for remote clients)',
    parser: text,
  },
  relayNodeHttp: { flags: '--relay-node-http <url>', description: "rpc: the node's HTTP JSON-RPC to relay to (default: --node-rpc when it is http)", parser: text },
  relayNodeWs: { flags: '--relay-node-ws <url>', description: "rpc: the node's WebSocket JSON-RPC, for subscriptions (default: --node-rpc when it is ws)", parser: text },
  relayCuRate: { flags: '--relay-cu-rate <n>', description: 'rpc: compute units per second per client (burst twice that, at least one full-range eth_getLogs)', parser: integer(1, 100_000_000) },
  relayCostTable: {
    flags: '--relay-cost-table <file>',
    description: 'rpc: JSON file of compute-unit costs over the default table ({"eth_call": 20, ..., "getLogsPerBlock": 1, "notification": 10, "default": 20})',
    parser: text,
  },
  relayMaxLogsRange: { flags: '--relay-max-logs-range <blocks>', description: 'rpc: widest eth_getLogs range relayed (wider ones are refused with -32602)', parser: integer(1, 100_000_000) },
  relayGasCap: { flags: '--relay-gas-cap <gas>', description: 'rpc: eth_call/eth_estimateGas asking for more gas are refused with -32602', parser: integer(21_000, Number.MAX_SAFE_INTEGER) },
  metricsListen: { flags: '--metrics-listen <host:port>', description: "serve Prometheus metrics at /metrics on this address (rpc: the relay's calls, latency, compute units, sessions)", parser: hostPort() },
  relayBeacon: {
    flags: '--relay-beacon <url>',
    description: "rpc: the consensus client's REST API (http(s)://host:5052): the relay also serves the beacon light-client routes from it, read-only",
    parser: text,
  },
  ...agentOptionTable,
})
