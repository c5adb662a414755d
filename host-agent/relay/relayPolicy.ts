/**
 * Which JSON-RPC methods a pool host relays to its node. An allowlist: a
 * light client or a wallet needs the eth namespace and a few identity calls;
 * nothing that administers the node, touches its keys or its peers, or
 * exposes its internals is ever forwarded, whatever the node itself enables.
 *
 * Clients disagree on case (Nethermind resolves method names
 * case-insensitively, geth does not), so the deny checks compare in lower
 * case while the allowlist needs the exact, conventional spelling: a method
 * passes only if both agree.
 */

/** Namespaces never relayed: node administration, keys, mining, the consensus-layer API, client-specific internals. */
export const DENIED_NAMESPACES = ['admin', 'personal', 'debug', 'miner', 'txpool', 'engine', 'clique', 'parity', 'les', 'perm', 'trace', 'ots', 'erigon', 'bor', 'rpc', 'flashbots', 'signer', 'ibft', 'qbft', 'plugins'] as const

/**
 * eth_* methods that act with the node's own accounts (sign or send with a
 * key the host holds, list its accounts) or serve mining: never relayed.
 * Any eth_ method starting with "eth_sign" is refused as well.
 */
export const DENIED_ETH_METHODS = ['eth_accounts', 'eth_sendTransaction', 'eth_getWork', 'eth_submitWork', 'eth_submitHashrate', 'eth_coinbase'] as const

/** Outside the eth namespace, only these are relayed. */
export const ALLOWED_OTHER_METHODS = ['net_version', 'net_listening', 'web3_clientVersion', 'web3_sha3'] as const

/** Only over a WebSocket: they need a connection that carries notifications. */
export const WS_ONLY_METHODS = ['eth_subscribe', 'eth_unsubscribe'] as const

/** JSON-RPC "method not found": what a client gets for a method the node does not have, which is what it is to them. */
export const METHOD_NOT_RELAYED = -32601

export type RelayTransport = 'http' | 'ws'

export type PolicyDecision = { allowed: true } | { allowed: false; code: number; message: string }

export interface RelayPolicy {
  check(method: string, transport: RelayTransport): PolicyDecision
}

export interface RelayPolicyOptions {
  /** Exact method names to relay besides the defaults (never overrides a denied namespace or method). */
  extraAllowed?: readonly string[]
  /** Exact method names to refuse besides the defaults. */
  extraDenied?: readonly string[]
}

const METHOD_NAME = /^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+$/

export function createRelayPolicy(options: RelayPolicyOptions = {}): RelayPolicy {
  const deniedNamespaces = new Set<string>(DENIED_NAMESPACES)
  const deniedMethods = new Set<string>([...DENIED_ETH_METHODS, ...(options.extraDenied ?? [])].map((m) => m.toLowerCase()))
  const allowedOther = new Set<string>([...ALLOWED_OTHER_METHODS, ...(options.extraAllowed ?? [])])
  const wsOnly = new Set<string>(WS_ONLY_METHODS)

  const refuse = (method: string, why?: string): PolicyDecision => ({
    allowed: false,
    code: METHOD_NOT_RELAYED,
    message: `method ${method} is not relayed by this pool host${why ? ` (${why})` : ''}`,
  })

  return {
    check(method, transport) {
      // Quote nothing odd back verbatim: a name is at most 64 plain characters.
      if (method.length > 64 || !METHOD_NAME.test(method)) return refuse(JSON.stringify(method.slice(0, 64)))
      const lower = method.toLowerCase()
      const namespace = lower.slice(0, lower.indexOf('_'))
      if (deniedNamespaces.has(namespace)) return refuse(method, `the ${namespace} namespace is never relayed`)
      if (deniedMethods.has(lower) || lower.startsWith('eth_sign')) return refuse(method, "it would act with the host's own accounts")
      const allowed = method.startsWith('eth_') || allowedOther.has(method)
      if (!allowed) return refuse(method)
      if (wsOnly.has(method) && transport !== 'ws') return refuse(method, 'subscriptions need a WebSocket connection to the relay')
      return { allowed: true }
    },
  }
}
