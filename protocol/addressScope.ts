/**
 * Where an address chosen by the other side points: the public internet, or
 * this machine, a private network, a link, a multicast group or a reserved
 * block. Hosts advertise relay URLs and enodes that clients then post to and
 * dial; only public addresses are accepted from strangers (docs/security.md
 * "Addresses chosen by the other side"), unless the pool runs for development.
 *
 * Pure functions over address text. IP literals are classified exactly; a DNS
 * name cannot be classified without resolving it, so `hostScope` says `name`
 * and the caller decides: the coordinator resolves it once at connect and
 * classifies every answer (`resolvedNameProblem`); the rpc proxy resolves it
 * again for every connection it opens to the relay and connects only to the
 * answers it classified (`nonPublicAnswer`, client-shim/rpcProxy/relayAddresses.ts),
 * so a name that rebinds after the connect check is refused.
 */
import { isIP } from 'node:net'

export type AddressScope = 'public' | 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved'

export interface IpClass {
  scope: AddressScope
  /** The block that decided, e.g. `10.0.0.0/8 (RFC 1918 private)`; absent for public addresses. */
  range?: string
}

interface Block4 {
  base: number
  bits: number
  scope: AddressScope
  name: string
}

const v4 = (text: string): number => text.split('.').reduce((a, o) => a * 256 + Number(o), 0)
const block4 = (cidr: string, scope: AddressScope, name: string): Block4 => {
  const [base, bits] = cidr.split('/') as [string, string]
  return { base: v4(base), bits: Number(bits), scope, name: `${cidr} (${name})` }
}

/** IANA IPv4 special-purpose registry: every block not globally reachable. */
const V4_BLOCKS: readonly Block4[] = [
  block4('0.0.0.0/8', 'unspecified', '"this network"'),
  block4('10.0.0.0/8', 'private', 'RFC 1918 private'),
  block4('100.64.0.0/10', 'private', 'carrier-grade NAT shared space'),
  block4('127.0.0.0/8', 'loopback', 'loopback'),
  block4('169.254.0.0/16', 'link-local', 'link-local'),
  block4('172.16.0.0/12', 'private', 'RFC 1918 private'),
  block4('192.0.0.0/24', 'reserved', 'IETF protocol assignments'),
  block4('192.0.2.0/24', 'reserved', 'documentation'),
  block4('192.88.99.0/24', 'reserved', 'deprecated 6to4 relay anycast'),
  block4('192.168.0.0/16', 'private', 'RFC 1918 private'),
  block4('198.18.0.0/15', 'reserved', 'benchmarking'),
  block4('198.51.100.0/24', 'reserved', 'documentation'),
  block4('203.0.113.0/24', 'reserved', 'documentation'),
  block4('224.0.0.0/4', 'multicast', 'multicast'),
  block4('240.0.0.0/4', 'reserved', 'reserved for future use and broadcast'),
]

function inBlock(value: number, b: Block4): boolean {
  const size = 2 ** (32 - b.bits)
  return value >= b.base && value < b.base + size
}

/** Classify a dotted-quad IPv4 address (as `net.isIP` accepts it: four decimal octets). */
export function classifyIpv4(ip: string): IpClass {
  const value = v4(ip)
  for (const b of V4_BLOCKS) if (inBlock(value, b)) return { scope: b.scope, range: b.name }
  return { scope: 'public' }
}

/** Eight 16-bit groups of an IPv6 address (zone id stripped, embedded dotted IPv4 allowed); undefined if it is not one. */
export function ipv6Groups(ip: string): number[] | undefined {
  const text = ip.replace(/%.*$/, '')
  if (isIP(text) !== 6) return undefined
  let head = text
  const tail: number[] = []
  const dotted = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(head)
  if (dotted) {
    const n = v4(dotted[1]!)
    tail.push(Math.floor(n / 65536), n % 65536)
    head = head.slice(0, -dotted[1]!.length)
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1)
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const halves = head.split('::')
  let groups: number[]
  if (halves.length === 2) {
    const left = parse(halves[0]!)
    const right = [...parse(halves[1]!), ...tail]
    groups = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
  } else {
    groups = [...parse(head), ...tail]
  }
  return groups.length === 8 ? groups : undefined
}

const embeddedV4 = (hi: number, lo: number): string => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`

/** Classify an IPv6 address; IPv4 inside it (mapped, NAT64, 6to4, compatible) is classified as the IPv4 it reaches. */
export function classifyIpv6(ip: string): IpClass {
  const g = ipv6Groups(ip)
  if (!g) return { scope: 'reserved', range: 'not an IPv6 address' }
  // A zone id only means something for scoped (link-local) addresses: whatever it is attached to is not public.
  if (ip.includes('%')) return { scope: 'link-local', range: 'address with a zone id (scoped to one link)' }
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0)
  if (zeroUpTo(8)) return { scope: 'unspecified', range: ':: (unspecified)' }
  if (zeroUpTo(7) && g[7] === 1) return { scope: 'loopback', range: '::1 (loopback)' }
  const via = (prefix: string, inner: IpClass): IpClass =>
    inner.scope === 'public' ? { scope: 'public' } : { scope: inner.scope, range: `${prefix} embedding ${inner.range}` }
  if (zeroUpTo(5) && g[5] === 0xffff) return via('::ffff:0:0/96 (IPv4-mapped)', classifyIpv4(embeddedV4(g[6]!, g[7]!)))
  if (zeroUpTo(4) && g[4] === 0xffff && g[5] === 0) return via('::ffff:0:0:0/96 (SIIT IPv4-translated)', classifyIpv4(embeddedV4(g[6]!, g[7]!)))
  if (zeroUpTo(6)) return { scope: 'reserved', range: '::/96 (deprecated IPv4-compatible)' }
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return via('64:ff9b::/96 (NAT64)', classifyIpv4(embeddedV4(g[6]!, g[7]!)))
  if (g[0] === 0x2002) return via('2002::/16 (6to4)', classifyIpv4(embeddedV4(g[1]!, g[2]!)))
  const top = g[0]!
  if ((top & 0xff00) === 0xff00) return { scope: 'multicast', range: 'ff00::/8 (multicast)' }
  if ((top & 0xffc0) === 0xfe80) return { scope: 'link-local', range: 'fe80::/10 (link-local)' }
  if ((top & 0xffc0) === 0xfec0) return { scope: 'private', range: 'fec0::/10 (deprecated site-local)' }
  if ((top & 0xfe00) === 0xfc00) return { scope: 'private', range: 'fc00::/7 (unique local)' }
  if (top === 0x2001 && g[1]! < 0x0200) return { scope: 'reserved', range: '2001::/23 (IETF protocol assignments, Teredo)' }
  if (top === 0x2001 && g[1] === 0x0db8) return { scope: 'reserved', range: '2001:db8::/32 (documentation)' }
  if (top === 0x3fff && g[1]! < 0x1000) return { scope: 'reserved', range: '3fff::/20 (documentation)' }
  // Global unicast is 2000::/3; everything else is unassigned or special (100::/64 discard, ...).
  if ((top & 0xe000) !== 0x2000) return { scope: 'reserved', range: 'outside 2000::/3 (global unicast)' }
  return { scope: 'public' }
}

/** Classify an IP literal (IPv4 dotted quad or IPv6, with or without brackets or zone id); undefined if it is not an IP. */
export function classifyIp(ip: string): IpClass | undefined {
  const text = ip.replace(/^\[(.*)\]$/, '$1')
  if (isIP(text) === 4) return classifyIpv4(text)
  if (isIP(text.replace(/%.*$/, '')) === 6) return classifyIpv6(text)
  return undefined
}

/** A URL's or enode's host: an IP literal classified, or `name` for a DNS name (classified only by resolving it). */
export function hostScope(host: string): IpClass | { scope: 'name' } {
  const h = host.toLowerCase().replace(/\.$/, '')
  const ip = classifyIp(h)
  if (ip) return ip
  // Names that are loopback by definition (RFC 6761): no need to ask a resolver.
  if (h === 'localhost' || h.endsWith('.localhost')) return { scope: 'loopback', range: 'localhost (RFC 6761)' }
  return { scope: 'name' }
}

const describe = (c: IpClass): string => `${c.scope} address${c.range ? ` in ${c.range}` : ''}`

/**
 * Why an enode's host may not be dialled by pool members, or undefined when it is a public IP (or `allowPrivate`).
 * `switchOff`: whose --allow-private-addresses is off, for the message (the pool's at connect, an agent's own later).
 */
export function enodeHostProblem(host: string, allowPrivate: boolean, switchOff = 'the pool'): string | undefined {
  if (allowPrivate) return undefined
  const c = hostScope(host)
  if (c.scope === 'public' || c.scope === 'name') return undefined // names are refused by ipHostProblem (protocol/enode.ts)
  return `enode host ${host.slice(0, 64)} is a ${describe(c)}: only public addresses are accepted (${switchOff} runs without --allow-private-addresses)`
}

/**
 * Why a relay URL may not be posted to, or undefined when it is acceptable.
 * Outside development: https only, and an IP-literal host must be public.
 * A DNS name passes here (`needsResolve`): the caller resolves it and checks
 * the answers with `resolvedNameProblem`.
 */
export function relayUrlProblem(url: string, allowPrivate: boolean): { problem: string } | { ok: true; needsResolve?: string } {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return { problem: `relay URL ${JSON.stringify(url.slice(0, 200))} is not a URL` }
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return { problem: `relay URL must be http(s)://, got ${u.protocol}` }
  if (u.username || u.password) return { problem: 'relay URL must not carry a user name or password' }
  if (allowPrivate) return { ok: true }
  if (u.protocol !== 'https:') return { problem: `relay URL ${url.slice(0, 200)} is not https: plain http is accepted only when the pool runs with --allow-private-addresses (development)` }
  const c = hostScope(u.hostname)
  if (c.scope === 'name') return { ok: true, needsResolve: u.hostname.replace(/\.$/, '') }
  if (c.scope !== 'public') return { problem: `relay URL host ${u.hostname} is a ${describe(c)}: only public addresses are accepted (the pool runs without --allow-private-addresses)` }
  return { ok: true }
}

/**
 * The first of a name's addresses that is not a public IP, and why (`switchOff`: whose
 * --allow-private-addresses is off, for the message); undefined when every one is public.
 */
export function nonPublicAnswer(name: string, addresses: readonly string[], switchOff: string): { address: string; problem: string } | undefined {
  for (const a of addresses) {
    const c = classifyIp(a)
    if (!c) return { address: a, problem: `${name} resolved to ${a.slice(0, 64)}, which is not an IP address` }
    if (c.scope !== 'public') return { address: a, problem: `${name} resolves to ${a}, a ${describe(c)}: only public addresses are accepted (${switchOff} runs without --allow-private-addresses)` }
  }
  return undefined
}

/** Why a DNS name may not be used, given every address it resolved to: each must be public. */
export function resolvedNameProblem(name: string, addresses: readonly string[]): string | undefined {
  if (addresses.length === 0) return `${name} did not resolve to any address`
  return nonPublicAnswer(name, addresses, 'the pool')?.problem
}
