/** The `vipnode` executable as an operator runs it: real child processes. */
import { describe, test, expect, afterEach } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VIPNODE_BIN, spawnVipnode, type Proc } from '../harness/processes.ts'
import { nodeIdOf, parseNodeKey } from '../../protocol/index.ts'

const run = promisify(execFile)
const procs: Proc[] = []
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')))
})
const vipnode = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [VIPNODE_BIN, ...args], { env: { ...process.env, ...env } })

describe('vipnode CLI', () => {
  test('default: --help lists the subcommands and every coordinator flag names its env variable', async () => {
    const top = await vipnode(['--help'])
    expect(top.stdout).toMatch(/coordinator/)
    expect(top.stdout).toMatch(/keygen/)
    const help = (await vipnode(['coordinator', '--help'])).stdout
    for (const flag of ['--port', '--host', '--db', '--update-interval', '--chain-id']) expect(help).toContain(flag)
    expect(help).toContain('env: VIPNODE_UPDATE_INTERVAL')
  })

  test('default: keygen writes a geth nodekey and prints its node ID; refuses to overwrite', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'vipnode-cli-')), 'nodekey')
    const { stdout } = await vipnode(['keygen', '--out', out])
    const printed = JSON.parse(stdout) as { nodeId: string }
    expect(printed.nodeId).toBe(nodeIdOf(parseNodeKey(readFileSync(out, 'utf8'))))
    const again = await vipnode(['keygen', '--out', out]).catch((e: { code: number; stderr: string }) => e)
    expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('refusing to overwrite') })
  })

  test('error: a malformed duration is refused with a readable message', async () => {
    const err = await vipnode(['coordinator', '--update-interval', '5 minutes']).catch((e: { code: number; stderr: string }) => e)
    expect(err).toMatchObject({ code: 1, stderr: expect.stringContaining('vipnode: --update-interval: expected a duration like 500ms, 5s, 2m') })
  })

  test('default: the coordinator starts from env, serves /healthz, and exits cleanly on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipnode-cli-'))
    const db = join(dir, 'sub', 'pool.db')
    const p = spawnVipnode(['coordinator'], { VIPNODE_PORT: '0', VIPNODE_DB: db, VIPNODE_UPDATE_INTERVAL: '2s' })
    procs.push(p)
    const listening = await p.waitForLog((l) => l.msg === 'coordinator listening', 'listening')
    expect(existsSync(db)).toBe(true)
    const health = await fetch(`${listening.url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ ok: true, poolId: listening.poolId })
    const exit = await p.stop('SIGTERM')
    expect(exit).toEqual({ code: 0, signal: null })
    expect(p.logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'coordinator stopped', 'shutdown complete']))
  })
})

describe('vipnode coordinator: secrets', () => {
  test('behavior: a token on the command line is warned about, one from --admin-token-file is not; SIGHUP reloads the tracker secrets file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipnode-cli-'))
    const token = 'cli-admin-token-0123456789'
    const onCli = spawnVipnode(['coordinator', '--admin-token', token], { VIPNODE_PORT: '0', VIPNODE_DB: ':memory:' })
    procs.push(onCli)
    await onCli.waitForLog((l) => l.msg === 'coordinator listening', 'listening')
    expect(onCli.logs.some((l) => l.level === 'warn' && /admin token was given on the command line/.test(String(l.msg)))).toBe(true)

    const tokenFile = join(dir, 'admin-token')
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 })
    const secrets = join(dir, 'ethstats-secrets')
    writeFileSync(secrets, 'host-a:secret-a\n', { mode: 0o600 })
    const p = spawnVipnode(['coordinator', '--admin-token-file', tokenFile, '--ethstats-secrets-file', secrets], { VIPNODE_PORT: '0', VIPNODE_DB: ':memory:' })
    procs.push(p)
    const listening = await p.waitForLog((l) => l.msg === 'coordinator listening', 'listening')
    expect(p.logs.some((l) => /command line/.test(String(l.msg)))).toBe(false)
    expect((await fetch(`${listening.url}/v1/admin/epochs`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    writeFileSync(secrets, 'host-a:secret-a\nhost-b:secret-b\n')
    p.child.kill('SIGHUP')
    const reloaded = await p.waitForLog((l) => l.msg === 'tracker secrets reloaded', 'reload after SIGHUP')
    expect(reloaded.names).toBe(2)
    expect(p.child.exitCode).toBeNull()
  }, 60_000)
})

describe('vipnode devchain and contract deploy', () => {
  test('default: a dev chain with the pool deployed; deploy another pool with the printed operator key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vipnode-devchain-'))
    const keyFile = join(dir, 'operator.key')
    const chain = spawnVipnode(['devchain', '--port', '0', '--operator-key-out', keyFile])
    procs.push(chain)
    const info = await chain.waitForLog((l) => typeof l.contract === 'string', 'devchain info', 45_000) // compiles the contract first (solc-js, several seconds on a busy machine)
    expect(info).toMatchObject({ chainId: 31337, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) })
    expect(info).toMatchObject({ rootDelaySeconds: 30, proposer: expect.any(String), guardian: expect.any(String), owner: expect.any(String) })
    const { stdout } = await vipnode(['contract', 'deploy', '--chain-rpc', info.url, '--operator-key', keyFile, '--guardian', info.guardian, '--root-delay', '2m'])
    const deployed = JSON.parse(stdout) as { contract: string; proposer: string; guardian: string; owner: string; rootDelaySeconds: number }
    // The deploying key proposes; on a dev chain the owner defaults to it too.
    expect(deployed).toMatchObject({ proposer: info.proposer, owner: info.proposer, guardian: info.guardian, rootDelaySeconds: 120 })
    const code = await fetch(info.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getCode', params: [deployed.contract, 'latest'] }) })
    expect(((await code.json()) as { result: string }).result.length).toBeGreaterThan(100)
    const claim = await vipnode(['host', 'claim', '--coordinator', 'http://127.0.0.1:1', '--chain-rpc', info.url, '--contract', deployed.contract, '--payout', info.proposer, '--key', keyFile]).catch((e: { code: number; stderr: string }) => e)
    expect(claim).toMatchObject({ code: 1, stderr: expect.stringContaining('vipnode:') })
  }, 120_000)
})
