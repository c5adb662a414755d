/**
 * Attack 6, cool-down griefing via client input: a client whose enode hosts
 * cannot use (a DNS name they cannot resolve) made every admission fail, and
 * each failure cooled the host down; one burst put every host of a pool in
 * cool-down. Now DNS enodes are refused at vipnode_connect, and an admission a
 * host refuses as invalid (INVALID_PARAMS about the client) counts against the
 * client once two distinct hosts say so, never against the host.
 * Economic bound: honest hosts stay eligible (GET /v1/bootstrap and a fresh
 * honest client still get hosts), and the griefing client ends up cooling down.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { ErrorCode, formatEnode, rpcError, type NodeId } from '../../protocol/index.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { testAgent, type TestAgent } from '../harness/agents.ts'
import { waitFor } from '../harness/waitFor.ts'
import { authenticated, identity } from '../harness/rawAgent.ts'
import { storeSnapshot } from '../harness/storeState.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { manualClock } from '../../lib/clock.ts'

type ManualClock = ReturnType<typeof manualClock>

const HOSTS = 10
const GRIEFERS = 3
const REQUESTS_PER_GRIEFER = 5

let coordinators: RunningCoordinator[] = []
let agents: TestAgent[] = []
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()))
  await Promise.all(coordinators.splice(0).map((c) => c.close()))
})

async function pool(config: Parameters<typeof testCoordinator>[0] = {}, clock?: ManualClock) {
  const c = await testCoordinator({ slowStartSlots: 0, ...config }, clock ? { clock } : {})
  coordinators.push(c)
  const agent = async (...args: Parameters<typeof testAgent> extends [string, ...infer R] ? R : never) => {
    const a = await testAgent(c.url, ...args)
    agents.push(a)
    return a
  }
  return { c, agent }
}

/** What an agent that could not use a client's enode answers (the host agent's own admitParamsSchema check). */
const unusableClient = () => rpcError('INVALID_PARAMS', 'invalid params for vipnode_admit: enode: enode host must be an IP address, got "unresolvable.invalid"')

/** A host that refuses the listed clients as unusable and admits everyone else. */
function refusing(unusable: ReadonlySet<NodeId> | 'everyone') {
  return {
    vipnode_admit: (p: any) => {
      if (unusable === 'everyone' || unusable.has(p.nodeId)) throw unusableClient()
      return { admitted: true }
    },
  }
}

async function bootstrapHosts(c: RunningCoordinator, count: number): Promise<string[]> {
  const res = await fetch(`${c.url}/v1/bootstrap?network=1337&count=${count}`)
  return ((await res.json()) as { hosts: string[] }).hosts
}

describe('attack 6: cool-down griefing via client input', () => {
  test('error: a client or host whose enode names a DNS host is refused at connect, and nothing is stored', async () => {
    const { c } = await pool()
    const before = storeSnapshot(c)
    for (const role of ['client', 'host'] as const) {
      const id = identity()
      const enode = formatEnode({ nodeId: id.nodeId, host: 'unresolvable.invalid', tcpPort: 30303, udpPort: 30303 })
      const { agent, reply } = await authenticated(c.url, { ...id, enode }, { role, enode, ...(role === 'client' ? { capacity: undefined } : {}) })
      expect(reply.error).toEqual({ code: ErrorCode.INVALID_PARAMS, message: 'invalid params for vipnode_connect: enode: enode host must be an IP address, got "unresolvable.invalid"' })
      expect(c.services.sessions.get(id.nodeId)).toBeUndefined()
      agent.close()
    }
    expect(storeSnapshot(c)).toEqual(before)
  })

  test('bound: a burst of admissions hosts refuse as the client\'s fault leaves every honest host eligible; the griefers cool down', async () => {
    const { c, agent } = await pool()
    const griefers = Array.from({ length: GRIEFERS }, () => identity())
    const unusable = new Set(griefers.map((g) => g.nodeId))
    const hosts = await Promise.all(Array.from({ length: HOSTS }, (_, i) => agent({ role: 'host', capacity: 5 }, refusing(unusable), identity(31000 + i))))
    const griefing = await Promise.all(griefers.map((g) => agent({ role: 'client', capacity: undefined }, {}, g)))

    let refusedAdmissions = 0
    let refusedRequests = 0
    await Promise.all(
      griefing.map(async (g) => {
        for (let r = 0; r < REQUESTS_PER_GRIEFER; r++) {
          const err = await g.conn.call('vipnode_requestHosts', { count: 4 }).then(
            () => undefined,
            (e: unknown) => e as { code: number },
          )
          expect(err?.code).toBe(ErrorCode.NO_HOSTS_AVAILABLE)
          refusedRequests++
        }
      }),
    )
    for (const h of hosts) refusedAdmissions += h.calls.filter((x) => x.method === 'vipnode_admit').length

    // The bound: no honest host is cooling down, and all of them are still offered.
    const cooling = hosts.filter((h) => (c.services.assignments.coolDownOf(h.id.nodeId)?.untilMs ?? 0) > Date.now())
    expect(cooling.map((h) => h.id.nodeId)).toEqual([])
    expect((await bootstrapHosts(c, 16)).length).toBe(HOSTS)
    const honest = await agent({ role: 'client', capacity: undefined })
    const { hosts: got } = await honest.conn.call('vipnode_requestHosts', { count: 3 })
    expect(got).toHaveLength(3)

    // The griefers are the ones cooling down, and are told why.
    for (const g of griefers) expect(c.services.assignments.clientCoolDownOf(g.nodeId)?.untilMs ?? 0).toBeGreaterThan(Date.now())
    const again = await griefing[0]!.conn.call('vipnode_requestHosts', { count: 1 }).catch((e: unknown) => e as { code: number; message: string })
    expect(again).toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE, message: expect.stringMatching(/^this client was blamed for \d+ dispute\(s\) and gets no new hosts until /) })
    // Struck after the first round that two hosts refused: each griefer spent at most one round of hosts' time.
    expect(refusedAdmissions).toBeLessThanOrEqual(GRIEFERS * 4)
    console.log(
      `DNS ENODE GRIEF: ${GRIEFERS} griefing keys x ${REQUESTS_PER_GRIEFER} requests (${refusedRequests} refused): ${refusedAdmissions} admissions refused as the client's fault; hosts cooling ${cooling.length}/${HOSTS}; bootstrap offers ${HOSTS}/${HOSTS}; griefers cooling ${GRIEFERS}/${GRIEFERS}; fresh honest client got ${got.length} hosts`,
    )
  })

  test('bound: one lying host cannot cool an honest client down; once another host admits the client, the liar is cooled', async () => {
    const { c, agent } = await pool()
    const liar = await agent({ role: 'host', capacity: 5 }, refusing('everyone'), identity(31100))
    const client = await agent({ role: 'client', capacity: undefined })
    // Alone in the pool, the liar's word stands unanswered: one witness, so no strike for the client, no pause for the host.
    await expect(client.conn.call('vipnode_requestHosts', { count: 1 })).rejects.toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE })
    expect(c.services.assignments.clientCoolDownOf(client.id.nodeId)).toBeUndefined()
    expect(c.services.assignments.coolDownOf(liar.id.nodeId)).toBeUndefined()
    // An honest host joins; both are chosen, the honest one admits the client, so the liar's refusal was false.
    const honest = await agent({ role: 'host', capacity: 5 }, {}, identity(31101))
    const { hosts } = await client.conn.call('vipnode_requestHosts', { count: 2 })
    expect(hosts.map((h) => h.nodeId)).toEqual([honest.id.nodeId])
    expect(liar.calls.filter((x) => x.method === 'vipnode_admit')).toHaveLength(2)
    expect(c.services.assignments.clientCoolDownOf(client.id.nodeId)).toBeUndefined()
    expect(c.services.assignments.coolDownOf(liar.id.nodeId)?.strikes).toBe(1)
  })

  test.each([
    ['within', 59_000, true],
    ['beyond', 61_000, false],
  ] as const)('behavior: two hosts refusing the client %s the 1 min window strike it: %s', async (_when, gapMs, struck) => {
    const clock = manualClock()
    const { c, agent } = await pool({ admitRetries: 0 }, clock)
    const first = await agent({ role: 'host', capacity: 5 }, refusing('everyone'), identity(31300))
    const client = await agent({ role: 'client', capacity: undefined })
    await expect(client.conn.call('vipnode_requestHosts', { count: 1 })).rejects.toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE })
    expect(c.services.assignments.clientCoolDownOf(client.id.nodeId)).toBeUndefined()
    // The first witness leaves, so the next request can only meet a second, distinct host.
    await first.close()
    await waitFor(() => c.services.sessions.get(first.id.nodeId)?.session === undefined, 'first host gone')
    await agent({ role: 'host', capacity: 5 }, refusing('everyone'), identity(31301))
    clock.advance(gapMs)
    await expect(client.conn.call('vipnode_requestHosts', { count: 1 })).rejects.toMatchObject({ code: ErrorCode.NO_HOSTS_AVAILABLE })
    expect(c.services.assignments.clientCoolDownOf(client.id.nodeId) !== undefined).toBe(struck)
  })

  test('behavior: a host that times out or fails for its own reasons is still cooled down, and the client is not blamed', async () => {
    const { c, agent } = await pool()
    const broken = await agent(
      { role: 'host', capacity: 5 },
      {
        vipnode_admit: () => {
          throw rpcError('NODE_UNAVAILABLE', 'node refused admit: connection refused')
        },
      },
      identity(31200),
    )
    const client = await agent({ role: 'client', capacity: undefined })
    await client.conn.call('vipnode_requestHosts', { count: 1 }).catch(() => undefined)
    expect(c.services.assignments.coolDownOf(broken.id.nodeId)?.strikes).toBe(1)
    expect(c.services.assignments.clientCoolDownOf(client.id.nodeId)).toBeUndefined()
  })
})
