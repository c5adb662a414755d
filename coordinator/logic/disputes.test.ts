import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import type { NodeId } from '../../protocol/index.ts'
import { blamed, deadlineOf, disputePolicyFor, effectiveCapacity, judgePair, type DisputePolicy, type PairEvidence, type SideReport } from './disputes.ts'

const CLIENT = 'c'.repeat(128) as NodeId
const HOST = 'h'.repeat(128) as NodeId
const OTHER = 'o'.repeat(128) as NodeId
const POLICY: DisputePolicy = { connectGraceMs: 3_000, gapMs: 2_500, silentMs: 2_000 }

const report = (atMs: number, ...peers: NodeId[]): SideReport => ({ atMs, peers: new Set(peers) })
/** A pair assigned at 0 that never corroborated, judged well after its grace unless a test says otherwise. */
const pair = (o: Partial<PairEvidence> = {}): PairEvidence => ({ clientId: CLIENT, hostId: HOST, sinceMs: 0, corroboratedAtMs: undefined, client: undefined, host: undefined, ...o })
const NOW = 3_500

describe('disputePolicyFor', () => {
  test('default: a corroborated pair gets 2.5 intervals, silence is two intervals, a new pair three intervals but at least 15 s', () => {
    expect(disputePolicyFor({ updateIntervalMs: 1_000 })).toEqual({ connectGraceMs: 15_000, gapMs: 2_500, silentMs: 2_000 })
    expect(disputePolicyFor({ updateIntervalMs: 30_000 })).toEqual({ connectGraceMs: 90_000, gapMs: 75_000, silentMs: 60_000 })
  })

  test('args: connectGraceMs overrides the grace (and only the grace)', () => {
    expect(disputePolicyFor({ updateIntervalMs: 400, connectGraceMs: 1_200 })).toEqual({ connectGraceMs: 1_200, gapMs: 1_000, silentMs: 800 })
  })
})

describe('deadlineOf', () => {
  test('default: a new pair must corroborate within the connect grace', () => {
    expect(deadlineOf({ sinceMs: 10_000, corroboratedAtMs: undefined }, POLICY)).toBe(13_000)
  })

  test('behavior: a corroborated pair must corroborate again within the gap', () => {
    expect(deadlineOf({ sinceMs: 10_000, corroboratedAtMs: 11_000 }, POLICY)).toBe(13_500)
  })

  test('behavior: a corroboration from before the clock started (a restored pair) does not count', () => {
    expect(deadlineOf({ sinceMs: 10_000, corroboratedAtMs: 9_999 }, POLICY)).toBe(13_000)
  })
})

describe('judgePair', () => {
  test('default: no dispute before the deadline, whatever the evidence', () => {
    expect(judgePair(pair(), 2_999, POLICY)).toBeUndefined()
    expect(judgePair(pair({ corroboratedAtMs: 1_000 }), 3_499, POLICY)).toBeUndefined()
  })

  test('behavior: one missed report is survived, two are not (gap 2.5 intervals at interval 1 s)', () => {
    const both = { client: report(1_000, HOST), host: report(1_000, CLIENT) }
    // Corroborated at 1 s; the client misses its 2 s report: at 3 s the pair is still within its gap.
    expect(judgePair(pair({ corroboratedAtMs: 1_000, ...both }), 3_000, POLICY)).toBeUndefined()
    // It misses the 3 s report too: at 3.5 s the gap has run out.
    expect(judgePair(pair({ corroboratedAtMs: 1_000, ...both }), 3_500, POLICY)).toBeDefined()
  })

  test('kind: client-silent when the client never reported since the clock started; the client is at fault whatever the host says', () => {
    expect(judgePair(pair({ host: report(3_000, CLIENT) }), NOW, POLICY)).toEqual({ kind: 'client-silent', atFault: 'client' })
    expect(judgePair(pair({ client: report(-1, HOST), host: report(3_000) }), NOW, POLICY)).toEqual({ kind: 'client-silent', atFault: 'client' })
  })

  test('kind: client-silent when the client stopped reporting for longer than silentMs', () => {
    expect(judgePair(pair({ sinceMs: 0, corroboratedAtMs: 500, client: report(900, HOST), host: report(3_000, CLIENT) }), 3_000 + 1, POLICY)).toEqual({
      kind: 'client-silent',
      atFault: 'client',
    })
  })

  test('kind: host-silent blames nobody (the stale rule deals with the host)', () => {
    expect(judgePair(pair({ client: report(3_000, HOST) }), NOW, POLICY)).toEqual({ kind: 'host-silent', atFault: undefined })
  })

  test('kind: client-denies when the host lists the client and the client does not list the host', () => {
    expect(judgePair(pair({ client: report(3_000, OTHER), host: report(3_000, CLIENT) }), NOW, POLICY)).toEqual({ kind: 'client-denies', atFault: 'client' })
  })

  test('kind: host-denies blames nobody: one word against the other', () => {
    expect(judgePair(pair({ client: report(3_000, HOST), host: report(3_000, OTHER) }), NOW, POLICY)).toEqual({ kind: 'host-denies', atFault: undefined })
  })

  test('kind: never-connected when neither lists the other; nobody is blamed', () => {
    expect(judgePair(pair({ client: report(3_000), host: report(3_000) }), NOW, POLICY)).toEqual({ kind: 'never-connected', atFault: undefined })
  })

  test('kind: too-rare blames the side that reported less recently (the client on a tie)', () => {
    expect(judgePair(pair({ client: report(2_000, HOST), host: report(3_000, CLIENT) }), NOW, POLICY)).toEqual({ kind: 'too-rare', atFault: 'client' })
    expect(judgePair(pair({ client: report(3_000, HOST), host: report(2_000, CLIENT) }), NOW, POLICY)).toEqual({ kind: 'too-rare', atFault: 'host' })
    expect(judgePair(pair({ client: report(3_000, HOST), host: report(3_000, CLIENT) }), NOW, POLICY)).toEqual({ kind: 'too-rare', atFault: 'client' })
  })

  test('property: a pair is never in dispute before its deadline, and always in one after it', () => {
    const side = fc.option(fc.record({ atMs: fc.integer({ min: -5_000, max: 20_000 }), lists: fc.boolean() }), { nil: undefined })
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.option(fc.integer({ min: -5_000, max: 15_000 }), { nil: undefined }),
        side,
        side,
        fc.integer({ min: 0, max: 30_000 }),
        (sinceMs, corroboratedAtMs, c, h, nowMs) => {
          const e = pair({
            sinceMs,
            corroboratedAtMs,
            client: c && report(c.atMs, ...(c.lists ? [HOST] : [])),
            host: h && report(h.atMs, ...(h.lists ? [CLIENT] : [])),
          })
          const d = judgePair(e, nowMs, POLICY)
          expect(d === undefined).toBe(nowMs < deadlineOf(e, POLICY))
          // Only the client's silence, its denial or its rarity puts a client at fault; a host only for rarity.
          if (d?.atFault === 'host') expect(d.kind).toBe('too-rare')
          if (d?.atFault === 'client') expect(['client-silent', 'client-denies', 'too-rare']).toContain(d.kind)
        },
      ),
    )
  })
})

describe('blamed', () => {
  const proven = (client: boolean, host: boolean) => ({ client, host })

  test('default: a client-silent client is blamed on nobody\u2019s word', () => {
    expect(blamed({ kind: 'client-silent', atFault: 'client' }, proven(false, false))).toBe('client')
  })

  test('behavior: a denying client is blamed only when the host is proven', () => {
    expect(blamed({ kind: 'client-denies', atFault: 'client' }, proven(false, false))).toBeUndefined()
    expect(blamed({ kind: 'client-denies', atFault: 'client' }, proven(true, false))).toBeUndefined()
    expect(blamed({ kind: 'client-denies', atFault: 'client' }, proven(false, true))).toBe('client')
  })

  test('behavior: a too-rare host is blamed only when the client is proven', () => {
    expect(blamed({ kind: 'too-rare', atFault: 'host' }, proven(false, true))).toBeUndefined()
    expect(blamed({ kind: 'too-rare', atFault: 'host' }, proven(true, false))).toBe('host')
  })

  test('behavior: kinds with nobody at fault blame nobody, whoever is proven', () => {
    for (const kind of ['host-silent', 'host-denies', 'never-connected'] as const) expect(blamed({ kind, atFault: undefined }, proven(true, true))).toBeUndefined()
  })

  test('property: a party is blamed only on a proven counterpart\u2019s word, except a client for its own silence', () => {
    // The (kind, side at fault) pairs judgePair can produce.
    const faults = [['client-silent', 'client'], ['client-denies', 'client'], ['too-rare', 'client'], ['too-rare', 'host']] as const
    fc.assert(
      fc.property(fc.constantFrom(...faults), fc.boolean(), ([kind, atFault], otherProven) => {
        const d = { kind, atFault }
        const blame = blamed(d, atFault === 'client' ? proven(otherProven, false) : proven(false, otherProven))
        if (kind === 'client-silent') expect(blame).toBe('client')
        else expect(blame).toBeUndefined()
      }),
    )
  })
})

describe('effectiveCapacity', () => {
  test('default: a host serving nobody is offered the initial slots', () => {
    expect(effectiveCapacity(10_000, 0, 2)).toBe(2)
  })

  test('behavior: two more slots per corroborated client, up to what was declared', () => {
    expect(effectiveCapacity(10_000, 3, 2)).toBe(8)
    expect(effectiveCapacity(10, 5, 2)).toBe(10)
    expect(effectiveCapacity(1, 0, 2)).toBe(1)
  })

  test('args: initialSlots 0 turns slow start off', () => {
    expect(effectiveCapacity(10_000, 0, 0)).toBe(10_000)
  })

  test('property: never above the declared capacity, never above initial + 2 × corroborated, monotone in corroborated clients', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.nat(1_000), fc.integer({ min: 1, max: 100 }), (declared, served, initial) => {
        const cap = effectiveCapacity(declared, served, initial)
        expect(cap).toBeLessThanOrEqual(declared)
        expect(cap).toBeLessThanOrEqual(initial + 2 * served)
        expect(effectiveCapacity(declared, served + 1, initial)).toBeGreaterThanOrEqual(cap)
      }),
    )
  })
})
