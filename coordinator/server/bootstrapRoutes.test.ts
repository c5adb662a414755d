/** GET /v1/bootstrap: query validation (pure) and the endpoint over real HTTP with real agents. */
import { describe, test, expect, afterEach } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { testAgent, type TestAgent } from '../../test/harness/agents.ts'
import type { RunningCoordinator } from '../coordinator.ts'
import type { CoordinatorConfigInput } from '../config.ts'
import { parseBootstrapQuery } from './bootstrapRoutes.ts'

const NODE = 'ab'.repeat(64)

describe('query', () => {
  test('default: count 3 and the pool chain when given nothing; JSON unless text is asked for', () => {
    expect(parseBootstrapQuery({}, 1, false)).toEqual({ ok: true, value: { count: 3, chainId: 1, format: 'json' } })
    expect(parseBootstrapQuery({}, 1, true)).toMatchObject({ ok: true, value: { format: 'text' } })
    expect(parseBootstrapQuery({ format: 'json' }, 1, true)).toMatchObject({ ok: true, value: { format: 'json' } })
    expect(parseBootstrapQuery({ count: '16', network: '5', nodeId: `0x${NODE.toUpperCase()}`, region: 'eu-west', format: 'text' }, undefined, false)).toEqual({
      ok: true,
      value: { count: 16, chainId: 5, nodeId: NODE, region: 'eu-west', format: 'text' },
    })
  })
  test.each([
    [{ count: '0' }, 'count must be a whole number from 1 to 16'],
    [{ count: '17' }, 'count must be a whole number from 1 to 16'],
    [{ count: '2.5' }, 'count must be a whole number from 1 to 16'],
    [{ count: ['1', '2'] }, 'count must be given once'],
    [{ network: 'mainnet' }, 'network must be a chain id: a positive whole number, e.g. network=1'],
    [{ network: '0' }, 'network must be a chain id: a positive whole number, e.g. network=1'],
    [{ nodeId: 'abc' }, 'nodeId must be a node ID: 128 hex characters (the 64-byte public key)'],
    [{ region: 'x'.repeat(33) }, 'region must be 1 to 32 letters, digits, dots, dashes or underscores'],
    [{ format: 'xml' }, 'format must be json or text'],
  ])('error: %j is refused', (query, message) => {
    expect(parseBootstrapQuery({ network: '1', ...query }, undefined, false)).toEqual({ ok: false, code: 'INVALID_PARAMS', message })
  })
  test('error: without a pool chain the network is required; with one, another network is refused', () => {
    expect(parseBootstrapQuery({}, undefined, false)).toMatchObject({ ok: false, code: 'INVALID_PARAMS', message: expect.stringContaining('network is required') })
    expect(parseBootstrapQuery({ network: '5' }, 1, false)).toEqual({ ok: false, code: 'WRONG_NETWORK', message: 'this pool serves chain 1, not 5' })
  })
})

describe('endpoint', () => {
  let coordinators: RunningCoordinator[] = []
  let agents: TestAgent[] = []
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()))
    await Promise.all(coordinators.splice(0).map((c) => c.close()))
  })
  async function start(config: CoordinatorConfigInput = {}, clock = manualClock()) {
    const c = await testCoordinator(config, { clock })
    coordinators.push(c)
    const agent = async (...args: Parameters<typeof testAgent> extends [string, ...infer R] ? R : never) => {
      const a = await testAgent(c.url, ...args)
      agents.push(a)
      return a
    }
    return { c, agent, clock }
  }

  test('default: JSON with enode URIs of hosts with free slots; nothing is admitted or reserved', async () => {
    const { c, agent } = await start()
    const a = await agent({ role: 'host', capacity: 1 })
    const b = await agent({ role: 'host', capacity: 3 })
    const res = await fetch(`${c.url}/v1/bootstrap?count=2&network=1337`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('application/json')
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as { hosts: string[] }
    expect(body).toEqual({ hosts: expect.arrayContaining([a.id.enode, b.id.enode]) })
    expect(body.hosts).toHaveLength(2)
    expect([...a.calls, ...b.calls]).toEqual([])
    expect(await c.services.store.activeAssignments()).toEqual([])
    expect(c.services.assignments.loadOf(a.id.nodeId)).toBe(0)
    expect(c.services.assignments.recentDecisions(1)[0]).toMatchObject({ source: 'http', requested: 2 })
  })

  test('behavior: text, by Accept header or ?format=text, is one enode per line', async () => {
    const { c, agent } = await start()
    const a = await agent({ role: 'host' })
    const byHeader = await fetch(`${c.url}/v1/bootstrap?network=1337&count=1`, { headers: { accept: 'text/plain' } })
    expect(byHeader.headers.get('content-type')).toContain('text/plain')
    expect(await byHeader.text()).toBe(`${a.id.enode}\n`)
    const byQuery = await fetch(`${c.url}/v1/bootstrap?network=1337&format=text`)
    expect(await byQuery.text()).toBe(`${a.id.enode}\n`)
  })

  test('behavior: the preview does not depend on the node\'s history: a node holding a host gets the same answer as a fresh one (no stickiness to leak its hosts)', async () => {
    const { c, agent } = await start()
    const a = await agent({ role: 'host' })
    const b = await agent({ role: 'host' })
    await agent({ role: 'host', capacity: 1, chainId: 1 })
    const client = await agent({ role: 'client' })
    const got = await client.conn.call('vipnode_requestHosts', { count: 1 })
    expect(got.hosts).toHaveLength(1)
    const preview = async (nodeId: string) => (await (await fetch(`${c.url}/v1/bootstrap?network=1337&count=3&nodeId=${nodeId}`)).json()) as { hosts: string[]; message?: string }
    const withHistory = await preview(client.id.nodeId)
    const fresh = await preview('ab'.repeat(64))
    expect(withHistory.message).toBe('only 2 of 3 hosts on chain 1337: 1 wrong-network')
    expect({ ...withHistory, hosts: [...withHistory.hosts].sort() }).toEqual({ ...fresh, hosts: [...fresh.hosts].sort() })
    expect([...withHistory.hosts].sort()).toEqual([a.id.enode, b.id.enode].sort())
    // A host asking for its own bootstrap list is not offered itself.
    expect((await preview(a.id.nodeId)).hosts).toEqual([b.id.enode])
  })

  test('behavior: no host fits: 503 with the same explanation as vipnode_requestHosts, in JSON or as a text line', async () => {
    const { c, agent } = await start()
    const full = await agent({ role: 'host', capacity: 1 })
    await agent({ role: 'host', kind: 'rpc', relayUrl: 'http://127.0.0.1:8546' })
    const client = await agent({ role: 'client' })
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    const json = await fetch(`${c.url}/v1/bootstrap?network=1337`)
    expect(json.status).toBe(503)
    expect(await json.json()).toEqual({ hosts: [], message: 'no hosts with free slots on chain 1337: 1 full, 1 wrong-kind' })
    const text = await fetch(`${c.url}/v1/bootstrap?network=1337&format=text`)
    expect(text.status).toBe(503)
    expect(await text.text()).toBe('no hosts with free slots on chain 1337: 1 full, 1 wrong-kind\n')
    expect(c.services.assignments.skipReasons(full.id.nodeId)).toMatchObject({ reason: 'full', clientId: null })
  })

  test('error: bad input gets 400 with a JSON error', async () => {
    const { c } = await start({ chainId: 1337 })
    for (const [query, code] of [
      ['count=abc', 'INVALID_PARAMS'],
      ['count=99', 'INVALID_PARAMS'],
      ['network=-1', 'INVALID_PARAMS'],
      ['nodeId=xyz', 'INVALID_PARAMS'],
      ['network=1', 'WRONG_NETWORK'],
    ] as const) {
      const res = await fetch(`${c.url}/v1/bootstrap?${query}`)
      expect(res.status, query).toBe(400)
      expect(await res.json(), query).toMatchObject({ error: { code, message: expect.any(String) } })
    }
    // The pool's chain is the default network.
    expect((await fetch(`${c.url}/v1/bootstrap`)).status).toBe(503)
  })

  test('error: beyond the burst, one address gets 429 until time refills its bucket', async () => {
    const { c, clock } = await start()
    const statuses: number[] = []
    for (let i = 0; i < 11; i++) statuses.push((await fetch(`${c.url}/v1/bootstrap?network=1337`)).status)
    expect(statuses.slice(0, 10).every((s) => s === 503)).toBe(true)
    const limited = await fetch(`${c.url}/v1/bootstrap?network=1337`)
    expect(statuses[10]).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('1')
    expect(await limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED' } })
    clock.advance(1_000)
    expect((await fetch(`${c.url}/v1/bootstrap?network=1337`)).status).toBe(503)
  })
})
