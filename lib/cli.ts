/**
 * Helpers for commander options: every flag is also read from VIPNODE_<FLAG>
 * (e.g. --update-interval -> VIPNODE_UPDATE_INTERVAL), and values are parsed
 * with a clear error instead of a stack trace. The long-running commands build
 * their options from a table instead (lib/cliOptions.ts); these serve the
 * one-shot commands.
 */
import { Option, InvalidArgumentError } from 'commander'
import { parseDuration } from './duration.ts'

export function envName(flag: string): string {
  return `VIPNODE_${flag.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`
}

/** `--long-name <value>` with its environment variable attached. */
export function opt(flags: string, description: string): Option {
  const long = /--[a-z0-9-]+/.exec(flags)?.[0]
  if (!long) throw new Error(`option ${flags} needs a long name`)
  return new Option(flags, description).env(envName(long))
}

/** Turn a parser that throws into a commander argument parser with a readable error. */
export function wrap<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text)
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message)
    }
  }
}

export const parseDurationArg = wrap(parseDuration)

export const parseIntArg = (min: number, max: number) =>
  wrap((text: string) => {
    if (!/^\d+$/.test(text.trim())) throw new Error(`"${text}" is not a whole number`)
    const n = Number(text)
    if (n < min || n > max) throw new Error(`${n} is out of range (${min}..${max})`)
    return n
  })
