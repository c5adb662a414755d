/**
 * Per-node tracker secrets (issue 18.4) through the coordinator: the file
 * given by --ethstats-secrets-file binds each listed name to its own secret.
 * Scripted reporters on a real socket at /api play a holder of one node's
 * secret trying to act as another node.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunningCoordinator } from '../coordinator.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { ScriptedReporter, isEmit, waitForNode } from '../../test/harness/trackerReporter.ts'
import { within } from '../../test/harness/waitFor.ts'
import { READY_FRAME, SERVER_CLOSE_FRAME } from './frames.ts'
import { identity } from '../../test/harness/rawAgent.ts'

let c: RunningCoordinator | undefined
const reporters: ScriptedReporter[] = []

afterEach(async () => {
  for (const r of reporters.splice(0)) r.close()
  await c?.close()
  c = undefined
})

function secretsFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vipnode-ethstats-')), 'secrets')
  writeFileSync(file, text, { mode: 0o600 })
  return file
}

async function hello(name: string, secret: string): Promise<ScriptedReporter> {
  const r = await ScriptedReporter.open(`${c!.url.replace(/^http/, 'ws')}/api`)
  reporters.push(r)
  r.emit('hello', { id: name, info: { name, net: '1' }, secret })
  return r
}

async function login(name: string, secret: string): Promise<ScriptedReporter> {
  const r = await hello(name, secret)
  expect(await r.next()).toBe(READY_FRAME)
  return r
}

async function refused(name: string, secret: string): Promise<void> {
  const r = await hello(name, secret)
  expect(await r.next()).toBe(SERVER_CLOSE_FRAME)
  expect((await within(r.closed, 3_000, 'close after a refused hello')).code).toBe(1008)
}

const block = (number: number) => ({ number, hash: `0x${number.toString(16).padStart(64, '0')}`, parentHash: `0x${'0'.repeat(64)}`, timestamp: 1, miner: '0x', gasUsed: 0, gasLimit: 0, difficulty: '0', totalDifficulty: '0', transactions: [], uncles: [] })

describe('per-node secrets from --ethstats-secrets-file', () => {
  test('a name is bound to its secret: another holder cannot log in as it, replace it or report for it', async () => {
    c = await testCoordinator({ ethstatsSecretsFile: secretsFile('# hosts\nhost-a:secret-a\n\nhost-b:secret-b\n'), ethstatsSecret: 'shared-secret' })
    const b = await login('host-b', 'secret-b')
    b.emit('block', { id: 'host-b', block: block(100) })
    await waitForNode(c.services.tracker, 'host-b', (n) => n.block?.number === 100)

    // The holder of host-a's secret cannot log in as host-b (which would close host-b's socket) ...
    await refused('host-b', 'secret-a')
    // ... nor can the shared secret log in as a listed name.
    await refused('host-b', 'shared-secret')
    expect(b.open).toBe(true)
    expect(c.services.tracker.node('host-b')?.connected).toBe(true)

    // Logged in as host-a, it cannot report for host-b either.
    const a = await login('host-a', 'secret-a')
    a.emit('block', { id: 'host-b', block: block(999_999) })
    a.emit('stats', { id: 'host-b', stats: { active: true, syncing: false, peers: 0, gasPrice: 0, uptime: 100 } })
    const clientTime = 'rt-1'
    a.emit('node-ping', { id: 'host-a', clientTime })
    await a.waitFor((v) => isEmit(v, 'node-pong'), 3_000, 'node-pong')
    expect(c.services.tracker.node('host-b')?.block?.number).toBe(100)
    expect(c.services.tracker.node('host-a')?.block).toBeNull()
    expect(c.services.tracker.counters().dropped.foreign_id).toBeGreaterThanOrEqual(2)

    // Unlisted names still use the shared secret; the right secret still wins a re-login.
    await login('small-node', 'shared-secret')
    const b2 = await login('host-b', 'secret-b')
    expect((await within(b.closed, 3_000, 'the replaced socket closes')).code).toBe(4000)
    expect(b2.open).toBe(true)
  })

  test("a shared-secret login cannot take over a node ID claimed under a node's own secret", async () => {
    c = await testCoordinator({ ethstatsSecretsFile: secretsFile('host-a:secret-a\n'), ethstatsSecret: 'shared-secret' })
    const id = identity()
    const a = await ScriptedReporter.open(`${c.url.replace(/^http/, 'ws')}/api`)
    reporters.push(a)
    a.emit('hello', { id: 'host-a', info: { name: 'host-a', net: '1', enode: id.enode }, secret: 'secret-a' })
    expect(await a.next()).toBe(READY_FRAME)
    const impostor = await ScriptedReporter.open(`${c.url.replace(/^http/, 'ws')}/api`)
    reporters.push(impostor)
    impostor.emit('hello', { id: 'impostor', info: { name: 'impostor', net: '1', enode: id.enode }, secret: 'shared-secret' })
    expect(await impostor.next()).toBe(READY_FRAME)
    impostor.emit('block', { id: 'impostor', block: block(5_000) })
    await waitForNode(c.services.tracker, 'impostor', (n) => n.block?.number === 5_000)
    expect(c.services.tracker.nodeByNodeId(id.nodeId)?.name).toBe('host-a')
  })

  test('without the shared secret, names not in the file are refused', async () => {
    c = await testCoordinator({ ethstatsSecretsFile: secretsFile('host-a:secret-a\n') })
    await login('host-a', 'secret-a')
    await refused('stranger', 'secret-a')
    await refused('stranger', '')
  })

  test('reloaded on demand (SIGHUP): new names log in, revoked ones are refused; a bad file keeps the secrets in force', async () => {
    const file = secretsFile('host-a:secret-a\n')
    c = await testCoordinator({ ethstatsSecretsFile: file })
    await login('host-a', 'secret-a')
    await refused('host-c', 'secret-c')
    writeFileSync(file, 'host-c:secret-c\n')
    expect(c.reloadTrackerSecrets()).toBe(true)
    await login('host-c', 'secret-c')
    await refused('host-a', 'secret-a')
    writeFileSync(file, 'host-c:secret-c\nbroken line\n')
    expect(c.reloadTrackerSecrets()).toBe(false)
    await login('host-c', 'secret-c')
  })

  test('a bad file refuses to start, naming the line', async () => {
    await expect(testCoordinator({ ethstatsSecretsFile: secretsFile('host-a:secret-a\nhost-a:again\n') })).rejects.toThrow(/line 2: host-a is listed twice/)
  })
})
