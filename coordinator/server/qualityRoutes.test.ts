/**
 * The service-quality views over real HTTP: GET /v1/admin/quality and
 * /v1/admin/hosts/:nodeId/quality behind the admin bearer token, the same
 * under /dashboard/api behind the dashboard login, fed by real agents'
 * reports over the agent socket.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { poolAgent, type PoolAgent } from '../../test/harness/attackers.ts'
import { LATENCY_BUCKET_COUNT, RPC_REQUIRED_METHODS } from '../../protocol/index.ts'
import type { RunningCoordinator } from '../coordinator.ts'

const TOKEN = 'admin-token-0123456789abcdef'
const cleanup: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

async function pair(): Promise<{ c: RunningCoordinator; host: PoolAgent; client: PoolAgent }> {
  const c = await testCoordinator({ adminToken: TOKEN, updateIntervalMs: 1_000, relayTokenWindowMs: 60_000 })
  cleanup.push(() => c.close())
  const host = await poolAgent(c, { role: 'host', kind: 'rpc', relayUrl: 'http://127.0.0.1:9/', capabilities: [...RPC_REQUIRED_METHODS], capacity: 5 })
  const client = await poolAgent(c, { role: 'client', kind: 'rpc' })
  cleanup.push(() => host.close(), () => client.close())
  expect((await client.request('vipnode_requestHosts', { count: 1, kind: 'rpc' })).result.hosts[0].nodeId).toBe(host.nodeId)
  return { c, host, client }
}

const buckets = (i: number, n: number) => Array.from({ length: LATENCY_BUCKET_COUNT }, (_, k) => (k === i ? n : 0))
const get = (c: RunningCoordinator, path: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => fetch(`${c.url}${path}`, { headers })
const json = async (res: Response | Promise<Response>): Promise<any> => (await res).json()

describe('GET /v1/admin/hosts/:nodeId/quality', () => {
  test('default: the host\'s standing and its epoch report from its client\'s measures', async () => {
    const { c, host, client } = await pair()
    await host.agent.reply(host.report([]))
    const q = { nodeId: host.nodeId, ok: 40, clientErrors: 2, nodeErrors: 0, refused: 0, transport: 0, timeouts: 10, latency: [{ method: 'eth_getProof', buckets: buckets(2, 40) }] }
    expect((await client.agent.reply(client.report([], { relays: [], quality: [q] }))).error).toBeUndefined()

    const res = await get(c, `/v1/admin/hosts/0x${host.nodeId.toUpperCase()}/quality`)
    expect(res.status).toBe(200)
    const body = await json(res)
    expect(body).toMatchObject({ nodeId: host.nodeId, confirmed: false, witnesses: 1, probation: null })
    expect(body.epochs).toHaveLength(1)
    expect(body.epochs[0]).toMatchObject({ epoch: 1, uptime: 1, calls: { ok: 40, clientErrors: 2, timeouts: 10, total: 52 }, errorRate: 0.2, p50Ms: 50, p99Ms: 50, methods: [{ method: 'eth_getProof', calls: 40 }] })
    const list = await json(get(c, '/v1/admin/quality'))
    expect(list).toMatchObject({ epoch: 1, hosts: [{ nodeId: host.nodeId }] })
    expect((await json(get(c, '/v1/admin/quality?epoch=7'))).hosts).toEqual([])
  })

  test('error: no token 401, a malformed node ID or epoch 400, a host nothing is known of 404', async () => {
    const { c, client } = await pair()
    expect((await get(c, `/v1/admin/hosts/${client.nodeId}/quality`, {})).status).toBe(401)
    const bad = await get(c, '/v1/admin/hosts/abc/quality')
    expect(bad.status).toBe(400)
    expect((await json(bad)).error.message).toMatch(/invalid node ID/)
    expect((await get(c, '/v1/admin/quality?epoch=x')).status).toBe(400)
    const unknown = await get(c, `/v1/admin/hosts/${client.nodeId}/quality`)
    expect(unknown.status).toBe(404)
    expect((await json(unknown)).error.code).toBe('NOT_FOUND')
  })

  test('behavior: a signed-in dashboard session reads the same under /dashboard/api', async () => {
    const { c, host } = await pair()
    await host.agent.reply(host.report([]))
    expect((await get(c, `/dashboard/api/hosts/${host.nodeId}/quality`, {})).status).toBe(401)
    const login = await fetch(`${c.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' })
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!
    const res = await get(c, `/dashboard/api/hosts/${host.nodeId}/quality`, { cookie })
    expect(res.status).toBe(200)
    expect((await json(res)).epochs[0].uptime).toBe(1)
  })
})

describe('quality entries in reports', () => {
  test('bound: entries about a host not assigned to the reporting client, and entries sent by a host, are ignored and counted', async () => {
    const { c, host, client } = await pair()
    const other = await poolAgent(c, { role: 'host', kind: 'rpc', relayUrl: 'http://127.0.0.1:9/', capabilities: [...RPC_REQUIRED_METHODS], capacity: 5 })
    cleanup.push(() => other.close())
    const slander = (nodeId: string) => ({ nodeId, ok: 0, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 10_000, latency: [] })
    expect((await client.agent.reply(client.report([], { quality: [slander(other.nodeId), slander(host.nodeId)] }))).error).toBeUndefined()
    expect((await host.agent.reply(host.report([], { quality: [slander(other.nodeId)] }))).error).toBeUndefined()
    expect(c.services.quality.report(other.nodeId, c.services.clock.now())).toBeUndefined()
    expect(c.services.quality.report(host.nodeId, c.services.clock.now())!.epochs[0]!.calls.timeouts).toBe(10_000)
    const counted = Object.fromEntries((await c.registry.getSingleMetric('vipnode_quality_entries_total')!.get()).values.map((v) => [v.labels.result, v.value]))
    expect(counted).toEqual({ accepted: 1, 'not-assigned': 1, 'not-a-client': 1 })
  })

  test('error: a malformed quality field is refused with INVALID_PARAMS naming the field', async () => {
    const { host, client } = await pair()
    const reply = await client.agent.reply(client.report([], { quality: [{ nodeId: host.nodeId, ok: -1 }] }))
    expect(reply.error).toMatchObject({ code: -32602, message: expect.stringMatching(/quality\.0\.ok/) })
  })
})
