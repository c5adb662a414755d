/**
 * The tracker as a witness for a lagging host's head (trackerHeads.ts), through
 * the coordinator on real sockets: authenticated hosts on /v1/agent, scripted
 * ethstats reporters on /api, and the load balancer's own view (its preview,
 * which admits nobody, and the reason it last passed a host over).
 *
 * The attack: a host is 20 blocks behind the pool's best head, so it gets no new
 * clients. Anyone holding the shared tracker secret, or any name in the secrets
 * file, logs in claiming that host's node ID and reports the best head, to keep
 * the host eligible while it is behind. Bound: only the reporter whose name the
 * operator bound to that node ID (`name:secret:nodeId`) can confirm its head.
 */
import { test, expect, afterEach } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { agentsAt, type TestAgent } from '../../test/harness/agents.ts'
import { identity } from '../../test/harness/rawAgent.ts'
import { ScriptedReporter, waitForNode } from '../../test/harness/trackerReporter.ts'
import { within } from '../../test/harness/waitFor.ts'
import { READY_FRAME, SERVER_CLOSE_FRAME } from './frames.ts'
import type { RunningCoordinator } from '../coordinator.ts'

const CHAIN = 1337
const H = 1_000
const HASH = `0x${'12'.repeat(32)}`
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

function secretsFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vipnode-witness-')), 'secrets')
  writeFileSync(file, text, { mode: 0o600 })
  return file
}

const block = (number: number) => ({ number, hash: HASH, parentHash: HASH, timestamp: 1_700_000_000, miner: `0x${'00'.repeat(20)}`, gasUsed: 0, gasLimit: 30_000_000, difficulty: '0', totalDifficulty: '0', transactions: [], uncles: [] })

/** A reporter that logs in as `name` (claiming `enode` when given, as stock geth never does) and reports `head`. */
async function reporter(c: RunningCoordinator, name: string, secret: string, opts: { enode?: string; head?: number } = {}): Promise<{ r: ScriptedReporter; answer: string }> {
  const r = await ScriptedReporter.open(`${c.url.replace(/^http/, 'ws')}/api`, { answerPings: true })
  cleanup.push(async () => r.close())
  r.emit('hello', { id: name, info: { name, node: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4', net: String(CHAIN), ...(opts.enode ? { enode: opts.enode } : {}) }, secret })
  const answer = await r.next()
  if (answer === READY_FRAME && opts.head !== undefined) {
    r.emit('block', { id: name, block: block(opts.head) })
    await waitForNode(c.services.tracker, name, (n) => n.block?.number === opts.head)
  }
  return { r, answer }
}

test('attack: a shared-secret or listed-but-unbound reporter claiming a lagging host\'s node ID cannot keep it eligible; its bound reporter can', async () => {
  const laggardId = identity()
  const elsewhere = identity()
  const file = secretsFile(`laggard:secret-l:${laggardId.nodeId}\nlisted:secret-o\nhost-x:secret-x:${elsewhere.nodeId}\n`)
  const c = await testCoordinator({ ethstatsSecret: 'shared-secret', ethstatsSecretsFile: file, maxBlockLag: 8, slowStartSlots: 0 })
  cleanup.push(() => c.close())
  const agent = agentsAt(c.url, (close) => cleanup.push(close))
  const report = (a: TestAgent, number: number) => a.conn.call('vipnode_update', { peers: [], peerIds: [], block: { number, hash: HASH } })

  const laggard = await agent({ role: 'host', capacity: 4, chainId: CHAIN }, {}, laggardId)
  const honest = [await agent({ role: 'host', capacity: 4, chainId: CHAIN }), await agent({ role: 'host', capacity: 4, chainId: CHAIN })]
  for (const h of honest) await report(h, H)
  await report(laggard, H - 20)
  expect(c.services.assignments.bestHead(CHAIN)).toBe(H)
  const eligible = () => c.services.assignments.preview({ chainId: CHAIN, count: 3, kind: 'peer' }).hosts.map((h) => h.nodeId)
  const laggardIsBehind = () => {
    expect(eligible()).not.toContain(laggard.id.nodeId)
    expect(c.services.assignments.skipReasons(laggard.id.nodeId)?.reason).toBe('lagging')
    expect(c.services.tracker.nodeByNodeId(laggard.id.nodeId)).toBeUndefined()
  }
  laggardIsBehind()
  expect(eligible().sort()).toEqual(honest.map((h) => h.id.nodeId).sort())

  // The holder of the shared secret claims the laggard's node ID and reports the best head (and beyond).
  expect((await reporter(c, 'helper', 'shared-secret', { enode: laggard.id.enode, head: H + 5 })).answer).toBe(READY_FRAME)
  expect(c.services.tracker.node('helper')).toMatchObject({ nodeId: laggard.id.nodeId, nodeIdProven: false })
  laggardIsBehind()
  // So does a name listed in the file with its own secret, but bound to no node ID.
  expect((await reporter(c, 'listed', 'secret-o', { enode: laggard.id.enode, head: H })).answer).toBe(READY_FRAME)
  laggardIsBehind()
  // A name bound to another node cannot claim this one: refused at login.
  const bound = await reporter(c, 'host-x', 'secret-x', { enode: laggard.id.enode, head: H })
  expect(bound.answer).toBe(SERVER_CLOSE_FRAME)
  expect((await within(bound.r.closed, 3_000, 'the refused login closes')).code).toBe(1008)
  laggardIsBehind()

  // The laggard's own reporter, under the name the operator bound to its node ID (no enode in its hello, as stock
  // geth sends): its head confirms the host is not behind, whatever the host's agent says.
  await reporter(c, 'laggard', 'secret-l', { head: H })
  expect(c.services.tracker.nodeByNodeId(laggard.id.nodeId)?.name).toBe('laggard')
  expect(eligible()).toContain(laggard.id.nodeId)

  // The witness confirms only what it reports: a restarted reporter (a newer login replaces the old socket) whose
  // node is behind too leaves the host behind, whatever the shared-secret reporter still claims.
  expect((await reporter(c, 'laggard', 'secret-l', { head: H - 20 })).answer).toBe(READY_FRAME)
  expect(c.services.tracker.nodeByNodeId(laggard.id.nodeId)?.block?.number).toBe(H - 20)
  expect(eligible()).not.toContain(laggard.id.nodeId)
})
