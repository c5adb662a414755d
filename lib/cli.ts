/**
 * Helpers for commander options: every flag is also read from VIPNODE_<FLAG>
 * (e.g. --update-interval -> VIPNODE_UPDATE_INTERVAL), and values are parsed
 * with a clear error instead of a stack trace. The long-running commands build
 * their options from a table instead (lib/cliOptions.ts); these serve the
 * one-shot commands.
 */
import { Option, InvalidArgumentError } from 'commander'
import { duration, envName, integer, type ValueParser } from './cliOptions.ts'

/** `--long-name <value>` with its environment variable attached. */
export function opt(flags: string, description: string): Option {
  const long = /--[a-z0-9-]+/.exec(flags)?.[0]
  if (!long) throw new Error(`option ${flags} needs a long name`)
  return new Option(flags, description).env(envName(long))
}

/**
 * A commander argParser from one of lib/cliOptions.ts's parsers, so the one-shot commands read numbers and
 * durations exactly as the long-running ones do (commander prefixes the flag to the message).
 */
export function argParser<T>(parser: ValueParser<T>): (text: string) => T {
  return (text) => {
    try {
      return parser.parse(text)
    } catch {
      throw new InvalidArgumentError(`expected ${parser.expected}, got ${JSON.stringify(text)}`)
    }
  }
}

export const parseDurationArg = argParser(duration)

export const parseIntArg = (min: number, max: number) => argParser(integer(min, max))
