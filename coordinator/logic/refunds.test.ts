import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import { clientMoney, entryKind, stoppedByRefund } from './refunds.ts'

const e = (transferId: string, amountWei: bigint) => ({ transferId, amountWei })

describe('clientMoney', () => {
  test('default: deposits are refundable, trials and credits are not, charges spend gifts first', () => {
    const m = clientMoney([e('trial:n', 100n), e('deposit:0xaa:0', 1_000n), e('credit:x', 50n), e('charge:1', -120n)])
    expect(m).toEqual({ depositWei: 1_000n, giftWei: 30n, depositedWei: 1_000n, refundedWei: 0n, overdrawnWei: 0n })
    // A charge larger than the gifts left eats into the deposits.
    expect(clientMoney([e('trial:n', 100n), e('deposit:0xaa:0', 1_000n), e('charge:1', -300n)]).depositWei).toBe(800n)
  })

  test('behavior: a deposit that waited for its node counts as a deposit; a refund takes deposits only', () => {
    const m = clientMoney([e('deposit-assign:deposit:0xab:5', 70n), e('trial:n', 10n), e('refund:n:1', -70n)])
    expect(m).toMatchObject({ depositWei: 0n, giftWei: 10n, refundedWei: 70n, overdrawnWei: 0n })
    expect(stoppedByRefund(m)).toBe(true)
    // Depositing again makes it servable again; the gift left is still not refundable.
    const again = clientMoney([e('deposit-assign:deposit:0xab:5', 70n), e('trial:n', 10n), e('refund:n:1', -70n), e('deposit:0xcd:0', 5n)])
    expect(again).toMatchObject({ depositWei: 5n, giftWei: 10n })
    expect(stoppedByRefund(again)).toBe(false)
  })

  test('behavior: a gift that arrives after deposits were spent does not become refundable', () => {
    // Deposit 100, spend 60 of it, refund the 40 left, then an admin credit of 5: nothing is refundable.
    const m = clientMoney([e('deposit:a:0', 100n), e('charge:1', -60n), e('refund:n:1', -40n), e('credit:x', 5n)])
    expect(m).toMatchObject({ depositWei: 0n, giftWei: 5n, overdrawnWei: 0n })
    expect(stoppedByRefund(m)).toBe(true)
  })

  test('error: a refund larger than the deposits is reported as overdrawn', () => {
    expect(clientMoney([e('deposit:a:0', 10n), e('refund:n:1', -11n)]).overdrawnWei).toBe(1n)
  })

  test('behavior: entries are classified by transfer id and sign', () => {
    expect([entryKind('deposit:t:1', 1n), entryKind('deposit-assign:x', 1n), entryKind('trial:x', 1n), entryKind('test-credit:x', 1n), entryKind('refund:x', -1n), entryKind('charge:x', -1n)]).toEqual([
      'deposit',
      'deposit',
      'gift',
      'gift',
      'refund',
      'spend',
    ])
  })

  test('property: the replay matches two purses spent gifts first; refunds never exceed deposits and a key that never deposited gets nothing', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('deposit' as const), wei: fc.bigInt({ min: 1n, max: 10n ** 20n }) }),
      fc.record({ kind: fc.constant('gift' as const), wei: fc.bigInt({ min: 1n, max: 10n ** 20n }) }),
      fc.record({ kind: fc.constant('charge' as const), wei: fc.bigInt({ min: 1n, max: 10n ** 20n }) }),
      fc.record({ kind: fc.constant('refund' as const), wei: fc.constant(0n) }),
    )
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const history: { transferId: string; amountWei: bigint }[] = []
        // The model: two purses, gifts spent first.
        let gift = 0n
        let deposit = 0n
        let deposited = 0n
        let refunded = 0n
        steps.forEach((s, i) => {
          if (s.kind === 'deposit') history.push(e(`deposit:t${i}:0`, s.wei)), (deposit += s.wei), (deposited += s.wei)
          else if (s.kind === 'gift') history.push(e(`trial:${i}`, s.wei)), (gift += s.wei)
          else if (s.kind === 'charge') {
            // As metering does: a charge takes at most the balance.
            const wei = s.wei < gift + deposit ? s.wei : gift + deposit
            if (wei === 0n) return
            history.push(e(`charge:${i}`, -wei))
            const fromGift = wei < gift ? wei : gift
            gift -= fromGift
            deposit -= wei - fromGift
          } else {
            const { depositWei } = clientMoney(history)
            expect(depositWei).toBe(deposit)
            if (depositWei > 0n) history.push(e(`refund:n:${i}`, -depositWei)), (refunded += depositWei), (deposit = 0n)
          }
        })
        const m = clientMoney(history)
        expect(m).toMatchObject({ overdrawnWei: 0n, depositWei: deposit, giftWei: gift, refundedWei: refunded, depositedWei: deposited })
        expect(refunded + m.depositWei).toBeLessThanOrEqual(deposited)
        if (deposited === 0n) expect(refunded + m.depositWei).toBe(0n)
      }),
    )
  })
})
