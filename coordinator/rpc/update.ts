/**
 * vipnode_update: an agent reports its node's peers and head. One store
 * transaction per report; the reply says which pool peers the coordinator
 * vouches for and which the agent should drop.
 */
import { parseParams, parseNodeId, parseEnode, updateParamsSchema, weiToWire, type AdminPeer, type NodeId, type UpdateResult } from '../../protocol/index.ts'
import type { Handler } from './context.ts'

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
  const { store, clock, assignments, sessions, metrics } = services
  const params = parseParams(updateParamsSchema, raw, 'vipnode_update')
  const peers = new Set<NodeId>()
  for (const p of params.peers) {
    const id = peerNodeId(p)
    if (id) peers.add(id)
  }
  await store.recordReport({
    nodeId: session.nodeId,
    sessionId: session.sessionId,
    observedAtMs: clock.now(),
    blockNumber: params.block.number,
    blockHash: params.block.hash,
    peers: [...peers],
  })
  session.blockNumber = params.block.number

  const vouched = session.role === 'host' ? assignments.vouchedClientsOf(session.nodeId) : assignments.hostsOf(session.nodeId)
  const vouchedSet = new Set(vouched)
  // A reported peer that is an online pool agent of the other role, but not
  // assigned to this one, is using the pool without paying for it.
  const otherRole = session.role === 'host' ? 'client' : 'host'
  const drop: NodeId[] = []
  for (const id of peers) {
    if (!vouchedSet.has(id) && sessions.get(id)?.session?.role === otherRole) drop.push(id)
  }
  const balance = await store.balanceOf(`${session.role}:${session.nodeId}`)
  metrics.reports.inc()
  metrics.reportAck.observe((performance.now() - started) / 1000)
  const result: UpdateResult = { peers: vouched, drop, balanceWei: weiToWire(balance) }
  return result
}
