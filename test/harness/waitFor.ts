/**
 * Bounded waits for tests: the one place that polls with a deadline.
 *
 * - `waitFor(check, what)` for a condition no event announces (a store row, a
 *   peer list, a counter): checks every `intervalMs`, returns the first truthy
 *   value, and fails after `timeoutMs` naming what it waited for and the last
 *   value or error seen. A check that throws counts as "not yet".
 * - `within(promise, ms, what)` for an event that has a promise already (a
 *   socket's `closed`, a process exit): the same deadline, no polling.
 *
 * Never sleep a fixed time for something a test then asserts on; wait for it.
 * A fixed window is right only where the point is that nothing happens in it
 * (say so in a comment there).
 */

export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>

export interface WaitOptions {
  /** Fail after this long (default 5 s). */
  timeoutMs?: number
  /** Check this often (default 20 ms). */
  intervalMs?: number
}

/** Poll until `check` returns a truthy value, or fail after a bounded deadline saying what was awaited. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, options: WaitOptions = {}): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 5_000
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value as Truthy<T>
      last = value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${shown(last)})`)
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20))
  }
}

function shown(value: unknown): string {
  if (value instanceof Error) return value.message
  try {
    return String(JSON.stringify(value)).slice(0, 500)
  } catch {
    return String(value) // a bigint, a cycle
  }
}

/** Resolve (or reject) with `promise`, or fail after `timeoutMs` saying what was awaited. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
