/**
 * The README's flag tables against the CLI: every table headed "`vipnode X`
 * flag" must list exactly the flags `vipnode X --help` prints, and where a
 * command's options come from a table (lib/cliOptions.ts) the default the README
 * states must be the one the command applies.
 */
import { describe, test, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import type { Command, Option } from 'commander'
import { buildProgram } from './main.ts'
import { envName, PRINT_CONFIG_FLAG, type CommandOptions } from '../lib/cliOptions.ts'
import { coordinatorOptions } from '../coordinator/config.ts'
import { hostOptions } from '../host-agent/config.ts'
import { clientOptions } from '../client-shim/config.ts'

interface Row {
  flags: string[]
  /** The code spans of the default column: `30s`, `127.0.0.1`. */
  defaults: string[]
  line: number
}

const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)

/** Rows by command path (`client refund`), from every table whose header names one or more `vipnode …` commands. */
function readmeTables(markdown: string): Map<string, Row[]> {
  const tables = new Map<string, Row[]>()
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const header = /^\| (.*) flag \| default \| meaning \|$/.exec(lines[i]!)
    if (!header) continue
    const commands = codeSpans(header[1]!).map((c) => c.replace(/^vipnode /, ''))
    expect(commands.length, `README line ${i + 1}: a flag table names its command, like "\`vipnode coordinator\` flag"`).toBeGreaterThan(0)
    const rows: Row[] = []
    for (let j = i + 2; j < lines.length && lines[j]!.startsWith('|'); j++) {
      const cells = lines[j]!.split(' | ')
      rows.push({ flags: codeSpans(cells[0]!).filter((c) => c.startsWith('--')), defaults: codeSpans(cells[1] ?? ''), line: j + 1 })
    }
    for (const command of commands) tables.set(command, [...(tables.get(command) ?? []), ...rows])
  }
  return tables
}

function commandAt(program: Command, path: string): Command {
  let command = program
  for (const name of path.split(' ')) {
    const next = command.commands.find((c) => c.name() === name)
    if (!next) throw new Error(`the README documents flags of "vipnode ${path}", which is not a command`)
    command = next
  }
  return command
}

const longFlags = (command: Command) =>
  command.options.map((o: Option) => o.long).filter((l): l is string => l !== undefined && l !== '--help' && l !== '--version')

const readme = readmeTables(readFileSync(new URL('../README.md', import.meta.url), 'utf8'))
const program = buildProgram()

/** The long-running commands, whose options come from a table. */
const tableCommands: [string, CommandOptions<any>][] = [
  ['coordinator', coordinatorOptions],
  ['host', hostOptions],
  ['client', clientOptions],
]

describe('README flag tables', () => {
  test('default: every long-running command has a flag table', () => {
    for (const [path] of tableCommands) expect([...readme.keys()]).toContain(path)
  })

  test.each([...readme.keys()])('behavior: vipnode %s: the README lists exactly the flags --help prints', (path) => {
    const command = commandAt(program, path)
    const documented = readme.get(path)!.flatMap((r) => r.flags)
    expect(new Set(documented).size, `a flag listed twice for vipnode ${path}`).toBe(documented.length)
    expect([...documented].sort()).toEqual(longFlags(command).sort())
    const help = command.helpInformation()
    for (const flag of documented) expect(help).toContain(flag)
  })

  test.each(tableCommands)('behavior: vipnode %s: the README states the defaults the command applies', (path, options) => {
    const rows = readme.get(path)!
    const table = options.table as Record<string, { flags: string; parser: { parse(t: string): unknown } }>
    const parserOf = new Map(Object.values(table).map((spec) => [/--[a-z0-9-]+/.exec(spec.flags)![0], spec.parser]))
    const help = commandAt(program, path).helpInformation().replace(/\s+/g, ' ')
    for (const [flag, text] of options.defaults()) {
      // --help says it, so the README's table must: as the same value (`24h` is `1d`).
      expect(help).toContain(`default: ${text}`)
      const row = rows.find((r) => r.flags.includes(flag))!
      // Rows like "`--host`, `--port` | `127.0.0.1`, `8080`" pair flags and defaults in order.
      const stated = row.defaults.length === row.flags.length ? [row.defaults[row.flags.indexOf(flag)]!] : row.defaults
      const parser = parserOf.get(flag)!
      const want = parser.parse(text)
      const matches = stated.some((s) => {
        if (s === text) return true
        try {
          return JSON.stringify(parser.parse(s), (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) === JSON.stringify(want, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))
        } catch {
          return false
        }
      })
      expect(matches, `README line ${row.line}: ${flag} defaults to ${text}, the README says ${stated.join(', ') || 'nothing in code'}`).toBe(true)
    }
  })

  test.each(tableCommands)('behavior: vipnode %s: every flag but --print-config also reads its VIPNODE_* variable', (path) => {
    for (const option of commandAt(program, path).options) {
      if (option.long === undefined || option.long === '--help' || option.long === PRINT_CONFIG_FLAG) continue
      expect(option.envVar).toBe(envName(option.long))
    }
  })
})
