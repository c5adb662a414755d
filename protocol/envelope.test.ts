import { describe, test, expect } from 'vitest'
import { parseFrame, encodeError, encodeSuccess } from './envelope.ts'
import { rpcError, ErrorCode } from './errors.ts'
import { parseAmount, weiFromWire, weiToWire } from './amount.ts'

describe('frames', () => {
  test('default: requests, notifications, successes and errors', () => {
    expect(parseFrame('{"jsonrpc":"2.0","id":1,"method":"m","params":{}}')).toEqual({ ok: true, frame: { kind: 'request', id: 1, method: 'm', params: {} } })
    expect(parseFrame('{"jsonrpc":"2.0","method":"m"}')).toEqual({ ok: true, frame: { kind: 'notification', method: 'm', params: undefined } })
    expect(parseFrame('{"jsonrpc":"2.0","id":"a","result":null}')).toEqual({ ok: true, frame: { kind: 'success', id: 'a', result: null } })
    expect(parseFrame('{"jsonrpc":"2.0","id":2,"error":{"code":-32010,"message":"x"}}')).toMatchObject({ ok: true, frame: { kind: 'error', id: 2 } })
  })

  test('error: an error response carries no result member', () => {
    const text = encodeError(7, rpcError('RATE_LIMITED'))
    expect(JSON.parse(text)).toEqual({ jsonrpc: '2.0', id: 7, error: { code: ErrorCode.RATE_LIMITED, message: 'rate limited: slow down' } })
    expect(JSON.parse(encodeSuccess(1, undefined))).toEqual({ jsonrpc: '2.0', id: 1, result: null })
  })

  test.each([
    ['{"jsonrpc":"2.0","id":1.5,"method":"m"}', ErrorCode.INVALID_REQUEST],
    ['{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":""}}', ErrorCode.INVALID_REQUEST],
    ['{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}', ErrorCode.INVALID_REQUEST],
    ['{"jsonrpc":"2.0","result":1}', ErrorCode.INVALID_REQUEST],
    ['{"jsonrpc":"2.0","id":1}', ErrorCode.INVALID_REQUEST],
    ['{', ErrorCode.PARSE_ERROR],
  ])('error: %s', (text, code) => {
    const r = parseFrame(text)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.error.code).toBe(code)
  })
})

describe('amounts', () => {
  test('default: wire strings and operator units', () => {
    expect(weiToWire(10n ** 30n)).toBe('1000000000000000000000000000000')
    expect(weiFromWire('123')).toBe(123n)
    expect(parseAmount('100 gwei')).toBe(100_000_000_000n)
    expect(parseAmount('0.01 ether')).toBe(10_000_000_000_000_000n)
    expect(parseAmount('12345')).toBe(12345n)
  })
  test('error: fractions of wei, unknown units and junk', () => {
    expect(() => parseAmount('0.5 wei')).toThrow(/whole number of wei/)
    expect(() => parseAmount('3 btc')).toThrow(/unknown unit/)
    expect(() => weiFromWire('1e18')).toThrow(/decimal integer/)
  })
})
