import { describe, expect, test } from 'vitest'
import { assertSecureCoordinatorUrl, isLoopbackHost, normaliseOrigin, originFromHostHeader } from './origin.ts'

describe('normaliseOrigin', () => {
  test('default: scheme, host and port, path dropped', () => {
    expect(normaliseOrigin('wss://pool.example:8443/v1/agent?x=1')).toBe('wss://pool.example:8443')
  })
  test('behavior: http and https count as ws and wss, default ports written out', () => {
    expect(normaliseOrigin('http://pool.example')).toBe('ws://pool.example:80')
    expect(normaliseOrigin('https://pool.example/')).toBe('wss://pool.example:443')
    expect(normaliseOrigin('wss://pool.example:443')).toBe('wss://pool.example:443')
    expect(normaliseOrigin('ws://127.0.0.1:8080/v1/agent')).toBe(normaliseOrigin('http://127.0.0.1:8080'))
  })
  test('behavior: host case, trailing dot and user info do not matter; IPv6 keeps its brackets', () => {
    expect(normaliseOrigin('https://Pool.Example./')).toBe('wss://pool.example:443')
    expect(normaliseOrigin('https://user:pass@pool.example')).toBe('wss://pool.example:443')
    expect(normaliseOrigin('ws://[::1]:8080')).toBe('ws://[::1]:8080')
  })
  test('behavior: another port or scheme is another origin', () => {
    expect(normaliseOrigin('https://pool.example')).not.toBe(normaliseOrigin('http://pool.example'))
    expect(normaliseOrigin('https://pool.example:8443')).not.toBe(normaliseOrigin('https://pool.example'))
  })
  test('error: not a URL, or another scheme', () => {
    expect(() => normaliseOrigin('pool.example:8080')).toThrow(/http\(s\):\/\/ or ws\(s\):\/\//)
    expect(() => normaliseOrigin('not a url')).toThrow('not a URL: "not a url"')
    expect(() => normaliseOrigin('ftp://pool.example')).toThrow('coordinator URL must be http(s):// or ws(s)://, got ftp:')
  })
})

describe('originFromHostHeader', () => {
  test('default: the Host header with the socket scheme', () => {
    expect(originFromHostHeader('127.0.0.1:8080', false)).toBe('ws://127.0.0.1:8080')
    expect(originFromHostHeader('Pool.Example', true)).toBe('wss://pool.example:443')
  })
  test('error: missing or unusable header is undefined', () => {
    expect(originFromHostHeader(undefined, false)).toBeUndefined()
    expect(originFromHostHeader('', false)).toBeUndefined()
    expect(originFromHostHeader('bad host/x y', false)).toBeUndefined()
  })
})

describe('isLoopbackHost and assertSecureCoordinatorUrl', () => {
  test('default: 127.0.0.0/8, ::1 and localhost are loopback; nothing else is', () => {
    for (const h of ['127.0.0.1', '127.4.5.6', 'localhost', 'LOCALHOST.', '[::1]', '::1']) expect(isLoopbackHost(h), h).toBe(true)
    for (const h of ['10.0.0.1', '128.0.0.1', '0.0.0.0', 'localhost.example', '127.0.0.1.nip.io', '[::2]', 'pool.example']) expect(isLoopbackHost(h), h).toBe(false)
  })
  test('behavior: wss anywhere, ws on loopback, ws elsewhere only when allowed', () => {
    expect(() => assertSecureCoordinatorUrl('https://pool.example', false)).not.toThrow()
    expect(() => assertSecureCoordinatorUrl('wss://pool.example', false)).not.toThrow()
    expect(() => assertSecureCoordinatorUrl('http://127.0.0.1:8080', false)).not.toThrow()
    expect(() => assertSecureCoordinatorUrl('ws://[::1]:8080', false)).not.toThrow()
    expect(() => assertSecureCoordinatorUrl('http://localhost:8080', false)).not.toThrow()
    expect(() => assertSecureCoordinatorUrl('ws://pool.example:8080', true)).not.toThrow()
  })
  test('error: plain ws or http to another host names the way out', () => {
    expect(() => assertSecureCoordinatorUrl('http://203.0.113.7:8080', false)).toThrow(
      'coordinator URL http://203.0.113.7:8080 is not encrypted: use https:// or wss:// (plain ws:// is allowed only on loopback), or pass --insecure-coordinator for a lab network',
    )
    expect(() => assertSecureCoordinatorUrl('ws://pool.example', false)).toThrow(/not encrypted/)
  })
})
