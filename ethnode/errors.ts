/**
 * Errors from talking to the local execution client. Each carries what the
 * operator needs: which node (URL scrubbed of credentials) and, for missing
 * methods, the flag that enables them (vipnode's ErrExplain).
 */
import { ErrorCode } from '../protocol/errors.ts'
import type { NodeKind } from './ethNode.ts'

/** The node did not answer usefully: refused, closed, timed out, or replied with garbage. */
export class NodeUnavailableError extends Error {
  override name = 'NodeUnavailableError'
  readonly code = ErrorCode.NODE_UNAVAILABLE
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The node answered with a JSON-RPC error object. */
export class NodeRpcError extends Error {
  override name = 'NodeRpcError'
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message)
  }
}

/**
 * The node does not expose a method we need, almost always because the admin
 * (or, on Besu, perm) API is not enabled on this transport. A NodeRpcError so
 * catch-alls still see it as a reply from the node.
 */
export class MissingMethodError extends NodeRpcError {
  override name = 'MissingMethodError'
  constructor(
    readonly method: string,
    readonly kind: NodeKind,
    readonly explain: string,
  ) {
    super(ErrorCode.METHOD_NOT_FOUND, `${kind} node does not expose ${method}`)
  }
}

/** web3_clientVersion named a client we have no adapter for. */
export class UnsupportedClientError extends Error {
  override name = 'UnsupportedClientError'
  constructor(
    readonly clientVersion: string,
    readonly supported: readonly string[],
  ) {
    super(`unsupported execution client "${clientVersion}": supported clients are ${supported.join(', ')}`)
  }
}

const ENABLE_APIS: Record<NodeKind, string> = {
  geth: 'start geth with --http.api admin,eth,net,web3 (or --ws.api admin,eth,net,web3 for a ws:// URL; the IPC socket exposes every API)',
  reth: 'start reth with --http.api admin,eth,net,web3 (or --ws.api admin,eth,net,web3 for a ws:// URL; the IPC socket exposes every API)',
  nethermind: 'start Nethermind with --JsonRpc.EnabledModules [Admin,Eth,Net,Web3]',
  erigon: 'start erigon with --http.api admin,eth,net,web3 (the same list applies to --ws)',
  besu: 'start besu with --rpc-http-api ADMIN,ETH,NET,WEB3,PERM (or --rpc-ws-api for a ws:// URL) and --permissions-nodes-config-file-enabled so the nodes allowlist exists',
  // Its HTTP RPC always serves the admin namespace; trusted peers and removePeer do not exist in any release we know.
  ethereumjs: 'start ethereumjs with --rpc (its HTTP RPC serves admin, eth, net and web3); it has no admin_addTrustedPeer or admin_removePeer at all',
}

/** The operator's next step when `method` is missing on a `kind` node. */
export function explainMissingMethod(method: string, kind: NodeKind): string {
  if (kind === 'nethermind' && /TrustedPeer$/.test(method)) {
    // Nethermind's 1.30 docs have no trusted-peer methods; the 1.33 docs do.
    return `${ENABLE_APIS.nethermind}; ${method} also needs a Nethermind release that has it (1.30 does not, 1.33 does)`
  }
  return ENABLE_APIS[kind]
}

/**
 * Whether a node's error means "no such method". Clients disagree: geth says
 * "the method X does not exist/is not available", Besu "Method not found" or
 * -32604 "Method not enabled", Nethermind "... is not supported".
 */
export function isMissingMethodError(err: NodeRpcError): boolean {
  if (err.code === ErrorCode.METHOD_NOT_FOUND) return true
  return /method .*(does not exist|is not available|not supported)|method not (found|enabled)/i.test(err.message)
}
