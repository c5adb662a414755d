/** `--print-config` and flag errors of the long-running commands, as an operator sees them: the real executable. */
import { describe, test, expect } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { VIPNODE_BIN } from '../harness/processes.ts'

const run = promisify(execFile)
const vipnode = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [VIPNODE_BIN, ...args], { env: { ...process.env, ...env } })
const failure = (args: string[]) => vipnode(args).then(
  (ok) => ({ code: 0, stderr: ok.stderr }),
  (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
)

describe('--print-config', () => {
  test('default: the coordinator prints its resolved config (flags, env, defaults) as JSON and exits 0, amounts as decimal strings, secrets redacted', async () => {
    const token = 'print-config-admin-token-0123'
    const { stdout } = await vipnode(['coordinator', '--print-config', '--price', '100 gwei', '--admin-token', token, '--report-retention', 'off'], {
      VIPNODE_ETHSTATS_SECRET: 'ethstats-s3cret',
      VIPNODE_UPDATE_INTERVAL: '10s',
    })
    const config = JSON.parse(stdout) as Record<string, unknown>
    expect(config).toMatchObject({
      priceWeiPerMinute: '100000000000',
      adminToken: '<redacted>',
      ethstatsSecret: '<redacted>',
      updateIntervalMs: 10_000,
      reportRetentionMs: null,
      maxBlockLag: 8,
      admitRetries: 1,
      db: './data/vipnode.db',
    })
    expect(stdout).not.toContain(token)
    expect(stdout).not.toContain('ethstats-s3cret')
  })
})

describe('flag errors', () => {
  // The other commands and cases are in bin/main.test.ts, in-process: here only what a child process adds (stderr, exit code).
  test('error: a flag that cannot be read exits 1 with one line naming it', async () => {
    expect(await failure(['coordinator', '--report-retention', 'x', '--print-config'])).toEqual({ code: 1, stderr: 'vipnode: --report-retention: expected a duration like 7d, 0 or off, got "x"\n' })
  })
})
