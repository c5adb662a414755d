type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>

/** Poll until `check` returns a truthy value, or fail after a bounded deadline saying what was awaited. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000)
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
      throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20))
  }
}
