/**
 * `vipnode client`'s configuration: one zod schema (the agent settings shared
 * with `vipnode host` spread in from agent/agentOptions.ts) and beside it the
 * table of flags the command is built from. client-shim/command.ts maps the
 * result onto ClientShimConfig (peer) or RpcClientShimConfig (rpc).
 */
import { z } from 'zod'
import { agentConfigShape, agentOptionTable } from '../agent/agentOptions.ts'
import { defineOptions, hostPort, integer, list, oneOf, text } from '../lib/cliOptions.ts'
import { DEFAULT_HOSTS_PER_CLIENT, MAX_HOSTS_PER_REQUEST } from '../protocol/index.ts'

export const CLIENT_SERVICE_KINDS = ['peer', 'rpc'] as const
/** rpc: the local endpoint's default address, where wallets and light clients look for a node. */
export const DEFAULT_CLIENT_LISTEN = { host: '127.0.0.1', port: 8545 }

export const clientConfigSchema = z
  .object({
    /** The coordinator base URL, http(s):// or ws(s)://. */
    bootstrap: z.string().min(1),
    hosts: z.number().int().min(1).max(MAX_HOSTS_PER_REQUEST).default(DEFAULT_HOSTS_PER_CLIENT),
    service: z.enum(CLIENT_SERVICE_KINDS).default('peer'),
    listen: z.object({ host: z.string(), port: z.number().int().min(0).max(65535) }).default(DEFAULT_CLIENT_LISTEN),
    chainId: z.number().int().positive().optional(),
    /** rpc: browser origins allowed to use the endpoint; none by default. */
    allowOrigin: z.array(z.string()).optional(),
    /** rpc: the proxy's Prometheus metrics at GET /metrics on this address. */
    metricsListen: z.object({ host: z.string(), port: z.number().int().min(0).max(65535) }).optional(),
    /** rpc: where the local beacon API (light-client routes) listens; none by default. */
    beaconListen: z.object({ host: z.string(), port: z.number().int().min(0).max(65535) }).optional(),
    ...agentConfigShape,
  })
  .strict()

export type ClientCliConfig = z.output<typeof clientConfigSchema>

export const clientOptions = defineOptions(clientConfigSchema, {
  bootstrap: { flags: '--bootstrap <url>', description: 'the coordinator base URL (http(s):// or ws(s)://); replicas of one pool separated by commas', parser: text },
  hosts: { flags: '--hosts <n>', description: 'how many hosts to keep', parser: integer(1, MAX_HOSTS_PER_REQUEST) },
  service: {
    flags: '--service <kind>',
    description: 'peer: peer a local node with hosts; rpc: a local JSON-RPC endpoint relayed through hosts (no node needed)',
    parser: oneOf(CLIENT_SERVICE_KINDS),
  },
  listen: { flags: '--listen <host:port>', description: 'rpc: where the local JSON-RPC endpoint listens (HTTP and WebSocket)', parser: hostPort() },
  chainId: { flags: '--chain-id <id>', description: 'rpc: the chain to get hosts for', parser: integer(1, Number.MAX_SAFE_INTEGER) },
  allowOrigin: { flags: '--allow-origin <origin...>', description: 'rpc: browser origins allowed to use the endpoint (default none)', parser: list },
  metricsListen: { flags: '--metrics-listen <host:port>', description: "rpc: serve the proxy's Prometheus metrics (calls by outcome, latency, failovers, hosts) at /metrics on this address", parser: hostPort() },
  beaconListen: {
    flags: '--beacon-listen <host:port>',
    description: "rpc: also serve the beacon light-client routes here (a light client's consensus RPC), relayed through hosts that run --relay-beacon",
    parser: hostPort(),
  },
  ...agentOptionTable,
})
