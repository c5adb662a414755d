import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import type { NodeId } from '../../protocol/index.ts'
import {
  selectHosts,
  filterHost,
  powerOfTwoChoices,
  summarizeReasons,
  explainNoHosts,
  explainShortfall,
  explainNoneAdmitted,
  type HostCandidate,
  type SelectionRequest,
} from './selectHosts.ts'
import { seededRandom } from '../../lib/seededRandom.ts'

const id = (n: number) => n.toString(16).padStart(128, '0') as NodeId
const CLIENT = id(999)

function host(n: number, o: Partial<HostCandidate> = {}): HostCandidate {
  return { nodeId: id(n), chainId: 1, kind: 'peer', capacity: 10, load: 0, blockNumber: 1_000, region: null, coolingUntilMs: 0, ...o }
}
function req(o: Partial<SelectionRequest> = {}): SelectionRequest {
  return {
    clientId: CLIENT,
    chainId: 1,
    kind: 'peer',
    count: 3,
    exclude: new Set(),
    tried: new Set(),
    bestHead: 1_000,
    maxBlockLag: 8,
    nowMs: 50_000,
    region: null,
    sticky: new Set(),
    ...o,
  }
}
/** Replays the given values, then fails: pins exactly which draws a test relies on. */
function scripted(...values: number[]): () => number {
  return () => {
    const v = values.shift()
    if (v === undefined) throw new Error('random source exhausted')
    return v
  }
}

describe('filters', () => {
  test('default: a healthy host on the right chain and kind with a free slot passes', () => {
    expect(filterHost(host(1), req())).toBeUndefined()
  })
  test('behavior: the client itself is skipped as self', () => {
    expect(filterHost(host(1, { nodeId: CLIENT }), req())).toBe('self')
  })
  test('behavior: hosts the client has or is being admitted to are skipped as already-assigned', () => {
    expect(filterHost(host(1), req({ exclude: new Set([id(1)]) }))).toBe('already-assigned')
  })
  test('behavior: hosts that failed earlier in this request are skipped as admit-failed', () => {
    expect(filterHost(host(1), req({ tried: new Set([id(1)]) }))).toBe('admit-failed')
  })
  test('behavior: another chain is wrong-network, another kind is wrong-kind', () => {
    expect(filterHost(host(1, { chainId: 5 }), req())).toBe('wrong-network')
    expect(filterHost(host(1, { kind: 'rpc' }), req())).toBe('wrong-kind')
  })
  test('behavior: an rpc host whose node lacks any method light clients need is missing-methods', () => {
    const all = new Set(['eth_getProof', 'eth_getBlockReceipts', 'eth_createAccessList', 'eth_getLogs', 'eth_call'])
    expect(filterHost(host(1, { kind: 'rpc', capabilities: all }), req({ kind: 'rpc' }))).toBeUndefined()
    const noReceipts = new Set([...all].filter((m) => m !== 'eth_getBlockReceipts'))
    expect(filterHost(host(1, { kind: 'rpc', capabilities: noReceipts }), req({ kind: 'rpc' }))).toBe('missing-methods')
    expect(filterHost(host(1, { kind: 'rpc' }), req({ kind: 'rpc' }))).toBe('missing-methods') // never probed
  })
  test('behavior: more than maxBlockLag behind the best head is lagging; exactly maxBlockLag is not', () => {
    expect(filterHost(host(1, { blockNumber: 992 }), req())).toBeUndefined()
    expect(filterHost(host(1, { blockNumber: 991 }), req())).toBe('lagging')
    expect(filterHost(host(1, { blockNumber: 1_000 }), req({ maxBlockLag: 0 }))).toBeUndefined()
    expect(filterHost(host(1, { blockNumber: 999 }), req({ maxBlockLag: 0 }))).toBe('lagging')
  })
  test('behavior: an unknown head (host not reported yet, or no best head) is not lagging', () => {
    expect(filterHost(host(1, { blockNumber: 0 }), req())).toBeUndefined()
    expect(filterHost(host(1, { blockNumber: 5 }), req({ bestHead: undefined }))).toBeUndefined()
  })
  test('behavior: a host whose last report is older than staleBeforeMs is stale; reported exactly then is not', () => {
    expect(filterHost(host(1, { lastReportAtMs: 46_999 }), req({ staleBeforeMs: 47_000 }))).toBe('stale')
    expect(filterHost(host(1, { lastReportAtMs: 47_000 }), req({ staleBeforeMs: 47_000 }))).toBeUndefined()
    expect(filterHost(host(1, { lastReportAtMs: 49_000 }), req({ staleBeforeMs: 47_000 }))).toBeUndefined()
  })
  test('behavior: staleness is not judged when the request sets no staleBeforeMs or the host has no lastReportAtMs', () => {
    expect(filterHost(host(1, { lastReportAtMs: 0 }), req())).toBeUndefined()
    expect(filterHost(host(1), req({ staleBeforeMs: 47_000 }))).toBeUndefined()
  })
  test('behavior: a stale host is reported as stale even when its old head also lags, or it is full or cooling down', () => {
    const stale = { lastReportAtMs: 1_000 }
    const r = req({ staleBeforeMs: 47_000 })
    expect(filterHost(host(1, { ...stale, blockNumber: 1 }), r)).toBe('stale')
    expect(filterHost(host(1, { ...stale, capacity: 1, load: 1, coolingUntilMs: 60_000 }), r)).toBe('stale')
    // Identity and network checks still come first.
    expect(filterHost(host(1, { ...stale, chainId: 5 }), r)).toBe('wrong-network')
  })
  test('behavior: selection leaves stale hosts out and names them; the tie order lists stale after lagging', () => {
    const s = selectHosts([host(1, { lastReportAtMs: 1_000 }), host(2, { lastReportAtMs: 49_000 })], req({ count: 2, staleBeforeMs: 47_000 }), seededRandom(1))
    expect(s.chosen).toEqual([id(2)])
    expect(s.rejected).toEqual([{ nodeId: id(1), reason: 'stale' }])
    expect(summarizeReasons(['stale', 'cooling-down', 'lagging'])).toBe('1 lagging, 1 stale, 1 cooling-down')
    expect(explainShortfall(1, 2, s.rejected, 1)).toBe('only 1 of 2 hosts on chain 1: 1 stale')
  })
  test('behavior: cooling down until a later time is skipped; the pause ends exactly at its end time', () => {
    expect(filterHost(host(1, { coolingUntilMs: 50_001 }), req())).toBe('cooling-down')
    expect(filterHost(host(1, { coolingUntilMs: 50_000 }), req())).toBeUndefined()
  })
  test('behavior: load at capacity (assignments plus reservations) is full', () => {
    expect(filterHost(host(1, { capacity: 2, load: 1 }), req())).toBeUndefined()
    expect(filterHost(host(1, { capacity: 2, load: 2 }), req())).toBe('full')
  })
  test('behavior: a host that is lagging and full is reported as lagging, the reason its operator can act on', () => {
    expect(filterHost(host(1, { capacity: 1, load: 1, blockNumber: 1 }), req())).toBe('lagging')
    expect(filterHost(host(1, { capacity: 1, load: 1, coolingUntilMs: 60_000 }), req())).toBe('cooling-down')
  })
})

describe('power of two choices', () => {
  test('default: of the two hosts drawn, the one with the lower load ratio is taken', () => {
    const hosts = [host(1, { load: 9 }), host(2, { load: 1 }), host(3, { load: 5 })]
    // First draw: index 0; second draw: floor(0.5 * 2) = 1, shifted past 0 to index 2. Host 3 (0.5) beats host 1 (0.9).
    expect(powerOfTwoChoices(hosts, 1, scripted(0, 0.5)).map((h) => h.nodeId)).toEqual([id(3)])
  })
  test('behavior: draws are weighted by capacity, so big hosts are drawn as often as they can take clients', () => {
    const hosts = [host(1, { capacity: 10 }), host(2, { capacity: 30 }), host(3, { capacity: 60 })]
    // First draw: 0.05 × 100 slots falls in host 1's 10. Second (host 1 left out): 0.5 × 90 = 45 falls past host 2's 30, in host 3.
    // Host 3 (1/60 after admission) beats host 1 (1/10).
    expect(powerOfTwoChoices(hosts, 1, scripted(0.05, 0.5))[0]!.nodeId).toBe(id(3))
    // 0.35 × 100 = 35 falls in host 2 (10..40); then 0.05 × 70 = 3.5 falls in host 1. Host 2 (1/30) wins.
    expect(powerOfTwoChoices(hosts, 1, scripted(0.35, 0.05))[0]!.nodeId).toBe(id(2))
  })
  test('behavior: hosts are compared by their ratio once this client is added, which favours the bigger of two equally loaded', () => {
    const hosts = [host(1, { load: 3, capacity: 5 }), host(2, { load: 30, capacity: 50 })]
    expect(powerOfTwoChoices(hosts, 1, scripted(0, 0))[0]!.nodeId).toBe(id(2))
  })
  test('behavior: load is relative to capacity: 5 of 50 beats 2 of 10', () => {
    const hosts = [host(1, { load: 2, capacity: 10 }), host(2, { load: 5, capacity: 50 })]
    expect(powerOfTwoChoices(hosts, 1, scripted(0, 0))[0]!.nodeId).toBe(id(2))
  })
  test('behavior: on equal ratios the host with more free slots wins', () => {
    const hosts = [host(1, { load: 1, capacity: 2 }), host(2, { load: 10, capacity: 20 })]
    expect(powerOfTwoChoices(hosts, 1, scripted(0, 0))[0]!.nodeId).toBe(id(2))
  })
  test('behavior: picks k distinct hosts, and all of them when k exceeds the pool; the last one needs no draw', () => {
    const hosts = [host(1), host(2), host(3)]
    const got = powerOfTwoChoices(hosts, 5, seededRandom(1))
    expect(new Set(got.map((h) => h.nodeId)).size).toBe(3)
    expect(powerOfTwoChoices([host(1)], 1, scripted())).toHaveLength(1)
    expect(powerOfTwoChoices([], 2, scripted())).toEqual([])
  })
  test('behavior: the same seed gives the same choice', () => {
    const hosts = Array.from({ length: 50 }, (_, i) => host(i + 1, { load: i % 7 }))
    expect(powerOfTwoChoices(hosts, 5, seededRandom(42))).toEqual(powerOfTwoChoices(hosts, 5, seededRandom(42)))
  })
  test('behavior: a single pick never takes the strictly most loaded host', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 2, maxLength: 30 }), fc.integer(), (loads, seed) => {
        const hosts = loads.map((load, i) => host(i + 1, { load: i === 0 ? 10 : load, capacity: 11 }))
        // Host 1 (10/11) is strictly the most loaded: it loses every draw it is in.
        expect(powerOfTwoChoices(hosts, 1, seededRandom(seed))[0]!.nodeId).not.toBe(id(1))
      }),
    )
  })
})

describe('choice', () => {
  test('default: eligible hosts are chosen, the rest carry their reason', () => {
    const hosts = [host(1), host(2, { chainId: 5 }), host(3, { load: 10 }), host(4, { blockNumber: 10 })]
    const s = selectHosts(hosts, req({ count: 2 }), seededRandom(1))
    expect(s.chosen).toEqual([id(1)])
    expect(s.rejected).toEqual([
      { nodeId: id(2), reason: 'wrong-network' },
      { nodeId: id(3), reason: 'full' },
      { nodeId: id(4), reason: 'lagging' },
    ])
  })
  test('behavior: eligible hosts that were not needed are outranked', () => {
    const s = selectHosts([host(1, { load: 9 }), host(2, { load: 0 })], req({ count: 1 }), scripted(0, 0))
    expect(s.chosen).toEqual([id(2)])
    expect(s.rejected).toEqual([{ nodeId: id(1), reason: 'outranked' }])
  })
  test('behavior: a previous host of this client comes back first when eligible, even if busier', () => {
    const hosts = [host(1, { load: 8 }), host(2), host(3)]
    const s = selectHosts(hosts, req({ count: 1, sticky: new Set([id(1)]) }), seededRandom(7))
    expect(s.chosen).toEqual([id(1)])
  })
  test('behavior: a previous host that is no longer eligible is not given back', () => {
    const hosts = [host(1, { load: 10 }), host(2, { blockNumber: 3 }), host(3)]
    const s = selectHosts(hosts, req({ count: 2, sticky: new Set([id(1), id(2)]) }), seededRandom(7))
    expect(s.chosen).toEqual([id(3)])
    expect(s.rejected).toEqual([
      { nodeId: id(1), reason: 'full' },
      { nodeId: id(2), reason: 'lagging' },
    ])
  })
  test('behavior: a declared region never outweighs load: a less loaded host elsewhere wins over a loaded one in the region', () => {
    // Region steering was an attack: Sybil clients declaring the attacker's region all landed on the attacker's host.
    const hosts = [host(1, { region: 'us', load: 0 }), host(2, { region: 'eu', load: 7 })]
    const s = selectHosts(hosts, req({ count: 1, region: 'eu' }), scripted(0, 0))
    expect(s.chosen).toEqual([id(1)])
    expect(s.rejected).toEqual([{ nodeId: id(2), reason: 'outranked' }])
  })
  test('behavior: between equally loaded hosts the region breaks the tie; the other is other-region', () => {
    const hosts = [host(1, { region: 'us' }), host(2, { region: 'eu' })]
    for (const draws of [scripted(0, 0), scripted(0.9, 0)]) {
      const s = selectHosts(hosts, req({ count: 1, region: 'eu' }), draws)
      expect(s.chosen).toEqual([id(2)])
      expect(s.rejected).toEqual([{ nodeId: id(1), reason: 'other-region' }])
    }
  })
  test('behavior: when the region has too few eligible hosts, the rest come from elsewhere', () => {
    const hosts = [host(1, { region: 'us' }), host(2, { region: 'eu' }), host(3, { region: 'eu', load: 10 })]
    const s = selectHosts(hosts, req({ count: 2, region: 'eu' }), seededRandom(3))
    expect(new Set(s.chosen)).toEqual(new Set([id(1), id(2)]))
    expect(s.rejected).toEqual([{ nodeId: id(3), reason: 'full' }])
  })
  test('behavior: a region with no eligible host changes nothing (no other-region reasons)', () => {
    const hosts = [host(1, { region: 'us' }), host(2, { region: 'eu', load: 10 }), host(3, { region: 'us' })]
    const s = selectHosts(hosts, req({ count: 1, region: 'eu' }), scripted(0, 0))
    expect(s.chosen).toHaveLength(1)
    expect(s.rejected.map((r) => r.reason).sort()).toEqual(['full', 'outranked'])
  })
  test('behavior: an anonymous preview (no client id) skips nobody as self', () => {
    const s = selectHosts([host(1, { nodeId: CLIENT })], req({ clientId: undefined, count: 1 }), scripted())
    expect(s.chosen).toEqual([CLIENT])
  })
  test('behavior: any pool, any request: chosen hosts are eligible and distinct, at most count, and every other host has exactly one reason', () => {
    const arbHost = fc.record({
      chainId: fc.constantFrom(1, 5),
      kind: fc.constantFrom('peer' as const, 'rpc' as const),
      capacity: fc.integer({ min: 1, max: 20 }),
      load: fc.integer({ min: 0, max: 25 }),
      blockNumber: fc.constantFrom(0, 980, 995, 1_000),
      region: fc.constantFrom(null, 'eu', 'us'),
      coolingUntilMs: fc.constantFrom(0, 40_000, 60_000),
      score: fc.constantFrom(undefined, 1, 0.8, 0.3),
      probation: fc.constantFrom(undefined, false, true),
      trialOpen: fc.boolean(),
    })
    fc.assert(
      fc.property(fc.array(arbHost, { maxLength: 40 }), fc.integer({ min: 1, max: 16 }), fc.constantFrom(null, 'eu'), fc.integer(), (specs, count, region, seed) => {
        const hosts = specs.map((s, i) => host(i + 1, s))
        const sticky = new Set(hosts.filter((_, i) => i % 5 === 0).map((h) => h.nodeId))
        const r = req({ count, region, sticky, exclude: new Set([id(2)]) })
        const s = selectHosts(hosts, r, seededRandom(seed))
        expect(s.chosen.length).toBeLessThanOrEqual(count)
        expect(new Set(s.chosen).size).toBe(s.chosen.length)
        for (const c of s.chosen) expect(filterHost(hosts.find((h) => h.nodeId === c)!, r)).toBeUndefined()
        const all = [...s.chosen, ...s.rejected.map((x) => x.nodeId)].sort()
        expect(all).toEqual(hosts.map((h) => h.nodeId).sort())
        const eligible = hosts.filter((h) => !filterHost(h, r))
        expect(s.chosen.length).toBe(Math.min(count, eligible.length))
        // Eligible sticky hosts in good standing are taken before any other, up to count (less the probation pick).
        const good = eligible.filter((h) => !h.probation)
        const onProbation = (c: NodeId) => hosts.find((h) => h.nodeId === c)!.probation === true
        const stickyEligible = good.filter((h) => sticky.has(h.nodeId)).length
        const goodPicks = s.chosen.filter((c) => !onProbation(c)).length
        expect(s.chosen.slice(0, Math.min(goodPicks, stickyEligible)).every((c) => sticky.has(c))).toBe(true)
        // At most one host on probation, unless no host in good standing was left to take.
        const trialPicks = s.chosen.length - goodPicks
        if (trialPicks > 1) expect(goodPicks).toBe(good.length)
        if (count === 1 && good.length > 0) expect(trialPicks).toBe(0)
      }),
    )
  })
})

describe('quality: scores and probation', () => {
  test('behavior: a host on probation whose trial slot is taken is skipped as probation; cooling down comes first', () => {
    expect(filterHost(host(1, { probation: true, trialOpen: false }), req())).toBe('probation')
    expect(filterHost(host(1, { probation: true, trialOpen: true }), req())).toBeUndefined()
    expect(filterHost(host(1, { probation: true, trialOpen: false, coolingUntilMs: 60_000 }), req())).toBe('cooling-down')
  })
  test('behavior: of two equally loaded hosts the better scored wins; a score weighs like load', () => {
    const a = host(1, { score: 0.8 })
    const b = host(2, { score: 1 })
    expect(selectHosts([a, b], req({ count: 1 }), scripted(0, 0.9)).chosen).toEqual([id(2)])
    // 1/10 over 0.4 (0.25) ranks below 2/10 at full score (0.2).
    expect(selectHosts([host(1, { score: 0.4 }), host(2, { load: 1 })], req({ count: 1 }), scripted(0, 0.9)).chosen).toEqual([id(2)])
    // No score is a score of 1: the comparison is then the load ratio alone.
    expect(selectHosts([host(1, { load: 1 }), host(2, { score: undefined })], req({ count: 1 }), scripted(0, 0.9)).chosen).toEqual([id(2)])
  })
  test('behavior: a request for several hosts gives its last pick to one host on probation; the others are skipped as probation', () => {
    const hosts = [host(1), host(2), host(3), host(4), host(5, { probation: true, trialOpen: true }), host(6, { probation: true, trialOpen: true })]
    const s = selectHosts(hosts, req({ count: 3 }), seededRandom(7))
    expect(s.chosen).toHaveLength(3)
    expect([id(5), id(6)]).toContain(s.chosen[2])
    expect(s.chosen.slice(0, 2).every((c) => ![id(5), id(6)].includes(c))).toBe(true)
    const other = s.chosen[2] === id(5) ? id(6) : id(5)
    expect(s.rejected).toContainEqual({ nodeId: other, reason: 'probation' })
  })
  test('behavior: a request for one host gets a host on probation only when no host in good standing is eligible', () => {
    const trial = host(5, { probation: true, trialOpen: true })
    expect(selectHosts([host(1), trial], req({ count: 1 }), scripted(0, 0)).chosen).toEqual([id(1)])
    expect(selectHosts([host(1, { load: 10 }), trial], req({ count: 1 }), scripted()).chosen).toEqual([id(5)])
  })
  test('behavior: hosts on probation fill what hosts in good standing cannot', () => {
    const hosts = [host(1), host(5, { probation: true, trialOpen: true }), host(6, { probation: true, trialOpen: true })]
    expect(selectHosts(hosts, req({ count: 3 }), seededRandom(3)).chosen.sort()).toEqual([id(1), id(5), id(6)])
  })
})

describe('needs: beacon', () => {
  const methods = ['eth_getProof', 'eth_getBlockReceipts', 'eth_createAccessList', 'eth_getLogs']
  const rpc = (n: number, beacon: boolean, o: Partial<HostCandidate> = {}) => host(n, { kind: 'rpc', capabilities: new Set(beacon ? [...methods, 'beacon'] : methods), ...o })
  const offers = (hosts: readonly HostCandidate[], c: NodeId) => hosts.find((h) => h.nodeId === c)!.capabilities!.has('beacon')

  test('behavior: beacon hosts are picked first, even busier and not sticky; the hosts passed over for them are no-beacon', () => {
    const hosts = [rpc(1, false), rpc(2, false), rpc(3, true, { load: 8 }), rpc(4, true, { load: 9 })]
    const s = selectHosts(hosts, req({ kind: 'rpc', count: 2, beacon: 'first', sticky: new Set([id(1)]) }), seededRandom(1))
    expect(s.chosen.sort()).toEqual([id(3), id(4)])
    expect(s.rejected).toEqual([
      { nodeId: id(1), reason: 'no-beacon' },
      { nodeId: id(2), reason: 'no-beacon' },
    ])
    // Without the need the same pool gives the sticky host and the idle one.
    expect(selectHosts(hosts, req({ kind: 'rpc', count: 2, sticky: new Set([id(1)]) }), seededRandom(1)).chosen.sort()).toEqual([id(1), id(2)])
  })
  test('behavior: too few beacon hosts: the others fill the count and rank among themselves (outranked, not no-beacon)', () => {
    const hosts = [rpc(1, false), rpc(2, false, { load: 5 }), rpc(3, true)]
    const s = selectHosts(hosts, req({ kind: 'rpc', count: 2, beacon: 'first' }), scripted(0, 0))
    expect(s.chosen).toEqual([id(3), id(1)])
    expect(s.rejected).toEqual([{ nodeId: id(2), reason: 'outranked' }])
  })
  test('behavior: when only a host on probation offers beacon, a request for one host gets it', () => {
    const hosts = [rpc(1, false), rpc(2, true, { probation: true, trialOpen: true })]
    expect(selectHosts(hosts, req({ kind: 'rpc', count: 1, beacon: 'first' }), scripted()).chosen).toEqual([id(2)])
    expect(selectHosts(hosts, req({ kind: 'rpc', count: 1 }), scripted()).chosen).toEqual([id(1)])
  })
  test('behavior: only: hosts without beacon are filtered out as no-beacon, after the reasons that say more', () => {
    expect(filterHost(rpc(1, false), req({ kind: 'rpc', beacon: 'only' }))).toBe('no-beacon')
    expect(filterHost(rpc(1, false, { load: 10 }), req({ kind: 'rpc', beacon: 'only' }))).toBe('full')
    expect(filterHost(rpc(1, true), req({ kind: 'rpc', beacon: 'only' }))).toBeUndefined()
    expect(filterHost(rpc(1, false), req({ kind: 'rpc', beacon: 'first' }))).toBeUndefined()
  })
  test('behavior: any pool, any request that needs beacon: with a beacon host eligible, one is chosen; a host without it only once every beacon host in good standing is', () => {
    const arbHost = fc.record({
      beacon: fc.boolean(),
      capacity: fc.integer({ min: 1, max: 20 }),
      load: fc.integer({ min: 0, max: 25 }),
      blockNumber: fc.constantFrom(980, 1_000),
      coolingUntilMs: fc.constantFrom(0, 60_000),
      score: fc.constantFrom(undefined, 1, 0.3),
      probation: fc.constantFrom(undefined, true),
      trialOpen: fc.boolean(),
    })
    fc.assert(
      fc.property(fc.array(arbHost, { maxLength: 30 }), fc.integer({ min: 1, max: 16 }), fc.integer(), (specs, count, seed) => {
        const hosts = specs.map(({ beacon, ...o }, i) => rpc(i + 1, beacon, o))
        const r = req({ kind: 'rpc', count, beacon: 'first', sticky: new Set([id(1), id(2)]) })
        const s = selectHosts(hosts, r, seededRandom(seed))
        const eligible = hosts.filter((h) => !filterHost(h, r))
        expect(s.chosen.length).toBe(Math.min(count, eligible.length))
        if (eligible.some((h) => offers(hosts, h.nodeId))) expect(s.chosen.some((c) => offers(hosts, c))).toBe(true)
        const goodBeacon = eligible.filter((h) => !h.probation && offers(hosts, h.nodeId))
        const goodPlain = s.chosen.filter((c) => !offers(hosts, c) && hosts.find((h) => h.nodeId === c)!.probation !== true)
        if (goodPlain.length > 0) for (const h of goodBeacon) expect(s.chosen).toContain(h.nodeId)
        for (const x of s.rejected.filter((x) => x.reason === 'no-beacon')) expect(offers(hosts, x.nodeId)).toBe(false)
      }),
    )
  })
  test('behavior: a shortfall is not blamed on no-beacon (those hosts ranked lower, they did not hold anything back)', () => {
    expect(explainShortfall(1, 2, [{ nodeId: id(1), reason: 'no-beacon' }, { nodeId: id(2), reason: 'full' }], 1)).toBe('only 1 of 2 hosts on chain 1: 1 full')
  })
})

describe('explanations', () => {
  test('default: the message names each reason with its count, most frequent first', () => {
    const rejected = [
      { nodeId: id(1), reason: 'lagging' as const },
      ...[2, 3, 4, 5].map((n) => ({ nodeId: id(n), reason: 'full' as const })),
    ]
    expect(explainNoHosts(rejected, 1, 5)).toBe('no hosts with free slots on chain 1: 4 full, 1 lagging')
  })
  test('behavior: ties are listed in a fixed order, whatever order the hosts came in', () => {
    const a = [
      { nodeId: id(1), reason: 'wrong-kind' as const },
      { nodeId: id(2), reason: 'wrong-network' as const },
    ]
    expect(explainNoHosts(a, 1337, 2)).toBe('no hosts with free slots on chain 1337: 1 wrong-network, 1 wrong-kind')
    expect(explainNoHosts([...a].reverse(), 1337, 2)).toBe('no hosts with free slots on chain 1337: 1 wrong-network, 1 wrong-kind')
    expect(summarizeReasons(['cooling-down', 'self', 'lagging', 'full'])).toBe('1 full, 1 lagging, 1 cooling-down, 1 self')
  })
  test('behavior: with no host online at all the message says so', () => {
    expect(explainNoHosts([], 1, 0)).toBe('no hosts online on chain 1')
  })
  test('behavior: a partial answer names what held the rest back, not the hosts that merely ranked lower', () => {
    const rejected = [
      { nodeId: id(1), reason: 'full' as const },
      { nodeId: id(2), reason: 'cooling-down' as const },
      { nodeId: id(3), reason: 'other-region' as const },
    ]
    expect(explainShortfall(1, 3, rejected, 1)).toBe('only 1 of 3 hosts on chain 1: 1 full, 1 cooling-down')
    expect(explainShortfall(2, 3, [], 1)).toBe('only 2 of 3 hosts on chain 1')
  })
  test('behavior: when every chosen host failed, the message says how many were tried and why others were not', () => {
    expect(explainNoneAdmitted(2, [{ nodeId: id(1), reason: 'admit-failed' }, { nodeId: id(2), reason: 'admit-failed' }])).toBe('no host acknowledged the admission (2 tried)')
    expect(explainNoneAdmitted(1, [{ nodeId: id(1), reason: 'admit-failed' }, { nodeId: id(3), reason: 'full' }])).toBe('no host acknowledged the admission (1 tried); 1 full')
  })
})
