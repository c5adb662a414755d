import { describe, expect, it } from 'vitest'
import type { NodeId } from '../../protocol/enode.ts'
import { updateParamsSchema } from '../../protocol/methods.ts'
import { LATENCY_BUCKET_COUNT, latencyBucket } from '../../protocol/quality.ts'
import { replyVerdicts } from '../../agent/relay/replyVerdict.ts'
import { QualityMeter, replyOutcomes } from './qualityMeter.ts'

const H = 'a1'.repeat(64) as NodeId
const G = 'b2'.repeat(64) as NodeId
const reply = (error?: { code: number; message: string }) => (error ? { jsonrpc: '2.0' as const, id: 1, error } : { jsonrpc: '2.0' as const, id: 1, result: '0x1' })

describe('QualityMeter', () => {
  it('default: counts calls per host by outcome and times served calls per method; unlisted methods go under "other"', () => {
    const m = new QualityMeter()
    m.record(H, 'eth_getProof', 'ok', 40)
    m.record(H, 'eth_getProof', 'ok', 3_000)
    m.record(H, 'eth_getUncleCountByBlockHash', 'ok', 5)
    m.record(H, 'eth_call', 'timeout')
    m.record(H, 'eth_call', 'refused', 1) // not timed: a refusal is quick
    m.record(G, 'eth_chainId', 'transport')
    const [h, g] = m.drain()
    const histogram = (...ms: number[]) => {
      const b = new Array(LATENCY_BUCKET_COUNT).fill(0)
      for (const x of ms) b[latencyBucket(x)]++
      return b
    }
    expect(h).toEqual({
      nodeId: H, ok: 3, clientErrors: 0, nodeErrors: 0, refused: 1, transport: 0, timeouts: 1,
      latency: [{ method: 'eth_getProof', buckets: histogram(40, 3_000) }, { method: 'other', buckets: histogram(5) }],
    })
    expect(g).toMatchObject({ nodeId: G, transport: 1, latency: [] })
    // What it drains is what the pool takes.
    expect(updateParamsSchema.safeParse({ block: { number: 0, hash: `0x${'00'.repeat(32)}` }, quality: [h, g] }).success).toBe(true)
    expect(m.drain()).toEqual([])
  })

  it('default: an answered call is ok, the client\'s error, a refusal (401, 429, -32005, -32010) or the node\'s error', () => {
    const replies = [reply(), reply({ code: -32602, message: 'invalid params' }), reply({ code: -32005, message: 'rate limited' }), reply({ code: -32010, message: 'token' }), reply({ code: -32000, message: 'header not found' }), undefined]
    expect(replyOutcomes(200, replies, replyVerdicts(200, replies))).toEqual(['ok', 'client-error', 'refused', 'refused', 'node-error', 'node-error'])
    expect(replyOutcomes(429, [reply()], replyVerdicts(429, [reply()]))).toEqual(['refused'])
    expect(replyOutcomes(413, [reply()], replyVerdicts(413, [reply()]))).toEqual(['client-error'])
  })
})
