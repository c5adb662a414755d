import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer as createHttpServer, request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect, createServer as createTcpServer, type Server } from 'node:net'
import WebSocket from 'ws'
import { startDnsResponder, type DnsResponder } from '../../test/harness/dnsResponder.ts'
import { checkedAddresses, refusalOf, RelayAddressRefusedError, RelayAgents, relayLookup, type RelayAddressPolicy } from './relayAddresses.ts'

let dns: DnsResponder
/** A TCP server on loopback that only counts connections: the service a rebound name would reach. */
let victim: Server
let victimConnections = 0
let victimPort = 0

beforeAll(async () => {
  dns = await startDnsResponder()
  victim = createTcpServer((s) => {
    victimConnections++
    s.destroy()
  })
  await new Promise<void>((r) => victim.listen(0, '127.0.0.1', r))
  victimPort = (victim.address() as { port: number }).port
})
afterAll(async () => {
  await dns.close()
  await new Promise((r) => victim.close(r))
})

const production = (): RelayAddressPolicy => ({ allowPrivate: false, resolveName: dns.resolveName })

/** Where a socket through the hook would connect: the address of its `lookup` event; destroyed before any packet is sent. */
function addressTried(host: string, options: { family?: 4 | 6; autoSelectFamily?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port: 9, lookup: relayLookup(production()), ...options })
    s.on('lookup', (err, address) => {
      s.destroy()
      if (err) reject(err)
      else resolve(address)
    })
    s.on('connectionAttempt', () => reject(new Error('connected before the test looked')))
    s.on('error', reject)
  })
}

/** A request through the agents; resolves with its error (or the status when it gets an answer). */
function requestThrough(agents: RelayAgents, url: string): Promise<{ status: number } | { error: Error }> {
  return new Promise((resolve) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest
    const req = send(url, { method: 'POST', agent: agents.for(url), headers: { authorization: 'Bearer secret-token' } }, (res) => {
      res.resume()
      resolve({ status: res.statusCode ?? 0 })
    })
    req.on('error', (error) => resolve({ error }))
    req.end('{}')
  })
}

describe('relay addresses: one checked resolution per connection', () => {
  it('default: a name whose every answer is public passes, and the socket connects to the address that was checked', async () => {
    dns.answer('public.relay.test', ['1.1.1.1', '2606:4700:4700::1111'])
    expect(await checkedAddresses('public.relay.test', production())).toEqual([
      { address: '1.1.1.1', family: 4 },
      { address: '2606:4700:4700::1111', family: 6 },
    ])
    const asked = dns.queries.length
    expect(await addressTried('public.relay.test')).toBe('1.1.1.1') // happy eyeballs: every answer, in order
    expect(await addressTried('public.relay.test', { autoSelectFamily: false })).toBe('1.1.1.1') // one address
    expect(await addressTried('public.relay.test', { family: 6 })).toBe('2606:4700:4700::1111')
    // Each connection resolved the name once more (A and AAAA), at connect time.
    expect(dns.queries.slice(asked).filter((q) => q.name === 'public.relay.test')).toHaveLength(6)
  })

  it('error: a name with one non-public answer among public ones is refused as a whole', async () => {
    dns.answer('mixed.relay.test', ['1.1.1.1', '10.0.0.1', '8.8.8.8'])
    const err = await checkedAddresses('mixed.relay.test', production()).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RelayAddressRefusedError)
    expect(err).toMatchObject({ hostname: 'mixed.relay.test', address: '10.0.0.1', code: 'ERR_RELAY_ADDRESS_REFUSED' })
    expect((err as Error).message).toBe(
      'relay address refused: mixed.relay.test resolves to 10.0.0.1, a private address in 10.0.0.0/8 (RFC 1918 private): only public addresses are accepted (this client runs without --allow-private-addresses)',
    )
    await expect(addressTried('mixed.relay.test')).rejects.toBeInstanceOf(RelayAddressRefusedError)
  })

  it.each([
    ['fd00::5', /unique local/],
    ['fe80::1', /link-local/],
    ['::1', /loopback/],
    ['::ffff:127.0.0.1', /IPv4-mapped\) embedding 127\.0\.0\.0\/8/],
    ['64:ff9b::a9fe:a9fe', /NAT64\) embedding 169\.254\.0\.0\/16/],
  ])('error: an IPv6 answer %s beside a public IPv4 one is refused', async (v6, why) => {
    const name = `v6-${v6.replace(/[:.]/g, '-')}.relay.test`
    dns.answer(name, ['1.1.1.1', v6])
    const err = await checkedAddresses(name, production()).catch((e: unknown) => e)
    expect(err).toMatchObject({ address: v6 })
    expect((err as Error).message).toMatch(why)
  })

  it('error: through the relay agents, a name resolving to loopback gets no connection, over HTTP(S) and WebSocket', async () => {
    dns.answer('rebound.relay.test', ['127.0.0.1'])
    const agents = new RelayAgents(production())
    for (const url of [`https://rebound.relay.test:${victimPort}/`, `http://rebound.relay.test:${victimPort}/`]) {
      const r = await requestThrough(agents, url)
      expect('error' in r && refusalOf(r.error)).toMatchObject({ hostname: 'rebound.relay.test', address: '127.0.0.1' })
    }
    const wsUrl = `wss://rebound.relay.test:${victimPort}/`
    const ws = new WebSocket(wsUrl, { agent: agents.for(wsUrl), headers: { authorization: 'Bearer secret-token' } })
    const wsError = await new Promise<Error>((resolve) => ws.on('error', resolve))
    expect(refusalOf(wsError)).toBeInstanceOf(RelayAddressRefusedError)
    agents.destroy()
    expect(victimConnections).toBe(0)
  })

  it('error: a name that does not resolve is a connection failure, not a refusal', async () => {
    const err = await checkedAddresses('nowhere.relay.test', production()).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ENOTFOUND' })
    expect(refusalOf(err)).toBeUndefined()
  })

  it('behavior: development (allowPrivate) uses every answer, and connects to the one the resolver gave (the name exists only there)', async () => {
    const hosts: (string | undefined)[] = []
    const server = createHttpServer((req, res) => {
      hosts.push(req.headers.host)
      req.resume()
      res.end('{}')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    dns.answer('dev.relay.test', ['127.0.0.1', 'fd00::5'])
    const dev: RelayAddressPolicy = { allowPrivate: true, resolveName: dns.resolveName }
    expect(await checkedAddresses('dev.relay.test', dev)).toHaveLength(2)
    const agents = new RelayAgents(dev)
    expect(await requestThrough(agents, `http://dev.relay.test:${port}/`)).toEqual({ status: 200 })
    expect(hosts).toEqual([`dev.relay.test:${port}`])
    agents.destroy()
    await new Promise((r) => server.close(r))
  })
})
