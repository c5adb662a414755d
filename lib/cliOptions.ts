/**
 * One table of options per command, beside the command's zod schema. Each
 * entry is keyed by a config key of the schema and says how an operator
 * writes that setting: the flag (which also names its VIPNODE_* variable), a
 * description and a parser. Commander's options, the typed config,
 * `--print-config` and the README check (`test/e2e/readmeFlags.test.ts`) are
 * all built from the table.
 *
 * Defaults are not in the table: they stay in the schema, where the module
 * that uses a setting puts its own constant (Lodestar's rule: the CLI takes
 * its defaults from the module), so each default is written once. The table
 * reads them back from the schema for `--help`.
 *
 * Values from flags and the environment are kept as commander's raw strings
 * and parsed here, not by commander's `argParser`: only here is it known
 * whether the text came from `--flag` or from `VIPNODE_FLAG`, so the error can
 * name the one the operator has to fix.
 */
import { Option, type Command } from 'commander'
import type { z } from 'zod'
import { formatDuration, parseDuration } from './duration.ts'
import { parseHostPort } from './hostPort.ts'
// A leaf module (no imports): amounts are parsed the same way on the command line and in the admin commands.
import { parseAmount } from './amount.ts'

/** How the text of one flag (or of its environment variable) becomes a value. */
export interface ValueParser<T> {
  /** Completes "expected …" in an error message: "a duration like 500ms, 5s, 2m, 24h or 1h30m". */
  readonly expected: string
  /** `value` takes `<arg>`; `list` takes `<arg...>` or one `<arg>`, split at commas; `switch` takes no argument. */
  readonly arity: 'value' | 'list' | 'switch'
  /** Shown in --help; the parser still checks them. */
  readonly choices?: readonly string[]
  /** Throws when the text is not a value (the caller words the error). */
  parse(text: string): T
  /** The value as an operator would write it: defaults in --help and the README. */
  format(value: T): string
}

export interface OptionSpec<T> {
  /** Commander's spelling, `--report-retention <duration|off>`; the long name also gives VIPNODE_REPORT_RETENTION. */
  readonly flags: string
  readonly description: string
  readonly parser: ValueParser<T>
  /** Replaced by `<redacted>` in --print-config (tokens, shared secrets). */
  readonly secret?: boolean
  /** How --help writes the default when its value differs per machine (`~/.ethereum`, not this user's home). */
  readonly defaultText?: string
}

/**
 * An entry for every key of the schema's input: no setting without a flag, and
 * each parser must produce what the schema takes for its key (a compile error
 * otherwise).
 */
export type OptionTable<Input> = { readonly [K in keyof Input]-?: OptionSpec<Exclude<Input[K], undefined>> }

// Any zod object schema (strict or not); its input and output types come from S.
type ObjectSchema = z.ZodObject<z.ZodRawShape, z.core.$ZodObjectConfig>

/** A flag or variable that could not be read, or a configuration the schema refuses. Printed as one line by bin/main.ts. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

export const PRINT_CONFIG_FLAG = '--print-config'

export interface CommandOptions<S extends ObjectSchema> {
  readonly schema: S
  readonly table: OptionTable<z.input<S>>
  /** The table's options, and --print-config, on `command`. */
  addTo(command: Command): Command
  /** Flags, else VIPNODE_* variables, else the schema's defaults: the validated config, or a ConfigError naming the flag. */
  read(command: Command): z.output<S>
  /** Where a key's value came from. */
  source(command: Command, key: keyof z.input<S> & string): 'cli' | 'env' | 'default'
  /** With --print-config: print `config` as JSON (bigints as decimal strings, secrets redacted) and return true. */
  printConfig(command: Command, config: z.output<S>): boolean
  /** The default of each flag with one, as --help shows it (`--update-interval` -> `30s`). */
  defaults(): Map<string, string>
}

export function defineOptions<S extends ObjectSchema>(schema: S, table: OptionTable<z.input<S>>): CommandOptions<S> {
  const entries = Object.entries(table) as [keyof z.input<S> & string, OptionSpec<unknown>][]
  for (const [key, spec] of entries) {
    // The spelling must agree with the parser, or commander would hand it a value of the wrong shape.
    const arity = spec.flags.includes('...>') ? 'list' : spec.flags.includes('<') ? 'value' : 'switch'
    // A list may also be one comma-separated value (`--trust-proxy a,b`).
    const fits = arity === spec.parser.arity || (arity === 'value' && spec.parser.arity === 'list')
    if (!fits) throw new Error(`option ${key} (${spec.flags}) takes a ${spec.parser.arity} parser, not a ${arity} one`)
  }
  const longOf = (spec: OptionSpec<unknown>) => longFlag(spec.flags)
  const attributeOf = (spec: OptionSpec<unknown>) => new Option(spec.flags).attributeName()
  // The variable's own text: for a switch commander keeps only `true`, whatever the variable says.
  const envText = (spec: OptionSpec<unknown>) => process.env[envName(longOf(spec))] ?? ''
  const shape = schema.shape as Record<string, z.ZodType>
  const defaultOf = (key: string): { required: boolean; value: unknown } => {
    // A field's default (or undefined for an optional one) is what it makes of a missing value.
    const missing = shape[key]!.safeParse(undefined)
    return missing.success ? { required: false, value: missing.data } : { required: true, value: undefined }
  }
  const defaultText = (key: string, spec: OptionSpec<unknown>): string | undefined => {
    const { value } = defaultOf(key)
    if (value !== undefined && spec.defaultText !== undefined) return spec.defaultText
    if (value === undefined || value === false || spec.parser.arity === 'switch') return undefined
    if (Array.isArray(value) && value.length === 0) return undefined
    return spec.parser.format(value)
  }
  const sourceOf = (command: Command, spec: OptionSpec<unknown>): 'cli' | 'env' | 'default' => {
    const source = command.getOptionValueSource(attributeOf(spec))
    // An empty variable means unset (VIPNODE_REGION= in a compose file).
    if (source === 'env' && envText(spec) === '') return 'default'
    if (source === 'cli') return 'cli'
    return source === 'env' ? 'env' : 'default'
  }

  return {
    schema,
    table,
    addTo(command) {
      for (const [key, spec] of entries) {
        const option = new Option(spec.flags, spec.description).env(envName(longOf(spec)))
        if (spec.parser.choices) option.argChoices = [...spec.parser.choices]
        const text = defaultText(key, spec)
        if (text !== undefined) option.default(defaultOf(key).value, text)
        command.addOption(option)
      }
      return command.addOption(new Option(PRINT_CONFIG_FLAG, 'print the resolved configuration as JSON (secrets redacted) and exit'))
    },
    read(command) {
      const input: Record<string, unknown> = {}
      for (const [key, spec] of entries) {
        const source = sourceOf(command, spec)
        if (source === 'default') {
          if (defaultOf(key).required) {
            throw new ConfigError(`required option '${spec.flags}' not specified (or set ${envName(longOf(spec))})`)
          }
          continue
        }
        const raw: unknown = command.getOptionValue(attributeOf(spec))
        const text = source === 'env' ? envText(spec) : Array.isArray(raw) ? raw.join(',') : String(raw)
        const where = source === 'cli' ? longOf(spec) : envName(longOf(spec))
        try {
          input[key] = spec.parser.parse(text)
        } catch {
          throw new ConfigError(`${where}: expected ${spec.parser.expected}, got ${JSON.stringify(text)}`)
        }
      }
      const parsed = schema.safeParse(input)
      if (!parsed.success) {
        const flagOf = (key: PropertyKey | undefined) => {
          const spec = typeof key === 'string' ? (table as Record<string, OptionSpec<unknown> | undefined>)[key] : undefined
          return spec ? longOf(spec) : String(key ?? 'configuration')
        }
        const issues = parsed.error.issues.slice(0, 5).map((i) => `${flagOf(i.path[0])}: ${i.message}`)
        throw new ConfigError(`invalid configuration: ${issues.join('; ')}`)
      }
      return parsed.data
    },
    source(command, key) {
      return sourceOf(command, table[key] as OptionSpec<unknown>)
    },
    printConfig(command, config) {
      if (command.getOptionValue('printConfig') !== true) return false
      const out: Record<string, unknown> = {}
      for (const [key, spec] of entries) {
        const value = (config as Record<string, unknown>)[key]
        if (value === undefined) continue
        out[key] = spec.secret ? '<redacted>' : value
      }
      process.stdout.write(`${configJson(out)}\n`)
      return true
    },
    defaults() {
      const out = new Map<string, string>()
      for (const [key, spec] of entries) {
        const text = defaultText(key, spec)
        if (text !== undefined) out.set(longOf(spec), text)
      }
      return out
    },
  }
}

/** The variable each flag is also read from: --update-interval -> VIPNODE_UPDATE_INTERVAL. */
export function envName(flag: string): string {
  return `VIPNODE_${flag.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`
}

/** JSON with bigints (wei) as decimal strings, as on the wire. */
export function configJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString(10) : v), 2)
}

function longFlag(flags: string): string {
  const long = /--[a-z0-9-]+/.exec(flags)?.[0]
  if (!long) throw new Error(`option ${flags} needs a long name`)
  return long
}

// ---- Parsers --------------------------------------------------------------

export const text: ValueParser<string> = { expected: 'a value', arity: 'value', parse: (t) => t, format: (v) => v }

/** A whole number in [min, max]. */
export function integer(min: number, max: number): ValueParser<number> {
  return {
    expected: max === Number.MAX_SAFE_INTEGER ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`,
    arity: 'value',
    parse(t) {
      if (!/^\d+$/.test(t.trim())) throw new Error('not a whole number')
      const n = Number(t)
      if (n < min || n > max) throw new Error('out of range')
      return n
    },
    format: String,
  }
}

export const positiveNumber: ValueParser<number> = {
  expected: 'a positive number',
  arity: 'value',
  parse(t) {
    const n = Number(t)
    if (t.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error('not a positive number')
    return n
  },
  format: String,
}

/** Milliseconds, written 500ms, 5s, 2m, 24h, 7d or 1h30m (lib/duration.ts). */
export const duration: ValueParser<number> = {
  expected: 'a duration like 500ms, 5s, 2m, 24h, 7d or 1h30m',
  arity: 'value',
  parse: parseDuration,
  format: formatDuration,
}

/** A duration, `0` (none) or `off` (null: no limit). */
export const durationOrOff: ValueParser<number | null> = {
  expected: 'a duration like 7d, 0 or off',
  arity: 'value',
  parse(t) {
    const trimmed = t.trim()
    if (trimmed === 'off') return null
    if (trimmed === '0') return 0
    return parseDuration(trimmed)
  },
  format: (v) => (v === null ? 'off' : v === 0 ? '0' : formatDuration(v)),
}

/** bigint wei, written 12345 (wei), 100 gwei or 0.01 ether. */
export const wei: ValueParser<bigint> = {
  expected: 'an amount like 12345 (wei), 100 gwei or 0.01 ether',
  arity: 'value',
  parse: parseAmount,
  format: (v) => v.toString(10),
}

/** Repeatable and comma-separated: `--x a --x b`, `--x a,b` and `VIPNODE_X=a,b` all mean [a, b]. */
export const list: ValueParser<string[]> = {
  expected: 'a comma-separated list',
  arity: 'list',
  parse: (t) => t.split(',').map((v) => v.trim()).filter((v) => v.length > 0),
  format: (v) => v.join(','),
}

/**
 * Present or not. Its variable turns it on with 1, true, on or yes; `VIPNODE_X=false` is refused rather than
 * read as on (commander alone would turn a switch on for any value).
 */
export const flag: ValueParser<boolean> = {
  expected: '1, true, on or yes (unset it for off)',
  arity: 'switch',
  parse(t) {
    if (!/^(1|true|on|yes)$/i.test(t.trim())) throw new Error('not a way to say on')
    return true
  },
  format: (v) => (v ? 'on' : 'off'),
}

export function oneOf<const T extends string>(choices: readonly T[]): ValueParser<T> {
  return {
    expected: `one of ${choices.join(', ')}`,
    arity: 'value',
    choices,
    parse(t) {
      const found = choices.find((c) => c === t.trim())
      if (found === undefined) throw new Error('not a choice')
      return found
    },
    format: (v) => v,
  }
}

/** `host:port` (`[::1]:8545`; `:8545` takes `defaultHost`). */
export function hostPort(defaultHost = '127.0.0.1'): ValueParser<{ host: string; port: number }> {
  return {
    expected: 'host:port like 127.0.0.1:8545',
    arity: 'value',
    parse: (t) => parseHostPort(t, defaultHost),
    format: (v) => `${v.host.includes(':') ? `[${v.host}]` : v.host}:${v.port}`,
  }
}
