/** `--name N` integer flags for the benches, each with a default and an upper bound. */
export function intArgs<K extends string>(argv: readonly string[], spec: Record<K, { fallback: number; max: number }>): Record<K, number> {
  const out = {} as Record<K, number>
  for (const name of Object.keys(spec) as K[]) {
    const { fallback, max } = spec[name]
    const i = argv.indexOf(`--${name}`)
    const value = i >= 0 ? Number(argv[i + 1]) : fallback
    if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be an integer from 1 to ${max}`)
    out[name] = value
  }
  return out
}
