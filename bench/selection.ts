/**
 * Host selection, simulated: how evenly do clients spread over hosts of mixed
 * capacity under our policy, under uniform random choice, and under plain
 * least-loaded? Pure and fast (no sockets, no clock), deterministic per seed.
 *
 *   npx tsx bench/selection.ts [--hosts 300] [--clients 10000] [--seed 1] [--fill 0.75]
 *
 * One tick, one client arrives and asks for 3 hosts; each client stays for an
 * exponentially distributed time chosen so that, in the steady state, about
 * `--fill` of all slots are taken. Every 200 ticks a random host goes away
 * for 300 ticks: its clients each ask for one replacement at once, and it
 * comes back empty. Every policy sees the same arrivals, lifetimes and host
 * outages, and every policy enforces capacity exactly (a full host is never
 * chosen).
 *
 * After a warm-up of a quarter of the arrivals, the load ratio (clients /
 * capacity) of every online host is sampled at every tick: the table shows
 * the mean and the worst of the per-tick maximum, and the mean of the
 * per-tick standard deviation (the spread). "short" is the share of requests
 * that got fewer hosts than asked for.
 *
 * Two views of load:
 * - exact: the policy sees every host's current load, as the coordinator
 *   does (its reservations are synchronous). "ours" is the coordinator's own
 *   selectHosts (filters, then power-of-two-choices).
 * - stale: ranking sees loads as they were at the last snapshot, taken every
 *   50 ticks (what several coordinators sharing hosts, or load known only
 *   from periodic reports, would see). Capacity is still enforced on the
 *   exact figure; "ours" is the same powerOfTwoChoices ranking.
 */
import type { NodeId } from '../protocol/index.ts'
import { selectHosts, powerOfTwoChoices, type HostCandidate } from '../coordinator/logic/selectHosts.ts'
import { seededRandom } from '../lib/seededRandom.ts'

interface Args {
  hosts: number
  clients: number
  seed: number
  fill: number
}

function parseArgs(argv: string[]): Args {
  const get = (name: string, fallback: number, min: number, max: number) => {
    const i = argv.indexOf(`--${name}`)
    const value = i >= 0 ? Number(argv[i + 1]) : fallback
    if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be a number from ${min} to ${max}`)
    return value
  }
  return { hosts: get('hosts', 300, 10, 5_000), clients: get('clients', 10_000, 100, 200_000), seed: get('seed', 1, 0, 2 ** 31), fill: get('fill', 0.75, 0.05, 0.99) }
}

const HOSTS_PER_CLIENT = 3
const CAPACITIES = [5, 10, 10, 20, 20, 50] // mixed: small home nodes to large operators
const OUTAGE_EVERY = 200
const OUTAGE_TICKS = 300
const SNAPSHOT_EVERY = 50

interface SimHost {
  id: NodeId
  capacity: number
  load: number
  staleLoad: number
  online: boolean
}

type View = 'exact' | 'stale'
/** Pick up to `count` of `eligible` (online, not full, not excluded). */
type Policy = (eligible: SimHost[], count: number, view: View, random: () => number, all: SimHost[], exclude: Set<NodeId>) => SimHost[]

const ours: Policy = (eligible, count, view, random, all, exclude) => {
  if (view === 'stale') return powerOfTwoChoices(eligible.map((h) => ({ h, load: Math.min(h.staleLoad, h.capacity), capacity: h.capacity })), count, random).map((x) => x.h)
  // The coordinator's own entry point, filters included, over every host.
  const byId = new Map(all.map((h) => [h.id, h]))
  const candidates: HostCandidate[] = all
    .filter((h) => h.online)
    .map((h) => ({ nodeId: h.id, chainId: 1, kind: 'peer', capacity: h.capacity, load: h.load, blockNumber: 0, region: null, coolingUntilMs: 0 }))
  const s = selectHosts(candidates, { clientId: undefined, chainId: 1, kind: 'peer', count, exclude, tried: new Set(), bestHead: undefined, maxBlockLag: 8, nowMs: 0, region: null, sticky: new Set() }, random)
  return s.chosen.map((id) => byId.get(id)!)
}

const uniform: Policy = (eligible, count, _view, random) => {
  const pool = [...eligible]
  const out: SimHost[] = []
  while (out.length < count && pool.length > 0) {
    const i = Math.floor(random() * pool.length)
    out.push(pool[i]!)
    pool[i] = pool[pool.length - 1]!
    pool.pop()
  }
  return out
}

const leastLoaded: Policy = (eligible, count, view) => {
  const load = (h: SimHost) => (view === 'stale' ? h.staleLoad : h.load)
  return [...eligible].sort((a, b) => load(a) / a.capacity - load(b) / b.capacity || b.capacity - load(b) - (a.capacity - load(a))).slice(0, count)
}

const POLICIES: [string, Policy][] = [
  ['ours (filters + p2c)', ours],
  ['random', uniform],
  ['least-loaded', leastLoaded],
]

interface Result {
  meanMax: number
  peakMax: number
  meanStd: number
  short: number
  requests: number
  ms: number
}

function simulate(args: Args, policy: Policy, view: View): Result {
  const started = performance.now()
  const world = seededRandom(args.seed) // arrivals, lifetimes, outages: identical for every policy
  const choice = seededRandom(args.seed ^ 0x5bd1e995) // the policy's own randomness
  const hosts: SimHost[] = Array.from({ length: args.hosts }, (_, i) => {
    const capacity = CAPACITIES[Math.floor(world() * CAPACITIES.length)]!
    return { id: i.toString(16).padStart(128, '0') as NodeId, capacity, load: 0, staleLoad: 0, online: true }
  })
  const totalSlots = hosts.reduce((n, h) => n + h.capacity, 0)
  const meanLifetime = (args.fill * totalSlots) / HOSTS_PER_CLIENT // arrivals are one per tick
  const hostsOf = new Map<number, Set<SimHost>>()
  const departures = new Map<number, number[]>()
  const back = new Map<number, SimHost[]>()
  let requests = 0
  let short = 0

  const request = (client: number, count: number) => {
    const mine = hostsOf.get(client)!
    const exclude = new Set([...mine].map((h) => h.id))
    const eligible = hosts.filter((h) => h.online && h.load < h.capacity && !exclude.has(h.id))
    const got = policy(eligible, count, view, choice, hosts, exclude)
    for (const h of got) {
      if (h.load >= h.capacity || !h.online) throw new Error('policy chose an ineligible host')
      h.load++
      mine.add(h)
    }
    requests++
    if (got.length < count) short++
  }

  const warmup = Math.floor(args.clients / 4)
  let samples = 0
  let sumMax = 0
  let peakMax = 0
  let sumStd = 0
  const horizon = args.clients + Math.ceil(meanLifetime * 2)
  for (let t = 0; t < horizon; t++) {
    if (view === 'stale' && t % SNAPSHOT_EVERY === 0) for (const h of hosts) h.staleLoad = h.load
    for (const h of back.get(t) ?? []) h.online = true
    back.delete(t)
    for (const client of departures.get(t) ?? []) {
      for (const h of hostsOf.get(client)!) h.load--
      hostsOf.delete(client)
    }
    departures.delete(t)
    if (t > 0 && t % OUTAGE_EVERY === 0) {
      const online = hosts.filter((h) => h.online)
      const gone = online[Math.floor(world() * online.length)]!
      gone.online = false
      gone.load = 0
      gone.staleLoad = 0
      const until = t + OUTAGE_TICKS
      back.set(until, [...(back.get(until) ?? []), gone])
      for (const [client, mine] of hostsOf) {
        if (mine.delete(gone)) request(client, 1)
      }
    }
    if (t < args.clients) {
      hostsOf.set(t, new Set())
      request(t, HOSTS_PER_CLIENT)
      const leaves = t + 1 + Math.floor(-Math.log(1 - world()) * meanLifetime)
      departures.set(leaves, [...(departures.get(leaves) ?? []), t])
      if (t >= warmup) {
        let max = 0
        let sum = 0
        let sumSq = 0
        let n = 0
        for (const h of hosts) {
          if (!h.online) continue
          const r = h.load / h.capacity
          if (r > max) max = r
          sum += r
          sumSq += r * r
          n++
        }
        const mean = sum / n
        samples++
        sumMax += max
        peakMax = Math.max(peakMax, max)
        sumStd += Math.sqrt(Math.max(0, sumSq / n - mean * mean))
      }
    }
  }
  return { meanMax: sumMax / samples, peakMax, meanStd: sumStd / samples, short: short / requests, requests, ms: performance.now() - started }
}

function main(): void {
  const args = parseArgs(process.argv.slice(2))
  const totalSlots = (() => {
    const world = seededRandom(args.seed)
    let n = 0
    for (let i = 0; i < args.hosts; i++) n += CAPACITIES[Math.floor(world() * CAPACITIES.length)]!
    return n
  })()
  console.log(`hosts ${args.hosts} (capacities ${[...new Set(CAPACITIES)].join('/')}, ${totalSlots} slots), ${args.clients} clients × ${HOSTS_PER_CLIENT} hosts, target fill ${Math.round(args.fill * 100)}%, seed ${args.seed}`)
  console.log(`one host away for ${OUTAGE_TICKS} ticks every ${OUTAGE_EVERY}; stale view = loads snapshotted every ${SNAPSHOT_EVERY} ticks\n`)
  const rows: string[][] = [['view', 'policy', 'max load ratio (mean)', 'max load ratio (worst)', 'stddev (mean)', 'short', 'requests', 'ms']]
  for (const view of ['exact', 'stale'] as const) {
    for (const [name, policy] of POLICIES) {
      const r = simulate(args, policy, view)
      rows.push([view, name, r.meanMax.toFixed(3), r.peakMax.toFixed(3), r.meanStd.toFixed(3), `${(r.short * 100).toFixed(2)}%`, String(r.requests), r.ms.toFixed(0)])
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => (j < 2 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  '))
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  }
}

main()
