/** Metering, charging and settlement through the coordinator: real sockets, a real SQLite file or PostgreSQL database, a manual clock. */
import { describe, test, expect, afterEach } from 'vitest'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { ErrorCode, type RpcError } from '../../protocol/index.ts'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { scratchDatabases } from '../../test/harness/postgres.ts'
import { agentsAt, type TestAgent } from '../../test/harness/agents.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import type { RunningCoordinator } from '../coordinator.ts'
import type { CoordinatorConfigInput } from '../config.ts'
import { Accounts } from '../logic/accounts.ts'

const HASH = `0x${'12'.repeat(32)}`
const PAYOUT_A = `0x${'a1'.repeat(20)}`
const PAYOUT_B = `0x${'b2'.repeat(20)}`
const FEE = `0x${'fe'.repeat(20)}`
const INTERVAL = 10_000
// Registered first so that it runs last (after-hooks run in reverse): databases are dropped after the coordinators closed.
const scratchDatabase = scratchDatabases()
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

/** Both sides of each pair report each other, `steps` times, `INTERVAL` apart. */
async function serve(clock: ReturnType<typeof manualClock>, steps: number, reports: [TestAgent, TestAgent[]][]) {
  for (let i = 0; i < steps; i++) {
    clock.advance(INTERVAL / 2)
    for (const [who, peers] of reports) {
      await who.conn.call('vipnode_update', { peers: peers.map((p) => ({ id: p.id.nodeId, enode: p.id.enode })), block: { number: 1, hash: HASH } })
    }
  }
}

const usageOf = async (c: RunningCoordinator) => (await c.services.store.usage()).reduce((n, u) => n + u.serviceMs, 0)
const unitsOf = async (c: RunningCoordinator) => (await c.services.store.usage()).reduce((n, u) => n + u.computeUnits, 0)

/** rpc pairs: each side reports relay activity with the compute units it claims for the other, `steps` times. */
async function relay(clock: ReturnType<typeof manualClock>, steps: number, reports: [TestAgent, [TestAgent, number | undefined][]][]) {
  for (let i = 0; i < steps; i++) {
    clock.advance(INTERVAL / 2)
    for (const [who, claims] of reports) {
      const relays = claims.map(([p, computeUnits]) => ({ nodeId: p.id.nodeId, requests: 5, busyMs: 100, ...(computeUnits === undefined ? {} : { computeUnits }) }))
      await who.conn.call('vipnode_update', { peerIds: [], relays, block: { number: 1, hash: HASH } })
    }
  }
}

// The same flows on both stores: the coordinator must not care which one it has.
for (const database of ['sqlite', 'postgres'] as const) {
  describe(`on ${database}`, () => {
    async function pool(config: CoordinatorConfigInput = {}) {
      const clock = manualClock(Date.UTC(2026, 0, 1))
      const db = database === 'postgres' ? { db: await scratchDatabase() } : {}
      const c = await testCoordinator({ updateIntervalMs: INTERVAL, epochMs: 3_600_000, ...db, ...config }, { clock })
      cleanup.push(() => c.close())
      const agent = agentsAt(c.url, (close) => cleanup.push(close))
      return { c, clock, agent }
    }

    describe('metering', () => {
      test('default: service accrues only while both sides list each other', async () => {
        const { c, clock, agent } = await pool()
        const host = await agent({ role: 'host', payout: PAYOUT_A })
        const client = await agent({ role: 'client' })
        await client.conn.call('vipnode_requestHosts', { count: 1 })
        // One-sided: the host claims the client; the client lists nobody.
        await serve(clock, 6, [[host, [client]], [client, []]])
        expect(await usageOf(c)).toBe(0)
        // Both sides: the first corroborated step starts the chain, each later step adds the half interval between them.
        await serve(clock, 6, [[host, [client]], [client, [host]]])
        expect(await usageOf(c)).toBe(5 * (INTERVAL / 2))
      })

      test('behavior: a pair reporting the same peers adds history rows only at changes and once a minute, and is metered for every report', async () => {
        const { c, clock, agent } = await pool()
        const host = await agent({ role: 'host', payout: PAYOUT_A })
        const client = await agent({ role: 'client' })
        await client.conn.call('vipnode_requestHosts', { count: 1 })
        // 30 steps of 5 s (2.5 minutes) of the same peers on both sides.
        await serve(clock, 30, [[host, [client]], [client, [host]]])
        expect(await usageOf(c)).toBe(29 * (INTERVAL / 2))
        const rows = async (a: TestAgent) => (await c.services.store.reportHistory(a.id.nodeId, 0)).map((r) => r.peers)
        // The first report with the peer, then one a minute (60 s heartbeat at 5 s steps: 12 reports apart).
        expect(await rows(host)).toEqual([[client.id.nodeId], [client.id.nodeId], [client.id.nodeId]])
        expect((await c.services.store.latestReport(host.id.nodeId))!.observedAtMs).toBe(clock.now())
        // A change is written at once.
        await serve(clock, 1, [[host, []], [client, [host]]])
        expect((await rows(host)).at(-1)).toEqual([])
      })

      test('behavior: reports that say samePeers meter exactly like the peer list they repeat, and a new peer needs the list again', async () => {
        const { c, clock, agent } = await pool()
        const host = await agent({ role: 'host', payout: PAYOUT_A })
        const client = await agent({ role: 'client' })
        await client.conn.call('vipnode_requestHosts', { count: 1 })
        await serve(clock, 1, [[host, [client]], [client, [host]]])
        for (let i = 0; i < 5; i++) {
          clock.advance(INTERVAL / 2)
          for (const who of [host, client]) await who.conn.call('vipnode_update', { samePeers: true, block: { number: 1, hash: HASH } })
        }
        expect(await usageOf(c)).toBe(5 * (INTERVAL / 2))
        // The host's node drops the client: its list says so, and samePeers then repeats the empty list.
        clock.advance(INTERVAL / 2)
        await host.conn.call('vipnode_update', { peerIds: [], block: { number: 1, hash: HASH } })
        await client.conn.call('vipnode_update', { samePeers: true, block: { number: 1, hash: HASH } })
        for (let i = 0; i < 3; i++) {
          clock.advance(INTERVAL / 2)
          for (const who of [host, client]) await who.conn.call('vipnode_update', { samePeers: true, block: { number: 1, hash: HASH } })
        }
        expect(await usageOf(c)).toBe(5 * (INTERVAL / 2))
      })

      test('default: an rpc pair is credited the compute units both sides report', async () => {
        const { c, clock, agent } = await pool()
        const host = await agent({ role: 'host', payout: PAYOUT_A })
        const client = await agent({ role: 'client' })
        await client.conn.call('vipnode_requestHosts', { count: 1 })
        await relay(clock, 6, [[host, [[client, 266]]], [client, [[host, 266]]]])
        // The host's first report has nothing to match yet; every later one matches the client's, and the client's the host's.
        expect(await unitsOf(c)).toBe(6 * 266)
        expect(await usageOf(c)).toBe(5 * (INTERVAL / 2))
        // Agents that send no computeUnits (before issue 21) are metered by time as before, and credited no units.
        await relay(clock, 2, [[host, [[client, undefined]]], [client, [[host, undefined]]]])
        expect(await unitsOf(c)).toBe(6 * 266)
        expect(await usageOf(c)).toBe(7 * (INTERVAL / 2))
        // One side without the field (an old agent) leaves the other's figure unmatched: no units.
        await relay(clock, 2, [[host, [[client, 266]]], [client, [[host, undefined]]]])
        expect(await unitsOf(c)).toBe(6 * 266)
      })

      test('attack: a host claiming more compute units than its client reports is credited only the client’s figure', async () => {
        const { c, clock, agent } = await pool()
        const host = await agent({ role: 'host', payout: PAYOUT_A })
        const client = await agent({ role: 'client' })
        await client.conn.call('vipnode_requestHosts', { count: 1 })
        await relay(clock, 10, [[host, [[client, 1_000_000]]], [client, [[host, 100]]]])
        expect(await unitsOf(c)).toBe(10 * 100)
        // Bursts of early reports (not metered) add to the host's pile but earn nothing beyond the client's figure either.
        for (let i = 0; i < 5; i++) await relay(clock, 1, [[host, [[client, 1_000_000]]], [host, [[client, 1_000_000]]], [client, [[host, 100]]]])
        expect(await unitsOf(c)).toBe(15 * 100)
      })

      test('attack: a client denying its host’s compute units gets the pair no units and no time, as any denied pair', async () => {
        const { c, clock, agent } = await pool()
        const host = await agent({ role: 'host', payout: PAYOUT_A })
        const client = await agent({ role: 'client' })
        await client.conn.call('vipnode_requestHosts', { count: 1 })
        // The client lists no relay activity with the host at all: the pair does not corroborate (disputes.ts releases it after the grace).
        await relay(clock, 6, [[host, [[client, 500]]], [client, []]])
        expect([await unitsOf(c), await usageOf(c)]).toEqual([0, 0])
        expect(c.services.metering.sizes().pairUnits).toBe(0) // the host's claims were dropped with each denial, not banked
        // A client that lists the host but reports fewer units than the host pays for fewer (the smaller figure).
        await relay(clock, 4, [[host, [[client, 500]]], [client, [[host, 50]]]])
        expect(await unitsOf(c)).toBe(4 * 50)
      })

      test('error: a client that claims an unassigned host, or a host claiming an unknown peer, accrues nothing', async () => {
        const { c, clock, agent } = await pool()
        const host = await agent({ role: 'host' })
        const client = await agent({ role: 'client' })
        const stranger = await agent({ role: 'client' })
        // No assignment between them.
        await serve(clock, 4, [[host, [client, stranger]], [client, [host]], [stranger, [host]]])
        expect(await usageOf(c)).toBe(0)
      })

      test('behavior: a paying client is charged into the epoch revenue, runs out, is evicted and told how to top up', async () => {
        // 60,000 wei per host-minute = 10,000 wei per 10 s; the trial covers 25 s of service.
        const { c, clock, agent } = await pool({ priceWeiPerMinute: 60_000n, trialWei: 25_000n, topupUrl: 'https://pool.example/join' })
        const host = await agent({ role: 'host', payout: PAYOUT_A })
        const client = await agent({ role: 'client' })
        expect(await c.services.store.balanceOf(`client:${client.id.nodeId}`)).toBe(25_000n)
        await client.conn.call('vipnode_requestHosts', { count: 1 })
        await serve(clock, 8, [[host, [client]], [client, [host]]])

        const epoch = c.services.epochs.epochOf(clock.now())
        expect(await c.services.store.balanceOf(`client:${client.id.nodeId}`)).toBe(0n)
        expect(await c.services.store.balanceOf(`revenue:${epoch}`)).toBe(25_000n)
        // Only the paid-for time is credited: 25 s.
        expect(await usageOf(c)).toBe(25_000)
        expect(await c.services.store.sumAll()).toBe(0n)
        await waitFor(() => host.calls.some((x) => x.method === 'vipnode_evict' && x.params.reason === 'insufficient-balance'), 'evict')
        await waitFor(() => client.calls.find((x) => x.method === 'vipnode_notice' && x.params.code === 'insufficient-balance'), 'notice')
        const notice = client.calls.find((x) => x.method === 'vipnode_notice')!.params
        expect(notice.url).toBe(`https://pool.example/join?node=${client.id.nodeId}`)
        const err = await client.conn.call('vipnode_requestHosts', { count: 1 }).catch((e: RpcError) => e)
        expect(err).toMatchObject({ code: ErrorCode.INSUFFICIENT_BALANCE, message: expect.stringContaining('top up at https://pool.example/join') })
      })

      test('behavior: the trial is given once per node, across reconnects', async () => {
        const { c, agent } = await pool({ priceWeiPerMinute: 1n, trialWei: 7n })
        const client = await agent({ role: 'client' })
        await client.close()
        await agent({ role: 'client' }, {}, client.id)
        expect(await c.services.store.balanceOf(`client:${client.id.nodeId}`)).toBe(7n)
      })

      test('behavior: with a trial budget, each epoch draws at most its allowance and what an epoch left goes back to the budget', async () => {
        const { c, clock, agent } = await pool({ priceWeiPerMinute: 1n, trialWei: 10n, trialBudgetPerEpochWei: 30n })
        const { store, epochs } = c.services
        const balance = (account: string) => store.balanceOf(account)
        const first = await agent({ role: 'client' }) // nothing funded yet: no trial, and no allowance is opened
        expect(await balance(Accounts.client(first.id.nodeId))).toBe(0n)
        await store.post({ id: 'fund', atMs: clock.now(), memo: 'test', entries: [{ account: Accounts.external, amountWei: -45n }, { account: Accounts.trialBudget, amountWei: 45n }] })
        const epoch = epochs.epochOf(clock.now())
        await agent({ role: 'client' })
        expect(await balance(Accounts.trialEpoch(epoch))).toBe(20n) // 30 moved, 10 granted
        expect(await balance(Accounts.trialBudget)).toBe(15n)
        clock.set(epochs.bounds(epoch).endMs)
        const late = await agent({ role: 'client' })
        expect(await balance(Accounts.client(late.id.nodeId))).toBe(10n)
        expect(await balance(Accounts.trialEpoch(epoch))).toBe(0n) // its 20 went back: 15 + 20 = 35, of which 30 moved on
        expect(await balance(Accounts.trialEpoch(epoch + 1))).toBe(20n)
        expect(await balance(Accounts.trialBudget)).toBe(5n)
        expect(await store.sumAll()).toBe(0n)
      })
    })

    describe('settlement', () => {
      test('behavior: with --price-per-cu, clients pay per corroborated compute unit, run out, and the split follows what each host was paid', async () => {
        // 1,000 wei per CU, no time price; the trial covers 2,500 CUs.
        const { c, clock, agent } = await pool({ pricePerCuWei: 1_000n, trialWei: 2_500_000n, topupUrl: 'https://pool.example/join' })
        const hostA = await agent({ role: 'host', payout: PAYOUT_A })
        const hostB = await agent({ role: 'host', payout: PAYOUT_B })
        const one = await agent({ role: 'client' })
        const two = await agent({ role: 'client' })
        for (const cl of [one, two]) await cl.conn.call('vipnode_requestHosts', { count: 1 })
        const hostOf = (cl: TestAgent) => ([hostA, hostB].find((h) => c.services.assignments.hostsOf(cl.id.nodeId)[0] === h.id.nodeId))!
        const [a, b] = [hostOf(one), hostOf(two)]
        expect(a).not.toBe(b)
        // The same time, three times the units on one's pair; the hosts claim more than their clients confirm.
        await relay(clock, 4, [
          [a, [[one, 900]]],
          [b, [[two, 300]]],
          [one, [[a, 300]]],
          [two, [[b, 100]]],
        ])
        const { store, epochs } = c.services
        const epoch = epochs.epochOf(clock.now())
        const usage = await store.usage({ epoch })
        const of = (h: TestAgent) => usage.find((u) => u.hostId === h.id.nodeId)!
        expect([of(a).computeUnits, of(b).computeUnits]).toEqual([1_200, 400])
        expect([of(a).chargedWei, of(b).chargedWei]).toEqual([1_200_000n, 400_000n])
        expect(of(a).serviceMs).toBe(of(b).serviceMs)
        // Client one runs out: it pays for the 1,300 units left and only those are credited.
        await relay(clock, 6, [
          [a, [[one, 300]]],
          [one, [[a, 300]]],
        ])
        expect(await store.balanceOf(Accounts.client(one.id.nodeId))).toBe(0n)
        expect((await store.usage({ epoch, hostId: a.id.nodeId }))[0]!.computeUnits).toBe(2_500)
        await waitFor(() => one.calls.some((x) => x.method === 'vipnode_notice' && x.params.code === 'insufficient-balance'), 'notice')
        clock.set(epochs.bounds(epoch).endMs)
        expect(await c.services.settlement.settleDue()).toEqual([epoch])
        const payouts = await store.epochPayouts(epoch)
        const paidTo = (h: TestAgent) => payouts.find((p) => p.payee === (h === hostA ? PAYOUT_A : PAYOUT_B))?.amountWei
        // Revenue 2,500,000 + 400,000 wei, split 2,500 : 400 by what each host's clients paid.
        expect([paidTo(a), paidTo(b)]).toEqual([2_500_000n, 400_000n])
        expect(await store.sumAll()).toBe(0n)
      })

      test('behavior: catching up after a long outage settles every missed epoch once, without reading past epochs and their trees', async () => {
        const { c, clock } = await pool()
        const store = c.services.store
        let treesRead = 0
        const listEpochs = store.listEpochs.bind(store)
        store.listEpochs = async () => {
          treesRead++
          return listEpochs()
        }
        // Two days down with one-hour epochs: 48 epochs to settle, oldest first.
        const first = c.services.epochs.epochOf(clock.now())
        clock.set(c.services.epochs.bounds(first + 47).endMs)
        const done = await c.services.settlement.settleDue()
        expect(done).toEqual(Array.from({ length: 48 }, (_, i) => first + i))
        expect(await store.lastSettledEpoch()).toBe(first + 47)
        expect(await c.services.settlement.settleDue()).toEqual([])
        expect(treesRead).toBe(0)
      })

      test('default: two hosts, three clients, one epoch: split by service time, fee to the fee address, proofs verify', async () => {
        const { c, clock, agent } = await pool({ priceWeiPerMinute: 60_000n, trialWei: 10n ** 9n, feeBps: 500, feeAddress: FEE })
        const hostA = await agent({ role: 'host', payout: PAYOUT_A, capacity: 2 })
        const hostB = await agent({ role: 'host', payout: PAYOUT_B, capacity: 2 })
        const clients = [await agent({ role: 'client' }), await agent({ role: 'client' }), await agent({ role: 'client' })]
        for (const cl of clients) await cl.conn.call('vipnode_requestHosts', { count: 1 })
        const hostOf = (cl: TestAgent) => c.services.assignments.hostsOf(cl.id.nodeId)[0]
        const served = (h: TestAgent) => clients.filter((cl) => hostOf(cl) === h.id.nodeId)
        await serve(clock, 5, [
          [hostA, served(hostA)],
          [hostB, served(hostB)],
          ...clients.map((cl) => [cl, [hostOf(cl) === hostA.id.nodeId ? hostA : hostB]] as [TestAgent, TestAgent[]]),
        ])
        const epoch = c.services.epochs.epochOf(clock.now())
        clock.set(c.services.epochs.bounds(epoch).endMs)
        expect(await c.services.settlement.settleDue()).toEqual([epoch])
        expect(await c.services.settlement.settleDue()).toEqual([]) // idempotent

        const e = (await c.services.store.getEpoch(epoch))!
        const payouts = await c.services.store.epochPayouts(epoch)
        const paid = payouts.reduce((n, p) => n + p.amountWei, 0n)
        expect(paid + e.carriedOutWei).toBe(e.revenueWei + e.carriedInWei)
        expect(payouts.find((p) => p.payee === FEE)?.amountWei).toBe(e.feeWei)
        expect(e.feeWei).toBe((e.revenueWei * 500n) / 10_000n)
        // Each host's share is proportional to its service time.
        const usage = await c.services.store.usage({ epoch })
        const msOf = (h: TestAgent) => usage.filter((u) => u.hostId === h.id.nodeId).reduce((n, u) => n + u.serviceMs, 0)
        const totalMs = BigInt(msOf(hostA) + msOf(hostB))
        for (const [h, addr] of [[hostA, PAYOUT_A], [hostB, PAYOUT_B]] as const) {
          expect(payouts.find((p) => p.payee === addr)?.amountWei).toBe(((e.revenueWei - e.feeWei) * BigInt(msOf(h))) / totalMs)
        }
        expect(await c.services.store.sumAll()).toBe(0n)

        const res = await fetch(`${c.url}/v1/payouts/${PAYOUT_A.toUpperCase().replace('0X', '0x')}`)
        expect(res.status).toBe(200)
        const body = (await res.json()) as { root: string; cumulativeWei: string; proof: string[]; address: string }
        expect(body.root).toBe(e.root)
        expect(body.cumulativeWei).toBe(payouts.find((p) => p.payee === PAYOUT_A)!.cumulativeWei.toString())
        expect(StandardMerkleTree.verify(e.root, ['address', 'uint256'], [body.address, body.cumulativeWei], body.proof)).toBe(true)
        expect((await fetch(`${c.url}/v1/payouts/0x${'00'.repeat(20)}`)).status).toBe(404)
        expect((await fetch(`${c.url}/v1/payouts/nope`)).status).toBe(400)
      })

      test('behavior: an epoch with no service carries everything, and cumulative entitlements persist', async () => {
        const { c, clock } = await pool()
        clock.advance(3 * 3_600_000)
        const settled = await c.services.settlement.settleDue()
        expect(settled.length).toBeGreaterThanOrEqual(3)
        for (const n of settled) expect((await c.services.store.getEpoch(n))?.root).toBe(`0x${'00'.repeat(32)}`)
      })

      test('error: the admin API refuses anonymous and wrong tokens', async () => {
        const { c } = await pool({ adminToken: 'correct-horse-battery-staple' })
        expect((await fetch(`${c.url}/v1/admin/epochs`)).status).toBe(401)
        expect((await fetch(`${c.url}/v1/admin/epochs`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401)
        const ok = await fetch(`${c.url}/v1/admin/usage?epoch=1`, { headers: { authorization: 'Bearer correct-horse-battery-staple' } })
        expect(ok.status).toBe(200)
        expect(await ok.json()).toEqual({ epoch: 1, pairs: [] })
      })
    })
  })
}
