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
