import { afterEach, describe, expect, it } from 'vitest'
import { createFakeNetwork } from '../test/fakenode/fakeNetwork.ts'
import { startFakeNode, type FakeNodeOptions } from '../test/fakenode/fakeNode.ts'
import { isMethodMissing, LIGHT_CLIENT_METHODS, probeCapabilities } from './capabilities.ts'
import { NodeUnavailableError } from './errors.ts'
import { connectNodeRpc } from './nodeRpc.ts'
import type { NodeRpc } from './ethNode.ts'

const net = createFakeNetwork()
const rpcs: NodeRpc[] = []
afterEach(async () => {
  for (const r of rpcs.splice(0)) await r.close()
  await net.closeAll()
})

async function probe(options: Partial<FakeNodeOptions> = {}, transport: 'http' | 'ws' = 'http') {
  const node = await startFakeNode({ kind: 'geth', network: net, ...options })
  node.setHead(3)
  const rpc = connectNodeRpc(transport === 'http' ? node.url : node.wsUrl, { timeoutMs: 2000 })
  rpcs.push(rpc)
  return { node, report: await probeCapabilities(rpc) }
}

describe('probeCapabilities', () => {
  it('default: a full node serves every light-client method', async () => {
    const { node, report } = await probe()
    expect(report).toEqual({ served: ['eth_chainId', 'eth_getBlockByNumber', ...LIGHT_CLIENT_METHODS], missing: [], failed: [] })
    // Harmless, valid parameters, as documented.
    expect(node.rpcCalls.find((c) => c.method === 'eth_getProof')?.params).toEqual(['0x0000000000000000000000000000000000000000', [], 'latest'])
  })

  it('behavior: a geth-like node without eth_getBlockReceipts lacks it (-32601)', async () => {
    const { report } = await probe({ missingMethods: ['eth_getBlockReceipts'] }, 'ws')
    expect(report.missing).toEqual(['eth_getBlockReceipts'])
    expect(report.served).not.toContain('eth_getBlockReceipts')
  })

  it('behavior: Besu and Nethermind texts and Erigon 2 "not implemented" count as missing', async () => {
    const { report } = await probe({
      kind: 'besu',
      methodErrors: {
        eth_getProof: { code: -32000, message: 'the method is currently not implemented: eth_getProof' },
        eth_createAccessList: { code: -32604, message: 'Method not enabled' },
        eth_getLogs: { code: -32000, message: "The method 'eth_getLogs' is not supported." },
      },
    })
    expect(report.missing).toEqual(['eth_getProof', 'eth_createAccessList', 'eth_getLogs'])
    expect(report.served).toEqual(['eth_chainId', 'eth_getBlockByNumber', 'eth_getBlockReceipts'])
  })

  it('behavior: any other error means served but failed this time, and is reported', async () => {
    const { report } = await probe({ methodErrors: { eth_getProof: { code: -32000, message: 'header not found' } } })
    expect(report.missing).toEqual([])
    expect(report.served).toContain('eth_getProof')
    expect(report.failed).toEqual([{ method: 'eth_getProof', code: -32000, message: 'header not found' }])
  })

  it('error: a node that does not answer rejects the probe instead of reporting everything missing', async () => {
    const node = await startFakeNode({ kind: 'geth', network: net })
    node.setDown(true)
    const rpc = connectNodeRpc(node.url, { timeoutMs: 1000 })
    rpcs.push(rpc)
    await expect(probeCapabilities(rpc)).rejects.toBeInstanceOf(NodeUnavailableError)
  })

  it('args: a plain call function with {code, message} errors', async () => {
    const report = await probeCapabilities(async (method) => {
      if (method === 'eth_getLogs') throw Object.assign(new Error('Method not found'), { code: -32601 })
      return null
    })
    expect(report.missing).toEqual(['eth_getLogs'])
  })

  it('behavior: eth_getProof is probed at finalized and at head - 120 too; a node without that state does not serve light clients', async () => {
    const { node } = await probe()
    node.setHead(500)
    const rpc = connectNodeRpc(node.url, { timeoutMs: 2000 })
    rpcs.push(rpc)
    expect((await probeCapabilities(rpc)).missing).toEqual([])
    expect(node.rpcCalls.filter((c) => c.method === 'eth_getProof').slice(-2).map((c) => c.params[2])).toEqual(['finalized', `0x${(500 - 120).toString(16)}`])

    // A pruned node: the head's state only.
    const pruned = (at: (tag: unknown) => boolean) =>
      probeCapabilities(async (method, params) => {
        if (method === 'eth_blockNumber') return '0x1f4'
        if (method === 'eth_getProof' && at(params[2])) throw Object.assign(new Error('missing trie node 5f3c… (path ) state 0x… is not available'), { code: -32000 })
        return null
      })
    const atFinalized = await pruned((t) => t === 'finalized')
    expect(atFinalized.missing).toEqual(['eth_getProof'])
    expect(atFinalized.failed).toEqual([{ method: 'eth_getProof', code: -32000, message: expect.stringMatching(/^at finalized: missing trie node/) }])
    const deep = await pruned((t) => t === '0x17c')
    expect(deep.failed[0]?.message).toMatch(/^at head - 120 \(block 380\): missing trie node/)
    // A chain with no finality (clique, dev) has nothing at `finalized`: not held against the node.
    const noFinality = await probeCapabilities(async (method, params) => {
      if (method === 'eth_getProof' && params[2] === 'finalized') throw Object.assign(new Error('finalized block not found'), { code: -39001 })
      return method === 'eth_blockNumber' ? '0x10' : null
    })
    expect(noFinality.missing).toEqual([])
  })

  it('isMethodMissing', () => {
    expect(isMethodMissing(-32601, 'anything')).toBe(true)
    expect(isMethodMissing(-32000, 'the method eth_getProof does not exist/is not available')).toBe(true)
    expect(isMethodMissing(-32000, 'header not found')).toBe(false)
    expect(isMethodMissing(3, 'execution reverted')).toBe(false)
  })
})
