/**
 * Error codes on the rpc service's two hops (light client -> client proxy ->
 * host relay -> node). Light clients and wallets already interpret EIP-1474
 * codes, so where one fits it is used; otherwise the pool's own codes
 * (protocol/errors.ts) keep their meaning.
 */
import { ErrorCode } from '../../protocol/errors.ts'

export const RelayErrorCode = {
  /** The relay does not forward this method (policy). HTTP 200, as a node's own "method not found". */
  METHOD_NOT_RELAYED: -32601,
  /** EIP-1474 "limit exceeded": the client's token bucket is empty. HTTP 429 when the whole request was refused. */
  RATE_LIMITED: -32005,
  /** Missing, unknown, expired or revoked relay token. HTTP 401; WebSocket upgrade refused with 401, open sessions closed with 4001. */
  UNAUTHORIZED: ErrorCode.UNAUTHORIZED,
  /** Body over the size limit, or a batch with too many calls. HTTP 413. */
  PAYLOAD_TOO_LARGE: ErrorCode.PAYLOAD_TOO_LARGE,
  /** The host's node did not answer usefully. HTTP 502, so a client proxy fails over. */
  NODE_UNAVAILABLE: ErrorCode.NODE_UNAVAILABLE,
  /** The host's node did not answer in time. HTTP 504, so a client proxy fails over. */
  TIMEOUT: ErrorCode.TIMEOUT,
  /** Client proxy: no assigned host could serve the request (EIP-1474 "resource unavailable"; -32003 would read as "transaction rejected"). */
  NO_HOST_AVAILABLE: -32002,
} as const

/** WebSocket close code for a session whose token was revoked or expired. */
export const WS_CLOSE_TOKEN_INVALID = 4001
/** WebSocket close code when the node's own connection (carrying the session's subscriptions) is lost. */
export const WS_CLOSE_NODE_LOST = 1011
