/**
 * Faults (issue 9), each with its detection time measured and checked
 * against the bound the code promises:
 *
 * - a half-open client (its socket stops reading, nothing is closed): cut off
 *   by the missed WebSocket ping, its session detached, its service accrual
 *   ended by the metering cap and its assignment released;
 * - a slow consumer (a host socket that never reads while the coordinator
 *   has a lot to send it): dropped once its unsent data passes 8 MiB, with
 *   the coordinator answering others throughout.
 *
 * A host whose node stops answering needs real processes and lives in
 * hostNodeHang.test.ts. Each test prints one `FAULT …` line with its figures.
 */
import { describe, test, expect, afterEach } from 'vitest'
import type { Socket } from 'node:net'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { testAgent, type TestAgent } from '../harness/agents.ts'
import { waitFor } from '../harness/waitFor.ts'
import { authenticated, identity, type Identity, type RawAgent } from '../harness/rawAgent.ts'
import { keepingLogger } from '../harness/fuzzFrames.ts'
import { sqliteOf } from '../harness/storeState.ts'
import { encodeError, parseParams, updateParamsSchema, MAX_ID_LENGTH, RpcError } from '../../protocol/index.ts'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

const BLOCK = { number: 100, hash: `0x${'ab'.repeat(32)}` }
const peerOf = (id: Identity) => ({ id: id.nodeId, enode: id.enode })
/** The raw TCP socket under a `ws` client: pausing it stops reading (no pongs, no frames) without closing anything. */
const tcpOf = (agent: RawAgent): Socket => (agent.ws as unknown as { _socket: Socket })._socket

function serviceMs(c: RunningCoordinator, clientId: string, hostId: string): number {
  return Number(sqliteOf(c).prepare('SELECT coalesce(sum(service_ms), 0) FROM usage WHERE client_id = ? AND host_id = ?').pluck().get(clientId, hostId))
}

describe('fault: half-open client', () => {
  test('behavior: a client whose socket stops reading is cut off by the ping timeout; its session, accrual and assignment end', async () => {
    const PING_MS = 300
    const INTERVAL_MS = 1_000
    const CAP_MS = 2 * INTERVAL_MS // metering: a report older than two intervals corroborates nothing
    const REPORT_MS = 100
    const c = await testCoordinator({ pingIntervalMs: PING_MS, updateIntervalMs: INTERVAL_MS })
    cleanup.push(() => c.close())
    const host: TestAgent = await testAgent(c.url, { role: 'host', capacity: 5 })
    cleanup.push(() => host.close())
    const clientId = identity(30310)
    const { agent: client, reply } = await authenticated(c.url, clientId, { role: 'client', capacity: undefined })
    cleanup.push(() => client.ws.terminate())
    expect(reply.error).toBeUndefined()
    expect((await client.request('vipnode_requestHosts', { count: 1 })).result.hosts).toHaveLength(1)

    // Both sides report each other, as their nodes would while peered.
    let clientReports = true
    let nextId = 1_000
    const reporter = setInterval(() => {
      void host.conn.call('vipnode_update', { peers: [peerOf(clientId)], block: BLOCK }).catch(() => undefined)
      if (clientReports) client.ws.send(JSON.stringify({ jsonrpc: '2.0', id: nextId++, method: 'vipnode_update', params: { peers: [peerOf(host.id)], block: BLOCK } }))
    }, REPORT_MS)
    cleanup.push(() => clearInterval(reporter))
    await waitFor(() => serviceMs(c, clientId.nodeId, host.id.nodeId) > 300, 'service accrues while both report', { timeoutMs: 10_000 })
    expect(((await (await fetch(`${c.url}/v1/status`)).json()) as { clientsOnline: number }).clientsOnline).toBe(1)

    // The client vanishes without a FIN: its process stops reading and writing, the socket stays open.
    clientReports = false
    tcpOf(client).pause()
    const t0 = performance.now()
    await waitFor(() => c.services.sessions.get(clientId.nodeId) === undefined, 'half-open client detached', { timeoutMs: 5_000 })
    const detectedMs = performance.now() - t0
    const status = (await (await fetch(`${c.url}/v1/status`)).json()) as { clientsOnline: number; hostsOnline: number }
    expect(status).toMatchObject({ clientsOnline: 0, hostsOnline: 1 })
    const session = sqliteOf(c).prepare('SELECT closed_at_ms AS closedAt, close_reason AS reason FROM sessions WHERE node_id = ?').get(clientId.nodeId) as { closedAt: number | null; reason: string }
    expect(session.closedAt).not.toBeNull()
    expect(session.reason).toBe('closed 1006') // terminated: no close frame

    // Accrual: the host keeps listing the client, but the client's last word ages out after the cap.
    let last = serviceMs(c, clientId.nodeId, host.id.nodeId)
    let lastGrowthMs = 0
    let releasedMs: number | undefined
    const watchUntil = t0 + CAP_MS + INTERVAL_MS + 1_500
    while (performance.now() < watchUntil) {
      const now = serviceMs(c, clientId.nodeId, host.id.nodeId)
      if (now !== last) {
        last = now
        lastGrowthMs = performance.now() - t0
      }
      if (releasedMs === undefined && c.services.assignments.hostsOf(clientId.nodeId).length === 0) releasedMs = performance.now() - t0
      await new Promise((r) => setTimeout(r, 25))
    }
    const released = sqliteOf(c).prepare('SELECT release_reason FROM assignments WHERE client_id = ?').pluck().get(clientId.nodeId)
    expect(released).toBe('client-gone')

    console.log(
      `FAULT half-open client detected in ${detectedMs.toFixed(0)} ms (bound 2 × ${PING_MS} ms ping interval); ` +
        `accrual last grew ${lastGrowthMs.toFixed(0)} ms after it went silent (bound ${CAP_MS} ms cap + ${REPORT_MS} ms report period); ` +
        `assignment released after ${releasedMs?.toFixed(0)} ms (bound detection + ${INTERVAL_MS} ms release grace + ${INTERVAL_MS / 4} ms sweep)`,
    )
    // Slack for a busy 2-core machine: timers fire late, never early.
    expect(detectedMs).toBeLessThanOrEqual(2 * PING_MS + 400)
    expect(lastGrowthMs).toBeLessThanOrEqual(CAP_MS + REPORT_MS + 400)
    expect(releasedMs).toBeDefined()
    expect(releasedMs!).toBeLessThanOrEqual(detectedMs + INTERVAL_MS + INTERVAL_MS / 4 + 500)
  }, 30_000)
})

describe('fault: slow consumer', () => {
  test('behavior: a host that never reads is dropped once 8 MiB is queued for it; others are answered throughout', async () => {
    const LIMIT = 8 * 1024 * 1024
    // Ids are capped (protocol/envelope.ts), so the largest reply a request can ask for is small: an id of the
    // longest length and an INVALID_PARAMS message naming five failing fields. Many of them fill the buffer.
    const badParams = { peers: [], block: { number: 1, hash: 'x' }, relays: [{}, {}] }
    const idOf = (n: number) => `${'x'.repeat(MAX_ID_LENGTH - 8)}${String(n).padStart(8, '0')}`
    const frameOf = (n: number) => JSON.stringify({ jsonrpc: '2.0', id: idOf(n), method: 'vipnode_update', params: badParams })
    let invalid: unknown
    try {
      parseParams(updateParamsSchema, badParams, 'vipnode_update')
    } catch (err) {
      invalid = err
    }
    expect(invalid).toBeInstanceOf(RpcError)
    const REPLY_BYTES = encodeError(idOf(0), invalid as RpcError).length
    const FRAME_BYTES = frameOf(0).length
    const BATCH = 200
    const logger = keepingLogger()
    // Pings far apart, so the drop can only come from the send buffer; no rate limit to turn replies into RATE_LIMITED.
    const c = await testCoordinator({ pingIntervalMs: 60_000, rateLimitPerSecond: 10_000_000, rateLimitBurst: 10_000_000 }, { logger })
    cleanup.push(() => c.close())
    const slowId = identity(30320)
    const { agent: slow, reply } = await authenticated(c.url, slowId, { role: 'host' })
    cleanup.push(() => slow.ws.terminate())
    expect(reply.error).toBeUndefined()
    const other = await testAgent(c.url, { role: 'host', capacity: 5 })
    cleanup.push(() => other.close())

    // The other agent keeps asking; its worst round trip shows whether the coordinator stayed responsive.
    let worstMs = 0
    let roundTrips = 0
    let probing = true
    const probe = (async () => {
      while (probing) {
        const t = performance.now()
        await other.conn.call('vipnode_update', { peers: [], block: BLOCK })
        worstMs = Math.max(worstMs, performance.now() - t)
        roundTrips++
        await new Promise((r) => setTimeout(r, 10))
      }
    })()

    // The slow host stops reading, then sends bad reports in batches: the coordinator must queue the error replies.
    tcpOf(slow).pause()
    const t0 = performance.now()
    let requests = 0
    while (c.services.sessions.get(slowId.nodeId) !== undefined && requests < 200_000) {
      for (let i = 0; i < BATCH; i++) slow.ws.send(frameOf(requests++))
      await new Promise((r) => setTimeout(r, 1))
    }
    const requestedBytes = requests * REPLY_BYTES
    await waitFor(() => c.services.sessions.get(slowId.nodeId) === undefined, 'slow consumer dropped', { timeoutMs: 10_000 })
    const droppedMs = performance.now() - t0
    probing = false
    await probe

    const drop = logger.lines.find((l) => l.message === 'slow consumer dropped')
    expect(drop, 'the coordinator logs the drop with the queued bytes').toBeDefined()
    const buffered = drop!.context!.buffered as number
    // The check runs before each send: at most one reply beyond the limit is ever queued.
    expect(buffered).toBeGreaterThan(LIMIT)
    expect(buffered).toBeLessThanOrEqual(LIMIT + REPLY_BYTES + 1024)
    expect(roundTrips).toBeGreaterThan(3)
    expect(worstMs).toBeLessThan(1_500)
    // What the slow side sees once it reads again: a cut, no close frame.
    tcpOf(slow).resume()
    expect((await slow.waitClosed()).code).toBe(1006)
    const stillServed = await other.conn.call('vipnode_update', { peers: [], block: BLOCK })
    expect(stillServed.drop).toEqual([])
    expect(logger.errors()).toEqual([])

    console.log(
      `FAULT slow consumer dropped after ${droppedMs.toFixed(0)} ms and ${requests} requests of ${FRAME_BYTES} B asking for replies of ${REPLY_BYTES} B (${(requestedBytes / 1048576).toFixed(1)} MiB), ` +
        `${(buffered / 1048576).toFixed(2)} MiB queued in the coordinator at the cut (bound 8 MiB + one frame); other agent's worst round trip ${worstMs.toFixed(0)} ms over ${roundTrips} calls`,
    )
  }, 30_000)
})
