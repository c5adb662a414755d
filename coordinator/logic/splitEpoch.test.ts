import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import { splitEpoch, chargeFor, chargeForUnits } from './splitEpoch.ts'

const A = '0x' + 'a'.repeat(40)
const B = '0x' + 'b'.repeat(40)

describe('splitEpoch', () => {
  test('default: the worked example from docs/metering.md', () => {
    // Revenue 1,005,636 wei, nothing carried in, 5% fee; host A served 121 min, host B 60 min.
    const r = splitEpoch({ revenueWei: 1_005_636n, carriedInWei: 0n, feeBps: 500, serviceMsByPayee: new Map([[A, 121 * 60_000], [B, 60 * 60_000]]) })
    expect(r).toEqual({
      feeWei: 50_281n,
      payouts: [
        { payee: A, serviceMs: 121 * 60_000, amountWei: 638_662n },
        { payee: B, serviceMs: 60 * 60_000, amountWei: 316_692n },
      ],
      carriedOutWei: 1n,
    })
    expect(chargeFor(90 * 60_000, 5_556n, 10n ** 18n).chargeWei + chargeFor(31 * 60_000, 5_556n, 10n ** 18n).chargeWei + chargeFor(60 * 60_000, 5_556n, 10n ** 18n).chargeWei).toBe(1_005_636n)
  })

  test('behavior: with no service everything is carried and no fee is taken', () => {
    expect(splitEpoch({ revenueWei: 10n, carriedInWei: 5n, feeBps: 1000, serviceMsByPayee: new Map() })).toEqual({ feeWei: 0n, payouts: [], carriedOutWei: 15n })
  })

  test('error: bad fee and negative money', () => {
    expect(() => splitEpoch({ revenueWei: 1n, carriedInWei: 0n, feeBps: 10_001, serviceMsByPayee: new Map() })).toThrow(/feeBps/)
    expect(() => splitEpoch({ revenueWei: -1n, carriedInWei: 0n, feeBps: 0, serviceMsByPayee: new Map() })).toThrow(/negative/)
  })

  test('behavior: the share of a host without a payout address stays in the carry', () => {
    // A served 1 min, a host without payout 3 min: A gets a quarter, not everything.
    const r = splitEpoch({ revenueWei: 1_000n, carriedInWei: 0n, feeBps: 0, serviceMsByPayee: new Map([[A, 60_000]]), unpaidServiceMs: 180_000 })
    expect(r).toEqual({ feeWei: 0n, payouts: [{ payee: A, serviceMs: 60_000, amountWei: 250n }], carriedOutWei: 750n })
    // Only unpaid hosts served: the fee is earned, the rest waits in the carry.
    expect(splitEpoch({ revenueWei: 1_000n, carriedInWei: 0n, feeBps: 1_000, serviceMsByPayee: new Map(), unpaidServiceMs: 1 })).toEqual({ feeWei: 100n, payouts: [], carriedOutWei: 900n })
    expect(() => splitEpoch({ revenueWei: 1n, carriedInWei: 0n, feeBps: 0, serviceMsByPayee: new Map(), unpaidServiceMs: -1 })).toThrow(/unpaidServiceMs/)
  })

  test('property: payouts + fee + carry = revenue + carry in, and a host without payout never increases anyone\'s share', () => {
    const payees = fc.array(fc.tuple(fc.constantFrom(A, B, '0x' + 'c'.repeat(40)), fc.integer({ min: 1, max: 86_400_000 })), { maxLength: 5 })
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 24n }), fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.integer({ min: 0, max: 10_000 }), payees, fc.integer({ min: 0, max: 86_400_000 }), (revenueWei, carriedInWei, feeBps, service, unpaidServiceMs) => {
        const serviceMsByPayee = new Map<string, number>()
        for (const [p, ms] of service) serviceMsByPayee.set(p, (serviceMsByPayee.get(p) ?? 0) + ms)
        const withUnpaid = splitEpoch({ revenueWei, carriedInWei, feeBps, serviceMsByPayee, unpaidServiceMs })
        const paid = withUnpaid.payouts.reduce((n, p) => n + p.amountWei, 0n)
        expect(withUnpaid.feeWei + paid + withUnpaid.carriedOutWei).toBe(revenueWei + carriedInWei)
        if (serviceMsByPayee.size === 0) return
        // The same epoch without the unpaid host's service: nobody's payout may be smaller there.
        const without = new Map(splitEpoch({ revenueWei, carriedInWei, feeBps, serviceMsByPayee }).payouts.map((p) => [p.payee, p.amountWei]))
        for (const p of withUnpaid.payouts) expect(p.amountWei).toBeLessThanOrEqual(without.get(p.payee)!)
        expect(withUnpaid.carriedOutWei).toBeGreaterThanOrEqual((revenueWei + carriedInWei - withUnpaid.feeWei) * BigInt(unpaidServiceMs) / (BigInt(unpaidServiceMs) + [...serviceMsByPayee.values()].reduce((n, ms) => n + BigInt(ms), 0n)))
      }),
    )
  })

  test('property: over any number of epochs, paid + fees + carried equals revenue exactly', () => {
    const epoch = fc.record({
      revenue: fc.bigInt({ min: 0n, max: 10n ** 24n }),
      service: fc.array(fc.tuple(fc.constantFrom(A, B, '0x' + 'c'.repeat(40), '0x' + 'd'.repeat(40)), fc.integer({ min: 0, max: 86_400_000 })), { maxLength: 6 }),
    })
    fc.assert(
      fc.property(fc.array(epoch, { minLength: 1, maxLength: 10 }), fc.integer({ min: 0, max: 10_000 }), (epochs, feeBps) => {
        let carry = 0n
        let revenue = 0n
        let paidOut = 0n
        for (const e of epochs) {
          const service = new Map<string, number>()
          for (const [p, ms] of e.service) service.set(p, (service.get(p) ?? 0) + ms)
          const r = splitEpoch({ revenueWei: e.revenue, carriedInWei: carry, feeBps, serviceMsByPayee: service })
          const paid = r.payouts.reduce((n, p) => n + p.amountWei, 0n)
          expect(r.feeWei + paid + r.carriedOutWei).toBe(e.revenue + carry)
          // Dust is less than one wei per payee.
          if (r.payouts.length > 0) expect(r.carriedOutWei).toBeLessThan(BigInt(r.payouts.length))
          for (const p of r.payouts) expect(p.amountWei).toBeGreaterThanOrEqual(0n)
          revenue += e.revenue
          paidOut += paid + r.feeWei
          carry = r.carriedOutWei
        }
        expect(paidOut + carry).toBe(revenue)
      }),
    )
  })
})

describe('chargeFor', () => {
  test('default: price per host-minute, floor to wei', () => {
    expect(chargeFor(30_000, 100n, 1_000n)).toEqual({ chargeWei: 50n, paidMs: 30_000 })
    expect(chargeFor(1, 100n, 1_000n)).toEqual({ chargeWei: 0n, paidMs: 1 })
  })
  test('behavior: a client that runs out pays what it has and only that time is credited', () => {
    expect(chargeFor(60_000, 100n, 40n)).toEqual({ chargeWei: 40n, paidMs: 24_000 })
    expect(chargeFor(60_000, 100n, 0n)).toEqual({ chargeWei: 0n, paidMs: 0 })
  })
  test('behavior: a free pool charges nothing and credits all time', () => {
    expect(chargeFor(60_000, 0n, 0n)).toEqual({ chargeWei: 0n, paidMs: 60_000 })
  })
  test('property: never charges more than the balance, never credits more time than accrued', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.bigInt({ min: 1n, max: 10n ** 15n }), fc.bigInt({ min: 0n, max: 10n ** 18n }), (ms, price, balance) => {
        const r = chargeFor(ms, price, balance)
        expect(r.chargeWei).toBeLessThanOrEqual(balance)
        expect(r.paidMs).toBeLessThanOrEqual(ms)
        // The host's credited time is never worth more than what was charged.
        expect((BigInt(r.paidMs) * price) / 60_000n).toBeLessThanOrEqual(r.chargeWei)
      }),
    )
  })
})

describe('split by weights (a pool pricing compute units)', () => {
  test('default: shares follow the weights (what clients paid each host), not service time', () => {
    const r = splitEpoch({ revenueWei: 1_000n, carriedInWei: 0n, feeBps: 0, serviceMsByPayee: new Map([[A, 60_000], [B, 60_000]]), weightByPayee: new Map([[A, 300n], [B, 100n]]) })
    expect(r.payouts).toEqual([
      { payee: A, serviceMs: 60_000, amountWei: 750n },
      { payee: B, serviceMs: 60_000, amountWei: 250n },
    ])
    expect(r.carriedOutWei).toBe(0n)
  })

  test('behavior: a payee with weight and no time is paid; one with time and no weight is not; unpaid weight is carried', () => {
    const r = splitEpoch({ revenueWei: 900n, carriedInWei: 0n, feeBps: 0, serviceMsByPayee: new Map([[B, 10]]), weightByPayee: new Map([[A, 200n]]), unpaidWeight: 100n })
    expect(r.payouts).toEqual([
      { payee: A, serviceMs: 0, amountWei: 600n },
      { payee: B, serviceMs: 10, amountWei: 0n },
    ])
    expect(r.carriedOutWei).toBe(300n)
    expect(() => splitEpoch({ revenueWei: 1n, carriedInWei: 0n, feeBps: 0, serviceMsByPayee: new Map(), weightByPayee: new Map([[A, -1n]]) })).toThrow(`weight of ${A} must not be negative`)
  })

  test('property: fee + payouts + carry = revenue + carry in, with any weights', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.bigInt({ min: 0n, max: 10n ** 18n }), fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 0n, max: 10n ** 12n }), (rev, carry, wa, wb, unpaid) => {
        const r = splitEpoch({ revenueWei: rev, carriedInWei: carry, feeBps: 250, serviceMsByPayee: new Map([[A, 5]]), weightByPayee: new Map([[A, wa], [B, wb]]), unpaidWeight: unpaid })
        expect(r.feeWei + r.payouts.reduce((n, p) => n + p.amountWei, 0n) + r.carriedOutWei).toBe(rev + carry)
      }),
    )
  })
})

describe('chargeForUnits', () => {
  test('default: units times price; a client that runs out pays for whole units it can afford and only those are credited', () => {
    expect(chargeForUnits(266, 1_000n, 10n ** 9n)).toEqual({ chargeWei: 266_000n, paidUnits: 266 })
    expect(chargeForUnits(266, 1_000n, 100_500n)).toEqual({ chargeWei: 100_000n, paidUnits: 100 })
    expect(chargeForUnits(266, 1_000n, 0n)).toEqual({ chargeWei: 0n, paidUnits: 0 })
    expect(chargeForUnits(266, 0n, 0n)).toEqual({ chargeWei: 0n, paidUnits: 266 }) // unpriced: recorded, not charged
  })
})
