/**
 * Attack 3: head inflation. An unfunded client key, a tracker reporter and an
 * attacker host all claim a head 64 blocks above the honest hosts'. Before,
 * the best head was the maximum of every plausible claim, so every honest host
 * looked lagging: no new clients, existing ones released, and the attacker's
 * host was the only one left. Bound: every honest host stays eligible and
 * keeps its clients; the attacker host is not the only eligible host. A host
 * that really lags is still found, which is the event this test waits for.
 * The tracker reporter is the attacker host's own, under a name the operator
 * bound to that host's node ID (the strongest tracker position: a shared-secret
 * claim witnesses nothing at all, coordinator/tracker/trackerWitness.test.ts).
 */
import { test, expect, afterEach } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { testCoordinator } from '../harness/coordinator.ts'
import { testAgent, type TestAgent } from '../harness/agents.ts'
import { identity, type Identity } from '../harness/rawAgent.ts'
import { waitFor } from '../harness/waitFor.ts'
import { ScriptedReporter } from '../harness/trackerReporter.ts'
import { READY_FRAME } from '../../coordinator/tracker/frames.ts'

const HASH = `0x${'12'.repeat(32)}`
const CHAIN = 1337
const H = 1_000
const INFLATED = H + 64
const INTERVAL = 400
const SECRET = 's3cret'
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

test('head inflation: clients, tracker reporters and a minority host claiming H+64 leave every honest host eligible and with its clients', async () => {
  // Slow start off: the new-client check below wants honest hosts with room, whatever they served so far.
  // The attacker host's key, bound in the tracker's secrets file to the name its reporter uses (Besu style: the key).
  const liarId = identity()
  const secrets = join(mkdtempSync(join(tmpdir(), 'vipnode-inflation-')), 'secrets')
  writeFileSync(secrets, `${liarId.nodeId}:${SECRET}:${liarId.nodeId}\n`, { mode: 0o600 })
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, maxBlockLag: 8, ethstatsSecretsFile: secrets, slowStartSlots: 0 })
  cleanup.push(() => c.close())
  const agent = async (body: Parameters<typeof testAgent>[1], id?: Identity) => {
    const a = await testAgent(c.url, body, {}, id)
    cleanup.push(() => a.close())
    return a
  }
  const report = (a: TestAgent, number: number, peers: TestAgent[] = []) =>
    a.conn.call('vipnode_update', { peers: [], peerIds: peers.map((p) => p.id.nodeId), block: { number, hash: HASH } })
  const hostsOf = (cl: TestAgent) => c.services.assignments.hostsOf(cl.id.nodeId)

  // A host that will really fall behind, with one client of its own: the control.
  const laggard = await agent({ role: 'host', capacity: 1, chainId: CHAIN })
  await report(laggard, H)
  const laggardClient = await agent({ role: 'client', chainId: CHAIN })
  await laggardClient.conn.call('vipnode_requestHosts', { count: 1 })
  expect(hostsOf(laggardClient)).toEqual([laggard.id.nodeId])
  const honest = [await agent({ role: 'host', capacity: 4, chainId: CHAIN }), await agent({ role: 'host', capacity: 4, chainId: CHAIN }), await agent({ role: 'host', capacity: 4, chainId: CHAIN })]
  for (const h of honest) await report(h, H)
  const clients = [await agent({ role: 'client', chainId: CHAIN }), await agent({ role: 'client', chainId: CHAIN }), await agent({ role: 'client', chainId: CHAIN })]
  for (const cl of clients) await cl.conn.call('vipnode_requestHosts', { count: 1 })
  const pairsBefore = new Map(clients.map((cl) => [cl.id.nodeId, hostsOf(cl)]))
  for (const hosts of pairsBefore.values()) expect(honest.map((h) => h.id.nodeId)).toContain(hosts[0])

  // The attackers: an unfunded client, an attacker host, and a tracker reporter speaking for the attacker host.
  const liarClient = await agent({ role: 'client', chainId: CHAIN })
  const liarHost = await agent({ role: 'host', capacity: 4, chainId: CHAIN }, liarId)
  const reporter = await ScriptedReporter.open(`${c.url.replace('http', 'ws')}/api`, { answerPings: true })
  cleanup.push(async () => reporter.ws.close())
  reporter.emit('hello', { id: liarHost.id.nodeId, info: { name: 'liar', node: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4', port: 30303, net: String(CHAIN), protocol: 'eth/68', api: 'No', os: 'linux', os_v: 'amd64', client: '0.1.1', canUpdateHistory: true }, secret: SECRET })
  expect(await reporter.next()).toBe(READY_FRAME)
  reporter.emit('block', { id: liarHost.id.nodeId, block: { number: INFLATED, hash: HASH, parentHash: HASH, timestamp: 1_700_000_000, miner: `0x${'00'.repeat(20)}`, gasUsed: 0, gasLimit: 30_000_000, difficulty: '0', totalDifficulty: '0', transactions: [], uncles: [] } })
  await waitFor(() => c.services.tracker.nodeByNodeId(liarHost.id.nodeId)?.block?.number === INFLATED, 'the tracker to take the inflated head as proven')

  // Everyone keeps reporting: pairs corroborate (no dispute), hosts stay fresh, the liars keep lying, the laggard lags.
  const clientsOf = (h: TestAgent) => clients.filter((cl) => hostsOf(cl).includes(h.id.nodeId))
  const round = async () => {
    for (const h of honest) await report(h, H, clientsOf(h))
    for (const cl of clients) await report(cl, H, honest.filter((h) => hostsOf(cl).includes(h.id.nodeId)))
    await report(laggard, H - 20, hostsOf(laggardClient).length > 0 ? [laggardClient] : [])
    await report(laggardClient, H, hostsOf(laggardClient).length > 0 ? [laggard] : [])
    await report(liarClient, INFLATED)
    await report(liarHost, INFLATED)
  }
  const startedAt = Date.now()
  let reporting = round()
  const timer = setInterval(() => {
    reporting = reporting.then(round).catch(() => undefined)
  }, INTERVAL / 2)
  try {
    // The lag sweep has run past its grace with the inflated claims in place: the real laggard is moved on.
    await waitFor(() => laggard.calls.find((x) => x.method === 'vipnode_evict' && x.params.reason === 'host-lagging'), 'the real laggard to be released', { timeoutMs: 10_000 })
    const lagReleaseMs = Date.now() - startedAt

    expect(c.services.assignments.bestHead(CHAIN)).toBe(H)
    for (const h of honest) expect(h.calls.filter((x) => x.method === 'vipnode_evict')).toEqual([])
    for (const cl of clients) expect(hostsOf(cl)).toEqual(pairsBefore.get(cl.id.nodeId))
    const released = ((await c.services.metrics.assignmentsReleased.get()).values.find((v) => v.labels.reason === 'host-lagging')?.value ?? 0)
    expect(released).toBe(1) // the laggard's one client, nobody else's

    // A new client still gets every honest host: none is passed over as lagging.
    const newcomer = await agent({ role: 'client', chainId: CHAIN })
    const got = (await newcomer.conn.call('vipnode_requestHosts', { count: 4 })) as { hosts: { nodeId: string }[] }
    const gotIds = got.hosts.map((h) => h.nodeId)
    for (const h of honest) expect(gotIds).toContain(h.id.nodeId)
    expect(gotIds).not.toContain(laggard.id.nodeId)
    for (const h of honest) expect(c.services.assignments.skipReasons(h.id.nodeId)?.reason).not.toBe('lagging')
    const implausible = Object.fromEntries((await c.services.metrics.implausibleHeads.get()).values.map((v) => [v.labels.role, v.value]))
    expect(implausible.host).toBeGreaterThan(0)
    expect(implausible.client).toBeGreaterThan(0)
    console.log(
      `head inflation: honest hosts at ${H}, claims at ${INFLATED} by a client, a tracker reporter and one of 5 hosts: best head ${c.services.assignments.bestHead(CHAIN)}; ` +
        `honest hosts eligible ${honest.length}/${honest.length}, pairs released as lagging 1 (the real laggard, after ${lagReleaseMs} ms); implausible reports ${JSON.stringify(implausible)}`,
    )
  } finally {
    clearInterval(timer)
    await reporting
  }
})
