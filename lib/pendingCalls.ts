/**
 * The one pending-call core under every JSON-RPC client (protocol/rpcPeer.ts,
 * ethnode/nodeRpc.ts, the relay's node socket, the rpc proxy's upstream): ids,
 * one timer per call, matching a reply to its call, and failing what is still
 * waiting when the connection goes. Each client keeps its own error classes
 * (callers branch on them): the core takes the error to fail with.
 */

/** A call that was waiting when its connection closed (for clients without an error class of their own). */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError'
}

/** A waiting call, handed back once: settle it with its reply. */
export interface WaitingCall<T> {
  resolve(value: T): void
  reject(error: Error): void
}

interface Entry<T, Tag> extends WaitingCall<T> {
  timer: NodeJS.Timeout
  tag: Tag | undefined
}

export class PendingCalls<T = unknown, Tag = never> {
  #nextId = 1
  readonly #calls = new Map<number, Entry<T, Tag>>()

  /**
   * Register a call before sending it: its id for the request frame and the
   * promise its reply settles. After `timeoutMs` it fails with `timedOut()`.
   * `tag` marks the call (the connection it went out on) for `failAll`.
   */
  open(timeoutMs: number, timedOut: () => Error, tag?: Tag): { id: number; reply: Promise<T> } {
    const id = this.#nextId++
    const reply = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id)
        reject(timedOut())
      }, timeoutMs)
      this.#calls.set(id, { resolve, reject, timer, tag })
    })
    return { id, reply }
  }

  /** The call waiting for this reply id, taken out (its timer stopped); undefined for an unknown or late id. */
  take(id: unknown): WaitingCall<T> | undefined {
    if (typeof id !== 'number') return undefined
    const entry = this.#calls.get(id)
    if (!entry) return undefined
    this.#calls.delete(id)
    clearTimeout(entry.timer)
    return entry
  }

  /** Fail one call (its send failed). */
  fail(id: number, error: Error): void {
    this.take(id)?.reject(error)
  }

  /** Fail every waiting call, or those whose tag `which` picks. */
  failAll(error: Error, which?: (tag: Tag | undefined) => boolean): void {
    for (const [id, entry] of this.#calls) {
      if (which && !which(entry.tag)) continue
      this.#calls.delete(id)
      clearTimeout(entry.timer)
      entry.reject(error)
    }
  }

  get size(): number {
    return this.#calls.size
  }
}
