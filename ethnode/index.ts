// Node adapters: one EthNode interface over geth, reth, Nethermind, Erigon, Besu and EthereumJS.
export type { AdapterHooks, EthNode, NodeAdapter, NodeKind, NodeRpc, PeerInfo } from './ethNode.ts'
export { connectEthNode, ADAPTERS, type ConnectEthNodeOptions } from './connect.ts'
export { connectNodeRpc, DEFAULT_NODE_TIMEOUT_MS, type NodeRpcOptions } from './nodeRpc.ts'
export {
  NodeUnavailableError,
  NodeRpcError,
  MissingMethodError,
  UnsupportedClientError,
  explainMissingMethod,
  isMissingMethodError,
} from './errors.ts'
export { baseNode, normalisePeer, type BaseNode } from './baseNode.ts'
export { gethAdapter } from './geth.ts'
export { rethAdapter } from './reth.ts'
export { nethermindAdapter } from './nethermind.ts'
export { erigonAdapter } from './erigon.ts'
export { besuAdapter } from './besu.ts'
export { ethereumjsAdapter, ethereumjsPeer, ETHEREUMJS_DIAL_BAN_MS } from './ethereumjs.ts'
