/**
 * The client shim: runs beside a client node, asks the pool for hosts, makes
 * its node dial them, reports its peers, replaces hosts that disappear or never
 * show up among its peers, and shows the pool's notices (welcome, low balance with the top-up link).
 */
import { enodeHostProblem, parseEnode, type AssignedHost, type NodeId, type UpdateResult } from '../protocol/index.ts'
import type { EthNode } from '../ethnode/index.ts'
import { PoolConnection } from '../agent/poolConnection.ts'
import { greetOnConnect, HostTopUp, showNotice } from '../agent/clientDuties.ts'
import type { NodeIdentity } from '../agent/nodeIdentity.ts'
import { openAgentNode, poolTrustOptions, privateAddressesAllowed, type AgentNodeConfig, type PoolTrustConfig } from '../agent/agentNode.ts'
import { reportIntervalMs, runReportLoop } from '../agent/reportLoop.ts'
import { UnservedHosts, unservedGraceMs } from '../agent/unservedHosts.ts'
import { Ticker } from '../agent/ticker.ts'
import type { Logger } from '../lib/logger.ts'
import { PeerReportMemo } from '../agent/peerReport.ts'

export interface ClientShimConfig extends Omit<AgentNodeConfig, 'publicEnode'>, PoolTrustConfig {
  bootstrap: string
  hosts: number
  updateIntervalMs?: number
  /** How long a vouched host may stay absent from the node's peers before it is handed back. Default max(2 update intervals, 30 s). */
  unservedGraceMs?: number
}

export interface RunningClientShim {
  identity: NodeIdentity
  pool: PoolConnection
  /** Hosts the pool assigned and this shim dialled: node ID -> enode. */
  hosts: ReadonlyMap<NodeId, string>
  onReport(listener: (r: UpdateResult) => void): void
  close(): Promise<void>
}

export async function startClientShim(config: ClientShimConfig, deps: { log: Logger; ethNode?: EthNode }): Promise<RunningClientShim> {
  const { log } = deps
  const abort = new AbortController()
  const { node, identity, hello, close: closeNode } = await openAgentNode(config, deps, abort.signal)
  const hosts = new Map<NodeId, string>()
  const reportListeners: ((r: UpdateResult) => void)[] = []

  const pool = new PoolConnection({
    coordinatorUrl: config.bootstrap,
    nodeKey: identity.key,
    ...poolTrustOptions(identity.keyFile, config),
    log: log.child({ module: 'pool' }),
    hello: async () => hello('client'),
    handlers: {
      vipnode_notice: (raw) => {
        if (showNotice(raw, log) === 'host-gone') ticker.kick()
      },
    },
  })
  const ticker = new Ticker(abort.signal)
  greetOnConnect(pool, ticker, log)
  pool.start()

  const allowPrivate = privateAddressesAllowed(config.bootstrap, config)
  const dial = async (h: AssignedHost | { nodeId: NodeId; enode: string }) => {
    // Defence in depth: the node never dials a host on a non-public address outside development.
    const problem = enodeHostProblem(parseEnode(h.enode).host, allowPrivate, 'this client')
    if (problem) {
      log.warn('host enode refused: not dialling it', { host: h.nodeId, reason: problem })
      return
    }
    await node.dial(h.enode)
    if (!hosts.has(h.nodeId)) log.info('dialling host', { host: h.nodeId })
    hosts.set(h.nodeId, h.enode)
  }

  const drop = async (id: NodeId, enode: string | undefined, reason: string) => {
    await node.evict(id, enode)
    hosts.delete(id)
    log.info('host dropped', { host: id, reason })
  }

  const unservedHosts = new UnservedHosts()
  const topUp = new HostTopUp({ pool, kind: 'peer', want: config.hosts, log, updateIntervalMs: config.updateIntervalMs })
  // Unchanged peers are sent as samePeers (agent/peerReport.ts).
  const peerMemo = new PeerReportMemo()
  const looping = runReportLoop({
    pool,
    ticker,
    signal: abort.signal,
    updateIntervalMs: config.updateIntervalMs,
    log,
    failureMessage: 'update failed',
    step: async () => {
      const [peers, head] = await Promise.all([node.peers(), node.head()])
      const peerParams = peerMemo.params(pool.current?.sessionId, peers.map((p) => p.nodeId))
      const result = await pool.call('vipnode_update', { ...peerParams, block: head }).catch((err: unknown) => {
        peerMemo.forget()
        throw err
      })
      peerMemo.sent()
      const vouched = new Set(result.peers)
      for (const [id, enode] of [...hosts]) if (!vouched.has(id)) await drop(id, enode, 'no longer assigned')
      for (const id of result.drop) await drop(id, peers.find((p) => p.nodeId === id)?.enode, 'not assigned by the pool')
      // Hosts we were given but are not peered with (yet): dial again, as a restarted node forgets them.
      const connected = new Set(peers.map((p) => p.nodeId))
      for (const id of vouched) {
        const enode = hosts.get(id)
        if (enode && !connected.has(id)) await node.dial(enode)
      }
      // Vouched hosts that never showed up among the node's peers are handed back for others.
      const grace = config.unservedGraceMs ?? unservedGraceMs(reportIntervalMs(pool, config.updateIntervalMs))
      const unserved = unservedHosts.observe(vouched, connected, grace)
      const got = await topUp.topUp(vouched.size - unserved.length, unserved)
      if (unserved.length > 0) {
        unservedHosts.forget(unserved)
        const kept = new Set(got.map((h) => h.nodeId))
        for (const id of unserved) if (!kept.has(id) && hosts.has(id)) await drop(id, hosts.get(id), 'never served this client; handed back to the pool')
      }
      for (const h of got) if (!hosts.has(h.nodeId)) await dial(h)
      for (const l of reportListeners) l(result)
    },
  })

  return {
    identity,
    pool,
    hosts,
    onReport: (l) => reportListeners.push(l),
    async close() {
      abort.abort()
      await looping
      for (const [id, enode] of [...hosts]) {
        await drop(id, enode, 'client shim shutting down').catch((err: unknown) => log.warn('could not drop host on shutdown', { host: id, error: (err as Error).message }))
      }
      await pool.close()
      await closeNode()
    },
  }
}
