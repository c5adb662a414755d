import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import { classifyIp, classifyIpv4, enodeHostProblem, hostScope, ipv6Groups, relayUrlProblem, resolvedNameProblem } from './addressScope.ts'
import { parseEnode } from './enode.ts'

const ID = '3a514176466fa815ed481ffad09110a2d344f6c9b78c1d14afc351c3a51be33d8072e77939dc03ba44790779b7a1025baf3003f6732430e20cd9b76d953391b3'

describe('classifyIp', () => {
  test.each([
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['100.63.255.255', 'public'],
    ['100.128.0.0', 'public'],
    ['172.15.255.255', 'public'],
    ['172.32.0.0', 'public'],
    ['223.255.255.255', 'public'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['169.254.169.254', 'link-local'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['203.0.113.7', 'reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001:82a::200e', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0:7f00:1', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::808:808', 'public'],
    ['2002:c0a8:0101::1', 'private'],
    ['::127.0.0.1', 'reserved'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fec0::1', 'private'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['2a00:1450::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
  ])('%s is %s', (ip, scope) => {
    expect(classifyIp(ip)?.scope).toBe(scope)
  })

  test('a refusal names the block that decided', () => {
    expect(classifyIp('100.64.0.1')).toEqual({ scope: 'private', range: '100.64.0.0/10 (carrier-grade NAT shared space)' })
    expect(classifyIp('::ffff:192.168.0.1')).toEqual({ scope: 'private', range: '::ffff:0:0/96 (IPv4-mapped) embedding 192.168.0.0/16 (RFC 1918 private)' })
  })

  test.each(['localhost', 'example.org', '2130706433', '0x7f000001', '0177.0.0.1', '127.1', ''])('error: %s is not an IP literal', (text) => {
    expect(classifyIp(text)).toBeUndefined()
  })

  test('property: every IPv4 address is classified the same as its IPv4-mapped IPv6 form, dotted or hex', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const o = ip.split('.').map(Number) as [number, number, number, number]
        const hex = `::ffff:${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`
        const scope = classifyIpv4(ip).scope
        expect(classifyIp(`::ffff:${ip}`)?.scope).toBe(scope)
        expect(classifyIp(hex)?.scope).toBe(scope)
      }),
      { numRuns: 2000 },
    )
  })

  test('property: ipv6Groups reads back every IPv6 address the generator writes, in any notation', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const groups = ipv6Groups(ip)
        expect(groups).toHaveLength(8)
        // Re-expanded without compression, the address is the same one.
        const full = groups!.map((g) => g.toString(16)).join(':')
        expect(ipv6Groups(full)).toEqual(groups)
        expect(classifyIp(full)?.scope).toBe(classifyIp(ip)?.scope)
      }),
      { numRuns: 2000 },
    )
  })

  test('property: only public addresses are public, whatever the generator finds', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (ip) => {
        const c = classifyIp(ip)!
        expect(c).toBeDefined()
        // A non-public class always says which block decided, so refusals are precise.
        if (c.scope !== 'public') expect(c.range).toMatch(/\S/)
      }),
    )
  })
})

describe('relayUrlProblem', () => {
  test.each([
    // The WHATWG parser turns decimal, hex and octal IPv4 forms into a dotted quad before we classify.
    ['https://2130706433/', /127\.0\.0\.1 is a loopback address/],
    ['https://0x7f.1/', /127\.0\.0\.1 is a loopback address/],
    ['https://017700000001/', /loopback/],
    ['https://127.1:8545/', /loopback/],
    ['https://[::ffff:127.0.0.1]/', /loopback address in ::ffff:0:0\/96/],
    ['https://[::1]:8545/relay', /loopback/],
    ['https://10.0.0.5/', /private address in 10\.0\.0\.0\/8/],
    ['https://100.100.100.100/', /carrier-grade NAT/],
    ['https://[fd00::1]/', /unique local/],
    ['https://169.254.169.254/latest/meta-data', /link-local/],
    ['https://[fe80::1]/', /link-local/],
    ['https://0.0.0.0/', /unspecified/],
    ['https://224.0.0.1/', /multicast/],
    ['https://localhost:8545/', /localhost \(RFC 6761\)/],
    ['https://relay.localhost/', /loopback/],
    ['https://LOCALHOST./', /loopback/],
    ['http://8.8.8.8/', /not https/],
    ['ws://8.8.8.8/', /must be http\(s\)/],
    ['https://user:pw@8.8.8.8/', /user name or password/],
    ['https://[fe80::1%25eth0]/', /not a URL/],
    ['not a url', /not a URL/],
  ])('error: %s', (url, message) => {
    const r = relayUrlProblem(url, false)
    expect('problem' in r && r.problem).toMatch(message)
  })

  test.each([
    ['https://8.8.8.8/', {}],
    ['https://[2606:4700:4700::1111]:8443/relay', {}],
    ['https://relay.example.org/rpc', { needsResolve: 'relay.example.org' }],
    ['https://Relay.Example.org./rpc', { needsResolve: 'relay.example.org' }],
  ])('default: %s is accepted', (url, extra) => {
    expect(relayUrlProblem(url, false)).toEqual({ ok: true, ...extra })
  })

  test('behavior: development (allowPrivate) accepts http and loopback, still refuses other schemes and credentials', () => {
    expect(relayUrlProblem('http://127.0.0.1:8545/', true)).toEqual({ ok: true })
    expect(relayUrlProblem('http://localhost:8545/', true)).toEqual({ ok: true })
    expect(relayUrlProblem('ftp://127.0.0.1/', true)).toMatchObject({ problem: expect.stringMatching(/http\(s\)/) })
    expect(relayUrlProblem('http://a:b@127.0.0.1/', true)).toMatchObject({ problem: expect.stringMatching(/password/) })
  })
})

describe('resolvedNameProblem', () => {
  test('behavior: every answer must be public (one private answer is enough to refuse)', () => {
    expect(resolvedNameProblem('relay.example.org', ['8.8.8.8', '2606:4700:4700::1111'])).toBeUndefined()
    expect(resolvedNameProblem('relay.example.org', ['8.8.8.8', '10.0.0.1'])).toMatch(/resolves to 10\.0\.0\.1, a private address/)
    expect(resolvedNameProblem('relay.example.org', ['::ffff:127.0.0.1'])).toMatch(/loopback/)
    expect(resolvedNameProblem('relay.example.org', [])).toMatch(/did not resolve/)
  })
})

describe('enodeHostProblem', () => {
  test.each([
    ['127.0.0.1', /loopback/],
    ['::1', /loopback/],
    ['192.168.0.10', /RFC 1918/],
    ['100.64.1.1', /carrier-grade NAT/],
    ['fe80::1%eth0', /zone id/],
    ['::ffff:10.0.0.1', /private/],
    ['0.0.0.0', /unspecified/],
    ['ff02::1', /multicast/],
  ])('error: %s', (host, message) => {
    expect(enodeHostProblem(host, false)).toMatch(message)
    expect(enodeHostProblem(host, true)).toBeUndefined()
  })

  test('behavior: public IPs pass, and the host parseEnode returns is what gets classified (IPv6 in brackets, zone id kept)', () => {
    expect(enodeHostProblem(parseEnode(`enode://${ID}@8.8.8.8:30303`).host, false)).toBeUndefined()
    expect(enodeHostProblem(parseEnode(`enode://${ID}@[2a00:1450::1]:30303`).host, false)).toBeUndefined()
    expect(enodeHostProblem(parseEnode(`enode://${ID}@[fe80::1%eth0]:30303`).host, false)).toMatch(/link-local/)
    expect(enodeHostProblem(parseEnode(`enode://${ID}@[::ffff:127.0.0.1]:30303`).host, false)).toMatch(/loopback/)
  })

  test('behavior: hostScope says name for DNS names and never guesses', () => {
    expect(hostScope('node.example.org')).toEqual({ scope: 'name' })
    expect(hostScope('localhost')).toMatchObject({ scope: 'loopback' })
  })
})
