/**
 * Resolving a DNS name to every address it has, as one function that callers
 * take as a dependency: production uses the system resolver (getaddrinfo, as
 * `fetch`, `http.request` and `ws` do by default: /etc/hosts, the system's DNS
 * configuration), tests inject one that asks a DNS responder of their own
 * (test/harness/dnsResponder.ts).
 */
import { lookup } from 'node:dns/promises'

export interface ResolvedAddress {
  address: string
  family: 4 | 6
}

/** Every address `name` resolves to, in the resolver's order; rejects (with the resolver's `code`, e.g. ENOTFOUND) when it does not resolve. */
export type ResolveName = (name: string) => Promise<readonly ResolvedAddress[]>

export const systemResolveName: ResolveName = async (name) => {
  const answers = await lookup(name, { all: true, verbatim: true })
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))
}
