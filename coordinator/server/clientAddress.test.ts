import { describe, test, expect } from 'vitest'
import { addressKey, clientAddressOf, normaliseAddress, parseTrustedProxies } from './clientAddress.ts'

describe('addressKey: IPv6 per /64', () => {
  test('addresses in one /64 share a key, whatever their spelling', () => {
    const k = addressKey('2001:db8:1:2::1')
    expect(k).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe(k)
    expect(addressKey('2001:DB8:1:2:0:0:0:9')).toBe(k)
    expect(addressKey('[2001:db8:1:2::abcd]')).toBe(k)
    expect(addressKey('2001:db8:1:2::1%eth0')).toBe(k)
  })
  test('the next /64, and short forms, are other keys', () => {
    expect(addressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(addressKey('fe80::1:2:3:4')).toBe('fe80:0:0:0::/64')
  })
  test('IPv4 and IPv4-mapped IPv6 are the IPv4 address itself', () => {
    expect(addressKey('198.51.100.7')).toBe('198.51.100.7')
    expect(addressKey('::ffff:198.51.100.7')).toBe('198.51.100.7')
    expect(addressKey('::FFFF:10.0.0.1')).toBe('10.0.0.1')
  })
  test('IPv4 embedded in a non-mapped IPv6 address is read as its groups', () => {
    expect(addressKey('64:ff9b::198.51.100.7')).toBe('64:ff9b:0:0::/64')
  })
  test('anything that is not an IP address is kept as it is', () => {
    expect(addressKey('unknown')).toBe('unknown')
    expect(normaliseAddress(' 10.0.0.1 ')).toBe('10.0.0.1')
  })
})

describe('clientAddressOf: X-Forwarded-For only from trusted proxies', () => {
  const trusted = parseTrustedProxies(['10.0.0.1', '::ffff:10.0.0.2'])
  test('without trusted proxies, or from an untrusted sender, the socket address', () => {
    expect(clientAddressOf('203.0.113.5', '198.51.100.1', new Set())).toBe('203.0.113.5')
    expect(clientAddressOf('203.0.113.5', '198.51.100.1', trusted)).toBe('203.0.113.5')
  })
  test('from a trusted proxy, the rightmost entry that is not a trusted proxy', () => {
    expect(clientAddressOf('10.0.0.1', '198.51.100.1', trusted)).toBe('198.51.100.1')
    // The client may put anything on the left; only what the proxy appended counts.
    expect(clientAddressOf('10.0.0.1', '1.2.3.4, 198.51.100.1', trusted)).toBe('198.51.100.1')
    // Two trusted proxies in a chain.
    expect(clientAddressOf('::ffff:10.0.0.1', '198.51.100.1, 10.0.0.2', trusted)).toBe('198.51.100.1')
    expect(clientAddressOf('10.0.0.1', ['198.51.100.1', '2001:db8::1'], trusted)).toBe('2001:db8::1')
  })
  test('a missing or malformed header leaves the proxy address', () => {
    expect(clientAddressOf('10.0.0.1', undefined, trusted)).toBe('10.0.0.1')
    expect(clientAddressOf('10.0.0.1', 'not-an-ip', trusted)).toBe('10.0.0.1')
    expect(clientAddressOf('10.0.0.1', '198.51.100.1, junk', trusted)).toBe('10.0.0.1')
  })
  test('--trust-proxy takes IP addresses only', () => {
    expect(() => parseTrustedProxies(['proxy.example'])).toThrow(/not an IP address/)
  })
})
