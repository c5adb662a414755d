import { describe, test, expect } from 'vitest'
import { updateParamsSchema } from './methods.ts'
import { generateNodeKey, nodeIdOf } from './index.ts'

const block = { number: 1, hash: `0x${'ab'.repeat(32)}` }
const id = nodeIdOf(generateNodeKey())

describe('vipnode_update params', () => {
  test('default: peers may come as node IDs, as admin_peers entries, or not at all', () => {
    expect(updateParamsSchema.parse({ peerIds: [id], block })).toMatchObject({ peerIds: [id], peers: [] })
    expect(updateParamsSchema.parse({ peers: [{ id, caps: ['eth/68'] }], block }).peers[0]).toMatchObject({ id, caps: ['eth/68'] })
    expect(updateParamsSchema.parse({ block })).toMatchObject({ peers: [] })
  })

  test.each([
    ['an upper-case ID', [id.toUpperCase()]],
    ['a short ID', [id.slice(2)]],
    ['a number', [42]],
    ['not an array', id],
    ['too many', Array.from({ length: 1025 }, () => id)],
  ])('error: peerIds with %s is refused with a message naming the field', (_what, peerIds) => {
    const r = updateParamsSchema.safeParse({ peerIds, block })
    expect(r.success).toBe(false)
    expect(r.error!.issues[0]).toMatchObject({ path: ['peerIds'], message: expect.stringContaining('node IDs') })
  })
})

describe('vipnode_update params: quality', () => {
  const buckets = (n: number) => [n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  const entry = { nodeId: id, ok: 3, clientErrors: 0, nodeErrors: 1, refused: 0, transport: 0, timeouts: 2, latency: [{ method: 'eth_getProof', buckets: buckets(3) }] }

  test('default: optional; an entry per host with calls by outcome and a latency histogram per method', () => {
    expect(updateParamsSchema.parse({ block }).quality).toBeUndefined()
    expect(updateParamsSchema.parse({ block, quality: [entry] }).quality).toEqual([entry])
    // Latency may be left out (nothing served); unknown methods are the coordinator's to bucket.
    const { latency: _, ...bare } = entry
    expect(updateParamsSchema.parse({ block, quality: [{ ...bare, ok: 0 }] }).quality![0]!.latency).toEqual([])
    expect(updateParamsSchema.safeParse({ block, quality: [{ ...entry, latency: [{ method: 'eth_somethingNew', buckets: buckets(3) }] }] }).success).toBe(true)
  })

  test.each([
    ['a negative count', { ...entry, timeouts: -1 }, 'quality.0.timeouts'],
    ['a fractional count', { ...entry, ok: 1.5 }, 'quality.0.ok'],
    ['a missing class', { ...entry, refused: undefined }, 'quality.0.refused'],
    ['a histogram of the wrong length', { ...entry, latency: [{ method: 'eth_call', buckets: [1, 2] }] }, 'quality.0.latency.0.buckets'],
    ['more samples than served calls', { ...entry, latency: [{ method: 'eth_call', buckets: buckets(4) }] }, 'quality.0.latency'],
    ['an empty method name', { ...entry, latency: [{ method: '', buckets: buckets(1) }] }, 'quality.0.latency.0.method'],
    ['too many methods', { ...entry, ok: 100, latency: Array.from({ length: 33 }, (_, i) => ({ method: `m${i}`, buckets: buckets(1) })) }, 'quality.0.latency'],
    ['a host that is not a node ID', { ...entry, nodeId: 'ab' }, 'quality.0.nodeId'],
  ])('error: an entry with %s is refused, naming the field', (_what, bad, path) => {
    const r = updateParamsSchema.safeParse({ block, quality: [bad] })
    expect(r.success).toBe(false)
    expect(r.error!.issues.map((i) => i.path.join('.'))).toContain(path)
  })

  test('error: the same host twice, or more than 64 hosts, is refused', () => {
    const twice = updateParamsSchema.safeParse({ block, quality: [entry, entry] })
    expect(twice.error!.issues[0]).toMatchObject({ path: ['quality', 1, 'nodeId'], message: expect.stringContaining('listed twice') })
    const many = Array.from({ length: 65 }, () => ({ ...entry, nodeId: nodeIdOf(generateNodeKey()) }))
    expect(updateParamsSchema.safeParse({ block, quality: many }).error!.issues[0]!.path).toEqual(['quality'])
  })
})
