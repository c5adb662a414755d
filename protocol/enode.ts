/**
 * Node IDs and enode URIs. A node ID is the 64-byte uncompressed secp256k1
 * public key without its 0x04 prefix, written as 128 lowercase hex chars.
 */
import { isIP } from 'node:net'

declare const nodeIdBrand: unique symbol
export type NodeId = string & { readonly [nodeIdBrand]: true }

export interface Enode {
  nodeId: NodeId
  /** IPv4, IPv6 (without brackets) or a DNS name. */
  host: string
  tcpPort: number
  /** UDP discovery port; equal to tcpPort unless the URI says otherwise. */
  udpPort: number
}

export class EnodeError extends Error {
  override name = 'EnodeError'
}

const NODE_ID = /^[0-9a-f]{128}$/
const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i

export function isNodeId(value: unknown): value is NodeId {
  return typeof value === 'string' && NODE_ID.test(value)
}

/** Accepts upper or lower case and an optional 0x prefix; returns the canonical form. */
export function parseNodeId(value: string): NodeId {
  const hex = value.trim().replace(/^0x/i, '').toLowerCase()
  if (!NODE_ID.test(hex)) {
    throw new EnodeError(`invalid node ID: expected 128 hex characters (64-byte public key), got ${describe(value)}`)
  }
  return hex as NodeId
}

function describe(value: string): string {
  const shown = value.length > 24 ? `${value.slice(0, 24)}…` : value
  return `"${shown}" (${value.length} chars)`
}

function parsePort(text: string, what: string, uri: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new EnodeError(`invalid ${what} port "${text}" in ${uri}`)
  const port = Number(text)
  if (port > 65535) throw new EnodeError(`${what} port ${port} out of range in ${uri}`)
  return port
}

/**
 * Parse `enode://<id>@<host>:<port>[?discport=<udp>]`. Hosts may be IPv4,
 * bracketed IPv6 or DNS names. Anything else throws an EnodeError saying why.
 */
export function parseEnode(uri: string): Enode {
  const text = uri.trim()
  const m = /^enode:\/\/([^@]+)@(.+)$/i.exec(text)
  if (!m) throw new EnodeError(`invalid enode "${text.slice(0, 40)}": expected enode://<node id>@<host>:<port>`)
  const nodeId = parseNodeId(m[1]!)
  let rest = m[2]!
  let query = ''
  const q = rest.indexOf('?')
  if (q >= 0) {
    query = rest.slice(q + 1)
    rest = rest.slice(0, q)
  }
  let host: string
  let portText: string
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']')
    if (close < 0 || rest[close + 1] !== ':') throw new EnodeError(`invalid IPv6 address in ${text}: expected [addr]:port`)
    host = rest.slice(1, close)
    portText = rest.slice(close + 2)
    if (isIP(host) !== 6) throw new EnodeError(`invalid IPv6 address "${host}" in ${text}`)
  } else {
    const colon = rest.lastIndexOf(':')
    if (colon < 0) throw new EnodeError(`missing port in ${text}`)
    host = rest.slice(0, colon)
    portText = rest.slice(colon + 1)
    if (host.includes(':')) throw new EnodeError(`IPv6 address must be in brackets in ${text}`)
    if (isIP(host) !== 4 && (!HOSTNAME.test(host) || /^[\d.]+$/.test(host))) {
      throw new EnodeError(`invalid host "${host}" in ${text}`)
    }
  }
  const tcpPort = parsePort(portText, 'TCP', text)
  let udpPort = tcpPort
  if (query) {
    const params = new URLSearchParams(query)
    for (const key of params.keys()) {
      if (key !== 'discport') throw new EnodeError(`unknown enode parameter "${key}" in ${text}`)
    }
    udpPort = parsePort(params.get('discport') ?? '', 'discovery', text)
  }
  return { nodeId, host: host.toLowerCase(), tcpPort, udpPort }
}

/**
 * An enode whose host is an IP literal. The pool accepts no DNS names from
 * agents: a name the other side cannot resolve makes every admission fail,
 * and the host would be blamed for the client's input (cool-down griefing).
 */
export function hasIpHost(e: Enode): boolean {
  return isIP(e.host) !== 0
}

/** Why an enode may not be used in the pool, or undefined when its host is an IP address. */
export function ipHostProblem(e: Enode): string | undefined {
  return hasIpHost(e) ? undefined : `enode host must be an IP address, got ${JSON.stringify(e.host.slice(0, 64))}`
}

export function formatEnode(e: Enode): string {
  const host = isIP(e.host) === 6 ? `[${e.host}]` : e.host
  const disc = e.udpPort === e.tcpPort ? '' : `?discport=${e.udpPort}`
  return `enode://${e.nodeId}@${host}:${e.tcpPort}${disc}`
}

/** Accept either an enode URI or a bare node ID; the latter has no address. */
export function parseEnodeOrNodeId(text: string): { nodeId: NodeId; enode?: Enode } {
  if (/^enode:\/\//i.test(text.trim())) {
    const enode = parseEnode(text)
    return { nodeId: enode.nodeId, enode }
  }
  return { nodeId: parseNodeId(text) }
}

/** Short form for logs: the first 8 and last 4 hex chars. */
export function shortNodeId(id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id
}
