/**
 * The client shim in rpc mode (`vipnode client --service rpc`): no node of its
 * own, just a local JSON-RPC endpoint that a light client (Helios, the Nimbus
 * verified proxy, the Lodestar prover) or a wallet points at. It asks the pool
 * for rpc hosts, relays through them with the tokens the pool issued, and
 * reports its relay traffic per host, which the pool meters against the
 * hosts' own reports, and the service each host gave (calls by outcome,
 * latency: rpcProxy/qualityMeter.ts), which the pool scores hosts by. A host whose relay does not serve (benched for errors
 * or timeouts) is handed back with `replace` for another.
 *
 * Its identity is a node key of its own (`vipnode keygen`): the pool bills
 * and credits by that node ID.
 *
 * Relay URLs are the hosts' choice. Outside development a grant's URL must
 * be https on a public IP or a DNS name (checked here when it arrives), and
 * a name is resolved and checked again for every connection the proxy opens
 * (rpcProxy/relayAddresses.ts), so a name that rebinds to a private address
 * after the pool checked it gets nothing.
 */
import { poolTrustOptions, privateAddressesAllowed, type PoolTrustConfig } from '../agent/agentNode.ts'
import { BEACON_CAPABILITY, formatEnode, loadNodeKey, relayUrlProblem, nodeIdOf, MAX_QUALITY_HOSTS, type NodeId, type RelayGrant, type UpdateResult } from '../protocol/index.ts'
import { PoolConnection } from '../agent/poolConnection.ts'
import { greetOnConnect, HostTopUp, showNotice } from '../agent/clientDuties.ts'
import { runReportLoop } from '../agent/reportLoop.ts'
import { Ticker } from '../agent/ticker.ts'
import { VERSION } from '../lib/packageVersion.ts'
import type { Logger } from '../lib/logger.ts'
import type { ResolveName } from '../lib/resolveName.ts'
import { startRpcProxy, type RpcProxy, type RpcTarget } from './rpcProxy/rpcProxy.ts'
import type { BadAnswer } from './rpcProxy/answerCheck.ts'
import { Registry } from 'prom-client'
import { registerProcessMetrics, startMetricsServer, type MetricsServer } from '../lib/metricsServer.ts'
import { startBeaconProxy, type BeaconProxy } from './rpcProxy/beaconProxy.ts'
import { ActivityMeter } from '../agent/relay/activity.ts'

export interface RpcClientShimConfig extends PoolTrustConfig {
  bootstrap: string
  nodekey: string
  chainId: number
  hosts: number
  /** Where the local endpoint listens. */
  listenHost: string
  listenPort: number
  /** Browser origins allowed to use the endpoint (wallets in a page); none by default. */
  allowedOrigins?: readonly string[]
  updateIntervalMs?: number
  requestTimeoutMs?: number
  /** Serve Prometheus metrics (the process's and the proxy's) at GET /metrics on this address. */
  metricsListen?: { host: string; port: number }
  /** Where the local beacon API (light-client routes) listens; none without it. */
  beaconListen?: { host: string; port: number }
  /** Checked answers (rpcProxy/answerCheck.ts): compare hosts' answers to deterministic calls once per report. Default true. */
  checkAnswers?: boolean
}

export interface RunningRpcClientShim {
  nodeId: NodeId
  pool: PoolConnection
  proxy: RpcProxy
  /** With metricsListen: http://host:port/metrics. */
  metricsUrl: string | undefined
  /** The local beacon API, with --beacon-listen. */
  beacon: BeaconProxy | undefined
  onReport(listener: (r: UpdateResult) => void): void
  close(): Promise<void>
}

/** No block of its own to report: 0 is never counted as a head (ChainHeads skips it). */
const NO_BLOCK = { number: 0, hash: `0x${'00'.repeat(32)}` }

export interface RpcClientShimDeps {
  log: Logger
  /** How relay names are resolved; default the system resolver. For tests (a DNS responder of their own). */
  resolveName?: ResolveName
}

export async function startRpcClientShim(config: RpcClientShimConfig, deps: RpcClientShimDeps): Promise<RunningRpcClientShim> {
  const { log } = deps
  const abort = new AbortController()
  const key = loadNodeKey(config.nodekey)
  const nodeId = nodeIdOf(key)
  const allowPrivate = privateAddressesAllowed(config.bootstrap, config)
  const registry = new Registry()
  /** Reports a host found in the minority to the pool (set once the pool connection exists). */
  let reportBad: ((bad: BadAnswer) => Promise<void>) | undefined
  // One activity per host for JSON-RPC and beacon requests, as the relay keeps it: the report drains both at once.
  const meter = new ActivityMeter<NodeId>()
  const proxy = await startRpcProxy({
    meter,
    onBadAnswer: async (bad) => reportBad?.(bad),
    metricsRegistry: registry,
    host: config.listenHost,
    port: config.listenPort,
    logger: log.child({ module: 'rpc-proxy' }),
    relayAddresses: { allowPrivate, ...(deps.resolveName ? { resolveName: deps.resolveName } : {}) },
    ...(config.requestTimeoutMs ? { requestTimeoutMs: config.requestTimeoutMs } : {}),
    ...(config.allowedOrigins ? { allowedOrigins: config.allowedOrigins } : {}),
  })
  let metricsServer: MetricsServer | undefined
  if (config.metricsListen) {
    registerProcessMetrics(registry)
    metricsServer = await startMetricsServer(registry, config.metricsListen).catch(async (err: unknown) => {
      await proxy.close()
      throw err
    })
    log.info('metrics listening', { url: metricsServer.url })
  }
  const beacon = config.beaconListen
    ? await startBeaconProxy({
        meter,
        host: config.beaconListen.host,
        port: config.beaconListen.port,
        logger: log.child({ module: 'beacon-proxy' }),
        relayAddresses: { allowPrivate, ...(deps.resolveName ? { resolveName: deps.resolveName } : {}) },
        ...(config.requestTimeoutMs ? { requestTimeoutMs: config.requestTimeoutMs } : {}),
        ...(config.allowedOrigins ? { allowedOrigins: config.allowedOrigins } : {}),
      })
    : undefined
  const reportListeners: ((r: UpdateResult) => void)[] = []
  /** The pool's latest word on each assigned host: relay URL and token. */
  const grants = new Map<NodeId, RelayGrant>()
  const refusedRelays = new Set<string>()
  /** Defence in depth: never post to a relay URL on a non-public address (or plain http) outside development. */
  const usable = (g: RelayGrant): boolean => {
    if (!g.relayUrl) return false
    const r = relayUrlProblem(g.relayUrl, allowPrivate)
    if (!('problem' in r)) return true
    if (!refusedRelays.has(g.relayUrl)) {
      refusedRelays.add(g.relayUrl)
      log.warn('relay URL refused: not posting there', { host: g.nodeId, relay: g.relayUrl.slice(0, 200), reason: r.problem })
    }
    return false
  }
  const applyGrants = (fresh: readonly RelayGrant[]) => {
    grants.clear()
    for (const g of fresh) if (usable(g)) grants.set(g.nodeId, g)
    const targets: RpcTarget[] = [...grants.values()].map((g) => ({ hostNodeId: g.nodeId, relayUrl: g.relayUrl!, token: g.token }))
    proxy.setTargets(targets)
    // The beacon API only through hosts whose relay serves it.
    beacon?.setTargets(targets.filter((t) => grants.get(t.hostNodeId)?.beacon === true))
  }

  const pool = new PoolConnection({
    coordinatorUrl: config.bootstrap,
    nodeKey: key,
    ...poolTrustOptions(config.nodekey, config),
    log: log.child({ module: 'pool' }),
    hello: async () => ({
      protocolVersion: 1,
      role: 'client',
      nodeId,
      // The host never dials an rpc client: the enode only carries the identity.
      enode: formatEnode({ nodeId, host: '127.0.0.1', tcpPort: 0, udpPort: 0 }),
      chainId: config.chainId,
      clientVersion: `vipnode-rpc-client/${VERSION}`,
      agentVersion: VERSION,
      kind: 'rpc',
    }),
    handlers: {
      vipnode_notice: (raw) => {
        if (showNotice(raw, log) === 'host-gone') ticker.kick()
      },
    },
  })
  const ticker = new Ticker(abort.signal)
  greetOnConnect(pool, ticker, log)
  pool.start()

  /**
   * Checked answers: one check at a time, started at a report and run beside it (a slow host must not hold the
   * report back). Hosts that agreed go with the next report (`checked`); a host found in the minority is reported at
   * once with vipnode_reportBadAnswer, while the pair still stands, and the next report hands it back (benched).
   */
  reportBad = async ({ minority, call, answerDigest, majorityDigest, witnesses }) => {
    const reply = await pool.call('vipnode_reportBadAnswer', { host: minority, call, answerDigest, majorityDigest, witnesses })
    log.warn('bad answer reported to the pool', { host: minority, method: call.method, accepted: reply.accepted, excluded: reply.excluded, ...(reply.reason ? { reason: reply.reason } : {}) })
    // The next report hands the benched host back for another.
    ticker.kick()
  }
  let checking: Promise<void> | undefined
  const agreed = new Set<NodeId>()
  const startCheck = () => {
    if (config.checkAnswers === false || checking) return
    checking = (async () => {
      const r = await proxy.checkAnswers()
      for (const h of r.agreed) agreed.add(h)
      if (r.bad) await reportBad!(r.bad)
    })()
      .catch((err: unknown) => log.warn('answer check failed', { error: (err as Error).message }))
      .finally(() => {
        checking = undefined
      })
  }

  // With a local beacon API the pool is asked for hosts that serve it (picked first: docs/loadBalancer.md).
  const topUp = new HostTopUp({ pool, kind: 'rpc', want: config.hosts, log, updateIntervalMs: config.updateIntervalMs, needs: beacon ? [BEACON_CAPABILITY] : undefined })
  const looping = runReportLoop({
    pool,
    ticker,
    signal: abort.signal,
    updateIntervalMs: config.updateIntervalMs,
    log,
    failureMessage: 'update failed',
    step: async () => {
      const relays = [...proxy.drainActivity()].map(([id, a]) => ({ nodeId: id, requests: a.requests, busyMs: Math.round(a.busyMs), computeUnits: Math.round(a.computeUnits) }))
      // What each host's service was like (docs/rpcService.md#quality): the pool scores hosts by it.
      const quality = proxy.drainQuality().slice(0, MAX_QUALITY_HOSTS)
      const checked = [...agreed].slice(0, MAX_QUALITY_HOSTS)
      agreed.clear()
      const result = await pool.call('vipnode_update', { peerIds: [], block: NO_BLOCK, relays, ...(quality.length > 0 ? { quality } : {}), ...(checked.length > 0 ? { checked } : {}) })
      applyGrants(result.relays ?? [])
      // Hosts whose relay does not serve (benched by the proxy's host health) are handed back for others.
      const benched = proxy.benchedHosts()
      const got = await topUp.topUp(grants.size - benched.length, benched, [...grants.values()].some((g) => g.beacon === true))
      for (const h of got) if (h.relay && !grants.has(h.nodeId)) log.info('relaying through host', { host: h.nodeId, relay: h.relay.relayUrl })
      if (benched.length > 0) {
        const kept = new Set(got.map((h) => h.nodeId))
        for (const id of benched) if (!kept.has(id)) grants.delete(id)
      }
      if (got.length > 0 || benched.length > 0) applyGrants([...grants.values(), ...got.flatMap((h) => (h.relay ? [h.relay] : []))])
      for (const l of reportListeners) l(result)
      startCheck()
    },
  })

  return {
    nodeId,
    pool,
    proxy,
    metricsUrl: metricsServer?.url,
    beacon,
    onReport: (l) => reportListeners.push(l),
    async close() {
      abort.abort()
      await looping
      await pool.close()
      // Closing the proxy ends a check's requests in flight (a hung host must not hold the shutdown for its timeouts).
      await proxy.close()
      await checking
      await metricsServer?.close()
      await beacon?.close()
    },
  }
}
