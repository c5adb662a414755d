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

describe('request ids', () => {
  test('behavior: a string id of up to 256 characters is accepted and kept', () => {
    const id = 'i'.repeat(256)
    expect(parseFrame(JSON.stringify({ jsonrpc: '2.0', id, method: 'm' }))).toEqual({ ok: true, frame: { kind: 'request', id, method: 'm', params: undefined } })
    expect(parseFrame(JSON.stringify({ jsonrpc: '2.0', id: '', method: 'm' }))).toMatchObject({ ok: true, frame: { kind: 'request', id: '' } })
  })

  test('error: a longer string id is INVALID_REQUEST, answered with id null rather than echoed', () => {
    const r = parseFrame(JSON.stringify({ jsonrpc: '2.0', id: 'i'.repeat(257), method: 'm', params: {} }))
    expect(r).toEqual({ ok: false, error: expect.objectContaining({ code: ErrorCode.INVALID_REQUEST, message: 'id must be a string of at most 256 characters or an integer' }), id: null })
    if (!r.ok) expect(JSON.parse(encodeError(r.id, r.error))).toEqual({ jsonrpc: '2.0', id: null, error: { code: ErrorCode.INVALID_REQUEST, message: 'id must be a string of at most 256 characters or an integer' } })
    // Nor is it echoed from any other invalid frame, however large.
    const huge = 'i'.repeat(1024 * 1024)
    expect(parseFrame(JSON.stringify({ jsonrpc: '1.0', id: huge, method: 'm' }))).toMatchObject({ ok: false, id: null })
    expect(parseFrame(JSON.stringify({ jsonrpc: '2.0', id: huge, result: 1 }))).toMatchObject({ ok: false, id: null })
  })

  test('behavior: the length is counted in UTF-16 code units, as JavaScript strings are', () => {
    expect(parseFrame(JSON.stringify({ jsonrpc: '2.0', id: '€'.repeat(256), method: 'm' }))).toMatchObject({ ok: true })
    expect(parseFrame(JSON.stringify({ jsonrpc: '2.0', id: '😀'.repeat(129), method: 'm' }))).toMatchObject({ ok: false, id: null })
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
