import { describe, test, expect } from 'vitest'
import { parseEnode, formatEnode, parseNodeId, parseEnodeOrNodeId, EnodeError, hasIpHost, ipHostProblem } from './enode.ts'

const ID = '3a514176466fa815ed481ffad09110a2d344f6c9b78c1d14afc351c3a51be33d8072e77939dc03ba44790779b7a1025baf3003f6732430e20cd9b76d953391b3'

describe('parseEnode', () => {
  test.each([
    [`enode://${ID}@10.3.58.6:30303`, { host: '10.3.58.6', tcpPort: 30303, udpPort: 30303 }],
    [`enode://${ID}@10.3.58.6:30303?discport=30301`, { host: '10.3.58.6', tcpPort: 30303, udpPort: 30301 }],
    [`enode://${ID}@[::1]:30303`, { host: '::1', tcpPort: 30303, udpPort: 30303 }],
    [`enode://${ID}@[2001:db8::ff00:42:8329]:30304?discport=0`, { host: '2001:db8::ff00:42:8329', tcpPort: 30304, udpPort: 0 }],
    [`enode://${ID}@node.example.org:30303`, { host: 'node.example.org', tcpPort: 30303, udpPort: 30303 }],
    [`enode://${ID}@localhost:1`, { host: 'localhost', tcpPort: 1, udpPort: 1 }],
    [`  enode://${ID.toUpperCase()}@127.0.0.1:65535  `, { host: '127.0.0.1', tcpPort: 65535, udpPort: 65535 }],
  ])('default: %s', (uri, want) => {
    expect(parseEnode(uri)).toEqual({ nodeId: ID, ...want })
  })

  test.each([
    ['no scheme', `${ID}@127.0.0.1:30303`, /expected enode/],
    ['wrong scheme', `enr://${ID}@127.0.0.1:30303`, /expected enode/],
    ['short id', `enode://${ID.slice(2)}@127.0.0.1:30303`, /128 hex/],
    ['long id', `enode://${ID}00@127.0.0.1:30303`, /128 hex/],
    ['non-hex id', `enode://${ID.slice(1)}g@127.0.0.1:30303`, /128 hex/],
    ['no port', `enode://${ID}@127.0.0.1`, /missing port/],
    ['port too big', `enode://${ID}@127.0.0.1:70000`, /out of range/],
    ['non-numeric port', `enode://${ID}@127.0.0.1:abc`, /invalid TCP port/],
    ['bare IPv6', `enode://${ID}@::1:30303`, /brackets/],
    ['bad IPv6', `enode://${ID}@[::g]:30303`, /invalid IPv6/],
    ['bad IPv4', `enode://${ID}@300.1.1.1:30303`, /invalid host/],
    ['bad hostname', `enode://${ID}@bad_host:30303`, /invalid host/],
    ['bad discport', `enode://${ID}@127.0.0.1:30303?discport=x`, /discovery port/],
    ['unknown param', `enode://${ID}@127.0.0.1:30303?foo=1`, /unknown enode parameter/],
    ['empty', '', /expected enode/],
  ])('error: %s', (_what, uri, message) => {
    expect(() => parseEnode(uri)).toThrow(EnodeError)
    expect(() => parseEnode(uri)).toThrow(message)
  })

  test('behavior: format is the inverse of parse', () => {
    for (const uri of [`enode://${ID}@10.3.58.6:30303`, `enode://${ID}@[::1]:30303?discport=30301`, `enode://${ID}@node.example.org:1`]) {
      expect(formatEnode(parseEnode(uri))).toBe(uri)
    }
  })
})

describe('node IDs', () => {
  test('default: bare IDs, with or without 0x, any case', () => {
    expect(parseNodeId(`0x${ID.toUpperCase()}`)).toBe(ID)
    expect(parseEnodeOrNodeId(ID)).toEqual({ nodeId: ID })
    expect(parseEnodeOrNodeId(`enode://${ID}@127.0.0.1:30303`).enode?.tcpPort).toBe(30303)
  })

  test('error: a malformed ID names what was expected and what came', () => {
    expect(() => parseNodeId('abc')).toThrowErrorMatchingInlineSnapshot(`[EnodeError: invalid node ID: expected 128 hex characters (64-byte public key), got "abc" (3 chars)]`)
  })
})

describe('IP hosts (the pool accepts no DNS names from agents)', () => {
  test('default: IPv4 and IPv6 literals are IP hosts', () => {
    for (const uri of [`enode://${ID}@10.3.58.6:30303`, `enode://${ID}@[::1]:30303`, `enode://${ID}@0.0.0.0:30303`]) {
      expect(hasIpHost(parseEnode(uri)), uri).toBe(true)
      expect(ipHostProblem(parseEnode(uri))).toBeUndefined()
    }
  })
  test('error: a DNS name is named in the problem', () => {
    const e = parseEnode(`enode://${ID}@node.example.org:30303`)
    expect(hasIpHost(e)).toBe(false)
    expect(ipHostProblem(e)).toBe('enode host must be an IP address, got "node.example.org"')
  })
})
