/**
 * go-ethereum. The reference shape the base implements.
 * Quirks:
 * - `admin_peers[].id` and `admin_nodeInfo.id` are keccak256(pubkey), not the
 *   node ID; only `enode` carries the public key.
 * - `admin_addPeer` makes the peer static: geth redials it until removePeer.
 *   It returns true at once, before (and whether or not) the dial succeeds.
 * - `admin_removeTrustedPeer` only clears the trusted flag; it does not
 *   disconnect, so evict also calls `admin_removePeer`.
 * - Inbound peers' `enode` carries the remote's ephemeral source port, not a
 *   dialable listening port.
 * - The admin API must be enabled per transport: `--http.api` / `--ws.api`;
 *   IPC exposes everything.
 */
import { baseNode } from './baseNode.ts'
import type { NodeAdapter } from './ethNode.ts'

export const gethAdapter: NodeAdapter = {
  kind: 'geth',
  matches: (clientVersion) => /^geth\//i.test(clientVersion),
  create: (rpc, clientVersion) => baseNode(rpc, 'geth', clientVersion),
}
