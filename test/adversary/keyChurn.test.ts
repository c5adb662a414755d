/**
 * Issue 18, item 1 (memory): node keys are free. Thousands of fresh keys
 * connect as hosts and clients, get assigned, report each other (rpc clients
 * also their hosts' quality) and leave.
 * Bound: once their grace periods, cool-downs and memory windows have passed,
 * every in-memory map keyed by node, pair or chain (vipnode_state_entries,
 * scraped from /metrics over HTTP) is back at its size before the attack,
 * while an honest pair that stays keeps its state until it leaves too.
 */
import { test, expect, afterEach } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { poolAgent, type PoolAgent } from '../harness/attackers.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { RPC_REQUIRED_METHODS } from '../../protocol/index.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

const INTERVAL = 400
const HOSTS = 100
const CLIENTS = 1_900
const RPC_HOSTS = 20
const RPC_CLIENTS = 100

/** vipnode_state_entries per map, read from /metrics as Prometheus would. */
async function stateEntries(c: RunningCoordinator): Promise<Record<string, number>> {
  const text = await (await fetch(`${c.url}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^vipnode_state_entries\{map="([^"]+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2])
  return out
}

async function inBatches<T>(n: number, make: (i: number) => Promise<T>, size = 50): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < n; i += size) out.push(...(await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, j) => make(i + j)))))
  return out
}

test('key churn: 2,000 free keys connect, get assigned, report and leave; every node-keyed map returns to its size before the attack', async () => {
  // Every attacker dials from 127.0.0.1: lift the per-address cap (socketGate has its own tests).
  const clock = manualClock(Date.UTC(2026, 0, 1))
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, slowStartSlots: 0, reportRetentionMs: null, maxAgentsPerAddress: 10_000 }, { clock })
  cleanup.push(() => c.close())

  const baseline = await stateEntries(c)
  expect(Object.keys(baseline).length).toBeGreaterThan(10)

  // An honest pair that stays through the attack.
  const host = await poolAgent(c, { role: 'host', capacity: 5 })
  const client = await poolAgent(c, { role: 'client' })
  expect((await client.request('vipnode_requestHosts', { count: 1 })).result.hosts).toHaveLength(1)
  const honestReport = async () => {
    const ids = [host.report([client.nodeId]), client.report([host.nodeId])]
    await Promise.all([host.agent.reply(ids[0]!), client.agent.reply(ids[1]!)])
  }
  await honestReport()

  // The attack: fresh hosts and clients, each client assigned to an attacker host, everyone reporting its pairs.
  const hosts = await inBatches(HOSTS, () => poolAgent(c, { role: 'host', capacity: 20 }))
  const clients: PoolAgent[] = await inBatches(CLIENTS, () => poolAgent(c, { role: 'client' }))
  const assigned = await inBatches(CLIENTS, async (i) => (await clients[i]!.request('vipnode_requestHosts', { count: 1 })).result?.hosts?.[0]?.nodeId as string | undefined)
  const clientsOf = new Map<string, string[]>()
  assigned.forEach((h, i) => h && clientsOf.set(h, [...(clientsOf.get(h) ?? []), clients[i]!.nodeId]))
  await inBatches(HOSTS, async (i) => hosts[i]!.agent.reply(hosts[i]!.report((clientsOf.get(hosts[i]!.nodeId) ?? []) as never)))
  await inBatches(CLIENTS, async (i) => clients[i]!.agent.reply(clients[i]!.report(assigned[i] ? [assigned[i] as never] : [])))
  // rpc keys too: hosts that report and clients that report each host's quality (services/hostQuality.ts).
  const rpcHosts = await inBatches(RPC_HOSTS, () => poolAgent(c, { role: 'host', kind: 'rpc', relayUrl: 'http://127.0.0.1:9/', capabilities: [...RPC_REQUIRED_METHODS], capacity: 20 }))
  const rpcClients = await inBatches(RPC_CLIENTS, () => poolAgent(c, { role: 'client', kind: 'rpc' }))
  const rpcAssigned = await inBatches(RPC_CLIENTS, async (i) => (await rpcClients[i]!.request('vipnode_requestHosts', { count: 1, kind: 'rpc' })).result?.hosts?.[0]?.nodeId as string | undefined)
  await inBatches(RPC_HOSTS, async (i) => rpcHosts[i]!.agent.reply(rpcHosts[i]!.report([])))
  const quality = (host: string) => [{ nodeId: host, ok: 12, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 3, latency: [] }]
  await inBatches(RPC_CLIENTS, async (i) => rpcClients[i]!.agent.reply(rpcClients[i]!.report([], rpcAssigned[i] ? { quality: quality(rpcAssigned[i]!) } : {})))
  const during = await stateEntries(c)
  console.log(`figures: key churn: ${HOSTS + CLIENTS + RPC_HOSTS + RPC_CLIENTS} keys, ${assigned.filter(Boolean).length + rpcAssigned.filter(Boolean).length} assigned; state entries during the attack ${JSON.stringify(during)}`)
  expect(during.latestReports).toBeGreaterThanOrEqual(HOSTS + CLIENTS)
  expect(during.pairWatches).toBeGreaterThan(1_000)
  expect(during.qualityHosts).toBe(RPC_HOSTS)
  expect(during.qualityViews).toBe(rpcAssigned.filter(Boolean).length)

  // Everyone leaves at once (sockets cut, as a crashing attacker would).
  for (const a of [...hosts, ...clients, ...rpcHosts, ...rpcClients]) a.close()
  await waitFor(async () => (await stateEntries(c)).sessions === 2, "the attackers' sessions are gone", { timeoutMs: 30_000 })
  expect((await stateEntries(c)).sessionsGone).toBe(HOSTS + CLIENTS + RPC_HOSTS + RPC_CLIENTS)

  // The release grace passes (one interval); the honest pair reports on. The attackers' assignments, latest
  // reports and gone marks are dropped; the honest pair's state stays.
  clock.advance(INTERVAL + 1)
  await honestReport()
  const settled = await waitFor(async () => {
    const now = await stateEntries(c)
    return now.sessionsGone === 0 && now.latestReports === 2 && now.pairWatches === 1 ? now : undefined
  }, 'the attackers released and forgotten', { timeoutMs: 30_000 })
  expect(settled).toMatchObject({ sessions: 2, assignedClients: 1, assignedHosts: 1, pairChains: 1 })
  expect(c.services.assignments.hostsOf(client.nodeId)).toEqual([host.nodeId])

  // The honest pair leaves too, and the longest memory (client cool-downs: 1 h per strike) passes.
  host.close()
  client.close()
  await waitFor(async () => (await stateEntries(c)).sessions === 0, 'the honest sessions are gone', { timeoutMs: 10_000 })
  clock.advance(INTERVAL + 1)
  await waitFor(async () => (await stateEntries(c)).assignedClients === 0, 'the honest pair released', { timeoutMs: 10_000 })
  clock.advance(2 * 3_600_000)
  const after = await waitFor(async () => {
    const now = await stateEntries(c)
    return Object.entries(baseline).every(([k, v]) => now[k] === v) ? now : undefined
  }, 'every map back at its baseline', { timeoutMs: 20_000 }).catch(async (err: unknown) => {
    throw new Error(`${(err as Error).message}; baseline ${JSON.stringify(baseline)}, now ${JSON.stringify(await stateEntries(c))}`)
  })
  console.log(`figures: key churn: state entries after ${JSON.stringify(after)}`)
  expect(after).toEqual(baseline)
}, 180_000)
