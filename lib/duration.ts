/**
 * Durations on the command line and in config are written like `500ms`, `5s`,
 * `2m`, `24h`, `1d` (or combined: `1h30m`). Internally every duration is an
 * integer number of milliseconds.
 */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

const PART = /(\d+)(ms|s|m|h|d)/g
const WHOLE = /^(?:\d+(?:ms|s|m|h|d))+$/

export class DurationError extends Error {
  override name = 'DurationError'
}

export function parseDuration(text: string): number {
  const trimmed = text.trim()
  if (!WHOLE.test(trimmed)) {
    throw new DurationError(`invalid duration "${text}": write it like 500ms, 5s, 2m, 24h or 1h30m`)
  }
  let total = 0
  for (const [, amount, unit] of trimmed.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS]
  }
  if (!Number.isSafeInteger(total)) throw new DurationError(`duration "${text}" is too large`)
  return total
}

/** Shortest exact spelling of a duration, for logs and `--help` defaults. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  let rest = ms
  let out = ''
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit]
    const n = Math.floor(rest / size)
    if (n > 0) {
      out += `${n}${unit}`
      rest -= n * size
    }
  }
  return out
}
