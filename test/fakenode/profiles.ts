/**
 * What each impersonated client says and how its replies are shaped. Shapes
 * follow the clients' documented admin API; fields we never read are kept
 * when they make a reply recognisable (geth's hashed `id`, Besu's hex port).
 */
import type { NodeKind } from '../../ethnode/ethNode.ts'

/** One connected peer as the fake node sees it. */
export interface PeerView {
  nodeId: string
  /** keccak256 of the public key, hex without 0x: what geth calls the node `id`. */
  hashId: string
  /** The enode as this client reports it (inbound peers may carry an ephemeral port). */
  enode: string
  name: string
  inbound: boolean
  trusted: boolean
  static: boolean
  localAddress: string
  remoteAddress: string
  remoteHost: string
  remotePort: number
}

export interface SelfView {
  nodeId: string
  hashId: string
  enode: string
  name: string
  host: string
  port: number
  chainId: number
  genesis: string
  head: { number: number; hash: string }
}

export interface Profile {
  clientVersion: string
  /** Geth-style trusted peers (admin_addTrustedPeer / admin_removeTrustedPeer). */
  trustedPeers: boolean
  /** Besu's perm_*NodesAllowlist methods. */
  allowlist: boolean
  /**
   * Whether admin_peers reports inbound peers with the TCP source port (geth
   * and its descendants build the node record from the connection), rather
   * than the peer's advertised listening port (Besu, from the Hello message).
   */
  inboundEphemeralPort: boolean
  /** The error message for a method the client does not have. */
  unknownMethod(method: string): string
  /** What admin_addPeer / admin_removePeer return on success. */
  peerChangeResult(enode: string): unknown
  peerEntry(p: PeerView): Record<string, unknown>
  nodeInfo(s: SelfView): Record<string, unknown>
  /**
   * EthereumJS: `admin_addPeer({address, tcpPort, udpPort})` instead of an
   * enode; dials once, never the same node twice; a target that does not
   * answer is banned for a while; leaves `dialEntry` in admin_peers forever
   * (counted against maxPeers).
   */
  addPeerByAddress?: boolean
  /** The admin_peers entry admin_addPeer leaves for its target (ethereumjs). */
  dialEntry?(target: { nodeId: string; address: string; tcpPort: number }): Record<string, unknown>
  /** Whether admin_removePeer exists (not on ethereumjs). Default true. */
  removePeer?: boolean
  /** eth_syncing fails while the node has no peers (ethereumjs). */
  syncingNeedsPeers?: boolean
}

const GETH_UNKNOWN = (method: string) => `the method ${method} does not exist/is not available`
const CAPS = ['eth/68', 'snap/1']

function gethPeer(p: PeerView): Record<string, unknown> {
  return {
    enode: p.enode,
    id: p.hashId,
    name: p.name,
    caps: CAPS,
    network: {
      localAddress: p.localAddress,
      remoteAddress: p.remoteAddress,
      inbound: p.inbound,
      trusted: p.trusted,
      static: p.static,
    },
    protocols: { eth: { version: 68 }, snap: { version: 1 } },
  }
}

function gethNodeInfo(s: SelfView): Record<string, unknown> {
  return {
    id: s.hashId,
    name: s.name,
    enode: s.enode,
    ip: s.host,
    ports: { discovery: s.port, listener: s.port },
    listenAddr: `${s.host}:${s.port}`,
    protocols: {
      eth: { network: s.chainId, genesis: s.genesis, config: { chainId: s.chainId }, head: s.head.hash },
      snap: {},
    },
  }
}

const geth: Profile = {
  clientVersion: 'Geth/v1.14.12-stable-293a300d/linux-amd64/go1.23.4',
  trustedPeers: true,
  allowlist: false,
  inboundEphemeralPort: true,
  unknownMethod: GETH_UNKNOWN,
  peerChangeResult: () => true,
  peerEntry: gethPeer,
  nodeInfo: gethNodeInfo,
}

const reth: Profile = {
  ...geth,
  clientVersion: 'reth/v1.1.4-15c230ba/x86_64-unknown-linux-gnu',
  // reth's PeerInfo.id is the 64-byte peer ID (public key), 0x-prefixed.
  peerEntry: (p) => ({ ...gethPeer(p), id: `0x${p.nodeId}`, protocols: { eth: { version: 68 } } }),
}

const erigon: Profile = {
  ...geth,
  clientVersion: 'erigon/2.60.10/linux-amd64/go1.22.5',
}

const nethermind: Profile = {
  ...geth,
  clientVersion: 'Nethermind/v1.30.3+87c86379/linux-x64/dotnet9.0.0',
  // Nethermind's admin_addPeer / admin_removePeer return the enode string.
  peerChangeResult: (enode) => enode,
  peerEntry: (p) => ({
    clientId: p.name,
    host: p.remoteHost,
    port: p.remotePort,
    address: p.remoteAddress,
    isBootnode: false,
    isTrusted: p.trusted,
    isStatic: p.static,
    enode: p.enode,
    clientType: p.name.split('/')[0] ?? 'Unknown',
    ethDetails: 'eth68',
    lastSignal: new Date().toISOString(),
  }),
  nodeInfo: (s) => ({
    enode: s.enode,
    id: s.hashId,
    ip: s.host,
    listenAddress: `${s.host}:${s.port}`,
    name: s.name,
    ports: { discovery: s.port, listener: s.port },
    protocols: { eth: { chainId: s.chainId, genesis: s.genesis, head: s.head.hash, network: s.chainId } },
  }),
}

const besu: Profile = {
  clientVersion: 'besu/v24.12.2/linux-x86_64/openjdk-java-21',
  trustedPeers: false,
  allowlist: true,
  inboundEphemeralPort: false,
  unknownMethod: () => 'Method not found',
  peerChangeResult: () => true,
  peerEntry: (p) => ({
    version: '0x5',
    name: p.name,
    caps: CAPS,
    network: { localAddress: p.localAddress, remoteAddress: p.remoteAddress, inbound: p.inbound },
    port: `0x${p.remotePort.toString(16)}`,
    id: `0x${p.nodeId}`,
    protocols: { eth: { difficulty: '0x1', head: '0x0', version: 68 } },
    enode: p.enode,
  }),
  nodeInfo: (s) => ({
    enode: s.enode,
    listenAddr: `${s.host}:${s.port}`,
    ip: s.host,
    name: s.name,
    id: s.nodeId, // Besu's nodeInfo id is the public key itself
    ports: { discovery: s.port, listener: s.port },
    protocols: {
      eth: { config: { chainId: s.chainId }, difficulty: 1, genesis: s.genesis, head: s.head.hash, network: s.chainId },
    },
  }),
}

const ethereumjs: Profile = {
  clientVersion: 'EthereumJS/0.10.5/linux/node20.20.2',
  trustedPeers: false,
  allowlist: false,
  inboundEphemeralPort: true,
  unknownMethod: () => 'Method not found',
  peerChangeResult: () => true,
  // Observed on 0.10.5: id is the bare public key; no enode, inbound, trusted or localAddress.
  peerEntry: (p) => ({
    id: p.nodeId,
    name: p.name,
    protocols: { eth: { head: `0x${p.hashId}`, difficulty: '1', version: 68 } },
    caps: ['eth/66', 'eth/67', 'eth/68'],
    network: { remoteAddress: p.remoteAddress },
  }),
  nodeInfo: (s) => ({
    name: s.name,
    enode: s.enode,
    id: s.nodeId, // the public key itself
    ip: s.host,
    listenAddr: `${s.host}:${s.port}`,
    ports: { discovery: s.port, listener: s.port },
    protocols: { eth: { difficulty: '1', genesis: s.genesis, head: s.head.hash, network: String(s.chainId) } },
  }),
  addPeerByAddress: true,
  dialEntry: (t) => ({ id: `0x${t.nodeId}`, name: null, protocols: { eth: { head: '0x', version: null } }, network: { remoteAddress: `${t.address}:${t.tcpPort}` } }),
  removePeer: false,
  syncingNeedsPeers: true,
}

export const PROFILES: Record<NodeKind, Profile> = { geth, reth, nethermind, erigon, besu, ethereumjs }
