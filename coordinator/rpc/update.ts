/**
 * vipnode_update: an agent reports its node's peers and head. One store
 * transaction per report; the reply says which pool peers the coordinator
 * vouches for and which the agent should drop.
 */
import { parseParams, parseNodeId, parseEnode, updateParamsSchema, weiToWire, type AdminPeer, type NodeId, type UpdateResult } from '../../protocol/index.ts'
import type { CoordinatorServices, Handler } from './context.ts'
import { plausibleHead } from '../logic/plausibleHead.ts'

/** How far ahead of the other agents a reported head may be (about 13 minutes of mainnet blocks). */
const MAX_BLOCKS_AHEAD = 64
import { Accounts, topupLink } from '../services/metering.ts'

/** The peer's node ID: from `enode` when present (geth >= 1.9 hashes `id`), else from a public-key `id`. */
export function peerNodeId(peer: AdminPeer): NodeId | undefined {
  if (peer.enode) {
    try {
      return parseEnode(peer.enode).nodeId
    } catch {
      return undefined
    }
  }
  try {
    return parseNodeId(peer.id)
  } catch {
    return undefined
  }
}

export const update: Handler = async (raw, conn, services) => {
  const started = performance.now()
  const session = conn.session!
  const { store, clock, assignments, sessions, metrics, metering } = services
  const params = parseParams(updateParamsSchema, raw, 'vipnode_update')
  const peers = new Set<NodeId>()
  for (const p of params.peers) {
    const id = peerNodeId(p)
    if (id) peers.add(id)
  }
  const { exhausted } = await metering.ingest(session, peers, params.block, clock.now())
  // Stored as reported, but counted for health only when plausible against the other agents on this chain.
  if (plausibleHead(params.block.number, services.chainHeads.medianOn(session.chainId), MAX_BLOCKS_AHEAD)) session.blockNumber = params.block.number
  else services.log.warn('implausible head ignored for health', { node: session.nodeId, reported: params.block.number })
  for (const clientId of exhausted) await cutOff(clientId, services)

  const vouched = session.role === 'host' ? assignments.vouchedClientsOf(session.nodeId) : assignments.hostsOf(session.nodeId)
  const vouchedSet = new Set(vouched)
  // A reported peer that is an online pool agent of the other role, but not
  // assigned to this one, is using the pool without paying for it.
  const otherRole = session.role === 'host' ? 'client' : 'host'
  const drop: NodeId[] = []
  for (const id of peers) {
    if (!vouchedSet.has(id) && sessions.get(id)?.session?.role === otherRole) drop.push(id)
  }
  const balance = session.role === 'client' ? await store.balanceOf(Accounts.client(session.nodeId)) : 0n
  metrics.reports.inc()
  metrics.reportAck.observe((performance.now() - started) / 1000)
  const result: UpdateResult = { peers: vouched, drop, balanceWei: weiToWire(balance) }
  return result
}

/** A client that can no longer pay: evicted from its hosts and told how to top up. */
async function cutOff(clientId: NodeId, services: CoordinatorServices): Promise<void> {
  const { assignments, sessions, config, log } = services
  const released = await assignments.releaseClient(clientId, 'insufficient-balance')
  if (released === 0) return
  log.info('client out of funds', { client: clientId, hostsReleased: released })
  sessions.get(clientId)?.notify('vipnode_notice', {
    level: 'error',
    code: 'insufficient-balance',
    message: `your balance ran out and your hosts were released: top up to be served again`,
    ...(config.topupUrl ? { url: topupLink(config.topupUrl, clientId) } : {}),
  })
}
