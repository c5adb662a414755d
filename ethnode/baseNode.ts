/**
 * The admin/eth calls every supported client shares (geth's shape). Adapters
 * spread this and override what their client does differently, in the
 * spirit of vipnode's embedded baseNode.
 */
import { formatEnode, parseEnode, parseNodeId, isNodeId, type NodeId } from '../protocol/enode.ts'
import {
  MissingMethodError,
  NodeRpcError,
  NodeUnavailableError,
  explainMissingMethod,
  isMissingMethodError,
} from './errors.ts'
import type { EthNode, NodeKind, NodeRpc, PeerInfo } from './ethNode.ts'

export interface BaseNode extends EthNode {
  /** A request whose "no such method" reply becomes MissingMethodError for this kind. */
  call(method: string, params?: unknown[]): Promise<unknown>
}

export function baseNode(rpc: NodeRpc, kind: NodeKind, clientVersion: string): BaseNode {
  const call = async (method: string, params: unknown[] = []): Promise<unknown> => {
    try {
      return await rpc.request(method, params)
    } catch (err) {
      if (err instanceof NodeRpcError && !(err instanceof MissingMethodError) && isMissingMethodError(err)) {
        throw new MissingMethodError(method, kind, explainMissingMethod(method, kind))
      }
      throw err
    }
  }

  return {
    kind,
    clientVersion,
    call,

    async self() {
      const info = await call('admin_nodeInfo')
      const enode = (info as { enode?: unknown } | null)?.enode
      if (typeof enode !== 'string') throw malformed(rpc, 'admin_nodeInfo', 'no enode field')
      // The node ID comes from the enode: geth's `id` is a hash, not the key.
      const parsed = parseEnode(enode)
      return { enode: parsed, nodeId: parsed.nodeId }
    },

    async peers() {
      const list = await call('admin_peers')
      if (!Array.isArray(list)) throw malformed(rpc, 'admin_peers', 'not an array')
      const out: PeerInfo[] = []
      for (const entry of list) {
        if (typeof entry === 'object' && entry !== null) {
          const peer = normalisePeer(entry as Record<string, unknown>)
          if (peer) out.push(peer)
        }
      }
      return out
    },

    async head() {
      const block = (await call('eth_getBlockByNumber', ['latest', false])) as { number?: unknown; hash?: unknown } | null
      if (!block || typeof block.hash !== 'string') throw malformed(rpc, 'eth_getBlockByNumber', 'no latest block')
      return { number: hexToNumber(block.number, rpc, 'eth_getBlockByNumber'), hash: block.hash }
    },

    async chainId() {
      try {
        return hexToNumber(await call('eth_chainId'), rpc, 'eth_chainId')
      } catch (err) {
        // Pre-EIP-695 nodes only have net_version (the network ID, usually the chain ID).
        if (!(err instanceof NodeRpcError)) throw err
        const version = await call('net_version')
        if (typeof version !== 'string' || !/^\d+$/.test(version)) throw malformed(rpc, 'net_version', 'not a decimal string')
        return Number(version)
      }
    },

    async dial(enode) {
      const canonical = canonicalEnode(enode)
      expectTrue(await call('admin_addPeer', [canonical]), 'admin_addPeer', canonical)
    },

    async admit(enode) {
      const canonical = canonicalEnode(enode)
      expectTrue(await call('admin_addTrustedPeer', [canonical]), 'admin_addTrustedPeer', canonical)
    },

    async evict(nodeId, enode) {
      const target = evictTarget(nodeId, enode)
      await bothSteps(
        () => call('admin_removeTrustedPeer', [target]),
        () => call('admin_removePeer', [target]),
      )
    },

    close: () => rpc.close(),
  }
}

/** Parse and re-format, so the node gets a canonical (lowercase) enode or we fail early with EnodeError. */
export function canonicalEnode(enode: string): string {
  return formatEnode(parseEnode(enode))
}

/**
 * Evicting needs the enode: admin_removePeer takes an enode, and inventing
 * one (`enode://<id>@127.0.0.1:0`) would only work by accident of how a
 * client parses it.
 */
export function evictTarget(nodeId: NodeId, enode: string | undefined): string {
  if (enode === undefined) throw new TypeError(`evict(${nodeId.slice(0, 8)}…) needs the peer's enode`)
  const canonical = canonicalEnode(enode)
  if (parseEnode(canonical).nodeId !== parseNodeId(nodeId)) {
    throw new TypeError(`evict: enode ${canonical.slice(0, 24)}… does not belong to node ${nodeId.slice(0, 8)}…`)
  }
  return canonical
}

/**
 * Run the withdraw-trust step and the disconnect step; the disconnect runs
 * even if the first step failed, so a peer is never left connected because
 * its trust could not be withdrawn. The first error is the one rethrown.
 */
export async function bothSteps(first: () => Promise<unknown>, second: () => Promise<unknown>): Promise<void> {
  let firstError: unknown
  try {
    await first()
  } catch (err) {
    firstError = err ?? new Error('evict failed')
  }
  try {
    await second()
  } catch (err) {
    throw firstError ?? err
  }
  if (firstError !== undefined) throw firstError
}

/** Geth returns false (not an error) when it refuses an enode; do not let that pass silently. */
export function expectTrue(result: unknown, method: string, enode: string): void {
  if (result === false) {
    throw new NodeRpcError(-32000, `${method} returned false for ${enode.slice(0, 32)}…: the node refused the enode`)
  }
}

function malformed(rpc: NodeRpc, method: string, why: string): NodeUnavailableError {
  return new NodeUnavailableError(`malformed reply from ${rpc.url}: ${method}: ${why}`)
}

function hexToNumber(value: unknown, rpc: NodeRpc, method: string): number {
  if (typeof value !== 'string' || !/^0x[0-9a-f]+$/i.test(value)) throw malformed(rpc, method, `not a hex quantity: ${JSON.stringify(value)}`)
  const n = Number.parseInt(value.slice(2), 16)
  if (!Number.isSafeInteger(n)) throw malformed(rpc, method, `quantity too large: ${value}`)
  return n
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined)

/**
 * One admin_peers entry in any client's shape to a PeerInfo. The node ID is
 * read from `enode` when present; `id` is used only when it is a 64-byte key
 * (Besu, reth), never geth's 32-byte hash. Entries with neither cannot be
 * identified and are dropped.
 */
export function normalisePeer(raw: Record<string, unknown>): PeerInfo | undefined {
  let nodeId: NodeId | undefined
  const enode = str(raw.enode)
  if (enode) {
    try {
      nodeId = parseEnode(enode).nodeId
    } catch {
      // fall through to `id`
    }
  }
  const id = str(raw.id)
  if (!nodeId && id && isNodeId(id.replace(/^0x/i, '').toLowerCase())) nodeId = parseNodeId(id)
  if (!nodeId) return undefined

  const network = (typeof raw.network === 'object' && raw.network !== null ? raw.network : {}) as Record<string, unknown>
  const caps = Array.isArray(raw.caps) ? raw.caps.filter((c): c is string => typeof c === 'string') : []
  const peer: PeerInfo = { nodeId, caps, raw }
  if (enode) peer.enode = enode
  // Nethermind: clientId / isTrusted / address instead of name / network.*.
  const name = str(raw.name) ?? str(raw.clientId)
  if (name !== undefined) peer.name = name
  const inbound = bool(network.inbound)
  if (inbound !== undefined) peer.inbound = inbound
  const trusted = bool(network.trusted) ?? bool(raw.isTrusted)
  if (trusted !== undefined) peer.trusted = trusted
  const remote = str(network.remoteAddress) ?? str(raw.address)
  if (remote !== undefined) peer.remoteAddress = remote
  const local = str(network.localAddress)
  if (local !== undefined) peer.localAddress = local
  return peer
}
