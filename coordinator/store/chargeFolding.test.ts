import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { chargeShape, planChargeFolding, type ChargeCarrier, type LedgerRow } from './chargeFolding.ts'
import { clientMoney } from '../logic/refunds.ts'
import { chargeRule as rule } from '../logic/accounts.ts'

/** An in-memory ledger folded the way both stores fold it: a cursor, batches of `limit` rows, carriers looked up before each batch. */
class Ledger {
  rows: LedgerRow[] = []
  cursor = 0
  private nextId = 1
  post(transferId: string, atMs: number, entries: [string, bigint][]) {
    for (const [account, amountWei] of entries) this.rows.push({ id: this.nextId++, transferId, account, amountWei, atMs })
  }
  foldBatch(limit: number, beforeMs: number): number {
    const batch = this.rows.filter((r) => r.id > this.cursor).slice(0, limit)
    const carriers = new Map<string, ChargeCarrier>()
    for (const r of batch) {
      if (!r.account.startsWith('client:') || carriers.has(r.account)) continue
      const previous = this.rows.filter((p) => p.account === r.account && p.id <= this.cursor).at(-1)
      const shape = previous && chargeShape(this.rows.filter((p) => p.transferId === previous.transferId), rule)
      if (shape) carriers.set(r.account, { clientEntryId: shape.client.id, revenueEntryId: shape.revenue.id, revenueAccount: shape.revenue.account })
    }
    const plan = planChargeFolding(batch, { beforeMs, full: batch.length === limit, carriers, cursor: this.cursor, rule })
    const gone = new Set(plan.deleteIds)
    this.rows = this.rows.filter((r) => !gone.has(r.id)).map((r) => (plan.addWei.has(r.id) ? { ...r, amountWei: r.amountWei + plan.addWei.get(r.id)! } : r))
    expect(plan.throughId).toBeGreaterThanOrEqual(this.cursor)
    this.cursor = plan.throughId
    return plan.folded
  }
  foldAll(limit: number, beforeMs: number): number {
    let folded = 0
    for (let i = 0; i < 10_000; i++) {
      const before = this.cursor
      folded += this.foldBatch(limit, beforeMs)
      if (this.cursor === before) return folded
    }
    throw new Error('folding did not finish')
  }
  balances(): Map<string, bigint> {
    const m = new Map<string, bigint>()
    for (const r of this.rows) m.set(r.account, (m.get(r.account) ?? 0n) + r.amountWei)
    return m
  }
  history(account: string) {
    return this.rows.filter((r) => r.account === account)
  }
}

type Op =
  | { kind: 'charge' | 'charge-cu'; client: number; wei: bigint }
  | { kind: 'deposit' | 'gift' | 'refund'; client: number; wei: bigint }
  | { kind: 'epoch' }
  | { kind: 'settle' }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constantFrom('charge' as const, 'charge-cu' as const), client: fc.nat(3), wei: fc.bigInt(1n, 50n) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('deposit' as const, 'gift' as const, 'refund' as const), client: fc.nat(3), wei: fc.bigInt(1n, 100n) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'epoch' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
)

function build(ops: readonly Op[]): Ledger {
  const l = new Ledger()
  let epoch = 1
  ops.forEach((o, i) => {
    const at = i * 10
    if (o.kind === 'epoch') epoch++
    else if (o.kind === 'settle') l.post(`settle:${i}`, at, [[`revenue:${epoch}`, -1n], ['carry', 1n], ['client:0', 0n], ['payee:a', 0n]])
    else if (o.kind === 'charge' || o.kind === 'charge-cu') l.post(`${o.kind}:r:${at}:c${o.client}:h`, at, [[`client:c${o.client}`, -o.wei], [`revenue:${epoch}`, o.wei]])
    else if (o.kind === 'deposit') l.post(`deposit:0x${i}:tx-log:0`, at, [['external', -o.wei], [`client:c${o.client}`, o.wei]])
    else if (o.kind === 'gift') l.post(`trial:${i}`, at, [['trial-budget', -o.wei], [`client:c${o.client}`, o.wei]])
    else l.post(`refund:c${o.client}:${i}`, at, [[`client:c${o.client}`, -o.wei], [`refund:0x${o.client}`, o.wei]])
  })
  return l
}

describe('planChargeFolding', () => {
  test('consecutive charges of a client into one revenue account fold into the first; a deposit, a gift or a new epoch starts a new run', () => {
    const l = new Ledger()
    l.post('charge:r:1:c:h', 1, [['client:c', -3n], ['revenue:1', 3n]])
    l.post('charge:r:2:c:h', 2, [['client:c', -4n], ['revenue:1', 4n]])
    l.post('charge-cu:r:3:c:h', 3, [['client:c', -5n], ['revenue:1', 5n]])
    l.post('deposit:0x1:tx-log:0', 4, [['external', -100n], ['client:c', 100n]])
    l.post('charge:r:5:c:h', 5, [['client:c', -1n], ['revenue:1', 1n]])
    l.post('charge:r:6:c:h', 6, [['client:c', -1n], ['revenue:2', 1n]])
    l.post('charge:r:7:c:h', 7, [['client:c', -2n], ['revenue:2', 2n]])
    l.post('charge:r:8:c:h', 8, [['client:c', -9n], ['revenue:2', 9n]])
    expect(l.foldAll(100, 8)).toBe(3)
    expect(l.history('client:c').map((r) => [r.transferId, r.amountWei])).toEqual([
      ['charge:r:1:c:h', -12n],
      ['deposit:0x1:tx-log:0', 100n],
      ['charge:r:5:c:h', -1n],
      ['charge:r:6:c:h', -3n],
      ['charge:r:8:c:h', -9n], // at the cutoff: kept as it is
    ])
    expect(l.balances().get('revenue:1')).toBe(13n)
    expect(l.balances().get('revenue:2')).toBe(12n)
  })

  test('a run continues across batches through the carrier before the batch', () => {
    const l = new Ledger()
    for (let i = 0; i < 20; i++) l.post(`charge:r:${i}:c:h`, i, [['client:c', -1n], ['revenue:1', 1n]])
    expect(l.foldAll(3, 100)).toBe(19)
    expect(l.rows.map((r) => r.amountWei)).toEqual([-20n, 20n])
  })

  test('a charge cut by the end of a full batch waits for the next batch; a settlement larger than a batch does not stop folding', () => {
    const l = new Ledger()
    l.post('charge:r:1:c:h', 1, [['client:c', -1n], ['revenue:1', 1n]])
    l.post('settle:1', 2, Array.from({ length: 9 }, (_, i): [string, bigint] => [`payee:${i}`, i === 0 ? -8n : 1n]))
    l.post('charge:r:3:c:h', 3, [['client:c', -1n], ['revenue:2', 1n]])
    l.post('charge:r:4:c:h', 4, [['client:c', -1n], ['revenue:2', 1n]])
    expect(l.foldAll(4, 100)).toBe(1)
    expect(l.cursor).toBe(15) // every entry looked at, the last one folded away
  })

  test('property: folding keeps every balance, every transfer sum, what each client may be refunded, and every entry at or after the cutoff', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), fc.integer({ min: 2, max: 12 }), fc.nat(900), (ops, limit, cutoff) => {
        const l = build(ops)
        const balances = l.balances()
        const clients = [...balances.keys()].filter((a) => a.startsWith('client:'))
        const money = new Map(clients.map((c) => [c, clientMoney(l.history(c))]))
        const young = l.rows.filter((r) => r.atMs >= cutoff)
        l.foldAll(limit, cutoff)
        expect(l.balances()).toEqual(balances)
        for (const c of clients) expect(clientMoney(l.history(c))).toEqual(money.get(c))
        const sums = new Map<string, bigint>()
        for (const r of l.rows) sums.set(r.transferId, (sums.get(r.transferId) ?? 0n) + r.amountWei)
        for (const s of sums.values()) expect(s).toBe(0n)
        expect(l.rows.filter((r) => r.atMs >= cutoff)).toEqual(young)
        // Folding again finds nothing more.
        l.cursor = 0
        expect(l.foldAll(limit, cutoff)).toBe(0)
      }),
      { numRuns: 400 },
    )
  })
})
