import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { replayUnits } from './corroborateUnits.ts'

type Report = { side: 'host' | 'client'; units: number; observation: 'corroborated' | 'denied' | 'unknown' }
const c = (side: Report['side'], units: number): Report => ({ side, units, observation: 'corroborated' })

describe('compute-unit corroboration', () => {
  it('default: honest sides reporting the same calls at different moments are credited all of them', () => {
    // The client drains before the host each interval: its figure arrives first, the host's completes it.
    expect(replayUnits([c('client', 100), c('host', 100), c('client', 50), c('host', 50), c('client', 0), c('host', 0)])).toBe(150)
    // Skewed across intervals: calls the host counted late are matched at the next observation.
    expect(replayUnits([c('host', 60), c('client', 100), c('host', 40), c('client', 30), c('host', 30)])).toBe(130)
  })

  it('behavior: a host claiming more than its client is credited only the client’s figure, and cannot bank the excess', () => {
    const reports: Report[] = []
    for (let i = 0; i < 10; i++) reports.push(c('host', 1_000), c('client', 100))
    expect(replayUnits(reports)).toBe(1_000)
    // What is carried for the host is at most its latest report: once it reports nothing, its earlier claims are gone.
    expect(replayUnits([...reports, c('host', 0), c('client', 500)])).toBe(1_000)
    // Overall it never gets more than the client reported, however the reports interleave.
    expect(replayUnits([...reports, c('client', 500), c('host', 0)])).toBe(1_000 + 500)
  })

  it('behavior: a denied observation drops what both sides had not matched', () => {
    expect(replayUnits([c('host', 100), { side: 'client', units: 0, observation: 'denied' }, c('client', 100)])).toBe(0)
    // Unknown (the other side silent) keeps the pile for the next corroboration.
    expect(replayUnits([{ side: 'host', units: 100, observation: 'unknown' }, c('client', 100)])).toBe(100)
  })

  it('property: never more than either side reported in all', () => {
    const report = fc.record({
      side: fc.constantFrom<'host' | 'client'>('host', 'client'),
      units: fc.nat(10_000),
      observation: fc.constantFrom<Report['observation']>('corroborated', 'denied', 'unknown'),
    })
    fc.assert(
      fc.property(fc.array(report, { maxLength: 60 }), (reports) => {
        const total = replayUnits(reports)
        const sum = (side: string) => reports.filter((r) => r.side === side).reduce((n, r) => n + r.units, 0)
        return total >= 0 && total <= sum('host') && total <= sum('client')
      }),
    )
  })
})
