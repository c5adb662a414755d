/**
 * The CLI's configuration path in-process (bin/main.ts: parse, report, exit
 * code): --print-config and flag errors of the long-running commands. One
 * child process in test/e2e/printConfig.test.ts covers what spawning adds.
 */
import { describe, test, expect, afterEach, vi } from 'vitest'
import { main } from './main.ts'

interface Outcome {
  exitCode: number
  stdout: string
  stderr: string
}

async function vipnode(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value)
  let stdout = ''
  let stderr = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true))
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true))
  try {
    await main(['node', 'vipnode', ...args])
  } finally {
    vi.restoreAllMocks()
    vi.unstubAllEnvs()
  }
  return { exitCode: Number(process.exitCode ?? 0), stdout, stderr }
}

afterEach(() => {
  // main() reports failures through the exit code; this process must still exit 0.
  process.exitCode = undefined
})

describe('vipnode --print-config', () => {
  test('default: the database commands (credit, payouts, audit, backup, migrate) print their config from the same tables, amounts as decimal wei', async () => {
    const credit = await vipnode(['credit', '--db', 'pool.db', '--node', 'ab'.repeat(64), '--amount', '0.5 ether', '--print-config'])
    expect(credit).toMatchObject({ exitCode: 0, stderr: '' })
    expect(JSON.parse(credit.stdout)).toEqual({ db: 'pool.db', node: 'ab'.repeat(64), amount: '500000000000000000', memo: 'manual credit' })
    const payouts = await vipnode(['payouts', '--epoch', '3', '--json', '--print-config'], { VIPNODE_DB: 'postgres://pool@db/vipnode' })
    expect(JSON.parse(payouts.stdout)).toEqual({ db: 'postgres://pool@db/vipnode', epoch: 3, json: true })
    expect(JSON.parse((await vipnode(['migrate', '--to', 'postgres://db/pool', '--print-config'])).stdout)).toEqual({ from: './data/vipnode.db', to: 'postgres://db/pool' })
  })

  test('error: a database command names the flag it cannot read and touches nothing', async () => {
    const bad = await vipnode(['credit', '--db', 'never-created.db', '--node', 'ab'.repeat(64), '--amount', 'lots'])
    expect(bad.exitCode).toBe(1)
    expect(bad.stderr).toContain('--amount: expected an amount like 12345 (wei), 100 gwei or 0.01 ether, got "lots"')
    const epoch = await vipnode(['payouts', '--epoch', '0'])
    expect(epoch.exitCode).toBe(1)
    expect(epoch.stderr).toContain('--epoch')
  })

  test('default: host and client print their resolved config as JSON and exit 0, without dialling a node or the pool', async () => {
    const host = await vipnode(['host', '--coordinator', 'https://pool.example.org', '--service', 'rpc', '--relay-listen', ':9546', '--print-config'], { VIPNODE_CAPACITY: '7' })
    expect(host).toMatchObject({ exitCode: 0, stderr: '' })
    expect(JSON.parse(host.stdout)).toMatchObject({
      coordinator: 'https://pool.example.org',
      service: 'rpc',
      relayListen: { host: '0.0.0.0', port: 9546 },
      relayCuRate: 1000,
      relayMaxLogsRange: 10_000,
      relayGasCap: 50_000_000,
      capacity: 7,
      nodeTimeoutMs: 5_000,
      nodeRpc: 'http://127.0.0.1:8545',
    })
    const client = await vipnode(['client', '--bootstrap', 'https://pool.example.org', '--allow-origin', 'https://a.example,https://b.example', '--print-config'])
    expect(client).toMatchObject({ exitCode: 0, stderr: '' })
    expect(JSON.parse(client.stdout)).toMatchObject({
      bootstrap: 'https://pool.example.org',
      hosts: 3,
      service: 'peer',
      listen: { host: '127.0.0.1', port: 8545 },
      allowOrigin: ['https://a.example', 'https://b.example'],
    })
  })

  test('behavior: the coordinator redacts secrets and prints amounts as decimal strings', async () => {
    const out = await vipnode(['coordinator', '--print-config', '--trial', '0.01 ether', '--admin-token', 'in-process-admin-token-0123'], { VIPNODE_ETHSTATS_SECRET: 'tracker-s3cret' })
    expect(out.exitCode).toBe(0)
    expect(JSON.parse(out.stdout)).toMatchObject({ trialWei: '10000000000000000', adminToken: '<redacted>', ethstatsSecret: '<redacted>' })
    expect(out.stdout).not.toMatch(/in-process-admin-token|tracker-s3cret/)
  })
})

describe('vipnode flag errors', () => {
  test.each([
    [['coordinator', '--report-retention', 'x'], {}, '--report-retention: expected a duration like 7d, 0 or off, got "x"'],
    [['coordinator', '--epoch', '1 day'], {}, '--epoch: expected a duration like 500ms, 5s, 2m, 24h, 7d or 1h30m, got "1 day"'],
    [['coordinator'], { VIPNODE_PRICE: 'lots' }, 'VIPNODE_PRICE: expected an amount like 12345 (wei), 100 gwei or 0.01 ether, got "lots"'],
    [['coordinator', '--max-block-lag', '-1'], {}, '--max-block-lag: expected a whole number from 0 to 1000000, got "-1"'],
    [['coordinator', '--admin-token', 'short'], {}, 'invalid configuration: --admin-token: Too small: expected string to have >=16 characters'],
    [['coordinator', '--nats', 'nats://127.0.0.1:4222'], {}, 'invalid configuration: --nats: --nats needs a PostgreSQL --db (postgres://…): replicas share one database, and a SQLite file belongs to one coordinator'],
    [['coordinator', '--db', 'postgres://127.0.0.1/pool', '--nats', '127.0.0.1:4222'], {}, 'invalid configuration: --nats: must be a nats://, tls://, ws:// or wss:// URL'],
    [['host', '--coordinator', 'https://pool.example.org', '--capacity', '0'], {}, '--capacity: expected a whole number from 1 to 10000, got "0"'],
    [['host', '--payout', '0x12'], { VIPNODE_COORDINATOR: 'https://pool.example.org' }, 'invalid configuration: --payout: must be a 0x-prefixed 20-byte address'],
    [['host'], {}, "required option '--coordinator <url>' not specified (or set VIPNODE_COORDINATOR)"],
    [['host', '--coordinator', 'https://pool.example.org'], { VIPNODE_NODE_TIMEOUT: 'soon' }, 'VIPNODE_NODE_TIMEOUT: expected a duration like 500ms, 5s, 2m, 24h, 7d or 1h30m, got "soon"'],
    [['client', '--bootstrap', 'https://pool.example.org', '--service', 'light'], {}, '--service: expected one of peer, rpc, got "light"'],
    [['client', '--bootstrap', 'https://pool.example.org', '--listen', '8545'], {}, '--listen: expected host:port like 127.0.0.1:8545, got "8545"'],
    [['client', '--bootstrap', 'https://pool.example.org', '--service', 'rpc', '--chain-id', '1'], {}, '--service rpc needs --nodekey FILE: the identity the pool bills (create one with `vipnode keygen`)'],
  ])('error: %j %j exits 1 with one line naming the flag', async (args, env, message) => {
    expect(await vipnode([...args, '--print-config'], env)).toEqual({ exitCode: 1, stdout: '', stderr: `vipnode: ${message}\n` })
  })
})
