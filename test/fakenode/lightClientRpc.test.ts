import { keccak256 } from 'ethers'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createFakeNetwork } from './fakeNetwork.ts'
import { startFakeNode, type FakeNodeOptions } from './fakeNode.ts'
import { waitFor } from '../harness/waitFor.ts'

const net = createFakeNetwork()
afterEach(() => net.closeAll())

const start = (options: Partial<FakeNodeOptions> = {}) => startFakeNode({ kind: 'geth', network: net, ...options })

type Reply = { result?: any; error?: { code: number; message: string } }
async function rpc(node: { url: string }, method: string, params: unknown[] = []): Promise<Reply> {
  const res = await fetch(node.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) })
  return (await res.json()) as Reply
}

const ZERO = `0x${'0'.repeat(40)}`
const HASH = /^0x[0-9a-f]{64}$/

describe('fake node light-client RPC', () => {
  it('answers the Helios start-up calls with well-formed, deterministic data', async () => {
    const node = await start({ chainId: 11155111 })
    node.setHead(5)
    expect((await rpc(node, 'eth_chainId')).result).toBe('0xaa36a7')

    const proof = (await rpc(node, 'eth_getProof', [ZERO, [`0x${'0'.repeat(64)}`], 'latest'])).result
    expect(Object.keys(proof).sort()).toEqual(['accountProof', 'address', 'balance', 'codeHash', 'nonce', 'storageHash', 'storageProof'])
    expect(proof.accountProof).toHaveLength(3)
    expect(proof.storageProof).toEqual([{ key: `0x${'0'.repeat(64)}`, value: '0x0', proof: [] }])
    // getBalance agrees with the proof, as a verifying client checks.
    expect((await rpc(node, 'eth_getBalance', [ZERO, 'latest'])).result).toBe(proof.balance)

    const block = (await rpc(node, 'eth_getBlockByNumber', ['0x5', false])).result
    expect(block.transactions).toHaveLength(2) // block n carries n % 3 transactions
    expect(block.transactions[0]).toMatch(HASH)
    for (const k of ['parentHash', 'stateRoot', 'receiptsRoot', 'transactionsRoot', 'mixHash', 'parentBeaconBlockRoot']) expect(block[k]).toMatch(HASH)
    const full = (await rpc(node, 'eth_getBlockByNumber', ['0x5', true])).result
    expect(full.transactions.map((t: { hash: string }) => t.hash)).toEqual(block.transactions)
    expect(full.transactions[0]).toMatchObject({ blockNumber: '0x5', blockHash: block.hash, type: '0x2' })

    const receipts = (await rpc(node, 'eth_getBlockReceipts', ['0x5'])).result
    expect(receipts.map((r: { transactionHash: string }) => r.transactionHash)).toEqual(block.transactions)
    expect(receipts[1]).toMatchObject({ status: '0x1', transactionIndex: '0x1', blockHash: block.hash })

    expect((await rpc(node, 'eth_createAccessList', [{ to: ZERO, data: '0x' }, 'latest'])).result).toEqual({ accessList: [], gasUsed: '0x5208' })
    const logs = (await rpc(node, 'eth_getLogs', [{ fromBlock: '0x1', toBlock: 'latest' }])).result
    // Blocks 1..5 carry 1+2+0+1+2 transactions, one log each.
    expect(logs).toHaveLength(6)
    expect(logs.filter((l: { blockNumber: string }) => l.blockNumber === '0x5')).toEqual(receipts.flatMap((r: { logs: unknown[] }) => r.logs))
    const one = (await rpc(node, 'eth_getLogs', [{ fromBlock: '0x1', toBlock: '0x5', address: logs[0].address, topics: [null, logs[0].topics[1]] }])).result
    expect(one).toEqual([logs[0]])
    expect((await rpc(node, 'eth_call', [{ to: ZERO, data: '0x' }, 'latest'])).result).toBe('0x')

    const again = await start({ chainId: 11155111 })
    again.setHead(5)
    expect((await rpc(again, 'eth_getBlockByNumber', ['0x5', true])).result).toEqual(full)
  })

  it('fails state reads beyond the head like geth, and returns null for missing blocks', async () => {
    const node = await start()
    expect((await rpc(node, 'eth_getProof', [ZERO, [], '0x10'])).error).toEqual({ code: -32000, message: 'header not found' })
    expect((await rpc(node, 'eth_getBlockReceipts', ['0x10'])).result).toBeNull()
    expect((await rpc(node, 'eth_getBalance', ['0x12', 'latest'])).error?.code).toBe(-32602)
  })

  it('hashes raw transactions with keccak256 and knows a repeat', async () => {
    const node = await start()
    const raw = '0x02f86b0180843b9aca00'
    expect((await rpc(node, 'eth_sendRawTransaction', [raw])).result).toBe(keccak256(raw))
    expect((await rpc(node, 'eth_sendRawTransaction', [raw])).error).toEqual({ code: -32000, message: 'already known' })
  })

  it('leaves out methods on request, and fails others with a set error', async () => {
    const node = await start({ missingMethods: ['eth_getBlockReceipts'], methodErrors: { eth_getProof: { code: -32000, message: 'not implemented' } } })
    expect((await rpc(node, 'eth_getBlockReceipts', ['latest'])).error).toEqual({ code: -32601, message: 'the method eth_getBlockReceipts does not exist/is not available' })
    expect((await rpc(node, 'eth_getProof', [ZERO, [], 'latest'])).error).toEqual({ code: -32000, message: 'not implemented' })
    expect(node.rpcCalls.map((c) => c.method)).toEqual(['eth_getBlockReceipts', 'eth_getProof'])
  })

  it('sends newHeads over WebSocket when the head advances, and drops them with the socket', async () => {
    const node = await start()
    expect((await rpc(node, 'eth_subscribe', ['newHeads'])).error).toEqual({ code: -32601, message: 'notifications not supported' })
    const ws = new WebSocket(node.wsUrl)
    await new Promise((r) => ws.once('open', r))
    const messages: any[] = []
    ws.on('message', (d) => messages.push(JSON.parse(d.toString())))
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'eth_subscribe', params: ['newHeads'] }))
    const sub = (await waitFor(() => messages.find((m) => m.id === 7), 'the subscribe reply')).result as string
    expect(node.subscriptions()).toBe(1)
    node.setHead(2)
    await waitFor(() => messages.filter((m) => m.method === 'eth_subscription').length === 2, 'two heads')
    const heads = messages.filter((m) => m.method === 'eth_subscription')
    expect(heads.map((m) => [m.params.subscription, m.params.result.number])).toEqual([
      [sub, '0x1'],
      [sub, '0x2'],
    ])
    ws.close()
    await waitFor(() => node.subscriptions() === 0, 'the subscription to go with the socket')
  })
})
