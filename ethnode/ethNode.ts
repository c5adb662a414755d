/**
 * One interface over the admin JSON-RPC of every supported execution client.
 * The host agent and the client shim talk to their node only through this.
 */
import type { Enode, NodeId } from '../protocol/index.ts'

export type NodeKind = 'geth' | 'reth' | 'nethermind' | 'erigon' | 'besu' | 'ethereumjs'

/** A peer as the pool sees it: normalised across clients. */
export interface PeerInfo {
  /** Always the 64-byte public key (geth >= 1.9 puts a hash in `id`; we read `enode`). */
  nodeId: NodeId
  /** The full enode when the client reports one. */
  enode?: string
  name?: string
  caps: string[]
  inbound?: boolean
  trusted?: boolean
  remoteAddress?: string
  localAddress?: string
  /** The raw entry, geth-shaped, as forwarded in vipnode_update. */
  raw: Record<string, unknown>
}

export interface EthNode {
  readonly kind: NodeKind
  readonly clientVersion: string
  self(): Promise<{ enode: Enode; nodeId: NodeId }>
  peers(): Promise<PeerInfo[]>
  head(): Promise<{ number: number; hash: string }>
  chainId(): Promise<number>
  /** Let this client in even when the node is full (geth: admin_addTrustedPeer). */
  admit(enode: string): Promise<void>
  /** Withdraw trust and disconnect. */
  evict(nodeId: NodeId, enode?: string): Promise<void>
  /** Dial a host (admin_addPeer). */
  dial(enode: string): Promise<void>
  close(): Promise<void>
}

/** Low-level JSON-RPC to the node, over HTTP, WebSocket or IPC. */
export interface NodeRpc {
  request(method: string, params?: unknown[]): Promise<unknown>
  readonly url: string
  close(): Promise<void>
}

/** What an adapter may report besides its return values. */
export interface AdapterHooks {
  /**
   * Something the operator must know but that is not an error, e.g. that
   * the client cannot do what was asked (ethereumjs cannot disconnect a
   * peer). Default: a process warning on stderr.
   */
  warn?: (message: string, context?: Record<string, unknown>) => void
}

export interface NodeAdapter {
  kind: NodeKind
  matches(clientVersion: string): boolean
  create(rpc: NodeRpc, clientVersion: string, hooks?: AdapterHooks): EthNode
}
