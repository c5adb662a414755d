/**
 * reth. Speaks geth's admin API.
 * Quirks:
 * - `admin_peers[].id` is the full 64-byte public key, 0x-prefixed (geth puts
 *   a hash there); we read `enode` anyway.
 * - `--http.api` / `--ws.api` select the namespaces, as in geth.
 */
import { baseNode } from './baseNode.ts'
import type { NodeAdapter } from './ethNode.ts'

export const rethAdapter: NodeAdapter = {
  kind: 'reth',
  matches: (clientVersion) => /^reth\//i.test(clientVersion),
  create: (rpc, clientVersion) => baseNode(rpc, 'reth', clientVersion),
}
