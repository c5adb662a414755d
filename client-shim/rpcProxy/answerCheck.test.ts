import { describe, test, expect } from 'vitest'
import type { NodeId } from '../../protocol/index.ts'
import { answerDigest, canonicalJson, checkableCall, checkAnswers, compareAnswers, disputeCall, settleDispute, type AskHost } from './answerCheck.ts'

const A = 'a'.repeat(128) as NodeId
const B = 'b'.repeat(128) as NodeId
const C = 'c'.repeat(128) as NodeId
const D = 'd'.repeat(128) as NodeId

/** Hosts that answer like a node at head 100 with finalized 36; `lie` changes a state root, `finalized` its finalized block. */
function hosts(spec: Record<string, { lie?: boolean; finalized?: number; down?: boolean }>): { ask: AskHost; asked: string[] } {
  const asked: string[] = []
  const ask: AskHost = async (host, calls) => {
    const s = spec[host] ?? {}
    asked.push(`${host[0]}:${calls.map((c) => `${c.method}(${String(c.params[0])})`).join(',')}`)
    if (s.down) return undefined
    return calls.map((c) => {
      const tag = c.method === 'eth_getProof' ? c.params[2] : c.params[0]
      const n = tag === 'finalized' ? (s.finalized ?? 36) : Number.parseInt(String(tag), 16)
      if (n > 100) return undefined
      if (c.method === 'eth_getBlockByNumber') return { number: `0x${n.toString(16)}`, stateRoot: s.lie ? '0xbad' : `0xstate${n}`, hash: `0xhash${n}` }
      return { address: c.params[0], accountProof: [`0xproof${n}`], balance: '0x0' }
    })
  }
  return { ask, asked }
}

describe('checked answers in the shim', () => {
  test('default: canonical JSON ignores key order; digests are equal for equal answers', () => {
    expect(canonicalJson({ b: 1, a: [{ y: 2, x: null }] })).toBe('{"a":[{"x":null,"y":2}],"b":1}')
    expect(answerDigest({ b: 1, a: 2 })).toBe(answerDigest({ a: 2, b: 1 }))
    expect(answerDigest({ a: 1 })).not.toBe(answerDigest({ a: 2 }))
  })

  test('behavior: a comparison is a dispute only where both hosts gave a result', () => {
    expect(compareAnswers(['x', 'y'], ['x', 'y'])).toEqual({ verdict: 'agree' })
    expect(compareAnswers(['x', 'y'], ['x', 'z'])).toEqual({ verdict: 'differ', call: 1 })
    expect(compareAnswers(['x', undefined], ['x', 'z'])).toEqual({ verdict: 'inconclusive' })
  })

  test('behavior: the dispute rule: two against one puts the one in the minority; three answers or a no-show settle nothing', () => {
    expect(settleDispute(new Map([[A, 'x'], [B, 'y'], [C, 'x']]))).toEqual({ minority: B, answerDigest: 'y', majorityDigest: 'x', witnesses: [A, C] })
    expect(settleDispute(new Map([[A, 'x'], [B, 'y'], [C, 'z']]))).toBeUndefined()
    expect(settleDispute(new Map([[A, 'x'], [B, 'y'], [C, undefined]]))).toBeUndefined()
    expect(settleDispute(new Map([[A, 'x'], [B, 'y']]))).toBeUndefined()
    expect(settleDispute(new Map([[A, 'x'], [B, 'y'], [C, 'x'], [D, 'y']]))).toBeUndefined()
  })

  test('default: honest hosts agree at the lower of their finalized blocks; the others are compared with that answer', async () => {
    const { ask, asked } = hosts({ [B]: { finalized: 40 } })
    const r = await checkAnswers([A, B, C], ask)
    expect(r).toEqual({ compared: [A, B, C], agreed: [A, B, C], bad: undefined })
    expect(asked).toContain('b:eth_getBlockByNumber(0x24),eth_getProof(0x0000000000000000000000000000000000000000)')
    expect(asked).toContain('c:eth_getBlockByNumber(0x24),eth_getProof(0x0000000000000000000000000000000000000000)')
  })

  test('behavior: a liar among the other hosts is two against one with the compared pair', async () => {
    const r = await checkAnswers([A, B, C, D], hosts({ [D]: { lie: true } }).ask)
    expect(r.bad).toMatchObject({ minority: D, witnesses: [A, B], call: { method: 'eth_getBlockByNumber' } })
    expect(r.agreed).toEqual([A, B, C])
  })

  test('behavior: a host lying about a finalized block is found in the minority by a third host', async () => {
    const { ask } = hosts({ [A]: { lie: true } })
    const r = await checkAnswers([A, B, C], ask)
    expect(r.bad).toMatchObject({ minority: A, witnesses: [B, C], call: { method: 'eth_getBlockByNumber', params: ['0x24', false] } })
    expect(r.agreed).toEqual([B, C])
  })

  test('behavior: a light client\'s failed verification is checked on every host; its word alone blames nobody', async () => {
    const call = checkableCall({ method: 'eth_getBlockByNumber', params: ['0x24', false] })
    if (typeof call === 'string') throw new Error(call)
    expect((await disputeCall([A, B, C], hosts({ [C]: { lie: true } }).ask, call)).bad).toMatchObject({ minority: C, witnesses: [A, B] })
    expect(await disputeCall([A, B, C], hosts({}).ask, call)).toEqual({ asked: 3, answered: 3, bad: undefined })
    expect(checkableCall({ method: 'eth_getBlockByNumber', params: ['latest', false] })).toMatch(/block by number/)
    expect(checkableCall({ method: 'eth_call', params: [] })).toMatch(/only eth_getBlockByNumber and eth_getProof/)
    expect(checkableCall('nope')).toMatch(/must be the call/)
  })

  test('behavior: no third host, a host with no result, or no finalized block: inconclusive, nobody blamed', async () => {
    expect((await checkAnswers([A, B], hosts({ [A]: { lie: true } }).ask)).inconclusive).toMatch(/no third host/)
    expect((await checkAnswers([A, B, C], hosts({ [A]: { lie: true }, [C]: { down: true } }).ask)).bad).toBeUndefined()
    expect((await checkAnswers([A, B, C], hosts({ [B]: { down: true } }).ask)).inconclusive).toMatch(/no finalized block/)
    expect((await checkAnswers([A], hosts({}).ask)).compared).toEqual([])
  })
})
