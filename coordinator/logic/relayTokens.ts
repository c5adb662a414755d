/**
 * Relay tokens: the coordinator's leave for one client to use one host's
 * relay. Derived, not stored: HMAC(pool secret, host ‖ client ‖ window), so
 * the coordinator can hand the same token to both sides at any time, across
 * restarts, without a table. A token is bound to its pair (another host
 * never learns it; another client cannot use it) and to a time window: it
 * expires at the end of the window after the one it was issued in, so each
 * side can pick up the next token from a report before the old one lapses.
 * Pure: the secret and the time come in.
 */
import { createHmac } from 'node:crypto'
import type { NodeId } from '../../protocol/index.ts'

export interface IssuedToken {
  token: string
  expiresAtMs: number
}

export class RelayTokens {
  constructor(
    private readonly secret: Uint8Array,
    /** Window length; a token lives between one and two windows. */
    readonly windowMs: number,
  ) {
    if (secret.length < 16) throw new Error('relay token secret must have at least 16 bytes')
    if (!Number.isInteger(windowMs) || windowMs <= 0) throw new Error('relay token window must be a positive number of ms')
  }

  private tokenIn(window: number, hostId: NodeId, clientId: NodeId): IssuedToken {
    const token = createHmac('sha256', this.secret).update(`vipnode-relay/v1|${hostId}|${clientId}|${window}`).digest('hex')
    return { token, expiresAtMs: (window + 2) * this.windowMs }
  }

  /** The token a client uses now. */
  current(hostId: NodeId, clientId: NodeId, nowMs: number): IssuedToken {
    return this.tokenIn(Math.floor(nowMs / this.windowMs), hostId, clientId)
  }

  /** Every token the host should accept now: the current one and the previous one, until it expires. */
  accepted(hostId: NodeId, clientId: NodeId, nowMs: number): IssuedToken[] {
    const w = Math.floor(nowMs / this.windowMs)
    return [this.tokenIn(w, hostId, clientId), this.tokenIn(w - 1, hostId, clientId)].filter((t) => t.expiresAtMs > nowMs)
  }
}
