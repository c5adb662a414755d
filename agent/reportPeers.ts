/** Turn normalised peers into the geth `admin_peers` shape that vipnode_update carries. */
import type { AdminPeer } from '../protocol/index.ts'
import type { PeerInfo } from '../ethnode/index.ts'

export function toAdminPeer(p: PeerInfo): AdminPeer {
  const network: NonNullable<AdminPeer['network']> = {}
  if (p.localAddress !== undefined) network.localAddress = p.localAddress
  if (p.remoteAddress !== undefined) network.remoteAddress = p.remoteAddress
  if (p.inbound !== undefined) network.inbound = p.inbound
  if (p.trusted !== undefined) network.trusted = p.trusted
  const peer: AdminPeer = { id: p.nodeId, caps: p.caps.slice(0, 64), network }
  if (p.enode !== undefined) peer.enode = p.enode
  if (p.name !== undefined) peer.name = p.name.slice(0, 512)
  return peer
}
