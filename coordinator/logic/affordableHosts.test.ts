import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { affordableHosts, explainUnaffordable, holdCost, type HoldPrices } from './affordableHosts.ts'

const INTERVAL = 400
const FREE: HoldPrices = { priceWeiPerMinute: 0n, pricePerCuWei: 0n, holdCuRate: 1_000 }
/** 1 wei per ms: one host for one interval costs 400 wei. */
const TIME: HoldPrices = { ...FREE, priceWeiPerMinute: 60_000n }
/** 1,000 wei per unit at 1,000 units per second: one rpc host for one interval is 400 units, 400,000 wei. */
const UNITS: HoldPrices = { ...FREE, pricePerCuWei: 1_000n }

describe('affordable hosts', () => {
  test('default: a free pool serves any balance, even none', () => {
    expect(affordableHosts(0n, FREE, INTERVAL, 'rpc')).toBe(Infinity)
    expect(affordableHosts(-5n, FREE, INTERVAL, 'peer')).toBe(Infinity)
  })

  test('behavior: a pool that prices time only holds as many hosts as the balance pays one interval each, for either kind', () => {
    for (const kind of ['peer', 'rpc'] as const) {
      expect(holdCost(TIME, INTERVAL, kind)).toEqual({ timeWei: 400n, units: 0n, unitsWei: 0n, totalWei: 400n })
      expect(affordableHosts(399n, TIME, INTERVAL, kind)).toBe(0)
      expect(affordableHosts(1_200n, TIME, INTERVAL, kind)).toBe(3)
    }
    // The refusal reads as it always did.
    expect(explainUnaffordable(1n, TIME, INTERVAL, 'rpc')).toBe(`balance 1 wei cannot pay a host for one update interval (${INTERVAL} ms)`)
  })

  test('behavior: a pool that prices compute units only wants one interval of a relay at the hold rate per rpc host', () => {
    expect(holdCost(UNITS, INTERVAL, 'rpc')).toEqual({ timeWei: 0n, units: 400n, unitsWei: 400_000n, totalWei: 400_000n })
    // Zero, dust and anything short of one hold get nothing (the rule before this one gave dust every host it asked for).
    for (const balance of [0n, 1n, 399_999n]) expect(affordableHosts(balance, UNITS, INTERVAL, 'rpc')).toBe(0)
    expect(affordableHosts(400_000n, UNITS, INTERVAL, 'rpc')).toBe(1)
    expect(affordableHosts(1_300_000n, UNITS, INTERVAL, 'rpc')).toBe(3)
    expect(explainUnaffordable(1n, UNITS, INTERVAL, 'rpc')).toBe(
      `balance 1 wei cannot pay a host for one update interval (${INTERVAL} ms): 400 compute units at 1000 wei (1000 per second), 400000 wei in all`,
    )
    // A lower hold rate asks for less; units are whole and rounded up.
    expect(holdCost({ ...UNITS, holdCuRate: 1 }, 1_001, 'rpc').units).toBe(2n)
    expect(affordableHosts(2_000n, { ...UNITS, holdCuRate: 1 }, 1_001, 'rpc')).toBe(1)
  })

  test('behavior: peer hosts serve no units, so a units-only pool asks a peer client only for a balance above zero', () => {
    expect(holdCost(UNITS, INTERVAL, 'peer').totalWei).toBe(0n)
    expect(affordableHosts(0n, UNITS, INTERVAL, 'peer')).toBe(0)
    expect(affordableHosts(1n, UNITS, INTERVAL, 'peer')).toBe(Infinity)
  })

  test('behavior: a pool that prices both adds them up', () => {
    const both = { ...UNITS, priceWeiPerMinute: 60_000n }
    expect(holdCost(both, INTERVAL, 'rpc').totalWei).toBe(400_400n)
    expect(affordableHosts(400_399n, both, INTERVAL, 'rpc')).toBe(0)
    expect(affordableHosts(800_800n, both, INTERVAL, 'rpc')).toBe(2)
    expect(affordableHosts(400n, both, INTERVAL, 'peer')).toBe(1)
    expect(explainUnaffordable(7n, both, INTERVAL, 'rpc')).toBe(
      `balance 7 wei cannot pay a host for one update interval (${INTERVAL} ms): 400 wei of time and 400 compute units at 1000 wei (1000 per second), 400400 wei in all`,
    )
  })

  test('behavior: the hosts granted are always paid for one interval each, and one more would not be', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -10n, max: 10n ** 24n }),
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.integer({ min: 1, max: 100_000_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.constantFrom('peer' as const, 'rpc' as const),
        (balance, perMinute, perCu, rate, holdMs, kind) => {
          const prices = { priceWeiPerMinute: perMinute, pricePerCuWei: perCu, holdCuRate: rate }
          const n = affordableHosts(balance, prices, holdMs, kind)
          const cost = holdCost(prices, holdMs, kind).totalWei
          if (perMinute === 0n && perCu === 0n) return n === Infinity
          if (balance <= 0n) return n === 0
          if (cost === 0n || n === Infinity) return n === Infinity && (cost === 0n || balance / cost > BigInt(Number.MAX_SAFE_INTEGER))
          return BigInt(n) * cost <= balance && BigInt(n + 1) * cost > balance
        },
      ),
    )
  })
})
