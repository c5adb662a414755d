/**
 * The beacon API as an attacker sees it (docs/rpcService.md#the-beacon-api,
 * docs/security.md 9d). Real parts in one process: a coordinator on
 * loopback, host agents with real relays in front of stand-in nodes and
 * stand-in beacon APIs (test/fakenode/fakeBeacon.ts), and a real rpc shim
 * with --beacon-listen that the test reads as a light client would.
 *
 * Attacks and bounds:
 * - A host advertises `beacon` but its relay answers 502 (its beacon node is
 *   down, or there is none): the balancer picks it first, like any beacon
 *   host, but the shim fails over on every request, the light client sees no
 *   error, and the liar earns no beacon units.
 * - Bound of the balancer: a client that asks for beacon while beacon hosts
 *   are eligible never holds only hosts without it, also when it got its
 *   hosts before any beacon host was there.
 * - Beacon units are credited by the bilateral rule: a host that reports
 *   ten times what it served, or a shim that reports half of what it was
 *   served, accrues at most what the other side corroborates.
 */
import { describe, test, expect } from 'vitest'
import { createFakeNetwork } from '../fakenode/fakeNetwork.ts'
import { startFakeBeacon, fakeRoot, type FakeBeacon } from '../fakenode/fakeBeacon.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { closeAfterEach, keyFileWriter, scratchDir } from '../harness/scratch.ts'
import { startRpcHost } from '../harness/rpcHosts.ts'
import { generateNodeKey, type NodeId } from '../../protocol/index.ts'
import { silentLogger } from '../../lib/logger.ts'
import { startRpcClientShim, type RunningRpcClientShim } from '../../client-shim/rpcClientShim.ts'
import { BEACON_REQUEST_CU } from '../../agent/relay/computeUnits.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'

const dir = scratchDir('beacon-adversary')
const cleanup = closeAfterEach()
const net = createFakeNetwork()
const keyFile = keyFileWriter(dir)

const FINALITY = '/eth/v1/beacon/light_client/finality_update'
/** What Helios asks at start: the bootstrap at its checkpoint, the updates since, then the latest finality and optimistic updates. */
const HELIOS_BEACON = [
  `/eth/v1/beacon/light_client/bootstrap/${fakeRoot(`block|${8_200_000 - 64}`)}`,
  '/eth/v1/beacon/light_client/updates?start_period=1000&count=2',
  FINALITY,
  '/eth/v1/beacon/light_client/optimistic_update',
]

async function pool(): Promise<RunningCoordinator> {
  const c = await testCoordinator({ updateIntervalMs: 300, relayTokenWindowMs: 60_000 })
  cleanup.push(() => c.close())
  return c
}

async function beaconNode(): Promise<FakeBeacon> {
  const b = await startFakeBeacon()
  cleanup.push(() => b.close())
  return b
}

async function shim(c: RunningCoordinator, hosts: number): Promise<RunningRpcClientShim> {
  const s = await startRpcClientShim(
    // No checked answers: the only relayed traffic is the test's beacon requests, so the units are theirs.
    { bootstrap: c.url, nodekey: keyFile(generateNodeKey()), chainId: 1337, hosts, listenHost: '127.0.0.1', listenPort: 0, beaconListen: { host: '127.0.0.1', port: 0 }, updateIntervalMs: 100, checkAnswers: false },
    { log: silentLogger },
  )
  cleanup.push(() => s.close())
  return s
}

async function get(base: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}${path}`)
  return { status: res.status, body: await res.text() }
}

/** Compute units credited to one pair so far. */
async function units(c: RunningCoordinator, clientId: NodeId, hostId: NodeId): Promise<number> {
  return (await c.services.store.usage({ clientId, hostId })).reduce((n, u) => n + u.computeUnits, 0)
}

/** What an agent claims in its reports: `rewrite` changes the units of every relay entry before it is sent. */
function claims(pool: object, rewrite: (units: number) => number = (u) => u): { units: number; reports: number } {
  const seen = { units: 0, reports: 0 }
  const p = pool as { call: (method: string, params: any, ...rest: unknown[]) => Promise<unknown> }
  const call = p.call.bind(p)
  p.call = async (method, params, ...rest) => {
    if (method !== 'vipnode_update') return call(method, params, ...rest)
    const sent = params.relays ? { ...params, relays: params.relays.map((r: { computeUnits?: number }) => ({ ...r, computeUnits: rewrite(r.computeUnits ?? 0) })) } : params
    const out = await call(method, sent, ...rest)
    for (const r of sent.relays ?? []) seen.units += r.computeUnits ?? 0
    seen.reports++
    return out
  }
  return seen
}

describe('beacon API: attacks', () => {
  test('a host that advertises beacon and answers 502 is picked first but failed over on every request, and earns nothing from them', async () => {
    const c = await pool()
    const honestBeacon = await beaconNode()
    const deadBeacon = await beaconNode()
    deadBeacon.setDown(true)
    for (let i = 0; i < 2; i++) await startRpcHost(c.url, { net, keyFile, cleanup })
    const liar = await startRpcHost(c.url, { net, keyFile, cleanup, beaconUrl: deadBeacon.url })
    const honest = await startRpcHost(c.url, { net, keyFile, cleanup, beaconUrl: honestBeacon.url })
    const s = await shim(c, 2)
    await waitFor(() => s.proxy.targets().length === 2, 'two rpc hosts assigned')
    // Asked with needs: ["beacon"]: both beacon hosts, neither plain one.
    const beaconHosts = [liar.agent.identity.nodeId, honest.agent.identity.nodeId].sort()
    expect(s.proxy.targets().map((t) => t.hostNodeId).sort()).toEqual(beaconHosts)
    expect(s.beacon!.targets().map((t) => t.hostNodeId).sort()).toEqual(beaconHosts)

    // The shim sticks to a host that serves, so which beacon host it tries first is chance. With the honest beacon
    // node syncing for one request, both are tried: the liar's relay answers 502 like a beacon node that is down.
    honestBeacon.setDown(true)
    const both = JSON.parse((await get(s.beacon!.url, FINALITY)).body) as { code: number; message: string }
    expect(both.code).toBe(503)
    for (const id of beaconHosts) expect(both.message).toContain(`host ${id.slice(0, 8)}: the pool host's beacon node is unavailable: HTTP 503`)
    const liarTried = deadBeacon.requests.length
    expect(liarTried).toBe(1)
    honestBeacon.setDown(false)

    // The light client sees the honest stand-in's bytes for every request, whichever host the shim tries first.
    let served = 0
    for (const path of [...HELIOS_BEACON, FINALITY, FINALITY]) {
      const viaShim = await get(s.beacon!.url, path)
      expect(viaShim, path).toEqual(await get(honestBeacon.url, path))
      served += BEACON_REQUEST_CU * (path.includes('count=2') ? 2 : 1)
    }
    // Keep the client reading until the pool has credited the honest pair, so the liar had reports to claim in.
    const failed: string[] = []
    await waitFor(
      async () => {
        const r = await get(s.beacon!.url, FINALITY)
        if (r.status === 200) served += BEACON_REQUEST_CU
        else failed.push(r.body)
        return (await units(c, s.nodeId, honest.agent.identity.nodeId)) > 0
      },
      'the honest beacon host credited',
      { timeoutMs: 10_000, intervalMs: 50 },
    )
    expect(failed).toEqual([])
    expect(await units(c, s.nodeId, liar.agent.identity.nodeId)).toBe(0)
    expect(await units(c, s.nodeId, honest.agent.identity.nodeId)).toBeLessThanOrEqual(served)
  })

  test('bound: a client that got only plain hosts gets a beacon host swapped in once one is eligible', async () => {
    const c = await pool()
    const plain = [await startRpcHost(c.url, { net, keyFile, cleanup }), await startRpcHost(c.url, { net, keyFile, cleanup })]
    const s = await shim(c, 2)
    await waitFor(() => s.proxy.targets().length === 2, 'two plain rpc hosts assigned')
    const none = JSON.parse((await get(s.beacon!.url, FINALITY)).body) as { code: number; message: string }
    expect(none).toEqual({ code: 503, message: 'no pool host with a beacon API available: none of the hosts the pool assigned to this client serves the beacon API (--relay-beacon)' })

    const beacon = await beaconNode()
    const host = await startRpcHost(c.url, { net, keyFile, cleanup, beaconUrl: beacon.url })
    await waitFor(() => s.beacon!.targets().length === 1, 'the beacon host swapped in', { timeoutMs: 10_000 })
    expect(s.beacon!.targets().map((t) => t.hostNodeId)).toEqual([host.agent.identity.nodeId])
    await waitFor(() => s.proxy.targets().length === 2, 'the swapped-out host gone from the shim')
    expect(s.proxy.targets().filter((t) => plain.some((p) => p.agent.identity.nodeId === t.hostNodeId))).toHaveLength(1)
    expect(c.services.assignments.hostsOf(s.nodeId)).toHaveLength(2)
    expect(await get(s.beacon!.url, FINALITY)).toEqual(await get(beacon.url, FINALITY))
  })

  test.each([
    { who: 'a host that reports ten times the units it served', host: (u: number) => 10 * u, client: (u: number) => u },
    { who: 'a shim that reports half the units it was served', host: (u: number) => u, client: (u: number) => Math.floor(u / 2) },
  ])('bound: $who accrues at most what the other side corroborates', async ({ host: hostRewrite, client: clientRewrite }) => {
    const c = await pool()
    const beacon = await beaconNode()
    const h = await startRpcHost(c.url, { net, keyFile, cleanup, beaconUrl: beacon.url })
    const hostClaims = claims(h.agent.pool, hostRewrite)
    const s = await shim(c, 1)
    const clientClaims = claims(s.pool, clientRewrite)
    await waitFor(() => s.beacon!.targets().length === 1, 'the beacon host assigned')
    const hostId = h.agent.identity.nodeId
    let served = 0
    const failed: string[] = []
    await waitFor(
      async () => {
        const r = await get(s.beacon!.url, FINALITY)
        if (r.status === 200) served += BEACON_REQUEST_CU
        else failed.push(r.body)
        return (await units(c, s.nodeId, hostId)) >= 10 * BEACON_REQUEST_CU
      },
      'ten requests\' units credited',
      { timeoutMs: 10_000, intervalMs: 20 },
    )
    expect(failed).toEqual([])
    // Both sides have reported everything (each side's claims are its rewrite of the units served).
    await waitFor(() => hostClaims.units === hostRewrite(served) && clientClaims.units === clientRewrite(served), 'both sides to report every request')
    const reports = hostClaims.reports + clientClaims.reports
    await waitFor(() => hostClaims.reports + clientClaims.reports >= reports + 4, 'four more reports')
    const credited = await units(c, s.nodeId, hostId)
    expect(credited).toBeLessThanOrEqual(Math.min(hostClaims.units, clientClaims.units))
    expect(credited).toBeLessThanOrEqual(Math.min(hostRewrite(served), clientRewrite(served)))
  })
})
