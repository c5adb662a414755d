/**
 * Where the rpc proxy may connect to reach a host's relay (docs/security.md,
 * attack 15). A host advertises its relay URL; the coordinator checks a DNS
 * name in it once, at the host's connect. The name may answer a public
 * address then and 127.0.0.1, 10.x or 169.254.169.254 later (DNS rebinding),
 * and every client shim of the pool would post its calls and relay token to
 * its own machine's or network's private services.
 *
 * So every connection the proxy opens to a relay (HTTP posts and
 * subscription WebSockets alike) goes through one `lookup` hook on the
 * proxy's own HTTP agents: it resolves the name itself, classifies every
 * answer with protocol/addressScope.ts, and hands the socket exactly the
 * answers it classified. The socket connects to a checked address, with no
 * second resolution between check and connect. TLS still verifies the
 * certificate against the name.
 *
 * Any non-public answer refuses the name, even beside public ones, rather
 * than connecting to the public subset:
 * - one rule at both ends: the coordinator refuses such a name at connect
 *   (`resolvedNameProblem`), so a name the shim would accept in part is one
 *   the pool would not have admitted;
 * - mixing a public and a private answer is the classic rebinding move
 *   (the client fails on the first and falls back to the next); a name that
 *   answers a private address at all is hostile or misconfigured, and a host
 *   behind it should be handed back, not kept at half strength with the
 *   attempt hidden;
 * - filtering would have to hold on every path that ever takes an address
 *   from the list (happy eyeballs tries them in turn); refusing the whole
 *   answer is one check.
 *
 * A refusal is a `RelayAddressRefusedError` on the request or socket: the
 * proxy counts it as the host's failure and benches it at once
 * (hostHealth.ts), and the shim hands it back to the pool.
 *
 * Development (`allowPrivate`: --allow-private-addresses, or a coordinator on
 * loopback) uses every answer. IP-literal hosts never reach a lookup (the
 * socket connects to them directly): they are checked when the grant arrives
 * (`relayUrlProblem` in rpcClientShim.ts).
 */
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import { nonPublicAnswer } from '../../protocol/addressScope.ts'
import { systemResolveName, type ResolveName, type ResolvedAddress } from '../../lib/resolveName.ts'

export interface RelayAddressPolicy {
  /** Development: use every address a name resolves to. */
  allowPrivate: boolean
  /** Default: the system resolver. Tests inject one that asks their own DNS responder. */
  resolveName?: ResolveName
}

/** A relay name that resolved to an address the proxy does not connect to. */
export class RelayAddressRefusedError extends Error {
  readonly code = 'ERR_RELAY_ADDRESS_REFUSED'
  /** The name asked for, and the first refused answer. */
  readonly hostname: string
  readonly address: string

  constructor(hostname: string, address: string, problem: string) {
    super(`relay address refused: ${problem}`)
    this.name = 'RelayAddressRefusedError'
    this.hostname = hostname
    this.address = address
  }
}

/** A refusal, wherever the HTTP or WebSocket client put it (the error itself, or its cause). */
export function refusalOf(err: unknown): RelayAddressRefusedError | undefined {
  if (err instanceof RelayAddressRefusedError) return err
  const cause = (err as { cause?: unknown } | null)?.cause
  return cause instanceof RelayAddressRefusedError ? cause : undefined
}

/** Every address of one resolution of `hostname`, each checked; rejects with `RelayAddressRefusedError` when one is not public. */
export async function checkedAddresses(hostname: string, policy: RelayAddressPolicy): Promise<readonly ResolvedAddress[]> {
  const name = hostname.replace(/^\[(.*)\]$/, '$1')
  const literal = isIP(name)
  const answers: readonly ResolvedAddress[] = literal !== 0 ? [{ address: name, family: literal === 6 ? 6 : 4 }] : await (policy.resolveName ?? systemResolveName)(name)
  if (answers.length === 0) throw Object.assign(new Error(`${name} did not resolve to any address`), { code: 'ENOTFOUND', hostname: name })
  if (policy.allowPrivate) return answers
  const bad = nonPublicAnswer(
    name,
    answers.map((a) => a.address),
    'this client',
  )
  if (bad) throw new RelayAddressRefusedError(name, bad.address, bad.problem)
  return answers
}

/**
 * A `lookup` for net/tls sockets (and so for HTTP agents and `ws`): one checked
 * resolution per connection, answered in the form the socket asks for (one
 * address, or all of them for happy eyeballs).
 */
export function relayLookup(policy: RelayAddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0
    checkedAddresses(hostname, policy).then(
      (answers) => {
        const usable = wanted === 0 ? answers : answers.filter((a) => a.family === wanted)
        const first = usable[0]
        if (!first) return callback(Object.assign(new Error(`${hostname} has no IPv${wanted} address`), { code: 'ENOTFOUND', hostname }), '', 0)
        if (options.all) callback(null, usable.map((a) => ({ address: a.address, family: a.family })))
        else callback(null, first.address, first.family)
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    )
  }
}

/** The proxy's connections to relays: keep-alive agents whose every new socket goes through `relayLookup`. */
export class RelayAgents {
  readonly #http: HttpAgent
  readonly #https: HttpsAgent

  constructor(policy: RelayAddressPolicy) {
    const lookup = relayLookup(policy)
    this.#http = new HttpAgent({ keepAlive: true, lookup })
    this.#https = new HttpsAgent({ keepAlive: true, lookup })
  }

  /** The agent for a relay URL (http(s):// or ws(s)://). */
  for(url: string | URL): HttpAgent {
    const protocol = typeof url === 'string' ? new URL(url).protocol : url.protocol
    return protocol === 'https:' || protocol === 'wss:' ? this.#https : this.#http
  }

  /** Close idle sockets and refuse nothing more: the proxy is shutting down. */
  destroy(): void {
    this.#http.destroy()
    this.#https.destroy()
  }
}
