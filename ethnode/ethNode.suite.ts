/**
 * The conformance suite every adapter passes against test/fakenode
 * impersonating its client. Run from adapters.test.ts, once per kind.
 */
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keccak256 } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import { createFakeNetwork } from '../test/fakenode/fakeNetwork.ts'
import { startFakeNode, type FakeNode, type FakeNodeOptions } from '../test/fakenode/fakeNode.ts'
import { waitFor } from '../test/harness/waitFor.ts'
import { generateNodeKey, nodeIdOf } from '../protocol/nodeKey.ts'
import { connectEthNode } from './connect.ts'
import { connectNodeRpc } from './nodeRpc.ts'
import { MissingMethodError, NodeUnavailableError } from './errors.ts'
import type { EthNode, NodeKind } from './ethNode.ts'

/** The flag each client's MissingMethodError must name. */
const FLAG: Record<NodeKind, string> = {
  geth: '--http.api admin,eth,net,web3',
  reth: '--http.api admin,eth,net,web3',
  nethermind: '--JsonRpc.EnabledModules [Admin,Eth,Net,Web3]',
  erigon: '--http.api admin,eth,net,web3',
  besu: '--rpc-http-api ADMIN,ETH,NET,WEB3,PERM',
  ethereumjs: '--rpc',
}

/** The admin methods admit and evict must call, in order. */
const ADMIT: Record<NodeKind, string[]> = {
  geth: ['admin_addTrustedPeer'],
  reth: ['admin_addTrustedPeer'],
  nethermind: ['admin_addTrustedPeer'],
  erigon: ['admin_addTrustedPeer'],
  besu: ['perm_addNodesToAllowlist', 'admin_addPeer'],
  // No trusted peers: admit only checks the node is there (see ethnode/ethereumjs.ts).
  ethereumjs: ['admin_peers'],
}
const EVICT: Record<NodeKind, string[]> = {
  geth: ['admin_removeTrustedPeer', 'admin_removePeer'],
  reth: ['admin_removeTrustedPeer', 'admin_removePeer'],
  nethermind: ['admin_removeTrustedPeer', 'admin_removePeer'],
  erigon: ['admin_removeTrustedPeer', 'admin_removePeer'],
  besu: ['perm_removeNodesFromAllowlist', 'admin_removePeer'],
  // No way to disconnect: evict only looks whether the peer is still there, to warn.
  ethereumjs: ['admin_peers'],
}

/** What admin_addPeer is called with: ethereumjs takes an address object, Nethermind a second bool. */
function addPeerParams(kind: NodeKind, peer: FakeNode): unknown[] {
  if (kind === 'ethereumjs') return [{ address: '127.0.0.1', tcpPort: peer.port, udpPort: peer.port }]
  return kind === 'nethermind' ? [peer.enode, true] : [peer.enode]
}

type Transport = 'http' | 'ws' | 'ipc'
let ipcCounter = 0

export function describeEthNode(kind: NodeKind): void {
  describe(`EthNode over a fake ${kind}`, () => {
    const net = createFakeNetwork()
    const opened: EthNode[] = []
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((n) => n.close()))
      await net.closeAll()
    })

    const fake = (options: Partial<FakeNodeOptions> = {}) => startFakeNode({ kind, network: net, ...options })
    /** A plain geth as the other end of a peering: the adapter under test is on `fake`. */
    const other = (options: Partial<FakeNodeOptions> = {}) => startFakeNode({ kind: 'geth', network: net, ...options })
    const warnings: string[] = []
    const open = async (url: string, timeoutMs = 2000) => {
      const node = await connectEthNode(url, { timeoutMs, warn: (message) => warnings.push(message) })
      opened.push(node)
      return node
    }
    const urlOf = (node: FakeNode, t: Transport) => (t === 'http' ? node.url : t === 'ws' ? node.wsUrl : node.ipcPath!)
    const ipcPath = () => join(tmpdir(), `fakenode-${process.pid}-${ipcCounter++}.ipc`)
    const methods = (node: FakeNode) => node.calls.map((c) => c.method)

    it(`connectEthNode picks the ${kind} adapter`, async () => {
      const host = await fake()
      const node = await open(host.url)
      expect(node.kind).toBe(kind)
      expect(node.clientVersion).toBe(host.clientVersion)
    })

    it('self() takes the node ID from the enode', async () => {
      const host = await fake()
      const self = await (await open(host.url)).self()
      expect(self.nodeId).toBe(host.nodeId)
      expect(self.enode).toEqual({ nodeId: host.nodeId, host: '127.0.0.1', tcpPort: host.port, udpPort: host.port })
    })

    it('dial() peers, and peers() normalises entries to the public key', async () => {
      const [host, peer] = await Promise.all([fake(), other()])
      const node = await open(host.url)
      await node.dial(peer.enode)
      expect(host.calls.at(-1)).toMatchObject({ method: 'admin_addPeer', params: addPeerParams(kind, peer) })
      const [p] = await waitFor(async () => {
        const list = await node.peers()
        return list.length === 1 && list
      }, 'the dialled peer to show up')
      expect(p!.nodeId).toBe(peer.nodeId)
      expect(p!.enode).toBe(peer.enode)
      expect(p!.name).toBe(peer.clientVersion)
      if (kind !== 'nethermind') expect(p!.caps).toContain('eth/68')
      // ethereumjs does not say which side dialled.
      if (kind !== 'nethermind' && kind !== 'ethereumjs') expect(p!.inbound).toBe(false)
      // The raw entry is kept as the client sent it: geth and erigon put a hash in `id`.
      if (kind === 'geth' || kind === 'erigon') expect(p!.raw.id).toBe(keccak256(`0x${peer.nodeId}`).slice(2))
      if (kind === 'besu' || kind === 'reth') expect(p!.raw.id).toBe(`0x${peer.nodeId}`)
      if (kind === 'ethereumjs') {
        expect(p!.raw.id).toBe(peer.nodeId)
        // The dial's leftover entry (0x id, name null) is in admin_peers but is not a peer.
        const raw = (await connectNodeRpc(host.url).request('admin_peers')) as { id: string; name: unknown }[]
        expect(raw.some((e) => e.id === `0x${peer.nodeId}` && e.name === null)).toBe(true)
      }
    })

    it('peers() also lists inbound peers by public key', async () => {
      const [host, peer] = await Promise.all([fake(), other()])
      const node = await open(host.url)
      const dialer = await open(peer.url)
      await dialer.dial(host.enode)
      const [p] = await waitFor(async () => {
        const list = await node.peers()
        return list.length === 1 && list
      }, 'the inbound peer to show up')
      expect(p!.nodeId).toBe(peer.nodeId)
      if (kind !== 'nethermind' && kind !== 'ethereumjs') expect(p!.inbound).toBe(true)
      // ethereumjs gives no enode: it is built from the id and the (ephemeral) remote address.
      if (kind === 'ethereumjs') expect(p!.enode).toMatch(new RegExp(`^enode://${peer.nodeId}@127\\.0\\.0\\.1:\\d+$`))
    })

    if (kind === 'ethereumjs') {
      it('admit() cannot pass a full node and evict() cannot disconnect: both say so once and do not fail', async () => {
        const [host, client] = await Promise.all([fake({ maxPeers: 1 }), other()])
        const node = await open(host.url)
        await node.admit(client.enode)
        expect(methods(host)).toEqual(ADMIT[kind])
        expect(host.staticPeers()).toEqual([]) // it does not dial the client: the client dials in
        await (await open(client.url)).dial(host.enode)
        await waitFor(async () => (await node.peers()).some((x) => x.nodeId === client.nodeId), 'the client to dial in')
        await node.admit(client.enode)
        expect(warnings.filter((w) => /no trusted peers/.test(w))).toHaveLength(1)

        host.calls.length = 0
        await node.evict(client.nodeId, client.enode)
        await node.evict(client.nodeId, client.enode)
        expect(methods(host)).toEqual([...EVICT[kind], ...EVICT[kind]])
        expect(warnings.filter((w) => /cannot disconnect/.test(w))).toHaveLength(1)
        expect((await node.peers()).map((x) => x.nodeId)).toEqual([client.nodeId]) // still connected, as the warning says
      })

      it('dial() resolves an enode to the IPv4 object form and never asks for a target that is not up', async () => {
        const [host, peer] = await Promise.all([fake(), other()])
        const node = await open(host.url)
        const port = peer.port
        await peer.close()
        await node.dial(peer.enode.replace('127.0.0.1', 'localhost'))
        const addPeers = () => host.calls.filter((c) => c.method === 'admin_addPeer').map((c) => c.params)
        expect(addPeers()).toEqual([]) // not accepting: asking would get the address banned for 5 minutes
        const back = await other({ nodeKey: peer.nodeKey, p2pPort: port })
        await node.dial(back.enode.replace('127.0.0.1', 'localhost'))
        expect(addPeers()).toEqual([[{ address: '127.0.0.1', tcpPort: port, udpPort: port }]])
        await waitFor(async () => (await node.peers()).some((x) => x.nodeId === back.nodeId), 'the peer')
        host.calls.length = 0
        await node.dial(back.enode) // already connected: no second dial entry
        expect(methods(host)).toEqual(['admin_peers'])
        await expect(node.dial(`enode://${back.nodeId}@[::1]:${port}`)).rejects.toThrow(/IPv4/)
      })

      it('dial() remembers a failed target for the length of its ban instead of asking again', async () => {
        const host = await fake()
        const node = await open(host.url)
        // Accepts TCP but never answers the node's ping (discovery UDP closed): admin_addPeer fails and bans the address.
        const mute = createServer((sock) => sock.destroy())
        await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
        try {
          const enode = `enode://${nodeIdOf(generateNodeKey())}@127.0.0.1:${(mute.address() as AddressInfo).port}`
          await node.dial(enode) // resolves: a dial is a request, as on geth
          await node.dial(enode)
          expect(host.calls.filter((c) => c.method === 'admin_addPeer')).toHaveLength(1)
          expect(warnings.filter((w) => /5 minutes/.test(w))).toHaveLength(1)
        } finally {
          await new Promise((resolve) => mute.close(resolve))
        }
      })
    } else it('admit() lets a client into a full node; evict() withdraws that and disconnects both sides', async () => {
      const [host, client] = await Promise.all([fake({ maxPeers: 0 }), other()])
      const node = await open(host.url)
      await (await open(client.url)).dial(host.enode)
      await waitFor(() => host.dialLog.some((d) => d.from === client.nodeId && !d.accepted), 'the full host to refuse the client')

      await node.admit(client.enode)
      expect(host.trusted.has(client.nodeId)).toBe(true)
      expect(methods(host)).toEqual(ADMIT[kind])
      const p = await waitFor(async () => (await node.peers()).find((x) => x.nodeId === client.nodeId), 'the admitted client to connect')
      if (kind !== 'besu') expect(p.trusted).toBe(true) // Besu has no trusted flag

      // Admitting twice is not an error (Besu: "already in allowlist" counts as success).
      await node.admit(client.enode)

      host.calls.length = 0
      await node.evict(client.nodeId, client.enode)
      expect(methods(host)).toEqual(EVICT[kind])
      if (kind === 'nethermind') expect(host.calls.at(-1)!.params).toEqual([client.enode, true])
      expect(host.trusted.has(client.nodeId)).toBe(false)
      await waitFor(async () => !(await node.peers()).some((x) => x.nodeId === client.nodeId), 'the host to drop the client')
      await waitFor(() => !client.peers().includes(host.nodeId), 'the client to drop the host')
    })

    it('evict() needs the enode, and one that matches the node ID', async () => {
      const [host, a, b] = await Promise.all([fake(), other(), other()])
      const node = await open(host.url)
      await expect(node.evict(a.nodeId)).rejects.toThrow(/needs the peer's enode/)
      await expect(node.evict(a.nodeId, b.enode)).rejects.toThrow(/does not belong/)
      expect(host.calls).toEqual([])
    })

    it('head() and chainId()', async () => {
      const host = await fake({ chainId: 31337 })
      const node = await open(host.url)
      host.setHead({ number: 1234, hash: `0x${'ab'.repeat(32)}` })
      expect(await node.head()).toEqual({ number: 1234, hash: `0x${'ab'.repeat(32)}` })
      expect(await node.chainId()).toBe(31337)
    })

    it('chainId() falls back to net_version without eth_chainId', async () => {
      const host = await fake({ chainId: 5, missingMethods: ['eth_chainId'] })
      expect(await (await open(host.url)).chainId()).toBe(5)
    })

    it('missing admin methods raise MissingMethodError naming the flag', async () => {
      const host = await fake({ missingMethods: ['admin_peers', 'admin_nodeInfo', ...ADMIT[kind], ...EVICT[kind]] })
      const client = await other()
      const node = await open(host.url)
      const calls = [() => node.peers(), () => node.self(), () => node.admit(client.enode)]
      if (kind === 'ethereumjs') calls.push(() => node.dial(client.enode)) // it looks at its peers before dialling
      for (const call of calls) {
        const err = await call().then(() => undefined, (e: unknown) => e)
        expect(err).toBeInstanceOf(MissingMethodError)
        expect((err as MissingMethodError).kind).toBe(kind)
        expect((err as MissingMethodError).explain).toContain(FLAG[kind])
      }
      const err = (await node.evict(client.nodeId, client.enode).catch((e: unknown) => e)) as MissingMethodError
      expect(err).toBeInstanceOf(MissingMethodError)
      expect(err.method).toBe(EVICT[kind][0])
      if (kind === 'besu') expect(err.explain).toContain('--permissions-nodes-config-file-enabled')
    })

    describe.each<Transport>(['http', 'ws', 'ipc'])('over %s', (transport) => {
      const start = (options: Partial<FakeNodeOptions> = {}) => fake(transport === 'ipc' ? { ipcPath: ipcPath(), ...options } : options)

      it('answers', async () => {
        const host = await start()
        const node = await open(urlOf(host, transport))
        expect(node.kind).toBe(kind)
        expect((await node.self()).nodeId).toBe(host.nodeId)
        expect(await node.peers()).toEqual([])
      })

      it('a node that is down gives NodeUnavailableError, and it recovers when the node is back', async () => {
        const host = await start()
        const node = await open(urlOf(host, transport))
        host.setDown(true)
        const err = await node.chainId().catch((e: unknown) => e)
        expect(err).toBeInstanceOf(NodeUnavailableError)
        expect((err as Error).message).toContain(transport === 'ipc' ? host.ipcPath! : `127.0.0.1:${host.port}`)
        host.setDown(false)
        await waitFor(() => node.chainId(), 'the node to answer again') // ws/ipc reconnect lazily
      })

      it('a slow node gives NodeUnavailableError "timed out after N ms"', async () => {
        const host = await start()
        const node = await open(urlOf(host, transport), 150)
        host.setSlow(1000)
        const err = await node.head().catch((e: unknown) => e)
        expect(err).toBeInstanceOf(NodeUnavailableError)
        expect((err as Error).message).toMatch(/timed out after 150 ms/)
      })

      it('a garbage reply gives NodeUnavailableError "malformed reply"', async () => {
        const host = await start()
        const node = await open(urlOf(host, transport))
        host.setGarbage(true)
        const err = await node.peers().catch((e: unknown) => e)
        expect(err).toBeInstanceOf(NodeUnavailableError)
        expect((err as Error).message).toMatch(/malformed reply/)
      })
    })
  })
}
