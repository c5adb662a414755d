/**
 * Every failure a caller can act on has a stable numeric code. The JSON-RPC 2.0
 * codes are used for envelope problems; our own codes live in the server-error
 * band from -32010 up, clear of the EIP-1474/EIP-1193 codes (-32000..-32006,
 * -32042) that Ethereum tooling already interprets. docs/protocol.md lists the
 * same table and a test keeps the two in agreement.
 */
export const ErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,

  UNAUTHORIZED: -32010,
  BAD_SIGNATURE: -32011,
  CHALLENGE_EXPIRED: -32012,
  REPLAY: -32013,
  WRONG_NETWORK: -32014,
  INSUFFICIENT_BALANCE: -32015,
  NO_HOSTS_AVAILABLE: -32016,
  RATE_LIMITED: -32017,
  PAYLOAD_TOO_LARGE: -32018,
  ENODE_MISMATCH: -32019,
  UNSUPPORTED_VERSION: -32020,
  ALREADY_AUTHENTICATED: -32021,
  NODE_UNAVAILABLE: -32022,
  TIMEOUT: -32023,
  CONNECTION_CLOSED: -32024,
  WRONG_ORIGIN: -32025,
  WRONG_POOL: -32026,
  REQUEST_EXPIRED: -32027,
  NOTHING_TO_REFUND: -32028,
} as const

export type ErrorCodeName = keyof typeof ErrorCode
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName]

/** The human text that goes with each code when a more precise message is not given. */
export const errorShortMessages: Record<ErrorCodeName, string> = {
  PARSE_ERROR: 'frame is not valid JSON',
  INVALID_REQUEST: 'frame is not a valid JSON-RPC 2.0 request',
  METHOD_NOT_FOUND: 'method not found',
  INVALID_PARAMS: 'invalid params',
  INTERNAL_ERROR: 'internal error',
  UNAUTHORIZED: 'not authorized: authenticate with vipnode_connect first',
  BAD_SIGNATURE: 'signature does not verify for the claimed node ID',
  CHALLENGE_EXPIRED: 'challenge expired: reconnect for a fresh one',
  REPLAY: 'challenge already used or not issued to this connection',
  WRONG_NETWORK: 'wrong network',
  INSUFFICIENT_BALANCE: 'insufficient balance',
  NO_HOSTS_AVAILABLE: 'no hosts available',
  RATE_LIMITED: 'rate limited: slow down',
  PAYLOAD_TOO_LARGE: 'payload too large',
  ENODE_MISMATCH: 'node ID does not match the enode',
  UNSUPPORTED_VERSION: 'unsupported protocol version',
  ALREADY_AUTHENTICATED: 'this connection is already authenticated',
  NODE_UNAVAILABLE: 'the node did not answer',
  TIMEOUT: 'request timed out',
  CONNECTION_CLOSED: 'connection closed before a reply arrived',
  WRONG_ORIGIN: 'the login was signed for another coordinator origin',
  WRONG_POOL: 'the request was signed for another pool or payout contract',
  REQUEST_EXPIRED: 'the request was signed too long ago (or in the future): sign a new one',
  NOTHING_TO_REFUND: 'this node has no deposited money left to refund',
}

const nameByCode = new Map<number, ErrorCodeName>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name as ErrorCodeName]),
)

export function errorCodeName(code: number): ErrorCodeName | undefined {
  return nameByCode.get(code)
}

/**
 * An error that crosses the wire. Its `code` is one of ErrorCode; `data` holds
 * machine-readable details (never secrets).
 */
export class RpcError extends Error {
  override name = 'RpcError'
  constructor(
    readonly code: number,
    message?: string,
    readonly data?: unknown,
  ) {
    super(message ?? shortMessageFor(code))
  }

  get codeName(): ErrorCodeName | undefined {
    return errorCodeName(this.code)
  }

  toWire(): { code: number; message: string; data?: unknown } {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data }
  }
}

function shortMessageFor(code: number): string {
  const name = errorCodeName(code)
  return name ? errorShortMessages[name] : 'error'
}

/** Build an RpcError from a code name: `rpcError('RATE_LIMITED')`. */
export function rpcError(name: ErrorCodeName, message?: string, data?: unknown): RpcError {
  return new RpcError(ErrorCode[name], message, data)
}

/** Turn a wire error object back into an RpcError (the single place that reads codes). */
export function fromWire(error: { code: number; message: string; data?: unknown }): RpcError {
  return new RpcError(error.code, error.message, error.data)
}
