import { describe, expect, it } from 'vitest'
import type { NodeId } from '../../protocol/enode.ts'
import { HostHealth, REFUSED_ADDRESS_REASON, type HostOutcome } from './hostHealth.ts'

const H = 'a'.repeat(128) as NodeId
const MIN = 60_000

function feed(h: HostHealth, outcomes: HostOutcome[], now: number): (string | undefined)[] {
  return outcomes.map((o) => h.record(H, o, now))
}

describe('HostHealth', () => {
  it('default: a host that always serves is never benched', () => {
    const h = new HostHealth()
    feed(h, Array(100).fill('served'), 0)
    expect(h.isBenched(H, 0)).toBe(false)
  })

  it('behavior: benched at the tenth attempt when half failed on its side, not before', () => {
    const h = new HostHealth()
    const got = feed(h, ['served', 'host-error', 'served', 'host-error', 'served', 'host-error', 'served', 'host-error', 'served'], 0)
    expect(got.every((r) => r === undefined)).toBe(true)
    expect(h.record(H, 'host-error', 0)).toBe('5 of its last 10 requests failed on its side')
    expect(h.benched(0)).toEqual([H])
  })

  it('behavior: 49 % faults over a full window is tolerated', () => {
    const h = new HostHealth()
    // 20 outcomes, 9 faults, then alternating keeps the share below one half.
    feed(h, [...Array(11).fill('served'), ...Array(9).fill('host-error')], 0)
    expect(h.isBenched(H, 0)).toBe(false)
  })

  it('behavior: three timeouts in a row bench at once', () => {
    const h = new HostHealth()
    expect(feed(h, ['served', 'timeout', 'timeout', 'timeout'], 0)[3]).toBe('3 requests in a row got no answer in time')
  })

  it('behavior: a host that served none of ten requests is benched whoever was at fault', () => {
    const h = new HostHealth()
    expect(feed(h, Array(10).fill('client-error'), 0)[9]).toBe('none of its last 10 requests was served')
  })

  it('behavior: the bench lasts 10 minutes, then one fault on probation benches again, and one success ends probation', () => {
    const h = new HostHealth()
    feed(h, ['timeout', 'timeout', 'timeout'], 0)
    expect(h.isBenched(H, 10 * MIN - 1)).toBe(true)
    expect(h.isBenched(H, 10 * MIN)).toBe(false)
    expect(h.record(H, 'host-error', 10 * MIN)).toBe('failed again on probation')
    expect(h.isBenched(H, 20 * MIN - 1)).toBe(true)
    expect(h.record(H, 'served', 20 * MIN)).toBeUndefined()
    expect(h.record(H, 'host-error', 20 * MIN)).toBeUndefined() // off probation: back to the window rule
  })

  it('behavior: outcomes of requests sent before the bench do not extend it', () => {
    const h = new HostHealth()
    feed(h, ['timeout', 'timeout', 'timeout'], 0)
    expect(h.record(H, 'host-error', 5 * MIN)).toBeUndefined()
    expect(h.isBenched(H, 10 * MIN)).toBe(false)
  })

  it('behavior: a relay name resolving to a non-public address benches the host at once, even after service', () => {
    const h = new HostHealth()
    feed(h, Array(15).fill('served'), 0)
    expect(h.record(H, 'refused', 0)).toBe(REFUSED_ADDRESS_REASON)
    expect(h.benched(0)).toEqual([H])
    expect(h.benchReason(H, 10 * MIN - 1)).toBe(REFUSED_ADDRESS_REASON)
    expect(h.record(H, 'refused', 1)).toBeUndefined() // a request in flight when it was benched: judged already
  })
})
