/**
 * Who is asking: the address every per-address limit counts against
 * (agent and tracker sockets, dashboard login and bearer attempts, the public
 * lookups). Pure functions over the socket address and the headers.
 *
 * - X-Forwarded-For is read only when the socket comes from a proxy named in
 *   `--trust-proxy`; anyone else's header is ignored (a header anyone can set
 *   would make every limit useless). The client is the rightmost entry that
 *   is not itself a trusted proxy (entries to its left are the client's word).
 * - Limits count per `addressKey`: an IPv4 address, or an IPv6 /64, because
 *   one host is routinely given a whole /64 and could otherwise take a fresh
 *   address per socket.
 */
import { isIP } from 'node:net'
import type { IncomingMessage } from 'node:http'

/** `::ffff:1.2.3.4` → `1.2.3.4`; IPv6 in lower case without brackets or zone; anything else unchanged. */
export function normaliseAddress(address: string): string {
  let a = address.trim()
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1)
  const zone = a.indexOf('%')
  if (zone >= 0) a = a.slice(0, zone)
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!
  return isIP(a) === 6 ? a.toLowerCase() : a
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail included); undefined if it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined
  let text = address
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const missing = 8 - left.length - right.length
  const groups = [...left, ...(tail === undefined ? [] : Array<string>(missing).fill('0')), ...right].map((g) => parseInt(g, 16))
  return groups.length === 8 ? groups : undefined
}

/**
 * The key per-address limits count under: an IPv4 address as it is, an IPv6
 * address as its /64 (`2001:db8:1:2::/64`), anything else (a unix socket, an
 * unknown address) as it is.
 */
export function addressKey(address: string): string {
  const a = normaliseAddress(address)
  const groups = ipv6Groups(a)
  if (!groups) return a
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`
}

/** Parse `--trust-proxy` entries: IP addresses only (normalised); throws with the bad entry named. */
export function parseTrustedProxies(entries: readonly string[]): Set<string> {
  const out = new Set<string>()
  for (const entry of entries) {
    const a = normaliseAddress(entry)
    if (isIP(a) === 0) throw new Error(`--trust-proxy: "${entry}" is not an IP address`)
    out.add(a)
  }
  return out
}

/**
 * The requester's address: the socket's, or, when the socket is a trusted
 * proxy, the rightmost X-Forwarded-For entry that is not a trusted proxy. A
 * missing or malformed header from a trusted proxy leaves the proxy's address.
 */
export function clientAddressOf(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trusted: ReadonlySet<string>): string {
  const direct = normaliseAddress(socketAddress ?? 'unknown')
  if (trusted.size === 0 || !trusted.has(direct) || forwardedFor === undefined) return direct
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((h) => normaliseAddress(h))
  let client = direct
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!
    if (isIP(hop) === 0) break
    client = hop
    if (!trusted.has(hop)) break
  }
  return client
}

/** Whether this request reached a trusted proxy over https (its X-Forwarded-Proto), or came over TLS itself. */
export function forwardedHttps(req: IncomingMessage, trusted: ReadonlySet<string>): boolean {
  if ('encrypted' in req.socket && req.socket.encrypted === true) return true
  if (!trusted.has(normaliseAddress(req.socket.remoteAddress ?? ''))) return false
  const proto = req.headers['x-forwarded-proto']
  return (Array.isArray(proto) ? proto[0] : proto)?.split(',')[0]?.trim().toLowerCase() === 'https'
}

/** A resolver bound to one set of trusted proxies, for everything that counts per address. */
export type ClientAddress = (req: IncomingMessage) => string

export function clientAddressResolver(trusted: ReadonlySet<string>): ClientAddress {
  return (req) => clientAddressOf(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted)
}
