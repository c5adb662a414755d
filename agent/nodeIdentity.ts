/**
 * Find the node key beside the node and prove it is the node's own: an agent
 * that signs with one key while its node runs with another could claim
 * someone else's service, so a mismatch refuses to start.
 */
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { loadNodeKey, nodeIdOf, parseEnode, formatEnode, ipHostProblem, type Enode, type NodeKey, type NodeId } from '../protocol/index.ts'
import type { EthNode } from '../ethnode/index.ts'

export class IdentityError extends Error {
  override name = 'IdentityError'
}

/** Where each client keeps its node key under its data directory. */
const KEY_FILES = ['geth/nodekey', 'nodekey', 'discovery-secret', 'key', 'keystore/node.key.plain']

export const DEFAULT_DATADIR = join(homedir(), '.ethereum')
/** DEFAULT_DATADIR as --help and the README write it, the same for every user. */
export const DEFAULT_DATADIR_TEXT = '~/.ethereum'

export function findNodeKeyFile(explicit: string | undefined, datadir: string = DEFAULT_DATADIR): string {
  if (explicit) return explicit
  for (const rel of KEY_FILES) {
    const path = join(datadir, rel)
    if (existsSync(path)) return path
  }
  throw new IdentityError(`no node key found under ${datadir} (looked for ${KEY_FILES.join(', ')}); pass --nodekey FILE or --datadir DIR`)
}

export interface NodeIdentity {
  key: NodeKey
  nodeId: NodeId
  /** The enode advertised to the pool (the node's own, or --public-enode). */
  enode: string
  /** Where the key was read from; the known pools file lives beside it. */
  keyFile: string
}

export async function verifyNodeIdentity(node: EthNode, keyFile: string, publicEnode?: string): Promise<NodeIdentity> {
  const key = loadNodeKey(keyFile)
  const nodeId = nodeIdOf(key)
  const self = await node.self()
  if (self.nodeId !== nodeId) {
    throw new IdentityError(
      `node key ${keyFile} belongs to node ${nodeId.slice(0, 16)}…, but the node at the RPC URL is ${self.nodeId.slice(0, 16)}…; point --nodekey at this node's own key`,
    )
  }
  let advertised: Enode = self.enode
  if (publicEnode) {
    advertised = parseEnode(publicEnode)
    if (advertised.nodeId !== nodeId) throw new IdentityError('--public-enode names a different node ID than the node key')
  }
  // The pool refuses DNS names in enodes (cool-down griefing): say so at start, not as a refused login.
  const problem = ipHostProblem(advertised)
  if (problem) throw new IdentityError(`${publicEnode ? '--public-enode' : 'the node'}: ${problem}; pass --public-enode with this node's public IP address`)
  return { key, nodeId, enode: formatEnode(advertised), keyFile }
}
