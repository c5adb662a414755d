/**
 * Open the node's RPC and pick the adapter for the client behind it, by its
 * web3_clientVersion (Lodestar's Web3ProviderType.matched).
 */
import { besuAdapter } from './besu.ts'
import { erigonAdapter } from './erigon.ts'
import { UnsupportedClientError, NodeUnavailableError } from './errors.ts'
import { ethereumjsAdapter } from './ethereumjs.ts'
import type { AdapterHooks, EthNode, NodeAdapter } from './ethNode.ts'
import { gethAdapter } from './geth.ts'
import { nethermindAdapter } from './nethermind.ts'
import { connectNodeRpc, type NodeRpcOptions } from './nodeRpc.ts'
import { rethAdapter } from './reth.ts'

export const ADAPTERS: readonly NodeAdapter[] = [gethAdapter, rethAdapter, nethermindAdapter, erigonAdapter, besuAdapter, ethereumjsAdapter]

export type ConnectEthNodeOptions = NodeRpcOptions & AdapterHooks

export async function connectEthNode(url: string, options: ConnectEthNodeOptions = {}): Promise<EthNode> {
  const rpc = connectNodeRpc(url, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs })
  try {
    const clientVersion = await rpc.request('web3_clientVersion')
    if (typeof clientVersion !== 'string') {
      throw new NodeUnavailableError(`malformed reply from ${rpc.url}: web3_clientVersion is not a string`)
    }
    const adapter = ADAPTERS.find((a) => a.matches(clientVersion))
    if (!adapter) throw new UnsupportedClientError(clientVersion, ADAPTERS.map((a) => a.kind))
    return adapter.create(rpc, clientVersion, options.warn ? { warn: options.warn } : {})
  } catch (err) {
    await rpc.close()
    throw err
  }
}
