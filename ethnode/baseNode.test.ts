import { keccak256 } from 'ethers'
import { describe, expect, it } from 'vitest'
import { generateNodeKey, nodeIdOf } from '../protocol/nodeKey.ts'
import { baseNode, normalisePeer } from './baseNode.ts'
import { besuAdapter } from './besu.ts'
import { NodeRpcError } from './errors.ts'
import type { NodeRpc } from './ethNode.ts'

const id = nodeIdOf(generateNodeKey())
const enode = `enode://${id}@10.0.0.1:30303`

/** A NodeRpc that answers from a table and records what it was asked. */
function stubRpc(answers: Record<string, (params: unknown[]) => unknown>): NodeRpc & { asked: string[] } {
  const asked: string[] = []
  return {
    url: 'stub',
    asked,
    async request(method, params = []) {
      asked.push(method)
      const answer = answers[method]
      if (!answer) throw new NodeRpcError(-32601, `the method ${method} does not exist/is not available`)
      return answer(params)
    },
    async close() {},
  }
}

describe('normalisePeer', () => {
  it('takes the node ID from enode, never from a hashed id', () => {
    const hash = keccak256(`0x${id}`).slice(2)
    expect(normalisePeer({ enode, id: hash })?.nodeId).toBe(id)
    expect(normalisePeer({ id: hash })).toBeUndefined()
  })

  it('accepts a 64-byte id, with or without 0x, when there is no enode', () => {
    expect(normalisePeer({ id: `0x${id.toUpperCase()}` })?.nodeId).toBe(id)
    expect(normalisePeer({ id })?.nodeId).toBe(id)
  })

  it("maps Nethermind's shape", () => {
    const raw = { clientId: 'Geth/v1', isTrusted: true, address: '10.0.0.1:30303', enode }
    expect(normalisePeer(raw)).toEqual({ nodeId: id, enode, name: 'Geth/v1', trusted: true, remoteAddress: '10.0.0.1:30303', caps: [], raw })
  })
})

describe('baseNode', () => {
  it('turns a false from admin_addPeer / admin_addTrustedPeer into a NodeRpcError', async () => {
    const node = baseNode(stubRpc({ admin_addPeer: () => false, admin_addTrustedPeer: () => false }), 'geth', 'Geth/x')
    await expect(node.dial(enode)).rejects.toThrow(NodeRpcError)
    await expect(node.admit(enode)).rejects.toThrow(/admin_addTrustedPeer returned false/)
  })

  it('still disconnects when withdrawing trust fails, then reports that failure', async () => {
    const rpc = stubRpc({ admin_removeTrustedPeer: () => { throw new NodeRpcError(-32000, 'boom') }, admin_removePeer: () => true })
    const node = baseNode(rpc, 'geth', 'Geth/x')
    await expect(node.evict(id, enode)).rejects.toThrow('boom')
    expect(rpc.asked).toEqual(['admin_removeTrustedPeer', 'admin_removePeer'])
  })

  it('rejects a malformed enode before calling the node', async () => {
    const rpc = stubRpc({})
    await expect(baseNode(rpc, 'geth', 'Geth/x').dial('enode://xyz@1.2.3.4:1')).rejects.toThrow(/invalid node ID/)
    expect(rpc.asked).toEqual([])
  })
})

describe('besuAdapter', () => {
  it('reports a disabled allowlist as a missing feature naming the flag', async () => {
    const rpc = stubRpc({
      perm_addNodesToAllowlist: () => {
        throw new NodeRpcError(-32000, 'Node allowlist has not been enabled')
      },
    })
    const err = await besuAdapter.create(rpc, 'besu/v24').admit(enode).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'MissingMethodError', method: 'perm_addNodesToAllowlist' })
    expect((err as { explain: string }).explain).toContain('--permissions-nodes-config-file-enabled')
  })
})
