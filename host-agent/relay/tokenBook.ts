/**
 * The relay tokens the coordinator issued for this host: token -> client node
 * ID, with an expiry. The coordinator's update replies and admits carry the
 * current set; `replace` installs it, `add`/`remove` apply single changes.
 *
 * Tokens are looked up by the SHA-256 of the presented token, never compared
 * as strings: a Map lookup on the raw token would leak, through timing, how
 * much of a guess matches a stored key; on a hash it can only leak something
 * about the hash, which does not help find a token (SHA-256 is preimage
 * resistant), and the hash of a wrong guess shares no structure with the
 * right one. The raw tokens are not kept at all, so a heap dump or a log of
 * the book reveals nothing usable.
 */
import { createHash } from 'node:crypto'
import type { NodeId } from '../../protocol/enode.ts'

export interface RelayTokenEntry {
  /** 32 random bytes as 64 hex characters. */
  token: string
  clientNodeId: NodeId
  expiresAtMs: number
}

/** Why a token stopped being valid for an open session. */
export type RevokeListener = (clientNodeId: NodeId, tokenHash: string) => void

const TOKEN_FORMAT = /^[0-9a-fA-F]{64}$/

/** The lookup key for a presented token (lower-cased hex, so case does not matter). */
export function hashRelayToken(token: string): string {
  return createHash('sha256').update(token.toLowerCase()).digest('hex')
}

export function isRelayTokenFormat(token: string): boolean {
  return TOKEN_FORMAT.test(token)
}

export class RelayTokenBook {
  /** sha256(token) -> entry without the token. */
  readonly #byHash = new Map<string, { clientNodeId: NodeId; expiresAtMs: number }>()
  readonly #listeners = new Set<RevokeListener>()

  /** Install the coordinator's full set: tokens not in it are revoked. */
  replace(entries: readonly RelayTokenEntry[]): void {
    const next = new Map<string, { clientNodeId: NodeId; expiresAtMs: number }>()
    for (const e of entries) {
      if (!isRelayTokenFormat(e.token)) throw new TypeError(`relay token for ${e.clientNodeId} is not 64 hex characters`)
      next.set(hashRelayToken(e.token), { clientNodeId: e.clientNodeId, expiresAtMs: e.expiresAtMs })
    }
    const gone: [string, NodeId][] = []
    for (const [h, e] of this.#byHash) if (!next.has(h)) gone.push([h, e.clientNodeId])
    this.#byHash.clear()
    for (const [h, e] of next) this.#byHash.set(h, e)
    for (const [h, id] of gone) this.#revoked(id, h)
  }

  /** Add or renew one token (a renewal may only move its expiry). */
  add(entry: RelayTokenEntry): void {
    if (!isRelayTokenFormat(entry.token)) throw new TypeError(`relay token for ${entry.clientNodeId} is not 64 hex characters`)
    this.#byHash.set(hashRelayToken(entry.token), { clientNodeId: entry.clientNodeId, expiresAtMs: entry.expiresAtMs })
  }

  /** Revoke every token of this client (evicted, out of balance, reassigned). */
  remove(clientNodeId: NodeId): void {
    for (const [h, e] of [...this.#byHash]) {
      if (e.clientNodeId !== clientNodeId) continue
      this.#byHash.delete(h)
      this.#revoked(clientNodeId, h)
    }
  }

  /** The client a token belongs to; undefined when unknown, malformed or expired (at `nowMs`). */
  lookup(token: string, nowMs: number): NodeId | undefined {
    if (!isRelayTokenFormat(token)) return undefined
    return this.lookupHash(hashRelayToken(token), nowMs)
  }

  /** As lookup, by a hash from hashRelayToken (what sessions keep instead of the token). */
  lookupHash(tokenHash: string, nowMs: number): NodeId | undefined {
    const e = this.#byHash.get(tokenHash)
    if (!e || nowMs >= e.expiresAtMs) return undefined
    return e.clientNodeId
  }

  /** Drop expired tokens (they are refused anyway; this only frees memory). */
  prune(nowMs: number): void {
    for (const [h, e] of [...this.#byHash]) {
      if (nowMs < e.expiresAtMs) continue
      this.#byHash.delete(h)
      this.#revoked(e.clientNodeId, h)
    }
  }

  get size(): number {
    return this.#byHash.size
  }

  /** Called for each token that leaves the book (remove, replace, prune); returns an unsubscribe function. */
  onRevoke(listener: RevokeListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #revoked(clientNodeId: NodeId, tokenHash: string): void {
    for (const l of this.#listeners) l(clientNodeId, tokenHash)
  }
}
