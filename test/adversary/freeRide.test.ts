/**
 * Attack 1, free ride (issue 16): a client that is assigned a host but never
 * confirms it (silent, or reporting no peers) keeps the host's trust without
 * paying; the mirror, a host that admits a client and never serves it,
 * keeps the client. Bound: such a pair is released within the connect grace
 * (a corroborated one within the gap after its last corroboration), the
 * client at fault is struck with a growing pause, and no client is ever
 * charged for more than its corroborated time (+ one interval).
 *
 * Figures: time from assignment (or last corroboration) to release, in ms
 * and in update intervals.
 */
import { describe, test, expect, afterEach } from 'vitest'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { disputePolicyFor } from '../../coordinator/logic/disputes.ts'
import { ErrorCode, type NodeId } from '../../protocol/index.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { assignmentHistory, balanceOf, chargedWei, disputeCounts, every, poolAgent, serviceMs, type PoolAgent } from '../harness/attackers.ts'
import { audit } from '../../coordinator/admin/audit.ts'
import { RPC_REQUIRED_METHODS } from '../../protocol/index.ts'

const INTERVAL = 400
const GRACE = 3 * INTERVAL
const GAP = disputePolicyFor({ updateIntervalMs: INTERVAL }).gapMs
/** 1 wei per ms of service. */
const PRICE = 60_000n
const TRIAL = 10n ** 9n
/** The default client pause after a first dispute (services/assignments.ts). */
const CLIENT_PAUSE_MS = 60_000
const CONFIG = { updateIntervalMs: INTERVAL, connectGraceMs: GRACE, priceWeiPerMinute: PRICE, trialWei: TRIAL }

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

async function pool(overrides: Parameters<typeof testCoordinator>[1] = {}): Promise<RunningCoordinator> {
  const c = await testCoordinator(CONFIG, overrides)
  cleanup.push(() => c.close())
  return c
}

async function agent(c: RunningCoordinator, role: 'host' | 'client', capacity = 10): Promise<PoolAgent> {
  const a = await poolAgent(c, role === 'host' ? { role, capacity } : { role })
  cleanup.push(() => a.close())
  return a
}

/** Each agent reports, every interval, the peers its script says (undefined: it misses this report). */
function reporting(script: Map<PoolAgent, () => NodeId[] | undefined>): void {
  cleanup.push(
    every(INTERVAL, () =>
      script.forEach((peers, a) => {
        const listed = peers()
        if (listed) a.report(listed)
      }),
    ),
  )
}

async function requestOne(client: PoolAgent): Promise<NodeId> {
  const r = await client.request('vipnode_requestHosts', { count: 1 })
  if (r.error) throw new Error(r.error.message)
  return r.result.hosts[0].nodeId as NodeId
}

const releasedRow = (c: RunningCoordinator, clientId: NodeId, hostId: NodeId) => assignmentHistory(c, clientId).find((r) => r.hostId === hostId && r.releasedAtMs !== null)

/** An honest client corroborating with `host`: the host is proven, so its word can blame a client. */
async function honestPair(c: RunningCoordinator, host: PoolAgent, hostLists: () => NodeId[]): Promise<PoolAgent> {
  const honest = await agent(c, 'client')
  expect(await requestOne(honest)).toBe(host.nodeId)
  reporting(
    new Map([
      [honest, () => [host.nodeId]],
      [host, hostLists],
    ]),
  )
  await waitFor(() => serviceMs(c, honest.nodeId, host.nodeId) > 0, 'the honest pair corroborates', { timeoutMs: 10_000 })
  return honest
}

describe('attack 1: free ride', () => {
  test('a silent client is released at the grace, struck, charged nothing, and cools down twice as long when it does it again', async () => {
    let offsetMs = 0
    const c = await pool({ clock: { now: () => Date.now() + offsetMs } })
    const first = await agent(c, 'host')
    const second = await agent(c, 'host')
    // The hosts' nodes list the free rider: it took their service.
    const hosts = new Map([first, second].map((h) => [h, () => c.services.assignments.clientsOf(h.nodeId)] as const))
    reporting(hosts)
    const rider = await agent(c, 'client')
    const hostId = await requestOne(rider)

    const row = await waitFor(() => releasedRow(c, rider.nodeId, hostId), 'the silent client is released', { timeoutMs: 10 * GRACE })
    const releaseMs = row!.releasedAtMs! - row!.assignedAtMs
    console.log(`figures: free ride (silent client): released ${releaseMs} ms = ${(releaseMs / INTERVAL).toFixed(2)} intervals after assignment (grace ${GRACE} ms)`)
    expect(row!.releaseReason).toBe('disputed')
    expect(releaseMs).toBeGreaterThanOrEqual(GRACE)
    expect(releaseMs).toBeLessThanOrEqual(GRACE + INTERVAL)
    expect(await disputeCounts(c)).toEqual({ 'client-silent,client': 1 })
    await waitFor(() => rider.notices.some((n) => n.code === 'disputed'), 'the disputed notice')
    expect(serviceMs(c, rider.nodeId)).toBe(0)
    expect(await balanceOf(c, rider.nodeId)).toBe(TRIAL)

    const strike1 = c.services.assignments.clientCoolDownOf(rider.nodeId)!
    expect(strike1.strikes).toBe(1)
    expect(strike1.untilMs - strike1.lastFailureMs).toBe(CLIENT_PAUSE_MS)
    const refused = await rider.request('vipnode_requestHosts', { count: 1 })
    expect(refused.error).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, data: { coolingDownUntilMs: strike1.untilMs } })

    // The pause runs out (the coordinator's clock jumps past it); the same key free-rides again, on the other host.
    offsetMs += CLIENT_PAUSE_MS
    const again = await waitFor(async () => {
      const r = await rider.request('vipnode_requestHosts', { count: 1 })
      return r.result?.hosts[0].nodeId as NodeId | undefined
    }, 'the rider gets a host after its pause')
    expect(again).not.toBe(hostId) // the disputed pair is avoided
    await waitFor(() => releasedRow(c, rider.nodeId, again!), 'the repeat offender is released', { timeoutMs: 10 * GRACE })
    const strike2 = c.services.assignments.clientCoolDownOf(rider.nodeId)!
    expect(strike2.strikes).toBe(2)
    expect(strike2.untilMs - strike2.lastFailureMs).toBe(2 * CLIENT_PAUSE_MS)
    expect(serviceMs(c, rider.nodeId)).toBe(0)
    expect(await audit(c.services.store)).toMatchObject({ ok: true })
  })

  test('a client that corroborates, then denies its host, is released within the gap, struck, and charged at most its corroborated time', async () => {
    const c = await pool()
    const host = await agent(c, 'host')
    await honestPair(c, host, () => c.services.assignments.clientsOf(host.nodeId))
    const rider = await agent(c, 'client')
    expect(await requestOne(rider)).toBe(host.nodeId)
    let denies = false
    let firstReportAt = 0
    let deniedAt = 0
    reporting(
      new Map([
        [
          rider,
          () => {
            firstReportAt ||= Date.now()
            return denies ? [] : [host.nodeId]
          },
        ],
      ]),
    )
    await waitFor(() => serviceMs(c, rider.nodeId, host.nodeId) >= 2 * INTERVAL, 'the rider is served and billed for a while', { timeoutMs: 10_000 })
    denies = true
    deniedAt = Date.now()
    // The pair's dispute clock is read while it lives: its last corroboration is what the gap counts from.
    let lastCorroboratedMs = 0
    const row = await waitFor(() => {
      const watch = c.services.assignments.pairWatches().find((w) => w.clientId === rider.nodeId)
      if (watch?.corroboratedAtMs !== undefined) lastCorroboratedMs = watch.corroboratedAtMs
      return releasedRow(c, rider.nodeId, host.nodeId)
    }, 'the denying client is released', { timeoutMs: 20 * INTERVAL })
    const releaseMs = row!.releasedAtMs! - lastCorroboratedMs
    console.log(`figures: free ride (denying client): released ${releaseMs} ms = ${(releaseMs / INTERVAL).toFixed(2)} intervals after its last corroboration (gap ${GAP} ms)`)
    expect(row!.releaseReason).toBe('disputed')
    expect(releaseMs).toBeLessThanOrEqual(GAP + INTERVAL)
    expect(await disputeCounts(c)).toEqual({ 'client-denies,client': 1 })
    expect(c.services.assignments.clientCoolDownOf(rider.nodeId)).toMatchObject({ strikes: 1 })

    // The economic bound: billed no more than the wall time it confirmed (+ one interval), and paid for exactly that.
    const billed = serviceMs(c, rider.nodeId)
    const corroboratedWallMs = deniedAt - firstReportAt
    console.log(`figures: free ride (denying client): billed ${billed} ms vs corroborated wall ${corroboratedWallMs} ms`)
    expect(billed).toBeLessThanOrEqual(corroboratedWallMs + INTERVAL)
    expect(chargedWei(c, rider.nodeId)).toBe((BigInt(billed) * PRICE) / 60_000n)
    expect(await balanceOf(c, rider.nodeId)).toBe(TRIAL - chargedWei(c, rider.nodeId))
    expect(await audit(c.services.store)).toMatchObject({ ok: true })
  })

  test('rpc service: a client that reports no relay traffic while its host serves it is released, struck, charged nothing, and its token is no longer granted', async () => {
    const c = await pool()
    const host = await poolAgent(c, { role: 'host', kind: 'rpc', capacity: 10, relayUrl: 'http://127.0.0.1:8546', capabilities: [...RPC_REQUIRED_METHODS] })
    const honest = await poolAgent(c, { role: 'client', kind: 'rpc' })
    const rider = await poolAgent(c, { role: 'client', kind: 'rpc' })
    for (const a of [host, honest, rider]) cleanup.push(() => a.close())
    const traffic = (id: NodeId) => ({ nodeId: id, requests: 5, busyMs: 50 })
    const ask = async (client: PoolAgent) => (await client.request('vipnode_requestHosts', { count: 1, kind: 'rpc' })).result.hosts[0]
    expect(await ask(honest)).toMatchObject({ nodeId: host.nodeId, relay: { token: expect.any(String) } })
    // The relay serves both clients; the honest one says so, the rider never does.
    const hostReportIds: number[] = []
    cleanup.push(
      every(INTERVAL, () => {
        hostReportIds.push(host.report([], { relays: c.services.assignments.clientsOf(host.nodeId).map(traffic) }))
        honest.report([], { relays: [traffic(host.nodeId)] })
      }),
    )
    await waitFor(() => serviceMs(c, honest.nodeId, host.nodeId) > 0, 'the honest rpc pair corroborates', { timeoutMs: 10_000 })
    expect(await ask(rider)).toMatchObject({ nodeId: host.nodeId, relay: { token: expect.any(String) } })
    cleanup.push(every(INTERVAL, () => void rider.report([], { relays: [] })))
    const grantedTo = (frameId: number | undefined) => (host.agent.frames.find((f) => f.id === frameId)?.result?.relays ?? []).map((g: { nodeId: NodeId }) => g.nodeId)
    await waitFor(() => grantedTo(hostReportIds.at(-1)).includes(rider.nodeId), 'the host is granted the rider\u2019s token')

    const row = await waitFor(() => releasedRow(c, rider.nodeId, host.nodeId), 'the rider is released', { timeoutMs: 10 * GRACE })
    expect(row!.releaseReason).toBe('disputed')
    expect(row!.releasedAtMs! - row!.assignedAtMs).toBeLessThanOrEqual(GRACE + INTERVAL)
    expect(await disputeCounts(c)).toEqual({ 'client-denies,client': 1 })
    expect(c.services.assignments.clientCoolDownOf(rider.nodeId)).toMatchObject({ strikes: 1 })
    expect(serviceMs(c, rider.nodeId)).toBe(0)
    // The host stops accepting the rider's token: its report replies no longer grant it.
    const afterRelease = hostReportIds.length
    await waitFor(() => hostReportIds.length > afterRelease + 1 && host.agent.frames.some((f) => f.id === hostReportIds.at(-1)), 'a host report after the release answered')
    expect(new Set(grantedTo(hostReportIds.at(-1)))).toEqual(new Set([honest.nodeId]))
  })

  test('mirror: a host that admits a client and never serves it loses the client as never-connected, unblamed, and is not offered to it again', async () => {
    const c = await pool()
    const blackHole = await agent(c, 'host')
    const client = await agent(c, 'client')
    expect(await requestOne(client)).toBe(blackHole.nodeId)
    // Neither node sees the other: the host never lets the client in, the client reports its host missing.
    reporting(
      new Map([
        [blackHole, () => []],
        [client, () => []],
      ]),
    )
    const row = await waitFor(() => releasedRow(c, client.nodeId, blackHole.nodeId), 'the unserved pair is released', { timeoutMs: 10 * GRACE })
    const releaseMs = row!.releasedAtMs! - row!.assignedAtMs
    console.log(`figures: free ride (black-hole host): released ${releaseMs} ms = ${(releaseMs / INTERVAL).toFixed(2)} intervals after assignment (grace ${GRACE} ms)`)
    expect(releaseMs).toBeLessThanOrEqual(GRACE + INTERVAL)
    expect(await disputeCounts(c)).toEqual({ 'never-connected,none': 1 })
    await waitFor(() => client.notices.some((n) => n.code === 'host-gone'), 'the host-gone notice')
    expect(c.services.assignments.clientCoolDownOf(client.nodeId)).toBeUndefined()
    expect(serviceMs(c, client.nodeId)).toBe(0)

    const refused = await client.request('vipnode_requestHosts', { count: 1 })
    expect(refused.error).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE })
    const honest = await agent(c, 'host')
    expect(await requestOne(client)).toBe(honest.nodeId)
  })

  test('a corroborated pair survives one missed report', async () => {
    const c = await pool()
    const host = await agent(c, 'host')
    const client = await agent(c, 'client')
    expect(await requestOne(client)).toBe(host.nodeId)
    let missNext = false
    reporting(
      new Map([
        [host, () => [client.nodeId]],
        [
          client,
          () => {
            if (!missNext) return [host.nodeId]
            missNext = false // exactly one report is missed
            return undefined
          },
        ],
      ]),
    )
    await waitFor(() => serviceMs(c, client.nodeId) > 0, 'the pair corroborates', { timeoutMs: 10_000 })
    const latestOf = (id: NodeId) => c.services.metering.latestOf(id)?.atMs ?? 0
    missNext = true
    const beforeMiss = latestOf(client.nodeId)
    // The next report after the miss: the gap between the client's reports is two intervals.
    await waitFor(() => !missNext && latestOf(client.nodeId) > beforeMiss, 'the client reports again after missing one', { timeoutMs: 10 * INTERVAL })
    const resumed = latestOf(client.nodeId)
    console.log(`figures: free ride (one missed report): the client's reports were ${resumed - beforeMiss} ms apart (${((resumed - beforeMiss) / INTERVAL).toFixed(2)} intervals); gap ${GAP} ms`)
    await waitFor(() => (c.services.assignments.pairWatches()[0]?.corroboratedAtMs ?? 0) >= resumed, 'the pair corroborates again', { timeoutMs: 10 * INTERVAL })
    expect(c.services.assignments.hostsOf(client.nodeId)).toEqual([host.nodeId])
    expect(await disputeCounts(c)).toEqual({})
  })
})
