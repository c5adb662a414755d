/**
 * Erigon. Its p2p stack is forked from geth, and so is its admin API.
 * Quirks:
 * - `admin_peers[].id` is geth's keccak256(pubkey) hash.
 * - One `--http.api` list applies to HTTP and to WebSocket (`--ws`).
 */
import { baseNode } from './baseNode.ts'
import type { NodeAdapter } from './ethNode.ts'

export const erigonAdapter: NodeAdapter = {
  kind: 'erigon',
  matches: (clientVersion) => /^erigon\//i.test(clientVersion),
  create: (rpc, clientVersion) => baseNode(rpc, 'erigon', clientVersion),
}
