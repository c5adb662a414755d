import { describe, test, expect, afterEach, vi } from 'vitest'
import { Command } from 'commander'
import { z } from 'zod'
import { defineOptions, duration, durationOrOff, flag, hostPort, integer, list, oneOf, text, wei, ConfigError } from './cliOptions.ts'

const schema = z
  .object({
    url: z.string(),
    intervalMs: z.number().int().positive().default(30_000),
    retentionMs: z.number().int().min(0).nullable().default(7 * 86_400_000),
    priceWei: z.bigint().default(0n),
    count: z.number().int().default(3),
    token: z.string().min(4).optional(),
    urls: z.array(z.string()).optional(),
    mode: z.enum(['peer', 'rpc']).default('peer'),
    listen: z.object({ host: z.string(), port: z.number() }).default({ host: '0.0.0.0', port: 8546 }),
    insecure: z.boolean().optional(),
  })
  .strict()

const options = defineOptions(schema, {
  url: { flags: '--url <url>', description: 'where', parser: text },
  intervalMs: { flags: '--interval <duration>', description: 'how often', parser: duration },
  retentionMs: { flags: '--retention <duration|off>', description: 'how long', parser: durationOrOff },
  priceWei: { flags: '--price <amount>', description: 'how much', parser: wei },
  count: { flags: '--count <n>', description: 'how many', parser: integer(1, 16) },
  token: { flags: '--token <token>', description: 'a secret', parser: text, secret: true },
  urls: { flags: '--public-url <url...>', description: 'many', parser: list },
  mode: { flags: '--mode <kind>', description: 'which', parser: oneOf(['peer', 'rpc'] as const) },
  listen: { flags: '--listen <host:port>', description: 'where to listen', parser: hostPort('0.0.0.0') },
  insecure: { flags: '--insecure', description: 'labs only', parser: flag },
})

async function parse(args: string[]): Promise<Command> {
  const command = options.addTo(new Command('test').exitOverride().action(() => {}))
  await command.parseAsync(args, { from: 'user' })
  return command
}

afterEach(() => {
  vi.unstubAllEnvs()
  vi.restoreAllMocks()
})

describe('defineOptions', () => {
  test('default: flags, then VIPNODE_* variables, then the schema defaults, typed', async () => {
    vi.stubEnv('VIPNODE_COUNT', '5')
    const command = await parse(['--url', 'http://x', '--interval', '2m', '--retention', 'off', '--price', '100 gwei', '--public-url', 'a,b', '--public-url', 'c', '--listen', ':9000', '--insecure'])
    const config = options.read(command)
    expect(config).toEqual({
      url: 'http://x',
      intervalMs: 120_000,
      retentionMs: null,
      priceWei: 100_000_000_000n,
      count: 5,
      urls: ['a', 'b', 'c'],
      mode: 'peer',
      listen: { host: '0.0.0.0', port: 9000 },
      insecure: true,
    })
    expect(options.source(command, 'count')).toBe('env')
    expect(options.source(command, 'url')).toBe('cli')
    expect(options.source(command, 'mode')).toBe('default')
  })

  test('behavior: --help shows each default as an operator writes it, and the variable', async () => {
    expect(Object.fromEntries(options.defaults())).toEqual({ '--interval': '30s', '--retention': '7d', '--price': '0', '--count': '3', '--mode': 'peer', '--listen': '0.0.0.0:8546' })
    const help = options.addTo(new Command('test')).helpInformation()
    expect(help).toContain('(default: 30s, env: VIPNODE_INTERVAL)')
    expect(help).toContain('choices: "peer", "rpc"')
    expect(help).toContain('--print-config')
  })

  test('behavior: an empty variable counts as unset', async () => {
    vi.stubEnv('VIPNODE_COUNT', '')
    vi.stubEnv('VIPNODE_INSECURE', '')
    const config = options.read(await parse(['--url', 'u']))
    expect(config.count).toBe(3)
    expect(config.insecure).toBeUndefined()
  })

  test.each(['1', 'true', 'on', 'YES'])('behavior: a switch is on from its variable set to %s', async (value) => {
    vi.stubEnv('VIPNODE_INSECURE', value)
    expect(options.read(await parse(['--url', 'u'])).insecure).toBe(true)
  })

  test.each(['false', '0', 'off', 'enabled'])('error: a switch variable set to %s is refused, not read as on', async (value) => {
    vi.stubEnv('VIPNODE_INSECURE', value)
    expect(() => options.read(parseSync(['--url', 'u']))).toThrow(`VIPNODE_INSECURE: expected 1, true, on or yes (unset it for off), got "${value}"`)
  })

  test('behavior: --print-config prints the resolved config as JSON, bigints as decimal strings and secrets redacted', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const command = await parse(['--url', 'u', '--token', 's3cret-token', '--price', '1 ether', '--print-config'])
    expect(options.printConfig(command, options.read(command))).toBe(true)
    const printed = JSON.parse(String(write.mock.calls[0]![0])) as Record<string, unknown>
    expect(printed).toMatchObject({ url: 'u', token: '<redacted>', priceWei: '1000000000000000000', intervalMs: 30_000, retentionMs: 604_800_000 })
    expect(JSON.stringify(printed)).not.toContain('s3cret')
    write.mockClear()
    expect(options.printConfig(await parse(['--url', 'u']), options.read(await parse(['--url', 'u'])))).toBe(false)
    expect(write).not.toHaveBeenCalled()
  })

  test.each([
    [['--retention', 'x'], '--retention: expected a duration like 7d, 0 or off, got "x"'],
    [['--interval', '5 minutes'], '--interval: expected a duration like 500ms, 5s, 2m, 24h, 7d or 1h30m, got "5 minutes"'],
    [['--count', '17'], '--count: expected a whole number from 1 to 16, got "17"'],
    [['--count', '-1'], '--count: expected a whole number from 1 to 16, got "-1"'],
    [['--price', '0.5 wei'], '--price: expected an amount like 12345 (wei), 100 gwei or 0.01 ether, got "0.5 wei"'],
    [['--mode', 'both'], '--mode: expected one of peer, rpc, got "both"'],
    [['--listen', '8546'], '--listen: expected host:port like 127.0.0.1:8545, got "8546"'],
    [['--token', 'abc'], 'invalid configuration: --token: Too small: expected string to have >=4 characters'],
  ])('error: %j is refused naming the flag', async (args, message) => {
    const command = await parse(['--url', 'u', ...args])
    expect(() => options.read(command)).toThrow(new ConfigError(message))
  })

  test('error: a bad variable is named as the variable; a missing required option names its flag and variable', async () => {
    vi.stubEnv('VIPNODE_RETENTION', 'forever')
    expect(() => options.read(parseSync(['--url', 'u']))).toThrow('VIPNODE_RETENTION: expected a duration like 7d, 0 or off, got "forever"')
    vi.unstubAllEnvs()
    expect(() => options.read(parseSync([]))).toThrow("required option '--url <url>' not specified (or set VIPNODE_URL)")
  })

  test('error: a parser that does not fit the spelling of its flag is a programming error', () => {
    expect(() => defineOptions(z.object({ on: z.boolean().optional() }), { on: { flags: '--on <value>', description: '', parser: flag } })).toThrow(/takes a switch parser/)
  })
})

function parseSync(args: string[]): Command {
  const command = options.addTo(new Command('test').exitOverride())
  command.parse(args, { from: 'user' })
  return command
}
