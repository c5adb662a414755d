/**
 * The coordinator origin an agent signs into vipnode_connect: the scheme, host
 * and port of the URL it dialled. Binding it stops a pool (or anyone on a
 * ws:// path) from relaying an agent's login to another pool: the other pool
 * sees an origin that is not its own and refuses it (WRONG_ORIGIN).
 *
 * One normal form on both sides: http/https count as ws/wss (agents turn one
 * into the other before dialling), the host is lower-case without a trailing
 * dot, IPv6 stays in brackets, and the port is always written out.
 */

const SCHEMES: Record<string, { scheme: 'ws' | 'wss'; defaultPort: number }> = {
  'ws:': { scheme: 'ws', defaultPort: 80 },
  'http:': { scheme: 'ws', defaultPort: 80 },
  'wss:': { scheme: 'wss', defaultPort: 443 },
  'https:': { scheme: 'wss', defaultPort: 443 },
}

/** `wss://pool.example:443` for `https://Pool.Example/v1/agent`; throws on anything that is not an http(s)/ws(s) URL. */
export function normaliseOrigin(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(url.slice(0, 200))}`)
  }
  const known = SCHEMES[u.protocol]
  if (!known) throw new Error(`coordinator URL must be http(s):// or ws(s)://, got ${u.protocol}`)
  const host = u.hostname.replace(/\.$/, '')
  if (!host) throw new Error(`coordinator URL has no host: ${JSON.stringify(url.slice(0, 200))}`)
  return `${known.scheme}://${host}:${u.port || known.defaultPort}`
}

/** The origin a socket was reached at, from its Host header; undefined when the header is missing or unusable. */
export function originFromHostHeader(host: string | undefined, encrypted: boolean): string | undefined {
  if (!host) return undefined
  try {
    return normaliseOrigin(`${encrypted ? 'wss' : 'ws'}://${host}`)
  } catch {
    return undefined
  }
}

/** localhost, 127.0.0.0/8 and ::1: the only hosts an agent may reach over plain ws:// without being told to. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '').replace(/^\[(.*)\]$/, '$1')
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/**
 * Refuse an unencrypted coordinator URL that leaves this machine: on ws:// a
 * man in the middle sees the pool id and can relay logins and reports.
 */
export function assertSecureCoordinatorUrl(url: string, allowInsecure: boolean): void {
  const origin = normaliseOrigin(url)
  if (origin.startsWith('wss://') || allowInsecure) return
  const hostname = new URL(url).hostname
  if (isLoopbackHost(hostname)) return
  throw new Error(`coordinator URL ${url} is not encrypted: use https:// or wss:// (plain ws:// is allowed only on loopback), or pass --insecure-coordinator for a lab network`)
}

/**
 * The coordinator URLs an agent was given: one, or the replicas of one pool
 * separated by commas (`--coordinator https://a.pool.example,https://b.pool.example`).
 * Throws naming the first entry that is not an http(s)/ws(s) URL.
 */
export function coordinatorUrls(text: string): string[] {
  const urls = text
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u.length > 0)
  if (urls.length === 0) throw new Error('no coordinator URL given')
  for (const u of urls) normaliseOrigin(u)
  return urls
}
