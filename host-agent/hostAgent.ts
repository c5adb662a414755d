/**
 * The host agent: runs beside a full node, keeps a signed session with the
 * coordinator, admits and evicts clients on its orders (trusted peers), and
 * reports the node's peers every update interval. Clients it admitted that
 * the coordinator no longer vouches for are dropped; on shutdown it removes
 * every trust it granted.
 */
import {
  admitParamsSchema,
  evictParamsSchema,
  parseParams,
  rpcError,
  RpcError,
  type NodeId,
  type UpdateResult,
} from '../protocol/index.ts'
import { NodeRpcError, type EthNode } from '../ethnode/index.ts'
import { PoolConnection } from '../agent/poolConnection.ts'
import type { NodeIdentity } from '../agent/nodeIdentity.ts'
import { openAgentNode, type AgentNodeConfig } from '../agent/agentNode.ts'
import { runReportLoop } from '../agent/reportLoop.ts'
import { Ticker } from '../agent/ticker.ts'
import { toAdminPeer } from '../agent/reportPeers.ts'
import type { Logger } from '../lib/logger.ts'

export interface HostAgentConfig extends AgentNodeConfig {
  coordinator: string
  payout?: string
  capacity: number
  region?: string
  /** Overrides the interval the coordinator asks for. */
  updateIntervalMs?: number
}

export interface RunningHostAgent {
  identity: NodeIdentity
  pool: PoolConnection
  /** Clients this agent admitted: node ID -> enode. */
  admitted: ReadonlyMap<NodeId, string>
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
  const reportListeners: ((r: UpdateResult) => void)[] = []

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
    log: log.child({ module: 'pool' }),
    hello: async () =>
      hello('host', {
        capacity: config.capacity,
        ...(config.payout ? { payout: config.payout } : {}),
        ...(config.region ? { region: config.region } : {}),
      }),
    handlers: {
      vipnode_admit: async (raw) => {
        const p = parseParams(admitParamsSchema, raw, 'vipnode_admit')
        if (p.nodeId === identity.nodeId) throw rpcError('INVALID_PARAMS', 'refusing to admit this node to itself')
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

  const looping = runReportLoop({
    pool,
    ticker,
    signal: abort.signal,
    updateIntervalMs: config.updateIntervalMs,
    log,
    failureMessage: 'report failed',
    step: async () => {
      const [peers, head] = await Promise.all([node.peers(), node.head()])
      const sentAt = admissionSeq
      const result = await pool.call('vipnode_update', { peers: peers.map(toAdminPeer), block: head })
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
    onReport: (l) => reportListeners.push(l),
    async close() {
      abort.abort()
      await looping
      // Remove the trust this agent granted: the node must not keep serving clients nobody pays for.
      for (const id of [...admitted.keys()]) {
        await evict(id, 'host agent shutting down').catch((err: unknown) => log.warn('could not remove trust on shutdown', { client: id, error: (err as Error).message }))
      }
      await pool.close()
      await closeNode()
    },
  }
}
