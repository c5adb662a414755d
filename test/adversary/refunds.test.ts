/**
 * Attack 12, refunds (issue 17): a refund pays real money out of the
 * contract, so every way to get more than one's own unspent deposit is an
 * attack on the other clients' money.
 *
 * - Trial Sybils: free keys take the trial and ask for it back. Bound: zero
 *   wei refunded, whatever the number of keys; an honest depositor among them
 *   gets exactly its deposit.
 * - Double refund: one client sends the same request twice and two requests
 *   with different nonces at once. Bound: its balance is refunded once.
 * - Refund racing burst reports: bursts of reports from both sides of a pair
 *   while the refund is accepted. Bound: billed ≤ served wall time, nothing
 *   billed after the refund, refund = deposit − charged exactly, no balance
 *   below zero, the books audit clean.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { audit } from '../../coordinator/admin/audit.ts'
import { Accounts } from '../../coordinator/logic/accounts.ts'
import { manualClock } from '../../lib/clock.ts'
import { normaliseOrigin, RpcError } from '../../protocol/index.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { authenticated, identity, type Identity } from '../harness/rawAgent.ts'
import { answered, balanceOf, chargedWei, deposit, poolAgent, postRefund, refundRequest, sendPairBursts, serviceMs } from '../harness/attackers.ts'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

const SYBILS = 1_000
const TRIAL = 1_000n

describe('attack 12: refunds', () => {
  test(`trial sybils: ${SYBILS} free keys take the trial and ask for it back: zero wei refunded`, async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1))
    const c = await testCoordinator({ priceWeiPerMinute: 1_000n, trialWei: TRIAL, epochMs: 3_600_000 }, { clock })
    cleanup.push(() => c.close())
    const honest = identity()
    ;(await authenticated(c.url, honest, { role: 'client' })).agent.close()
    await deposit(c, honest.nodeId, 5_000n)

    const sybils: Identity[] = []
    for (let i = 0; i < SYBILS; i += 50) {
      const batch = Array.from({ length: Math.min(50, SYBILS - i) }, () => identity())
      await Promise.all(
        batch.map(async (id) => {
          const { agent, reply } = await authenticated(c.url, id, { role: 'client' })
          agent.close()
          expect(reply.error).toBeUndefined()
          sybils.push(id)
        }),
      )
    }
    const trialMoney = (await Promise.all(sybils.map((s) => balanceOf(c, s.nodeId)))).reduce((a, b) => a + b, 0n)
    expect(trialMoney).toBe(BigInt(SYBILS) * TRIAL)

    // The first few over HTTP; the rest straight to the service, as an attacker with many addresses would get
    // past the per-address rate limit. Each names an address of its own.
    const honestRefund = await postRefund(c, refundRequest(c, honest.key))
    const origin = normaliseOrigin(c.url)
    const codes = new Map<string, number>()
    const count = (code: string) => codes.set(code, (codes.get(code) ?? 0) + 1)
    // (HTTP first: a keep-alive socket left idle through the long loop below may be reset by the server.)
    for (const [i, s] of sybils.entries()) {
      const req = refundRequest(c, s.key, { to: `0x${(i + 1).toString(16).padStart(40, '0')}` })
      if (i < 5) count((await postRefund(c, req)).body.error?.code ?? 'accepted')
      else
        await c.services.refunds.request(req, origin).then(
          () => count('accepted'),
          (err: unknown) => count((err as RpcError).codeName ?? 'other'),
        )
    }
    const epoch = c.services.epochs.epochOf(clock.now())
    clock.set(c.services.epochs.bounds(epoch).endMs)
    await c.services.settlement.settleDue()

    const refundPayables = [...(await c.services.store.balancesWithPrefix('refund:')).values()].reduce((a, b) => a + b, 0n)
    const paidOut = [...(await c.services.store.balancesWithPrefix('payee:')).values()].reduce((a, b) => a + b, 0n)
    console.log(`figures: refund sybils: ${SYBILS} keys holding ${trialMoney} wei of trial money asked for refunds: ${codes.get('NOTHING_TO_REFUND') ?? 0} refused NOTHING_TO_REFUND, ${codes.get('accepted') ?? 0} accepted, ${paidOut - 5_000n} wei paid to them`)
    expect(Object.fromEntries(codes)).toEqual({ NOTHING_TO_REFUND: SYBILS })
    expect(honestRefund.body.refundedWei).toBe('5000')
    // The bound: the only money in the tree is the honest deposit; nothing waits to be paid.
    expect(paidOut).toBe(5_000n)
    expect(refundPayables).toBe(0n)
    expect(await c.services.store.balanceOf(Accounts.payee(honestRefund.body.to))).toBe(5_000n)
    expect(await audit(c.services.store)).toMatchObject({ ok: true, problems: [] })
  }, 120_000)

  test('double refund: the same request twice and two requests at once refund the balance once', async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1))
    const c = await testCoordinator({ priceWeiPerMinute: 1_000n, epochMs: 3_600_000 }, { clock })
    cleanup.push(() => c.close())
    const client = identity()
    ;(await authenticated(c.url, client, { role: 'client' })).agent.close()
    await deposit(c, client.nodeId, 12_345n)
    const first = refundRequest(c, client.key)
    const second = refundRequest(c, client.key, { to: `0x${'77'.repeat(20)}` })
    const results = await Promise.all([postRefund(c, first), postRefund(c, first), postRefund(c, second), postRefund(c, second)])
    const accepted = results.filter((r) => r.status === 200)
    const refunded = accepted.reduce((n, r) => n + BigInt(r.body.refundedWei), 0n)
    console.log(`figures: double refund: 4 concurrent requests (2 nonces) -> ${accepted.length} accepted, ${refunded} wei of 12345 refunded; refused: ${results.filter((r) => r.status !== 200).map((r) => r.body.error.code).join(', ')}`)
    expect(accepted).toHaveLength(1)
    expect(refunded).toBe(12_345n)
    for (const r of results.filter((x) => x.status !== 200)) expect(['REPLAY', 'NOTHING_TO_REFUND']).toContain(r.body.error.code)
    expect(await balanceOf(c, client.nodeId)).toBe(0n)
    expect([...(await c.services.store.balancesWithPrefix('refund:')).values()].reduce((a, b) => a + b, 0n)).toBe(12_345n)
    expect(await audit(c.services.store)).toMatchObject({ ok: true })
  })

  test('refund racing burst reports: billed ≤ served, nothing billed after the refund, refund = deposit − billed exactly', async () => {
    const INTERVAL = 400
    const BURST = 20
    const PRICE = 60_000n // 1 wei per ms
    const DEPOSIT = 10n ** 9n
    const c = await testCoordinator({ updateIntervalMs: INTERVAL, priceWeiPerMinute: PRICE, rateLimitPerSecond: 200, rateLimitBurst: 200, epochMs: 3_600_000 })
    cleanup.push(() => c.close())
    const host = await poolAgent(c, { role: 'host', capacity: 5, payout: `0x${'a1'.repeat(20)}` })
    const client = await poolAgent(c, { role: 'client' })
    cleanup.push(() => host.close(), () => client.close())
    await deposit(c, client.nodeId, DEPOSIT)
    expect((await client.request('vipnode_requestHosts', { count: 1 })).result.hosts[0].nodeId).toBe(host.nodeId)

    const firstAt = Date.now()
    let refund: Promise<{ status: number; body: any }> | undefined
    let chargedAtRefund = -1n
    for (let i = 0; i < 8; i++) {
      const at = Date.now()
      // Mid-stream, the refund goes out in the same turn as both sides' bursts.
      if (i === 4) refund = postRefund(c, refundRequest(c, client.id.key)).then((r) => ((chargedAtRefund = chargedWei(c, client.nodeId)), r))
      const last = sendPairBursts(host, client, BURST)
      await waitFor(() => answered(last), `burst ${i} answered`, { timeoutMs: 10_000 })
      const next = at + INTERVAL - Date.now()
      if (next > 0) await new Promise((resolve) => setTimeout(resolve, next)) // the agents' cadence, not a wait for an event
    }
    const res = await refund!
    const servedWallMs = Date.now() - firstAt
    expect(res.status).toBe(200)
    const billed = serviceMs(c, client.nodeId, host.nodeId)
    const charged = chargedWei(c, client.nodeId)
    const refunded = BigInt(res.body.refundedWei)
    console.log(`figures: refund racing bursts: billed ${billed} ms (${charged} wei) of ${servedWallMs} ms wall; refunded ${refunded} wei = deposit ${DEPOSIT} − ${DEPOSIT - refunded}; charged after the refund: ${charged - chargedAtRefund} wei`)
    expect(billed).toBeGreaterThan(0)
    expect(billed).toBeLessThanOrEqual(servedWallMs + INTERVAL)
    expect(charged).toBe((BigInt(billed) * PRICE) / 60_000n)
    expect(charged).toBe(chargedAtRefund) // nothing billed after the refund
    expect(refunded).toBe(DEPOSIT - charged) // exactly
    expect(await balanceOf(c, client.nodeId)).toBe(0n)
    await waitFor(() => host.calls.some((x) => x.method === 'vipnode_evict' && x.params.reason === 'refunded'), 'evict refunded')
    expect(await audit(c.services.store)).toMatchObject({ ok: true, problems: [] })
  })
})
