import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { keccak256 } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import type { NodeId } from '../../protocol/enode.ts'
import { createFakeNetwork } from './fakeNetwork.ts'
import { startFakeNode, type FakeNode, type FakeNodeOptions } from './fakeNode.ts'
import { waitFor } from '../harness/waitFor.ts'

const net = createFakeNetwork()
const children: ChildProcess[] = []
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  await net.closeAll()
})

const start = (options: Partial<FakeNodeOptions> = {}) => startFakeNode({ kind: 'geth', network: net, ...options })

async function rpc(node: { url: string }, method: string, params: unknown[] = []): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  const res = await fetch(node.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  return (await res.json()) as { result?: unknown; error?: { code: number; message: string } }
}

const peered = (a: FakeNode, b: { nodeId: NodeId }) => a.peers().includes(b.nodeId)
const refusals = (node: FakeNode, from: FakeNode) => node.dialLog.filter((d) => d.from === from.nodeId && !d.accepted).length

describe('fake node devp2p', () => {
  it('peers two nodes when the dialled one has a free slot: outbound on one side, inbound on the other', async () => {
    const [a, b] = await Promise.all([start(), start()])
    expect((await rpc(a, 'admin_addPeer', [b.enode])).result).toBe(true)
    await waitFor(() => peered(a, b) && peered(b, a), 'a and b to peer')

    const [fromA] = (await rpc(a, 'admin_peers')).result as Array<Record<string, any>>
    const [fromB] = (await rpc(b, 'admin_peers')).result as Array<Record<string, any>>
    expect(fromA!.network).toMatchObject({ inbound: false, static: true, trusted: false })
    expect(fromB!.network).toMatchObject({ inbound: true, static: false, trusted: false })
    // geth's id is keccak256(pubkey); the key itself is only in the enode.
    expect(fromA!.id).toBe(keccak256(`0x${b.nodeId}`).slice(2))
    expect(fromA!.enode).toBe(b.enode)
    // An inbound peer's enode carries its ephemeral source port, as geth reports it.
    expect(fromB!.enode).toMatch(new RegExp(`^enode://${a.nodeId}@127\\.0\\.0\\.1:\\d+$`))
    expect(fromB!.name).toBe(a.clientVersion)
  })

  it('refuses a dial to a full node, keeps redialling, and lets it in once trusted', async () => {
    const [a, b, c] = await Promise.all([start(), start({ maxPeers: 1 }), start()])
    await rpc(c, 'admin_addPeer', [b.enode])
    await waitFor(() => peered(b, c), 'c to fill b')

    expect((await rpc(a, 'admin_addPeer', [b.enode])).result).toBe(true) // geth says true regardless
    await waitFor(() => refusals(b, a) >= 2, 'b to refuse a at least twice (a redials)')
    expect(peered(a, b)).toBe(false)
    expect(b.peers()).toEqual([c.nodeId])

    // Trust bypasses maxPeers; a's next redial gets in.
    await rpc(b, 'admin_addTrustedPeer', [a.enode])
    await waitFor(() => peered(a, b) && peered(b, a), 'a to get in as a trusted peer')
    expect(b.peers()).toHaveLength(2)
    const entry = ((await rpc(b, 'admin_peers')).result as Array<Record<string, any>>).find((p) => p.enode.includes(a.nodeId))
    expect(entry!.network.trusted).toBe(true)
  })

  it('keeps redialling a static peer until removePeer', async () => {
    const [a, b] = await Promise.all([start(), start({ maxPeers: 0 })])
    await rpc(a, 'admin_addPeer', [b.enode])
    await waitFor(() => refusals(b, a) >= 2, 'a to keep dialling')
    await rpc(a, 'admin_removePeer', [b.enode])
    expect(a.staticPeers()).toEqual([])
  })

  it('removePeer on the dialler disconnects both sides and stops redialling', async () => {
    const [a, b] = await Promise.all([start(), start()])
    await rpc(a, 'admin_addPeer', [b.enode])
    await waitFor(() => peered(a, b) && peered(b, a), 'a and b to peer')
    await rpc(a, 'admin_removePeer', [b.enode])
    expect(a.peers()).toEqual([])
    await waitFor(() => !peered(b, a), 'b to drop a')
    expect(a.staticPeers()).toEqual([])
  })

  it('removePeer on the dialled side disconnects both; the dialler backs off before redialling', async () => {
    const [a, b] = await Promise.all([start({ redialBackoffMs: 60_000 }), start()])
    await rpc(a, 'admin_addPeer', [b.enode])
    await waitFor(() => peered(a, b) && peered(b, a), 'a and b to peer')
    await rpc(b, 'admin_removePeer', [a.enode])
    await waitFor(() => !peered(a, b) && !peered(b, a), 'both sides to disconnect')
    expect(a.staticPeers()).toEqual([b.nodeId]) // still static: geth redials later
  })

  it('removeTrustedPeer clears trust but, like geth, does not disconnect', async () => {
    const [a, b] = await Promise.all([start(), start({ maxPeers: 0 })])
    await rpc(b, 'admin_addTrustedPeer', [a.enode])
    await rpc(a, 'admin_addPeer', [b.enode])
    await waitFor(() => peered(b, a), 'a to get in')
    await rpc(b, 'admin_removeTrustedPeer', [a.enode])
    expect(b.trusted.has(a.nodeId)).toBe(false)
    expect(peered(b, a)).toBe(true)
  })

  it('drops a peer that closed gracefully, and one that crashed, from the remaining peers', async () => {
    const [hub, graceful, crashed] = await Promise.all([start(), start(), start()])
    await rpc(graceful, 'admin_addPeer', [hub.enode])
    await rpc(crashed, 'admin_addPeer', [hub.enode])
    await waitFor(() => hub.peers().length === 2, 'both to peer with the hub')

    await graceful.close()
    expect(peered(hub, graceful)).toBe(false) // told before closing

    await crashed.close({ notifyPeers: false })
    await waitFor(() => !peered(hub, crashed), 'the hub to notice the crashed peer')
    expect(hub.peers()).toEqual([])
  })

  it('peers across processes, and notices a SIGKILLed peer', async () => {
    const local = await start()
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./main.ts', import.meta.url)), '--kind', 'erigon', '--max-peers', '5'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.push(child)
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
    const remote = JSON.parse(line) as { url: string; wsUrl: string; enode: string; nodeId: NodeId; controlUrl: string }
    expect(Object.keys(remote).sort()).toEqual(['controlUrl', 'enode', 'nodeId', 'url', 'wsUrl'])

    expect((await rpc(remote, 'web3_clientVersion')).result).toMatch(/^erigon\//)
    // The control endpoint stands in for the in-process handle.
    const head = await fetch(new URL('/head', remote.controlUrl), { method: 'POST', body: JSON.stringify({ number: 12 }) })
    expect(await head.json()).toEqual({ head: 12 })
    expect((await rpc(remote, 'eth_blockNumber')).result).toBe('0xc')
    const seen = (await (await fetch(new URL('/calls', remote.controlUrl))).json()) as { calls: { method: string }[] }
    expect(seen.calls.map((c) => c.method)).toEqual(['web3_clientVersion', 'eth_blockNumber'])
    expect(await (await fetch(new URL('/subscriptions', remote.controlUrl))).json()).toEqual({ count: 0 })
    await rpc(remote, 'admin_addPeer', [local.enode])
    await waitFor(() => peered(local, remote), 'the child to dial us')
    await waitFor(async () => ((await rpc(remote, 'admin_peers')).result as unknown[]).length === 1, 'the child to list us')

    child.kill('SIGKILL')
    await waitFor(() => !peered(local, remote), 'us to drop the killed child')
  })
})

describe('fake node RPC', () => {
  it('answers the eth/net methods and moves its head', async () => {
    const node = await start({ chainId: 31337 })
    expect((await rpc(node, 'eth_chainId')).result).toBe('0x7a69')
    expect((await rpc(node, 'net_version')).result).toBe('31337')
    expect((await rpc(node, 'eth_syncing')).result).toBe(false)
    node.setHead(7)
    expect((await rpc(node, 'eth_blockNumber')).result).toBe('0x7')
    const block = (await rpc(node, 'eth_getBlockByNumber', ['latest', false])).result as { number: string; hash: string }
    expect(block.number).toBe('0x7')
    expect(block.hash).toMatch(/^0x[0-9a-f]{64}$/)
    expect((await rpc(node, 'eth_getBlockByNumber', ['0x8', false])).result).toBeNull()
  })

  it('records admin calls and replies to missing methods like geth', async () => {
    const node = await start({ missingMethods: ['admin_peers'] })
    const reply = await rpc(node, 'admin_peers')
    expect(reply.error).toEqual({ code: -32601, message: 'the method admin_peers does not exist/is not available' })
    await rpc(node, 'eth_blockNumber')
    expect(node.calls.map((c) => c.method)).toEqual(['admin_peers'])
  })

  it('impersonates Besu: no trusted peers, an allowlist instead', async () => {
    const [besu, other] = await Promise.all([start({ kind: 'besu', maxPeers: 0 }), start()])
    expect((await rpc(besu, 'admin_addTrustedPeer', [other.enode])).error).toEqual({ code: -32601, message: 'Method not found' })
    expect((await rpc(besu, 'perm_addNodesToAllowlist', [[other.enode]])).result).toBe('Success')
    expect((await rpc(besu, 'perm_addNodesToAllowlist', [[other.enode]])).error?.message).toMatch(/existing node/)
    await rpc(other, 'admin_addPeer', [besu.enode])
    await waitFor(() => peered(besu, other), 'an allowlisted node to get into a full Besu')
    const [entry] = (await rpc(besu, 'admin_peers')).result as Array<Record<string, unknown>>
    expect(entry!.id).toBe(`0x${other.nodeId}`)
  })

  it('impersonates Nethermind: addPeer(enode, false) dials once, (enode, true) keeps it static', async () => {
    const [nm, full] = await Promise.all([start({ kind: 'nethermind' }), start({ maxPeers: 0 })])
    expect((await rpc(nm, 'admin_addPeer', [full.enode, false])).result).toBe(full.enode)
    await waitFor(() => refusals(full, nm) === 1, 'the one-shot dial')
    expect(nm.staticPeers()).toEqual([])
    await rpc(nm, 'admin_addPeer', [full.enode, true])
    await waitFor(() => refusals(full, nm) >= 3, 'static redials')
  })

  it('goes down, slow and garbled on request', async () => {
    const node = await start()
    node.setDown(true)
    expect((await fetch(node.url, { method: 'POST', body: '{}' })).status).toBe(503)
    node.setDown(false)
    node.setGarbage(true)
    const text = await (await fetch(node.url, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId' }) })).text()
    expect(() => JSON.parse(text)).toThrow()
    node.setGarbage(false)
    node.setSlow(150)
    const t0 = Date.now()
    await rpc(node, 'eth_chainId')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140)
  })
})
