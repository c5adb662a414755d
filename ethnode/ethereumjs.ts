/**
 * EthereumJS (@ethereumjs/client; checked against 0.10.5 on a private clique
 * chain, see test/e2e/realnode.test.ts).
 *
 * What the host agent can and cannot guarantee on this client:
 * - **Admission is best effort.** EthereumJS has no trusted peers
 *   (`admin_addTrustedPeer` is -32601), so nothing lets a client past
 *   `--maxPeers`. admit() only checks that the node answers; the client gets
 *   in by dialling the host, as every client shim does, while the node has a
 *   free slot. Run an ethereumjs host with `--maxPeers` above `--capacity`
 *   plus your other peers.
 * - admit() deliberately does **not** dial the client (`admin_addPeer`),
 *   unlike Besu's adapter, because on this client that breaks peering:
 *   (1) when both nodes dial each other at about the same time each keeps
 *   its inbound connection and drops its outbound one as "already
 *   connected", so both connections die, and neither side ever dials that
 *   node again (its RLPx layer remembers every node ID it has dialled). One
 *   dial alone already makes the target dial back (the discv4 ping teaches
 *   it the dialer), which one connection survives; two dials do not;
 *   (2) every `admin_addPeer` leaves a never-connected entry in the node's
 *   peer pool, and a block producer sends new blocks in full only to the
 *   first ⌊√n⌋ entries of that pool: entries put there by the host's own
 *   dials come first and take those places, and clients that get only
 *   announcements stop following the head (see the last point).
 * - **Eviction cannot disconnect.** There is no `admin_removePeer` (nor
 *   `admin_removeTrustedPeer`): an evicted client stays connected until it
 *   or the node goes away. evict() says so once, as a warning, and
 *   resolves: the pool has already stopped vouching for the client, so it
 *   is no longer metered, but the host keeps serving it for free.
 *
 * Other quirks:
 * - `admin_addPeer` takes an object `{address, tcpPort, udpPort}`, not an
 *   enode (-32602), and only an IPv4 address ("localhost" and IPv6 are
 *   rejected), so dial() resolves the enode's host to IPv4 first.
 * - `admin_addPeer` pings the target over discv4 UDP, then dials. If the
 *   target is not up the call fails after ~4 s and that address:port is
 *   banned for 5 minutes. dial() therefore checks that the target's TCP port
 *   accepts connections before asking, and remembers failed targets for the
 *   ban's length instead of asking again; a dial that cannot be made now
 *   resolves (like geth's addPeer, a dial is a request, not a guarantee) and
 *   the shim's next interval asks again.
 * - It leaves a permanent entry in `admin_peers` for every target it was
 *   asked to dial (`id` 0x-prefixed, `name: null`, never connected), which
 *   also takes one `--maxPeers` slot for the node's lifetime. peers() drops
 *   these; dial() does not ask for a node that is already connected.
 * - `admin_peers` entries have `id` (the 64-byte public key, no prefix),
 *   `name`, `caps` and `network.remoteAddress` only: no `enode`, `inbound`,
 *   `trusted` or `localAddress`. The enode is built from `id` and
 *   `remoteAddress`; for inbound peers that carries the remote's ephemeral
 *   source port, as geth's does.
 * - `admin_nodeInfo` gives `enode` and an `id` that is the public key. The
 *   enode's address is `--extIP`; start the node with it (or give the agent
 *   `--public-enode`).
 * - `eth_syncing` fails with -32603 while the node has no peers: not used.
 * - A node never dials a node ID twice in its lifetime, so a client whose
 *   host connection dropped (the host restarted) is reconnected only when the
 *   client node restarts.
 * - As a client: after its initial sync a 0.10.5 node follows the head only
 *   from blocks pushed to it in full (it drops hash announcements, and its
 *   sync loop compares against the peer's total difficulty from the
 *   handshake). A host pushes full blocks to about √n of its n peers, so
 *   behind one host only those ethereumjs clients keep up live, and only if
 *   their first sync ends no more than one block behind the head (a pushed
 *   block further ahead is dropped; the first sync takes 8–18 s, so in
 *   practice they must join at the genesis or on a slow chain). The others
 *   stay at the head they first synced to until they restart.
 * - The admin namespace is always on with `--rpc` (HTTP; there is no IPC).
 */
import { lookup } from 'node:dns/promises'
import { connect as netConnect, isIP } from 'node:net'
import { formatEnode, isNodeId, parseEnode } from '../protocol/enode.ts'
import { baseNode, canonicalEnode, evictTarget, expectTrue, normalisePeer } from './baseNode.ts'
import { MissingMethodError, NodeRpcError, NodeUnavailableError } from './errors.ts'
import type { AdapterHooks, NodeAdapter, PeerInfo } from './ethNode.ts'

/** How long ethereumjs bans an address:port after a failed admin_addPeer (devp2p's DPT). */
export const ETHEREUMJS_DIAL_BAN_MS = 5 * 60_000
/** How long dial() waits for the target's TCP port before deciding it is not up. */
const PROBE_TIMEOUT_MS = 1_000

export const ethereumjsAdapter: NodeAdapter = {
  kind: 'ethereumjs',
  matches: (clientVersion) => /^ethereumjs\//i.test(clientVersion),
  create(rpc, clientVersion, hooks: AdapterHooks = {}) {
    const base = baseNode(rpc, 'ethereumjs', clientVersion)
    const warn = hooks.warn ?? defaultWarn
    const warned = new Set<string>()
    const warnOnce = (key: string, message: string, context: Record<string, unknown>) => {
      if (warned.has(key)) return
      warned.add(key)
      warn(message, context)
    }
    /** address:tcpPort -> when the node's ban on it ends. */
    const bannedUntil = new Map<string, number>()

    const peers = async (): Promise<PeerInfo[]> => {
      const list = await base.call('admin_peers')
      if (!Array.isArray(list)) throw new NodeUnavailableError(`malformed reply from ${rpc.url}: admin_peers: not an array`)
      const out: PeerInfo[] = []
      for (const entry of list) {
        if (typeof entry !== 'object' || entry === null) continue
        const peer = ethereumjsPeer(entry as Record<string, unknown>)
        if (peer) out.push(peer)
      }
      return out
    }

    return {
      ...base,
      peers,

      async dial(enode) {
        const target = parseEnode(enode)
        const address = await ipv4Of(target.host)
        // Already connected: another admin_addPeer would only add another dead entry.
        if ((await peers()).some((p) => p.nodeId === target.nodeId)) return
        const key = `${address}:${target.tcpPort}`
        const until = bannedUntil.get(key)
        if (until !== undefined && until > Date.now()) return
        bannedUntil.delete(key)
        if (!(await tcpAccepting(address, target.tcpPort))) {
          // Asking now would get the address banned for 5 minutes; the caller asks again next interval.
          warnOnce(`down:${key}`, 'ethereumjs: not dialling a peer that is not accepting connections yet; will retry', { peer: target.nodeId, address: key })
          return
        }
        try {
          const ok = await base.call('admin_addPeer', [{ address, tcpPort: target.tcpPort, udpPort: target.udpPort }])
          expectTrue(ok, 'admin_addPeer', canonicalEnode(enode))
        } catch (err) {
          if (!(err instanceof NodeRpcError) || err instanceof MissingMethodError || err.code !== -32603) throw err
          // "failed to add peer": the discv4 ping went unanswered and the node now bans this address.
          bannedUntil.set(key, Date.now() + ETHEREUMJS_DIAL_BAN_MS)
          warn('ethereumjs: dial failed; the node will not dial this address for 5 minutes (is its discovery UDP port open?)', {
            peer: target.nodeId,
            address: key,
            udpPort: target.udpPort,
            error: err.message,
          })
        }
      },

      async admit(enode) {
        canonicalEnode(enode) // fail early on a bad enode, as the other adapters do
        // No trusted peers to add: check the node is there, and let the client dial in.
        await peers()
        warnOnce(
          'admit',
          'ethereumjs has no trusted peers: admitted clients get in only while the node has a free --maxPeers slot; the client dials the host',
          { client: parseEnode(enode).nodeId },
        )
      },

      async evict(nodeId, enode) {
        evictTarget(nodeId, enode) // same checks as elsewhere: the right enode for this node
        if (!(await peers()).some((p) => p.nodeId === nodeId)) return
        warnOnce(
          'evict',
          'ethereumjs cannot disconnect peers (no admin_removePeer): an evicted peer stays connected until it leaves; the pool no longer vouches for it, so it is not metered',
          { client: nodeId },
        )
      },
    }
  },
}

/**
 * One admin_peers entry. Entries left by admin_addPeer (0x-prefixed id,
 * no name) are not connections and are dropped.
 */
export function ethereumjsPeer(raw: Record<string, unknown>): PeerInfo | undefined {
  const id = raw.id
  if (typeof id !== 'string' || /^0x/i.test(id) || raw.name === null) return undefined
  if (!isNodeId(id.toLowerCase())) return undefined
  const peer = normalisePeer(raw)
  if (!peer) return undefined
  if (peer.remoteAddress !== undefined && peer.enode === undefined) {
    const at = hostPort(peer.remoteAddress)
    if (at) peer.enode = formatEnode({ nodeId: peer.nodeId, host: at.host, tcpPort: at.port, udpPort: at.port })
  }
  return peer
}

/** "1.2.3.4:30303" or "::ffff:1.2.3.4:30303" -> IPv4 host and port. */
function hostPort(address: string): { host: string; port: number } | undefined {
  const colon = address.lastIndexOf(':')
  if (colon < 0) return undefined
  const host = address.slice(0, colon).replace(/^::ffff:/i, '')
  const port = Number(address.slice(colon + 1))
  if (isIP(host) !== 4 || !Number.isInteger(port) || port < 1 || port > 65535) return undefined
  return { host, port }
}

/** admin_addPeer takes only an IPv4 address: resolve names ("localhost" included). */
async function ipv4Of(host: string): Promise<string> {
  if (isIP(host) === 4) return host
  if (isIP(host) === 6) throw new TypeError(`ethereumjs dials IPv4 addresses only; ${host} is IPv6`)
  try {
    return (await lookup(host, { family: 4 })).address
  } catch (err) {
    throw new TypeError(`ethereumjs dials IPv4 addresses only; cannot resolve ${host}: ${(err as Error).message}`)
  }
}

/** Whether something accepts TCP connections at address:port right now. */
function tcpAccepting(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = netConnect({ host: address, port })
    const done = (ok: boolean) => {
      sock.destroy()
      resolve(ok)
    }
    sock.setTimeout(PROBE_TIMEOUT_MS, () => done(false))
    sock.once('connect', () => done(true))
    sock.once('error', () => done(false))
  })
}

/** Without a logger from the caller, a process warning (stderr) is still seen by the operator. */
function defaultWarn(message: string, context: Record<string, unknown> = {}): void {
  process.emitWarning(message, { code: 'VIPNODE_ETHEREUMJS', detail: JSON.stringify(context) })
}
