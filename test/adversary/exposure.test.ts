/**
 * Exposure (issue 18.7). Node IDs are public on devp2p; `/v1/nodes/:nodeId`
 * showed anyone a node's balance and its hosts. Now only a query signed by the
 * node's key (protocol/nodeQuery.ts) sees them; a stranger gets the deposit
 * account and the epoch. Also: /metrics on its own address with --metrics-listen.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateNodeKey, nodeIdOf, normaliseOrigin, signNodeQuery, MAX_NODE_QUERY_TTL_MS, type NodeId, type NodeKey } from '../../protocol/index.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { testAgent, type TestAgent } from '../harness/agents.ts'
import { fund } from '../harness/attackers.ts'
import { signedNodeLinks } from '../../client-shim/statusCommand.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'

let c: RunningCoordinator | undefined
const agents: TestAgent[] = []
afterEach(async () => {
  for (const a of agents.splice(0)) await a.close()
  await c?.close()
  c = undefined
})

async function poolWithClient() {
  c = await testCoordinator({ priceWeiPerMinute: 60_000n })
  const host = await testAgent(c.url, { role: 'host' })
  const client = await testAgent(c.url, { role: 'client', capacity: undefined })
  agents.push(host, client)
  await fund(c, client.id.nodeId, 5_000_000n)
  const got = await client.conn.call('vipnode_requestHosts', { count: 1 })
  expect(got.hosts.map((h) => h.nodeId)).toEqual([host.id.nodeId])
  return { c, host, client }
}

const sign = (c: RunningCoordinator, key: NodeKey, nodeId: NodeId, over: { origin?: string; path?: string; expiresAtMs?: number; poolId?: string } = {}) =>
  signNodeQuery(key, {
    poolId: over.poolId ?? c.poolId,
    origin: over.origin ?? normaliseOrigin(c.url),
    nodeId,
    path: over.path ?? `/v1/nodes/${nodeId}`,
    expiresAtMs: over.expiresAtMs ?? Date.now() + 60_000,
  })

const get = async (url: string) => {
  const res = await fetch(url)
  return { status: res.status, body: (await res.json()) as Record<string, any> }
}

describe('exposure: /v1/nodes/:nodeId', () => {
  test('error: an anonymous request sees no balance, service, status or hosts, only what the node ID already says', async () => {
    const { c, client, host } = await poolWithClient()
    for (const id of [client.id.nodeId, host.id.nodeId]) {
      const { status, body } = await get(`${c.url}/v1/nodes/${id}`)
      expect(status).toBe(200)
      expect(Object.keys(body).sort()).toEqual(['authorised', 'depositAccount', 'epoch', 'epochEndsAtMs', 'nodeId'])
      expect(body).toMatchObject({ nodeId: id, authorised: false })
      expect(JSON.stringify(body)).not.toContain(id === client.id.nodeId ? host.id.nodeId : client.id.nodeId)
    }
  })

  test('default: a query signed by the node key sees its balance and its hosts', async () => {
    const { c, client, host } = await poolWithClient()
    const { status, body } = await get(`${c.url}/v1/nodes/${client.id.nodeId}?auth=${sign(c, client.id.key, client.id.nodeId)}`)
    expect(status).toBe(200)
    expect(body).toMatchObject({ authorised: true, known: true, role: 'client', online: true, balanceWei: '5000000', peers: [{ nodeId: host.id.nodeId, online: true }] })
    // The host sees its client the same way, with its own key.
    const hostView = await get(`${c.url}/v1/nodes/${host.id.nodeId}?auth=${sign(c, host.id.key, host.id.nodeId)}`)
    expect(hostView.body).toMatchObject({ authorised: true, role: 'host', peers: [{ nodeId: client.id.nodeId }] })
  })

  test('error: another key, another node\'s path, another origin, another pool, an expired or too long-lived signature are refused and show nothing', async () => {
    const { c, client, host } = await poolWithClient()
    const id = client.id.nodeId
    const now = Date.now()
    const cases: [string, string, number, string][] = [
      ['another key', sign(c, generateNodeKey(), id), 401, 'UNAUTHORISED'],
      ["the host's key", sign(c, host.id.key, id), 401, 'UNAUTHORISED'],
      ["a signature for the host's path", sign(c, client.id.key, id, { path: `/v1/nodes/${host.id.nodeId}` }), 401, 'UNAUTHORISED'],
      ['another origin', sign(c, client.id.key, id, { origin: 'wss://pool.example:443' }), 401, 'UNAUTHORISED'],
      ['another pool', sign(c, client.id.key, id, { poolId: 'other-pool' }), 401, 'UNAUTHORISED'],
      ['expired (a replay after its lifetime)', sign(c, client.id.key, id, { expiresAtMs: now - 1 }), 401, 'AUTH_EXPIRED'],
      ['too long-lived', sign(c, client.id.key, id, { expiresAtMs: now + MAX_NODE_QUERY_TTL_MS + 60_000 }), 401, 'UNAUTHORISED'],
      ['malformed', 'not-a-token', 400, 'INVALID_PARAMS'],
    ]
    for (const [what, auth, status, code] of cases) {
      const res = await get(`${c.url}/v1/nodes/${id}?auth=${encodeURIComponent(auth)}`)
      expect(res.status, what).toBe(status)
      expect(res.body.error?.code, what).toBe(code)
      expect(JSON.stringify(res.body), what).not.toMatch(/balanceWei|peers/)
    }
    // The token signed for the client, presented for the host: refused (it names the client's path).
    const forClient = sign(c, client.id.key, id)
    expect((await get(`${c.url}/v1/nodes/${host.id.nodeId}?auth=${forClient}`)).status).toBe(401)
  })

  test('behavior: with --public-url the signature must name that origin, not the address the request arrived at', async () => {
    c = await testCoordinator({ publicUrls: ['https://pool.example'] })
    const key = generateNodeKey()
    const id = nodeIdOf(key)
    expect((await get(`${c.url}/v1/nodes/${id}?auth=${sign(c, key, id)}`)).status).toBe(401)
    expect((await get(`${c.url}/v1/nodes/${id}?auth=${sign(c, key, id, { origin: 'wss://pool.example:443' })}`)).body).toMatchObject({ authorised: true, known: false })
  })

  test('default: `vipnode client status` links (signedNodeLinks) open the private view', async () => {
    const { c, client } = await poolWithClient()
    const dir = mkdtempSync(join(tmpdir(), 'vipnode-status-'))
    const keyFile = join(dir, 'nodekey')
    writeFileSync(keyFile, client.id.key)
    const links = await signedNodeLinks(c.url, keyFile, 60_000)
    expect(links.nodeId).toBe(client.id.nodeId)
    expect(links.page).toBe(`${c.url}/join?node=${client.id.nodeId}&auth=${links.auth}`)
    expect((await get(links.api)).body).toMatchObject({ authorised: true, balanceWei: '5000000' })
  })
})

describe('exposure: /metrics', () => {
  test('behavior: with --metrics-listen, /metrics is served on that address and is a 404 on the public port', async () => {
    c = await testCoordinator({ metricsListen: { host: '127.0.0.1', port: 0 } })
    expect(c.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const priv = await fetch(`${c.metricsUrl}/metrics`)
    expect(priv.status).toBe(200)
    expect(await priv.text()).toContain('vipnode_')
    expect((await fetch(`${c.url}/metrics`)).status).toBe(404)
    expect((await fetch(`${c.metricsUrl}/v1/status`)).status).toBe(404)
  })

  test('default: without --metrics-listen /metrics stays on the public port', async () => {
    c = await testCoordinator()
    expect(c.metricsUrl).toBeUndefined()
    expect((await fetch(`${c.url}/metrics`)).status).toBe(200)
  })
})
