/**
 * The host agent: runs beside a full node, keeps a signed session with the
 * coordinator, admits and evicts clients on its orders (trusted peers), and
 * reports the node's peers every update interval. Clients it admitted that
 * the coordinator no longer vouches for are dropped; on shutdown it removes
 * every trust it granted.
 *
 * With a relay (the rpc service), clients are admitted by token instead of
 * as trusted peers: the coordinator's grants go into the relay's token book,
 * the relay forwards their JSON-RPC to the node, and each report carries the
 * relay traffic per client for the pool to meter against the clients' own.
 */
import {
  admitParamsSchema,
  enodeHostProblem,
  evictParamsSchema,
  parseEnode,
  parseParams,
  rpcError,
  RpcError,
  type NodeId,
  type RelayGrant,
  type UpdateResult,
} from '../protocol/index.ts'
import { probeCapabilities } from '../ethnode/capabilities.ts'
import { BEACON_CAPABILITY } from '../protocol/index.ts'
import { connectNodeRpc } from '../ethnode/index.ts'
import { RelayTokenBook } from './relay/tokenBook.ts'
import { startRelayServer, type RelayServer } from './relay/relayServer.ts'
import type { CostTable } from '../protocol/costTable.ts'
import { NodeRpcError, type EthNode } from '../ethnode/index.ts'
import { PoolConnection } from '../agent/poolConnection.ts'
import type { NodeIdentity } from '../agent/nodeIdentity.ts'
import { openAgentNode, poolTrustOptions, privateAddressesAllowed, type AgentNodeConfig, type PoolTrustConfig } from '../agent/agentNode.ts'
import { runReportLoop } from '../agent/reportLoop.ts'
import { AGENT_NODE_TIMEOUT_MS } from '../agent/connectNode.ts'
import { Ticker } from '../agent/ticker.ts'
import type { Logger } from '../lib/logger.ts'
import { PeerReportMemo } from '../agent/peerReport.ts'
import { Registry } from 'prom-client'
import { registerProcessMetrics, startMetricsServer, type MetricsServer } from '../lib/metricsServer.ts'

export interface HostAgentConfig extends AgentNodeConfig, PoolTrustConfig {
  coordinator: string
  payout?: string
  capacity: number
  region?: string
  /** Overrides the interval the coordinator asks for. */
  updateIntervalMs?: number
  /** Serve the rpc service instead of peers: run a relay in front of the node. */
  relay?: HostRelayConfig
  /** Serve Prometheus metrics (the process's, and the relay's) at GET /metrics on this address. */
  metricsListen?: { host: string; port: number }
}

export interface HostRelayConfig {
  listenHost: string
  listenPort: number
  /** Where clients reach the relay (behind NAT or a proxy); default: the address it bound, 127.0.0.1 for a wildcard listen. */
  publicUrl?: string
  /** The node's HTTP JSON-RPC for relayed calls and the capability probe. */
  nodeHttpUrl: string
  /** The node's WebSocket JSON-RPC, for subscriptions; without it eth_subscribe is refused. */
  nodeWsUrl?: string
  /** Compute units per second per client (burst: relay/rateLimit.ts relayRateLimit). Default DEFAULT_RELAY_CU_RATE. */
  cuPerSec?: number
  /** The cost table (default: protocol/costTable.ts DEFAULT_COST_TABLE). */
  costTable?: CostTable
  /** Widest eth_getLogs range relayed, in blocks. Default DEFAULT_MAX_LOGS_RANGE. */
  maxLogsRange?: number
  /** Most gas a relayed eth_call / eth_estimateGas may ask for. Default DEFAULT_RELAY_GAS_CAP. */
  gasCap?: number
  /** Re-probe the node's methods every this many reports. */
  probeEveryReports?: number
  /** The consensus client's REST API (--relay-beacon): the relay serves the beacon light-client routes from it, and the host advertises `beacon`. */
  beaconUrl?: string
}

export interface RunningHostAgent {
  identity: NodeIdentity
  pool: PoolConnection
  /** Clients this agent admitted: node ID -> enode. */
  admitted: ReadonlyMap<NodeId, string>
  /** The relay, when this host serves the rpc service. */
  relay: RelayServer | undefined
  /** With metricsListen: http://host:port/metrics. */
  metricsUrl: string | undefined
  /** Resolves after each completed report (for tests and progress). */
  onReport(listener: (r: UpdateResult) => void): void
  close(): Promise<void>
}

export async function startHostAgent(config: HostAgentConfig, deps: { log: Logger; ethNode?: EthNode }): Promise<RunningHostAgent> {
  const { log } = deps
  const abort = new AbortController()
  const { node, identity, hello, close: closeNode } = await openAgentNode(config, deps, abort.signal)
  const admitted = new Map<NodeId, string>()
  // An update reply may have been computed before an admission that raced it:
  // only clients admitted before the update was sent can be judged by its reply.
  const admittedAt = new Map<NodeId, number>()
  let admissionSeq = 0
  let reports = 0
  const reportListeners: ((r: UpdateResult) => void)[] = []

  const tokens = new RelayTokenBook()
  const registry = new Registry()
  let relay: RelayServer | undefined
  let relayUrl: string | undefined
  let capabilities: string[] = []
  const probe = async (): Promise<string[]> => {
    const rpc = connectNodeRpc(config.relay!.nodeHttpUrl, { timeoutMs: config.nodeTimeoutMs ?? AGENT_NODE_TIMEOUT_MS })
    try {
      const report = await probeCapabilities(rpc)
      if (report.missing.length > 0) {
        // eth_getProof served at latest but not at finalized or head - 120 is missing too; the node's error says why.
        const why = report.failed.filter((f) => report.missing.includes(f.method)).map((f) => `${f.method} ${f.message}`)
        log.warn('the node does not serve some methods light clients need: the pool will not send it rpc clients', { missing: report.missing, ...(why.length > 0 ? { why } : {}) })
      }
      // Not probed: a beacon node that fails is failed over by the client proxies (docs/rpcService.md#the-beacon-api).
      return [...report.served, ...(config.relay!.beaconUrl !== undefined ? [BEACON_CAPABILITY] : [])].sort()
    } finally {
      await rpc.close()
    }
  }
  if (config.relay) {
    capabilities = await probe()
    relay = await startRelayServer({
      host: config.relay.listenHost,
      port: config.relay.listenPort,
      nodeHttpUrl: config.relay.nodeHttpUrl,
      ...(config.relay.nodeWsUrl ? { nodeWsUrl: config.relay.nodeWsUrl } : {}),
      ...(config.relay.beaconUrl !== undefined ? { beaconUrl: config.relay.beaconUrl } : {}),
      tokens,
      ...(config.relay.costTable ? { costTable: config.relay.costTable } : {}),
      limits: {
        ...(config.relay.cuPerSec ? { cuPerSec: config.relay.cuPerSec } : {}),
        ...(config.relay.maxLogsRange ? { maxLogsRange: config.relay.maxLogsRange } : {}),
        ...(config.relay.gasCap ? { gasCap: config.relay.gasCap } : {}),
      },
      logger: log.child({ module: 'relay' }),
      metricsRegistry: registry,
    })
    relayUrl = config.relay.publicUrl ?? boundRelayUrl(relay.url)
    if (!config.relay.publicUrl && (config.relay.listenHost === '0.0.0.0' || config.relay.listenHost === '::')) {
      log.warn('the relay is advertised at a loopback address that clients on other machines cannot reach: pass --relay-url http(s)://<public address>:<port>', { advertised: relayUrl })
    }
    log.info('relay listening', { url: relay.url, advertised: relayUrl, capabilities })
  }
  let metricsServer: MetricsServer | undefined
  if (config.metricsListen) {
    registerProcessMetrics(registry)
    metricsServer = await startMetricsServer(registry, config.metricsListen).catch(async (err: unknown) => {
      await relay?.close()
      await closeNode()
      throw err
    })
    log.info('metrics listening', { url: metricsServer.url })
  }
  // Defence in depth: the coordinator refuses non-public client enodes at their connect; an enode is an IP
  // literal (no name to rebind), so the same pure check here covers what the node is then told to dial.
  const allowPrivate = privateAddressesAllowed(config.coordinator, config)
  /** Relay grants from admissions, by client, with the admission's sequence number (see admittedAt). */
  const admittedGrants = new Map<NodeId, { grant: RelayGrant; seq: number }>()
  const nodeFailure = (err: unknown, what: string): RpcError => {
    log.error(`${what} failed on the node`, { error: (err as Error).message })
    return err instanceof NodeRpcError ? rpcError('NODE_UNAVAILABLE', `node refused ${what}: ${err.message}`) : rpcError('NODE_UNAVAILABLE', `node did not answer ${what}`)
  }

  const evict = async (nodeId: NodeId, reason: string) => {
    const enode = admitted.get(nodeId)
    await node.evict(nodeId, enode)
    admitted.delete(nodeId)
    admittedAt.delete(nodeId)
    log.info('client evicted', { client: nodeId, reason })
  }

  const pool = new PoolConnection({
    coordinatorUrl: config.coordinator,
    nodeKey: identity.key,
    ...poolTrustOptions(identity.keyFile, config),
    log: log.child({ module: 'pool' }),
    hello: async () =>
      hello('host', {
        capacity: config.capacity,
        ...(relayUrl ? { kind: 'rpc' as const, relayUrl, capabilities } : {}),
        ...(config.payout ? { payout: config.payout } : {}),
        ...(config.region ? { region: config.region } : {}),
      }),
    handlers: {
      vipnode_admit: async (raw) => {
        const p = parseParams(admitParamsSchema, raw, 'vipnode_admit')
        if (p.nodeId === identity.nodeId) throw rpcError('INVALID_PARAMS', 'refusing to admit this node to itself')
        if (p.kind === 'rpc') {
          if (!relay) throw rpcError('INVALID_PARAMS', 'this host runs no relay: it serves peers only')
          if (!p.relay || p.relay.nodeId !== p.nodeId) throw rpcError('INVALID_PARAMS', 'an rpc admission needs a relay grant for the client')
          tokens.add({ token: p.relay.token, clientNodeId: p.nodeId, expiresAtMs: p.relay.expiresAtMs })
          admittedGrants.set(p.nodeId, { grant: p.relay, seq: ++admissionSeq })
          log.info('client admitted to the relay', { client: p.nodeId })
          return { admitted: true }
        }
        // Some nodes dial an admitted client (Besu: allowlist + admin_addPeer): never at a non-public address outside development.
        const problem = enodeHostProblem(parseEnode(p.enode).host, allowPrivate, 'this host')
        if (problem) {
          log.warn('client enode refused: not admitting it', { client: p.nodeId, reason: problem })
          throw rpcError('INVALID_PARAMS', `invalid params for vipnode_admit: enode: ${problem}`)
        }
        try {
          await node.admit(p.enode)
        } catch (err) {
          throw nodeFailure(err, 'admit')
        }
        admitted.set(p.nodeId, p.enode)
        admittedAt.set(p.nodeId, ++admissionSeq)
        log.info('client admitted', { client: p.nodeId })
        return { admitted: true }
      },
      vipnode_evict: async (raw) => {
        const p = parseParams(evictParamsSchema, raw, 'vipnode_evict')
        if (relay && !admitted.has(p.nodeId)) {
          // An rpc client: revoking its token also closes its open relay sessions.
          admittedGrants.delete(p.nodeId)
          tokens.remove(p.nodeId)
          log.info('client evicted from the relay', { client: p.nodeId, reason: p.reason })
          return { evicted: true }
        }
        try {
          await evict(p.nodeId, p.reason)
        } catch (err) {
          throw nodeFailure(err, 'evict')
        }
        return { evicted: true }
      },
      vipnode_notice: (raw) => {
        log.warn('notice from pool', { notice: raw })
      },
    },
  })
  const ticker = new Ticker(abort.signal)
  // Report at once after every (re)connect, so a restarted coordinator learns our peers without waiting an interval.
  pool.on('connected', () => ticker.kick())
  pool.start()

  // Unchanged peers are sent as samePeers (agent/peerReport.ts).
  const peerMemo = new PeerReportMemo()
  const looping = runReportLoop({
    pool,
    ticker,
    signal: abort.signal,
    updateIntervalMs: config.updateIntervalMs,
    log,
    failureMessage: 'report failed',
    step: async () => {
      const [peers, head] = await Promise.all([node.peers(), node.head()])
      relay?.noteHead(head.number)
      const sentAt = admissionSeq
      let fresh: string[] | undefined
      if (relay && ++reports % (config.relay!.probeEveryReports ?? 20) === 0) {
        const now = await probe().catch((err: unknown) => (log.warn('capability probe failed', { error: (err as Error).message }), capabilities))
        if (now.join() !== capabilities.join()) fresh = capabilities = now
      }
      const relays = relay ? [...relay.drainActivity()].map(([nodeId, a]) => ({ nodeId, requests: a.requests, busyMs: Math.round(a.busyMs), computeUnits: Math.round(a.computeUnits) })) : undefined
      const peerParams = peerMemo.params(pool.current?.sessionId, peers.map((p) => p.nodeId))
      const result = await pool.call('vipnode_update', { ...peerParams, block: head, ...(relays ? { relays } : {}), ...(fresh ? { capabilities: fresh } : {}) }).catch((err: unknown) => {
        peerMemo.forget()
        throw err
      })
      peerMemo.sent()
      if (relay) {
        // The reply's grants are the whole truth, except admissions that raced the report.
        for (const [id, a] of [...admittedGrants]) if (a.seq <= sentAt) admittedGrants.delete(id)
        tokens.replace([...(result.relays ?? []), ...[...admittedGrants.values()].map((a) => a.grant)].map((g) => ({ token: g.token, clientNodeId: g.nodeId, expiresAtMs: g.expiresAtMs })))
      }
      const vouched = new Set(result.peers)
      for (const id of [...admitted.keys()]) {
        if (!vouched.has(id) && (admittedAt.get(id) ?? 0) <= sentAt) await evict(id, 'no longer vouched for by the pool')
      }
      for (const id of result.drop) {
        const peer = peers.find((p) => p.nodeId === id)
        if (peer?.enode) await node.evict(id, peer.enode)
      }
      for (const l of reportListeners) l(result)
    },
  })

  return {
    identity,
    pool,
    admitted,
    relay,
    metricsUrl: metricsServer?.url,
    onReport: (l) => reportListeners.push(l),
    async close() {
      abort.abort()
      await looping
      // Remove the trust this agent granted: the node must not keep serving clients nobody pays for.
      for (const id of [...admitted.keys()]) {
        await evict(id, 'host agent shutting down').catch((err: unknown) => log.warn('could not remove trust on shutdown', { client: id, error: (err as Error).message }))
      }
      await pool.close()
      await relay?.close()
      await metricsServer?.close()
      await closeNode()
    },
  }
}

/** The relay's bound URL as a default to advertise: a wildcard listen address is not dialable, so it becomes loopback. */
function boundRelayUrl(bound: string): string {
  const url = new URL(bound)
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1'
  return url.toString().replace(/\/$/, '')
}
