import { describe, expect, it } from 'vitest'
import { beaconVerdict, callVerdict, replyVerdicts, servedCount } from './replyVerdict.ts'
import type { RpcReply } from './rpcFrames.ts'

const ok = (result: unknown): RpcReply => ({ jsonrpc: '2.0', id: 1, result })
const err = (code: number, message = 'x'): RpcReply => ({ jsonrpc: '2.0', id: 1, error: { code, message } })

describe('callVerdict', () => {
  it('default: a result is served, even null or false', () => {
    expect([ok('0x1'), ok(null), ok(false)].map(callVerdict)).toEqual(['served', 'served', 'served'])
  })

  it('behavior: errors the request caused are the client’s', () => {
    expect([err(-32602), err(-32601), err(-32700), err(-32600), err(3, 'execution reverted')].map(callVerdict)).toEqual(Array(5).fill('client-error'))
    expect(callVerdict(err(-32000, 'nonce too low'))).toBe('client-error')
    expect(callVerdict(err(-32000, 'execution reverted: paused'))).toBe('client-error')
    expect(callVerdict(err(-32000, 'filter not found'))).toBe('client-error')
  })

  it('behavior: refusals and missing state are the host’s', () => {
    expect([err(-32005, 'rate limited'), err(-32022), err(-32023), err(-32603), err(-32000, 'header not found'), err(-32000, 'missing trie node')].map(callVerdict)).toEqual(Array(6).fill('host-error'))
    expect(callVerdict(undefined)).toBe('host-error')
    expect(callVerdict({ jsonrpc: '2.0', id: 1 })).toBe('host-error')
  })
})

describe('replyVerdicts', () => {
  it('default: judges each call of a batch', () => {
    const v = replyVerdicts(200, [ok(1), err(-32602), err(-32005)])
    expect(v).toEqual(['served', 'client-error', 'host-error'])
    expect(servedCount(v)).toBe(1)
  })

  it('behavior: the HTTP status decides for the whole request', () => {
    expect(replyVerdicts(429, [ok(1), ok(2)])).toEqual(['host-error', 'host-error'])
    expect(replyVerdicts(502, [ok(1)])).toEqual(['host-error'])
    expect(replyVerdicts(401, [ok(1)])).toEqual(['host-error'])
    expect(replyVerdicts(413, [err(-32018)])).toEqual(['client-error'])
  })
})

describe('beaconVerdict', () => {
  it('default: only a 2xx is served', () => {
    expect([200, 204].map(beaconVerdict)).toEqual(['served', 'served'])
  })
  it('behavior: 400, 404, 405 are the request\'s own; refusals, a missing or failed beacon node and redirects are the host\'s', () => {
    expect([400, 404, 405].map(beaconVerdict)).toEqual(['client-error', 'client-error', 'client-error'])
    expect([401, 429, 501, 502, 504, 302, 100].map(beaconVerdict)).toEqual(Array(7).fill('host-error'))
  })
})
