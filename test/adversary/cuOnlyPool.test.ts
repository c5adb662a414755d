/**
 * A pool that prices only compute units (`--price-per-cu`, no `--price`,
 * issue 21): units are billed after they are served, and the affordability
 * check read only the per-minute price, so any balance above zero — 1 wei —
 * was given every rpc host it asked for (up to `--max-hosts-per-client`),
 * and a client that had spent its balance down came straight back for more
 * hosts with the dust it had left.
 *
 * Real parts: an in-process coordinator on loopback; raw agents on real pool
 * sockets that report relay traffic (`relays` with `computeUnits`) the way an
 * honest relay and proxy would, both sides the same figures.
 *
 * Bound: a client is given only hosts it can pay one update interval of
 * relay service each (`--hold-cu-rate` units per second at `--price-per-cu`);
 * zero and dust balances get none and are told why; a client that spends its
 * balance by relayed calls is charged exactly for the units credited (never
 * more than both sides reported), its balance never goes below zero, it is
 * released and told to top up once a report's units cannot all be paid, and
 * it gets no new host with what it has left.
 */
import { describe, test, expect, afterEach } from 'vitest'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { audit } from '../../coordinator/admin/audit.ts'
import { DEFAULT_RELAY_CU_RATE } from '../../protocol/costTable.ts'
import { ErrorCode, RPC_REQUIRED_METHODS, type NodeId } from '../../protocol/index.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { assignmentHistory, balanceOf, chargedWei, creditedUnits, every, fund, poolAgent, type PoolAgent } from '../harness/attackers.ts'

const INTERVAL = 400
/** 1,000 wei per compute unit, no time price. */
const PRICE_PER_CU = 1_000n
/** One rpc host for one interval at the default hold rate: 400 units, 400,000 wei. */
const HOLD_UNITS = (DEFAULT_RELAY_CU_RATE * INTERVAL) / 1000
const HOLD_WEI = BigInt(HOLD_UNITS) * PRICE_PER_CU
const CAP = 3

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

async function pool(): Promise<{ c: RunningCoordinator; hosts: PoolAgent[] }> {
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, pricePerCuWei: PRICE_PER_CU, maxHostsPerClient: CAP, rateLimitPerSecond: 500, rateLimitBurst: 500 })
  cleanup.push(() => c.close())
  const hosts = await Promise.all(
    Array.from({ length: 4 }, () => poolAgent(c, { role: 'host', kind: 'rpc', capacity: 10, relayUrl: 'http://127.0.0.1:8546', capabilities: [...RPC_REQUIRED_METHODS] })),
  )
  for (const h of hosts) cleanup.push(() => h.close())
  return { c, hosts }
}

async function rpcClient(c: RunningCoordinator): Promise<PoolAgent> {
  const client = await poolAgent(c, { role: 'client', kind: 'rpc' })
  cleanup.push(() => client.close())
  return client
}

const ask = (client: PoolAgent, count: number) => client.request('vipnode_requestHosts', { count, kind: 'rpc' })
const admitsOf = (hosts: readonly PoolAgent[], clientId: NodeId) => hosts.reduce((n, h) => n + h.calls.filter((x) => x.method === 'vipnode_admit' && x.params.nodeId === clientId).length, 0)

describe('adversary: a pool that prices only compute units', () => {
  test('bound: zero and dust balances get no host and are told why; a funded client gets as many as it can pay one interval each', async () => {
    const { c, hosts } = await pool()

    const broke = await rpcClient(c)
    const none = await ask(broke, CAP)
    expect(none.error).toMatchObject({ code: ErrorCode.INSUFFICIENT_BALANCE, message: 'balance 0 wei is below the minimum of 1 wei', data: { balanceWei: '0' } })

    // Dust: before the hold rule, 1 wei got all three hosts.
    const dust = await rpcClient(c)
    await fund(c, dust.nodeId, 1n)
    const refused = await ask(dust, CAP)
    expect(refused.error).toMatchObject({
      code: ErrorCode.INSUFFICIENT_BALANCE,
      message: `balance 1 wei cannot pay a host for one update interval (${INTERVAL} ms): ${HOLD_UNITS} compute units at ${PRICE_PER_CU} wei (${DEFAULT_RELAY_CU_RATE} per second), ${HOLD_WEI} wei in all`,
    })
    // Just short of one hold is still nothing.
    await fund(c, dust.nodeId, HOLD_WEI - 2n)
    expect((await ask(dust, CAP)).error).toMatchObject({ code: ErrorCode.INSUFFICIENT_BALANCE })
    for (const who of [broke, dust]) {
      expect(admitsOf(hosts, who.nodeId)).toBe(0)
      expect(assignmentHistory(c, who.nodeId)).toEqual([])
    }

    // Two holds and a bit: two hosts, not the three asked for; ten holds: the cap.
    const modest = await rpcClient(c)
    await fund(c, modest.nodeId, 2n * HOLD_WEI + 1n)
    expect((await ask(modest, CAP)).result.hosts).toHaveLength(2)
    const rich = await rpcClient(c)
    await fund(c, rich.nodeId, 10n * HOLD_WEI)
    expect((await ask(rich, CAP)).result.hosts).toHaveLength(CAP)
    // Asking again changes nothing: what is held counts against what the balance pays.
    expect((await ask(modest, CAP)).result.hosts).toHaveLength(2)
    expect(c.services.assignments.hostsOf(modest.nodeId)).toHaveLength(2)
    console.log(`figures: cu-only pool: hold ${HOLD_UNITS} CU = ${HOLD_WEI} wei per host per ${INTERVAL} ms interval; 0 wei and ${HOLD_WEI - 1n} wei: no host; ${2n * HOLD_WEI + 1n} wei: 2 hosts; ${10n * HOLD_WEI} wei: ${CAP}`)
  })

  test('bound: a client that spends its balance down by relayed calls is charged only for units both sides reported, never goes below zero, is released and gets no new host', async () => {
    const { c, hosts } = await pool()
    const client = await rpcClient(c)
    // 1,000.5 units of money: the last report cannot be paid in full and 500 wei of dust is left.
    const FUNDED = 2n * HOLD_WEI + 200n * PRICE_PER_CU + 500n
    await fund(c, client.nodeId, FUNDED)
    const got = (await ask(client, 1)).result.hosts
    expect(got).toHaveLength(1)
    const host = hosts.find((h) => h.nodeId === got[0].nodeId)!

    // Each interval the relay serves 150 units and both ends say so, while the pool vouches for the pair.
    const PER_REPORT = 150
    let reportedByClient = 0
    let lowest = FUNDED
    cleanup.push(
      every(5, () => {
        void balanceOf(c, client.nodeId).then((b) => {
          if (b < lowest) lowest = b
        })
      }),
    )
    cleanup.push(
      every(INTERVAL, () => {
        const traffic = (id: NodeId) => ({ nodeId: id, requests: 5, busyMs: 50, computeUnits: PER_REPORT })
        host.report([], { relays: c.services.assignments.clientsOf(host.nodeId).map(traffic) })
        const mine = c.services.assignments.hostsOf(client.nodeId)
        if (mine.length > 0) reportedByClient += PER_REPORT
        client.report([], { relays: mine.map(traffic) })
      }),
    )

    await waitFor(() => client.notices.some((n) => n.code === 'insufficient-balance'), 'the client is told it ran out', { timeoutMs: 20 * INTERVAL })
    const released = assignmentHistory(c, client.nodeId)
    expect(released).toHaveLength(1)
    expect(released[0]).toMatchObject({ hostId: host.nodeId, releaseReason: 'insufficient-balance' })
    expect(released[0]!.releasedAtMs).not.toBeNull()
    await waitFor(() => host.calls.some((x) => x.method === 'vipnode_evict' && x.params.nodeId === client.nodeId), 'the host is told to evict it')

    // What is left is dust: it buys no host.
    const left = await balanceOf(c, client.nodeId)
    expect(left).toBe(500n)
    const again = await ask(client, 1)
    expect(again.error).toMatchObject({ code: ErrorCode.INSUFFICIENT_BALANCE, message: expect.stringContaining('balance 500 wei cannot pay a host for one update interval') })
    expect(admitsOf(hosts, client.nodeId)).toBe(1)

    // The economic bound: billed exactly the credited units, which never exceed what the client reported (= what was
    // served); the host went unpaid for at most the report that found the balance short (and the pile carried with it).
    const units = creditedUnits(c, client.nodeId)
    const billed = chargedWei(c, client.nodeId)
    console.log(`figures: cu-only pool spend-down: funded ${FUNDED} wei, served ${reportedByClient} CU, credited and paid ${units} CU = ${billed} wei, left ${left} wei, lowest balance seen ${lowest} wei`)
    expect(billed).toBe(BigInt(units) * PRICE_PER_CU)
    expect(billed).toBe(FUNDED - left)
    expect(units).toBeLessThanOrEqual(reportedByClient)
    expect(reportedByClient - units).toBeLessThanOrEqual(2 * PER_REPORT)
    expect(lowest).toBeGreaterThanOrEqual(0n)
    expect(await audit(c.services.store)).toMatchObject({ ok: true })
  })
})
