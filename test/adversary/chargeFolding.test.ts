/**
 * Issue 18, item 1 (the ledger): metering posts one charge per metered report,
 * and retention folds old charges into the first of each run. A client whose
 * account mixes deposits, a gift and charges, metered over real sockets, asks
 * for its refund right after its history was folded. Bound: folding moves no
 * money: every balance, what the replay of the client's account calls
 * refundable, and the refund itself are exactly what they were before
 * folding; the books audit clean; the ledger shrank to a few rows.
 */
import { test, expect, afterEach } from 'vitest'
import { audit } from '../../coordinator/admin/audit.ts'
import { Accounts } from '../../coordinator/logic/accounts.ts'
import { clientMoney } from '../../coordinator/logic/refunds.ts'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { balanceOf, deposit, poolAgent, postRefund, refundRequest, type PoolAgent } from '../harness/attackers.ts'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

const INTERVAL = 400
const PRICE = 60_000n // 1 wei per ms

test('folding: a client metered over real sockets, with deposits and a gift between its charges, is refunded after folding exactly what it was owed before', async () => {
  const clock = manualClock(Date.UTC(2026, 0, 1))
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, priceWeiPerMinute: PRICE, epochMs: 3_600_000, reportRetentionMs: 60_000, slowStartSlots: 0 }, { clock })
  cleanup.push(() => c.close())
  const store = c.services.store
  const host = await poolAgent(c, { role: 'host', capacity: 5, payout: `0x${'a1'.repeat(20)}` })
  const client = await poolAgent(c, { role: 'client' })
  cleanup.push(() => host.close(), () => client.close())
  await deposit(c, client.nodeId, 10n ** 9n)
  expect((await client.request('vipnode_requestHosts', { count: 1 })).result.hosts[0].nodeId).toBe(host.nodeId)

  const rounds = async (n: number) => {
    for (let i = 0; i < n; i++) {
      clock.advance(INTERVAL)
      const both: [PoolAgent, string][] = [[host, client.nodeId], [client, host.nodeId]]
      await Promise.all(both.map(([a, peer]) => a.agent.reply(a.report([peer as never]))))
    }
  }
  // Charges, a gift, charges, a second deposit, charges: three runs the refund replay must keep apart.
  await rounds(40)
  await store.post({ id: 'credit:test-gift', atMs: clock.now(), memo: 'operator credit', entries: [{ account: Accounts.external, amountWei: -10_000n }, { account: Accounts.client(client.nodeId), amountWei: 10_000n }] })
  await rounds(40)
  await deposit(c, client.nodeId, 10_000n)
  await rounds(40)
  const account = Accounts.client(client.nodeId)
  const before = await store.ledgerEntries({ account })
  const owed = clientMoney(before)
  const balance = await balanceOf(c, client.nodeId)
  const charges = before.filter((e) => e.transferId.startsWith('charge:')).length
  expect(charges).toBeGreaterThan(100)
  expect(owed.giftWei).toBe(0n) // the gift was spent by the charges after it
  expect(owed.depositWei).toBe(balance)

  // Both leave; two hours later the charges are past the window and an hour old: the pruner (its own 1 s timer) folds them.
  host.close()
  client.close()
  clock.advance(2 * 3_600_000)
  const after = await waitFor(async () => {
    const now = await store.ledgerEntries({ account })
    return now.filter((e) => e.transferId.startsWith('charge:')).length === 3 ? now : undefined
  }, 'the three runs of charges folded', { timeoutMs: 30_000 })
  console.log(`figures: charge folding: ${before.length} entries of the client's account (${charges} charges) folded to ${after.length}; refundable ${owed.depositWei} wei before and after`)
  expect(after.map((e) => e.transferId.split(':')[0])).toEqual(['deposit', 'charge', 'credit', 'charge', 'deposit', 'charge'])
  expect(clientMoney(after)).toEqual(owed)
  expect(await balanceOf(c, client.nodeId)).toBe(balance)
  expect(await audit(store)).toMatchObject({ ok: true, problems: [] })

  // The refund asked for after folding pays exactly what the unfolded history owed, and the books still balance.
  const refund = await postRefund(c, refundRequest(c, client.id.key))
  expect(refund.status).toBe(200)
  expect(BigInt(refund.body.refundedWei)).toBe(owed.depositWei)
  expect(await balanceOf(c, client.nodeId)).toBe(0n)
  expect(await audit(store)).toMatchObject({ ok: true, problems: [] })
}, 120_000)
