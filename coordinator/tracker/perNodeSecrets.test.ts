/**
 * Per-node tracker secrets (issue 18.4) through the coordinator: the file
 * given by --ethstats-secrets-file binds each listed name to its own secret,
 * and optionally to a node ID (the only way a tracker node ID is proven).
 * Scripted reporters on a real socket at /api play a holder of one node's
 * secret (or of the shared one) trying to act as another node.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunningCoordinator } from '../coordinator.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { ScriptedReporter, isEmit, waitForNode, type CloseInfo } from '../../test/harness/trackerReporter.ts'
import { within } from '../../test/harness/waitFor.ts'
import { READY_FRAME, SERVER_CLOSE_FRAME } from './frames.ts'
import { identity } from '../../test/harness/rawAgent.ts'
import { recordingLogger } from '../../test/harness/agents.ts'
import { shortNodeId } from '../../protocol/enode.ts'

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

/** A hello; with `enode`, the reporter claims that node's ID in `info.enode` (stock geth claims none). */
async function hello(name: string, secret: string, enode?: string): Promise<ScriptedReporter> {
  const r = await ScriptedReporter.open(`${c!.url.replace(/^http/, 'ws')}/api`)
  reporters.push(r)
  r.emit('hello', { id: name, info: { name, net: '1', ...(enode ? { enode } : {}) }, secret })
  return r
}

async function login(name: string, secret: string, enode?: string): Promise<ScriptedReporter> {
  const r = await hello(name, secret, enode)
  expect(await r.next()).toBe(READY_FRAME)
  return r
}

async function refused(name: string, secret: string, enode?: string): Promise<CloseInfo> {
  const r = await hello(name, secret, enode)
  expect(await r.next()).toBe(SERVER_CLOSE_FRAME)
  const closed = await within(r.closed, 3_000, 'close after a refused hello')
  expect(closed.code).toBe(1008)
  return closed
}

type FeedNode = { name: string; nodeId: string | null; nodeIdProven: boolean }
async function feedNode(name: string): Promise<FeedNode | undefined> {
  const feed = (await (await fetch(`${c!.url}/v1/tracker/nodes`)).json()) as { nodes: FeedNode[] }
  return feed.nodes.find((n) => n.name === name)
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

  test("a shared-secret login cannot take over a node ID bound to a listed name, before or after that name logs in", async () => {
    const id = identity()
    c = await testCoordinator({ ethstatsSecretsFile: secretsFile(`host-a:secret-a:${id.nodeId}\n`), ethstatsSecret: 'shared-secret' })
    const early = await login('early-impostor', 'shared-secret', id.enode)
    early.emit('block', { id: 'early-impostor', block: block(5_000) })
    await waitForNode(c.services.tracker, 'early-impostor', (n) => n.block?.number === 5_000)
    expect(c.services.tracker.nodeByNodeId(id.nodeId)).toBeUndefined()
    await login('host-a', 'secret-a', id.enode)
    const impostor = await login('impostor', 'shared-secret', id.enode)
    impostor.emit('block', { id: 'impostor', block: block(5_000) })
    await waitForNode(c.services.tracker, 'impostor', (n) => n.block?.number === 5_000)
    expect(c.services.tracker.nodeByNodeId(id.nodeId)?.name).toBe('host-a')
  })

  test('node IDs: only a name bound in the file proves one; shared-secret and unbound claims are shown as claimed and found by nobody', async () => {
    const bound = identity()
    c = await testCoordinator({ ethstatsSecretsFile: secretsFile(`host-a:secret-a:0x${bound.nodeId.toUpperCase()}\nhost-u:secret-u\n`), ethstatsSecret: 'shared-secret' })
    await login('shared', 'shared-secret', bound.enode)
    await login('host-u', 'secret-u', bound.enode) // a listed name, but not bound: its own secret proves nothing about keys
    expect(c.services.tracker.nodeByNodeId(bound.nodeId)).toBeUndefined()
    expect(c.services.tracker.node('shared')).toMatchObject({ nodeId: bound.nodeId, nodeIdProven: false })
    expect(await feedNode('host-u')).toMatchObject({ nodeId: bound.nodeId, nodeIdProven: false })

    // Stock geth sends no enode: the bound name's node ID is the one the file binds.
    await login('host-a', 'secret-a')
    expect(c.services.tracker.nodeByNodeId(bound.nodeId)?.name).toBe('host-a')
    expect(await feedNode('host-a')).toMatchObject({ nodeId: bound.nodeId, nodeIdProven: true })
  })

  test('a bound name whose hello claims another node ID is refused, and its connected socket is left alone', async () => {
    const bound = identity()
    const other = identity()
    const log = recordingLogger()
    c = await testCoordinator({ ethstatsSecretsFile: secretsFile(`host-a:secret-a:${bound.nodeId}\n`) }, { logger: log })
    const a = await login('host-a', 'secret-a', bound.enode)
    const closed = await refused('host-a', 'secret-a', other.enode)
    expect(closed.reason).toBe('node ID does not match the one bound to this name')
    expect(log.lines.find((l) => l.message === 'tracker login refused')?.context).toEqual({
      node: 'host-a',
      reason: 'the hello claims another node ID than the one bound to this name',
      claimedNodeId: shortNodeId(other.nodeId),
      boundNodeId: shortNodeId(bound.nodeId),
    })
    expect(c.services.tracker.counters()).toMatchObject({ closed: { wrong_node_id: 1 }, loginsRejected: 1 })
    expect(a.open).toBe(true)
    expect(c.services.tracker.nodeByNodeId(bound.nodeId)?.name).toBe('host-a')
    expect(c.services.tracker.nodeByNodeId(other.nodeId)).toBeUndefined()
    expect(await c.registry.getSingleMetricAsString('vipnode_tracker_closes_total')).toContain('reason="wrong_node_id"} 1')
  })

  test('reloaded: proofs are judged again for connected nodes without a new login; a bad node ID in the file keeps the table in force', async () => {
    const id = identity()
    const other = identity()
    const file = secretsFile('host-a:secret-a\n')
    c = await testCoordinator({ ethstatsSecretsFile: file })
    const a = await login('host-a', 'secret-a', id.enode)
    const proven = () => c!.services.tracker.nodeByNodeId(id.nodeId)?.name
    expect(proven()).toBeUndefined()
    writeFileSync(file, `host-a:secret-a:${id.nodeId}\n`) // newly bound to what it claimed: proven now
    expect(c.reloadTrackerSecrets()).toBe(true)
    expect(proven()).toBe('host-a')
    writeFileSync(file, `host-a:secret-a:${id.nodeId.slice(2)}\n`) // a typo in the node ID: refused, the binding stays
    expect(c.reloadTrackerSecrets()).toBe(false)
    expect(proven()).toBe('host-a')
    writeFileSync(file, `host-a:secret-a:${other.nodeId}\n`) // bound to another key than it claimed: no proof
    expect(c.reloadTrackerSecrets()).toBe(true)
    expect(proven()).toBeUndefined()
    expect(c.services.tracker.nodeByNodeId(other.nodeId)).toBeUndefined()
    writeFileSync(file, `host-a:rotated:${id.nodeId}\n`) // its secret rotated: the socket that used the old one proves nothing
    expect(c.reloadTrackerSecrets()).toBe(true)
    expect(proven()).toBeUndefined()
    writeFileSync(file, `host-a:secret-a:${id.nodeId}\n`)
    expect(c.reloadTrackerSecrets()).toBe(true)
    expect(proven()).toBe('host-a')
    writeFileSync(file, 'host-b:secret-b\n') // revoked: the socket stays (as before) but no longer witnesses
    expect(c.reloadTrackerSecrets()).toBe(true)
    expect(proven()).toBeUndefined()
    expect(a.open).toBe(true)
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
    await expect(testCoordinator({ ethstatsSecretsFile: secretsFile(`host-a:secret-a:${'ab'.repeat(63)}\n`) })).rejects.toThrow(/line 1: the node ID bound to host-a must be 128 hex/)
  })
})
