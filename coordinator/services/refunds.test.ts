/** Client refunds through the coordinator: real sockets, real signatures, a real SQLite file, a manual clock. */
import { describe, test, expect, afterEach } from 'vitest'
import { ErrorCode, type RpcError } from '../../protocol/index.ts'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator, tempDb } from '../../test/harness/coordinator.ts'
import { agentsAt, testAgent, type TestAgent } from '../../test/harness/agents.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import { identity } from '../../test/harness/rawAgent.ts'
import { chargedWei, deposit, postRefund, refundRequest } from '../../test/harness/attackers.ts'
import { storeSnapshot } from '../../test/harness/storeState.ts'
import { audit } from '../admin/audit.ts'
import type { RunningCoordinator } from '../coordinator.ts'
import type { CoordinatorConfigInput } from '../config.ts'
import { Accounts } from '../logic/accounts.ts'
import { openStore } from '../store/openStore.ts'
import type { Transfer } from '../store/store.ts'

const HASH = `0x${'12'.repeat(32)}`
const PAYOUT_A = `0x${'a1'.repeat(20)}`
const ELSEWHERE = `0x${'c3'.repeat(20)}`
const INTERVAL = 10_000
const EPOCH = 3_600_000
/** 1 wei per ms of service. */
const PRICE = 60_000n
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

async function pool(config: CoordinatorConfigInput = {}, clock = manualClock(Date.UTC(2026, 0, 1))) {
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, epochMs: EPOCH, priceWeiPerMinute: PRICE, ...config }, { clock })
  cleanup.push(() => c.close())
  const agent = agentsAt(c.url, (close) => cleanup.push(close))
  return { c, clock, agent }
}

/** Both sides of each pair report each other, `steps` times, half an interval apart. */
async function serve(clock: ReturnType<typeof manualClock>, steps: number, reports: [TestAgent, TestAgent[]][]) {
  for (let i = 0; i < steps; i++) {
    clock.advance(INTERVAL / 2)
    for (const [who, peers] of reports) {
      await who.conn.call('vipnode_update', { peers: peers.map((p) => ({ id: p.id.nodeId, enode: p.id.enode })), block: { number: 1, hash: HASH } })
    }
  }
}

async function settleEpoch(c: RunningCoordinator, clock: ReturnType<typeof manualClock>) {
  const epoch = c.services.epochs.epochOf(clock.now())
  clock.set(c.services.epochs.bounds(epoch).endMs)
  await c.services.settlement.settleDue()
  return epoch
}

const payoutOf = async (c: RunningCoordinator, address: string) => (await fetch(`${c.url}/v1/payouts/${address}`)).json() as Promise<{ cumulativeWei: string; epoch: number }>

describe('refunds', () => {
  test('default: the unspent deposit (trial spent first) goes to the refund address, in one cumulative leaf with its host earnings', async () => {
    const { c, clock, agent } = await pool({ trialWei: 25_000n })
    const host = await agent({ role: 'host', payout: PAYOUT_A })
    const client = await agent({ role: 'client' })
    await deposit(c, client.id.nodeId, 100_000n)
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    await serve(clock, 8, [[host, [client]], [client, [host]]])
    const charged = chargedWei(c, client.id.nodeId)
    expect(charged).toBe(35_000n) // 7 corroborated steps of 5 s: 25,000 from the trial, 10,000 from the deposit

    // The refund address is the host's own payout address: one leaf must carry both sums.
    const res = await postRefund(c, refundRequest(c, client.id.key, { to: PAYOUT_A }))
    expect(res).toMatchObject({ status: 200, body: { nodeId: client.id.nodeId, to: PAYOUT_A, refundedWei: '90000', keptGiftWei: '0', settlesWithEpoch: 1, releasedHosts: 1 } })
    expect(await c.services.store.balanceOf(Accounts.client(client.id.nodeId))).toBe(0n)
    expect(await c.services.store.balanceOf(Accounts.refund(PAYOUT_A))).toBe(90_000n)
    await waitFor(() => host.calls.some((x) => x.method === 'vipnode_evict' && x.params.reason === 'refunded'), 'evict refunded')

    // Nothing more is billed, and no hosts until it deposits again.
    await serve(clock, 4, [[host, [client]], [client, [host]]])
    expect(chargedWei(c, client.id.nodeId)).toBe(charged)
    const err = await client.conn.call('vipnode_requestHosts', { count: 1 }).catch((e: RpcError) => e)
    expect(err).toMatchObject({ code: ErrorCode.INSUFFICIENT_BALANCE, message: expect.stringContaining('refund') })

    await settleEpoch(c, clock)
    // Host share (all 35,000 of revenue, no fee) + the refund, cumulative, in one leaf.
    expect(await payoutOf(c, PAYOUT_A)).toMatchObject({ cumulativeWei: String(35_000n + 90_000n), epoch: 1 })
    expect(await c.services.store.balanceOf(Accounts.refund(PAYOUT_A))).toBe(0n)
    expect(await audit(c.services.store)).toMatchObject({ ok: true, problems: [] })
    // Deposit − charged from the deposit = refunded; the books balance.
    expect(await c.services.store.sumAll()).toBe(0n)
  })

  test('behavior: a refunded node that deposits again is served again and can be refunded again; the address gets both sums', async () => {
    const { c, clock, agent } = await pool()
    const host = await agent({ role: 'host', payout: PAYOUT_A })
    const client = await agent({ role: 'client' })
    await deposit(c, client.id.nodeId, 50_000n)
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    await serve(clock, 3, [[host, [client]], [client, [host]]])
    expect((await postRefund(c, refundRequest(c, client.id.key, { to: ELSEWHERE }))).body.refundedWei).toBe('40000')
    await settleEpoch(c, clock)
    expect(await payoutOf(c, ELSEWHERE)).toMatchObject({ cumulativeWei: '40000' })

    await deposit(c, client.id.nodeId, 20_000n)
    await serve(clock, 1, [[host, []], [client, []]]) // the settlement moved the clock an hour: both report again
    const again = await client.conn.call('vipnode_requestHosts', { count: 1 })
    expect(again.hosts.map((h: { nodeId: string }) => h.nodeId)).toEqual([host.id.nodeId])
    await serve(clock, 2, [[host, [client]], [client, [host]]])
    expect(chargedWei(c, client.id.nodeId)).toBe(10_000n + 5_000n)
    expect((await postRefund(c, refundRequest(c, client.id.key, { to: ELSEWHERE }))).body.refundedWei).toBe('15000')
    await settleEpoch(c, clock)
    expect(await payoutOf(c, ELSEWHERE)).toMatchObject({ cumulativeWei: '55000' })
    expect(await audit(c.services.store)).toMatchObject({ ok: true })
  })

  test('attack: a charge another replica commits between the refund\'s read and its write never takes the balance below zero; the refund is read again', async () => {
    // The store on this database is shared with a sibling replica; its charge lands right before our refund is written.
    const inner = await openStore(tempDb())
    let clientId: string | undefined
    let raced = 0
    const shared = new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver)
        if (prop !== 'post') return typeof value === 'function' ? value.bind(target) : value
        return async (transfer: Transfer, options?: { notBelowZero?: readonly string[] }) => {
          if (transfer.id.startsWith('refund:') && raced++ === 0) {
            await target.post({ id: 'charge:sibling', atMs: 1, memo: 'a sibling replica\'s charge', entries: [{ account: Accounts.client(clientId as never), amountWei: -7_000n }, { account: Accounts.revenue(1), amountWei: 7_000n }] })
          }
          return target.post(transfer, options)
        }
      },
    })
    const clock = manualClock(Date.UTC(2026, 0, 1))
    const c = await testCoordinator({ updateIntervalMs: INTERVAL, epochMs: EPOCH, priceWeiPerMinute: PRICE }, { clock, store: shared })
    cleanup.push(() => c.close())
    const client = await testAgent(c.url, { role: 'client' })
    cleanup.push(() => client.close())
    clientId = client.id.nodeId
    await deposit(c, client.id.nodeId, 50_000n)
    const reply = await postRefund(c, refundRequest(c, client.id.key, { to: ELSEWHERE }))
    // The first write was refused (it would have taken 50,000 from 43,000), the second refunds what is left.
    expect(raced).toBe(2)
    expect(reply.status).toBe(200)
    expect(reply.body.refundedWei).toBe('43000')
    expect(await c.services.store.balanceOf(Accounts.client(client.id.nodeId))).toBe(0n)
    expect(await c.services.store.balanceOf(Accounts.refund(ELSEWHERE))).toBe(43_000n)
    expect(await audit(c.services.store)).toMatchObject({ ok: true })
  })

  test('behavior: a refunded node stays unserved after a coordinator restart', async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1))
    const { c, agent } = await pool({}, clock)
    const client = await agent({ role: 'client' })
    await deposit(c, client.id.nodeId, 10_000n)
    expect((await postRefund(c, refundRequest(c, client.id.key))).status).toBe(200)
    await client.close()
    await c.close()
    const again = await testCoordinator({ updateIntervalMs: INTERVAL, epochMs: EPOCH, priceWeiPerMinute: PRICE, db: c.config.db }, { clock })
    cleanup.push(() => again.close())
    expect(again.services.metering.isStopped(client.id.nodeId)).toBe(true)
    await again.services.store.post({ id: 'credit:admin', atMs: clock.now(), memo: 'admin credit', entries: [{ account: Accounts.external, amountWei: -5_000n }, { account: Accounts.client(client.id.nodeId), amountWei: 5_000n }] })
    const back = await testAgent(again.url, { role: 'client' }, {}, client.id)
    cleanup.push(() => back.close())
    // An admin credit is not a deposit: still stopped, and the credit is not refundable.
    await expect(back.conn.call('vipnode_requestHosts', { count: 1 })).rejects.toMatchObject({ code: ErrorCode.INSUFFICIENT_BALANCE })
    expect(await postRefund(again, refundRequest(again, client.id.key))).toMatchObject({ status: 422, body: { error: { code: 'NOTHING_TO_REFUND' } } })
  })

  describe('refused requests change nothing', () => {
    async function funded() {
      const { c, clock, agent } = await pool({ trialWei: 1_000n })
      const client = await agent({ role: 'client' })
      await deposit(c, client.id.nodeId, 10_000n)
      return { c, clock, client, agent }
    }
    const refused = async (c: RunningCoordinator, body: unknown, status: number, code: string, message?: RegExp) => {
      const before = storeSnapshot(c)
      const res = await postRefund(c, body)
      expect(res.status).toBe(status)
      expect(res.body.error.code).toBe(code)
      if (message) expect(res.body.error.message).toMatch(message)
      expect(storeSnapshot(c)).toEqual(before)
    }

    test('error: a replayed request', async () => {
      const { c, client } = await funded()
      const req = refundRequest(c, client.id.key)
      expect((await postRefund(c, req)).status).toBe(200)
      await deposit(c, client.id.nodeId, 7n) // even with money to refund again, the same request is not accepted twice
      await refused(c, req, 409, 'REPLAY', /already accepted/)
    })

    test('error: a request signed by another key', async () => {
      const { c, client } = await funded()
      const thief = identity()
      const forged = { ...refundRequest(c, thief.key, { to: ELSEWHERE }), nodeId: client.id.nodeId }
      await refused(c, forged, 401, 'BAD_SIGNATURE', /not by this node's key/)
      // Rewriting the address of a genuine request breaks its signature too.
      await refused(c, { ...refundRequest(c, client.id.key), to: ELSEWHERE }, 401, 'BAD_SIGNATURE')
    })

    test('error: another pool, another contract, another origin', async () => {
      const { c, client } = await funded()
      await refused(c, refundRequest(c, client.id.key, { poolId: 'other-pool' }), 403, 'WRONG_POOL', /pool other-pool/)
      await refused(c, refundRequest(c, client.id.key, { contract: `0x${'11'.repeat(20)}` }), 403, 'WRONG_POOL', /payout contract/)
      await refused(c, refundRequest(c, client.id.key, { url: 'https://evil.example' }), 403, 'WRONG_ORIGIN', /wss:\/\/evil.example:443/)
    })

    test('error: nothing to refund (only trial money), malformed address, expired, malformed body', async () => {
      const { c, clock, agent } = await funded()
      const trialOnly = await agent({ role: 'client' })
      expect(await c.services.store.balanceOf(Accounts.client(trialOnly.id.nodeId))).toBe(1_000n)
      await refused(c, refundRequest(c, trialOnly.id.key), 422, 'NOTHING_TO_REFUND', /trials and credits: 1000 wei/)
      const { client } = { client: trialOnly }
      await refused(c, refundRequest(c, client.id.key, { to: '0x1234' }), 400, 'INVALID_PARAMS', /to: must be a 20-byte/)
      await refused(c, refundRequest(c, client.id.key, { to: `0x${'00'.repeat(20)}` }), 400, 'INVALID_PARAMS', /zero address/)
      await refused(c, refundRequest(c, client.id.key, { nowMs: clock.now() - 11 * 60_000 }), 400, 'REQUEST_EXPIRED')
      await refused(c, refundRequest(c, client.id.key, { nowMs: clock.now() + 11 * 60_000 }), 400, 'REQUEST_EXPIRED')
      await refused(c, { ...refundRequest(c, client.id.key), extra: 1 }, 400, 'INVALID_PARAMS', /extra/i)
      await refused(c, '{"nodeId":', 400, 'INVALID_PARAMS', /JSON object/)
    })
  })
})
