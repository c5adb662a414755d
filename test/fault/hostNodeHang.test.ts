/**
 * Fault (issue 9): a host's node stops answering JSON-RPC. It hangs (accepts
 * the connection, never replies), it does not refuse. Real processes: the
 * coordinator, two host agents and a client shim run the `vipnode` CLI; their
 * nodes are in-process fakes (test/fakenode), so the hang can be switched on
 * (`setSlow`) and heads moved, or not.
 *
 * What must follow, each measured from the moment the node hangs:
 * 1. the host agent logs the failure (its node call times out: --node-timeout);
 * 2. the host's service stops accruing (no host reports: the metering cap);
 * 3. the coordinator stops counting the host as healthy: the agent's socket
 *    stays open (it answers pings) but its reports stop, and once the last one
 *    is older than 3 × --update-interval its clients are released (host-stale);
 * 4. the client is reassigned to the other host and its node peers with it.
 *
 * Twice: on a chain that keeps making blocks, and on a quiet chain, where the
 * hung host's last head never falls behind and lag alone would never move its
 * clients. On the moving chain lag would catch it too, but later: the head has
 * to get --max-block-lag + 1 blocks ahead and then the lag grace
 * (2 × --update-interval) has to run out, which here is at least
 * 9 × 200 ms + 2,000 ms after the last report, against 3,000 ms for staleness.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { startFakeNode, type FakeNode } from '../fakenode/fakeNode.ts'
import { spawnVipnode, type Proc } from '../harness/processes.ts'
import { waitFor } from '../harness/waitFor.ts'

const COORDINATOR_INTERVAL_MS = 1_000
const AGENT_INTERVAL_MS = 500
const NODE_TIMEOUT_MS = 1_000
const BLOCK_MS = 200
const MAX_BLOCK_LAG = 8 // the coordinator's default
const CAP_MS = 2 * COORDINATOR_INTERVAL_MS
const LAG_GRACE_MS = 2 * COORDINATOR_INTERVAL_MS
const STALE_MS = 3 * COORDINATOR_INTERVAL_MS
const SWEEP_MS = COORDINATOR_INTERVAL_MS / 4

const dir = mkdtempSync(join(tmpdir(), 'vipnode-fault-'))
let db = ''
const nodes: FakeNode[] = []
const procs: Proc[] = []
let chainTimer: NodeJS.Timeout | undefined

afterEach(async () => {
  clearInterval(chainTimer)
  await Promise.all(procs.splice(0).map((p) => p.stop('SIGKILL')))
  for (const n of nodes) n.setSlow(0)
  await Promise.all(nodes.splice(0).map((n) => n.close({ notifyPeers: false }).catch(() => undefined)))
})

function keyFile(node: FakeNode): string {
  const path = join(dir, `${node.nodeId.slice(0, 12)}.key`)
  writeFileSync(path, node.nodeKey)
  return path
}

function spawn(args: string[]): Proc {
  const p = spawnVipnode(args)
  procs.push(p)
  return p
}

function query<T>(sql: string, ...params: unknown[]): T[] {
  const conn = new Database(db, { readonly: true, fileMustExist: true })
  try {
    return conn.prepare(sql).all(...params) as T[]
  } finally {
    conn.close()
  }
}
const activeHostsOf = (clientId: string) => query<{ hostId: string }>('SELECT host_id AS hostId FROM assignments WHERE client_id = ? AND released_at_ms IS NULL', clientId).map((r) => r.hostId)
const serviceMs = (clientId: string, hostId: string) => query<{ ms: number }>('SELECT coalesce(sum(service_ms), 0) AS ms FROM usage WHERE client_id = ? AND host_id = ?', clientId, hostId)[0]!.ms

interface HangFigures {
  loggedMs: number
  lastGrowthMs: number
  releasedMs: number
  reassignedMs: number
}

/** Run the scenario: a client served by one of two hosts, whose node then hangs. Times are from the hang. */
async function hangScenario(name: string, chainMoves: boolean): Promise<HangFigures> {
  db = join(dir, `${name}.db`)
  let head = 100
  const hostNodes = await Promise.all([startFakeNode({ kind: 'geth', maxPeers: 50, head: { number: head, hash: `0x${'01'.repeat(32)}` } }), startFakeNode({ kind: 'geth', maxPeers: 50 })])
  const clientNode = await startFakeNode({ kind: 'geth', maxPeers: 50, redialBackoffMs: 200 })
  nodes.push(...hostNodes, clientNode)
  let hung: FakeNode | undefined
  const advance = () => {
    for (const n of [...hostNodes, clientNode]) if (n !== hung) n.setHead(head)
  }
  advance()
  // A live chain: a block every BLOCK_MS on every node that still answers. A quiet one stays at its head.
  if (chainMoves) {
    chainTimer = setInterval(() => {
      head++
      advance()
    }, BLOCK_MS)
  }

  const coordinator = spawn(['coordinator', '--allow-private-addresses', '--port', '0', '--db', db, '--update-interval', `${COORDINATOR_INTERVAL_MS}ms`, '--admit-timeout', '1s', '--pool-id', 'fault', '--max-block-lag', String(MAX_BLOCK_LAG)])
  const url = (await coordinator.waitForLog((l) => l.msg === 'coordinator listening', 'coordinator listening')).url as string
  const agentArgs = ['--update-interval', `${AGENT_INTERVAL_MS}ms`, '--node-timeout', `${NODE_TIMEOUT_MS}ms`]
  const hostAgents = hostNodes.map((h) => spawn(['host', '--coordinator', url, '--node-rpc', h.url, '--nodekey', keyFile(h), '--capacity', '5', ...agentArgs]))
  await Promise.all(hostAgents.map((p) => p.waitForLog((l) => l.msg === 'connected to coordinator', 'host connected')))
  spawn(['client', '--bootstrap', url, '--node-rpc', clientNode.url, '--nodekey', keyFile(clientNode), '--hosts', '1', ...agentArgs])

  // Served by one host, and metered for it.
  const firstHost = await waitFor(() => activeHostsOf(clientNode.nodeId)[0], 'client assigned', { timeoutMs: 20_000 })
  const victimIndex = hostNodes.findIndex((h) => h.nodeId === firstHost)
  const victim = hostNodes[victimIndex]!
  const spare = hostNodes[1 - victimIndex]!
  const victimAgent = hostAgents[victimIndex]!
  await waitFor(() => clientNode.peers().includes(victim.nodeId), 'client peered with its host', { timeoutMs: 10_000 })
  await waitFor(() => serviceMs(clientNode.nodeId, victim.nodeId) > 0, 'service metered', { timeoutMs: 10_000 })

  // The node hangs: every JSON-RPC request is accepted and never answered. p2p keeps running.
  const logsBefore = victimAgent.logs.length
  const coordLogsBefore = coordinator.logs.length
  hung = victim
  victim.setSlow(2 ** 31 - 1)
  const t0 = performance.now()
  const since = (ms: number) => Math.round(ms - t0)

  // 1. The host agent notices and says so.
  const failure = await victimAgent.waitForLog((l) => victimAgent.logs.indexOf(l) >= logsBefore && l.msg === 'report failed', 'host agent logs the failure', 10_000)
  const loggedMs = since(performance.now())
  expect(String(failure.error)).toMatch(/timed out/)

  // 3. Judged stale and its client released; 4. the client moved to the spare host.
  let lastGrowthMs = 0
  let lastService = serviceMs(clientNode.nodeId, victim.nodeId)
  let releasedMs: number | undefined
  let reassignedMs: number | undefined
  await waitFor(
    () => {
      const now = serviceMs(clientNode.nodeId, victim.nodeId)
      if (now !== lastService) {
        lastService = now
        lastGrowthMs = since(performance.now())
      }
      const active = activeHostsOf(clientNode.nodeId)
      if (releasedMs === undefined && !active.includes(victim.nodeId)) releasedMs = since(performance.now())
      if (reassignedMs === undefined && active.includes(spare.nodeId) && clientNode.peers().includes(spare.nodeId)) reassignedMs = since(performance.now())
      return releasedMs !== undefined && reassignedMs !== undefined
    },
    'client released from the hung host and peered with the spare',
    { timeoutMs: 20_000 },
  )
  const coordLogs = coordinator.logs.slice(coordLogsBefore)
  const staleLine = coordLogs.find((l) => l.msg === 'host stale: moving its clients' && l.host === victim.nodeId)
  expect(staleLine, 'the coordinator says why').toBeDefined()
  expect(staleLine!.silentMs).toBeGreaterThan(STALE_MS)
  const release = coordLogs.find((l) => l.msg === 'assignment released' && l.host === victim.nodeId)
  expect(release?.reason).toBe('host-stale')
  // The agent's socket never closed: this is not host-gone.
  expect(coordLogs.find((l) => l.msg === 'agent disconnected' && l.node === victim.nodeId)).toBeUndefined()
  // 2. No accrual for the hung host after its last report aged out (watch a little longer).
  const watchUntil = performance.now() + 1_000
  while (performance.now() < watchUntil) {
    const now = serviceMs(clientNode.nodeId, victim.nodeId)
    if (now !== lastService) {
      lastService = now
      lastGrowthMs = since(performance.now())
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  // The client's node dropped the hung host once it was no longer vouched for.
  await waitFor(() => !clientNode.peers().includes(victim.nodeId), 'client node dropped the hung host', { timeoutMs: 5_000 })
  if (!chainMoves) expect(head, 'the chain stayed quiet').toBe(100)
  return { loggedMs, lastGrowthMs, releasedMs: releasedMs!, reassignedMs: reassignedMs! }
}

// Slack for child processes on a busy 2-core machine.
const SLACK_MS = 1_500
// The last report reached the coordinator at most one agent interval (plus a step) before the hang, and at most a sweep after staleness.
const STALE_BOUND_MS = STALE_MS + SWEEP_MS

function checkFigures(f: HangFigures): void {
  expect(f.loggedMs).toBeLessThanOrEqual(AGENT_INTERVAL_MS + NODE_TIMEOUT_MS + SLACK_MS)
  expect(f.lastGrowthMs).toBeLessThanOrEqual(CAP_MS + AGENT_INTERVAL_MS + SLACK_MS)
  expect(f.releasedMs).toBeLessThanOrEqual(STALE_BOUND_MS + SLACK_MS)
  // Never before the last report is staleAfter old: a host that reports is never moved for silence.
  expect(f.releasedMs).toBeGreaterThanOrEqual(STALE_MS - AGENT_INTERVAL_MS - 200)
  expect(f.reassignedMs).toBeLessThanOrEqual(f.releasedMs + AGENT_INTERVAL_MS + 2 * SLACK_MS)
}

function faultLine(what: string, f: HangFigures, extra = ''): string {
  return (
    `FAULT host node hang (${what}): agent logged the failure after ${f.loggedMs} ms (bound ${AGENT_INTERVAL_MS} ms report interval + ${NODE_TIMEOUT_MS} ms node timeout); ` +
    `accrual last grew at ${f.lastGrowthMs} ms (bound ${CAP_MS} ms cap + ${AGENT_INTERVAL_MS} ms); ` +
    `clients released as host-stale at ${f.releasedMs} ms (bound ${STALE_BOUND_MS} ms = 3 × ${COORDINATOR_INTERVAL_MS} ms update interval + ${SWEEP_MS} ms sweep${extra}); ` +
    `client peered with the spare host at ${f.reassignedMs} ms`
  )
}

describe('fault: a host node that stops answering', () => {
  test('behavior: on a moving chain the agent logs it, accrual stops, the host is judged stale and its client moves to another host', async () => {
    const f = await hangScenario('moving', true)
    // Both count from the host's last report: staleness after STALE_MS, lag not before the head is 9 blocks on plus the lag grace.
    const lagAfterReportMs = (MAX_BLOCK_LAG + 1) * BLOCK_MS + LAG_GRACE_MS
    console.log(faultLine('chain moving', f, `; host-lagging would need ${lagAfterReportMs} ms from the last report = ${MAX_BLOCK_LAG + 1} blocks × ${BLOCK_MS} ms + ${LAG_GRACE_MS} ms lag grace, against ${STALE_MS} ms`))
    checkFigures(f)
  }, 60_000)

  test('behavior: on a quiet chain, where its head never lags, the hung host is still judged stale and its client moves', async () => {
    const f = await hangScenario('quiet', false)
    console.log(faultLine('quiet chain', f))
    checkFigures(f)
  }, 60_000)
})
