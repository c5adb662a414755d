import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../lib/logger.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { createFakeNetwork } from '../../test/fakenode/fakeNetwork.ts'
import { startFakeNode } from '../../test/fakenode/fakeNode.ts'
import { fakeRoot, startFakeBeacon, type FakeBeacon } from '../../test/fakenode/fakeBeacon.ts'
import { startRelayServer, type RelayLimits, type RelayServer } from './relayServer.ts'
import { RelayTokenBook } from './tokenBook.ts'
import { BEACON_REQUEST_CU } from '../../agent/relay/computeUnits.ts'

const net = createFakeNetwork()
const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
  await net.closeAll()
})

const CLIENT = 'c1'.repeat(64) as NodeId

async function setup(o: { beacon?: boolean; limits?: Partial<RelayLimits> } = {}): Promise<{ relay: RelayServer; beacon: FakeBeacon; token: string }> {
  const node = await startFakeNode({ kind: 'geth', network: net })
  const beacon = await startFakeBeacon()
  cleanup.push(() => beacon.close())
  const tokens = new RelayTokenBook()
  const token = randomBytes(32).toString('hex')
  tokens.add({ token, clientNodeId: CLIENT, expiresAtMs: Date.now() + 60_000 })
  const relay = await startRelayServer({ nodeHttpUrl: node.url, tokens, logger: silentLogger, limits: { requestTimeoutMs: 1_000, ...o.limits }, ...(o.beacon === false ? {} : { beaconUrl: beacon.url }) })
  cleanup.push(() => relay.close())
  return { relay, beacon, token }
}

async function get(relay: RelayServer, path: string, token: string | undefined, init: RequestInit = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(new URL(path, relay.url), { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string>) } })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers }
}

describe('relay server: beacon API', () => {
  it('default: the light-client routes and headers reach the beacon node and come back as it answered', async () => {
    const { relay, beacon, token } = await setup()
    const root = fakeRoot(`block|${8_200_000 - 64}`)
    const boot = await get(relay, `/eth/v1/beacon/light_client/bootstrap/${root}`, token)
    expect(boot.status).toBe(200)
    expect(boot.headers.get('eth-consensus-version')).toBe('deneb')
    expect(boot.json.data.header.beacon.slot).toBe(String(8_200_000 - 64))
    const updates = await get(relay, '/eth/v1/beacon/light_client/updates?start_period=999&count=2', token)
    expect(updates.status).toBe(200)
    expect(updates.json).toHaveLength(2)
    expect((await get(relay, '/eth/v1/beacon/light_client/finality_update', token)).json.data.finalized_header.beacon.slot).toBe(String(8_200_000 - 64))
    expect((await get(relay, '/eth/v1/beacon/light_client/optimistic_update', token)).status).toBe(200)
    expect((await get(relay, '/eth/v1/beacon/headers/head', token)).json.data.header.message.slot).toBe('8200000')
    // A beacon node's own 404 (a root it does not have) is the answer, passed on.
    const unknown = await get(relay, `/eth/v1/beacon/light_client/bootstrap/${fakeRoot('nope')}`, token)
    expect(unknown.status).toBe(404)
    expect(beacon.requests.map((r) => r.url)).toEqual([
      `/eth/v1/beacon/light_client/bootstrap/${root}`,
      '/eth/v1/beacon/light_client/updates?start_period=999&count=2',
      '/eth/v1/beacon/light_client/finality_update',
      '/eth/v1/beacon/light_client/optimistic_update',
      '/eth/v1/beacon/headers/head',
      `/eth/v1/beacon/light_client/bootstrap/${fakeRoot('nope')}`,
    ])
    // JSON-RPC on the same port still works.
    const rpc = await fetch(relay.url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }) })
    expect(((await rpc.json()) as { result: string }).result).toBe('0x539')
  })

  it('error: refused requests never reach the beacon node', async () => {
    const { relay, beacon, token } = await setup()
    const refused: [string, RequestInit, number][] = [
      ['/eth/v1/node/peers', {}, 404],
      ['/eth/v1/beacon/states/head/validators', {}, 404],
      ['/eth/v2/debug/beacon/states/head', {}, 404],
      ['/eth/v1/beacon/pool/attestations', { method: 'POST', body: '[]' }, 404],
      ['/eth/v1/beacon/light_client/finality_update', { method: 'POST', body: '{}' }, 405],
      ['/eth/v1/beacon/light_client/updates?start_period=1&count=129', {}, 400],
      ['/eth/v1/beacon/light_client/updates?start_period=1&count=1&extra=1', {}, 400],
      ['/eth/v1/beacon/light_client/bootstrap/0xdead', {}, 400],
    ]
    for (const [path, init, status] of refused) {
      const r = await get(relay, path, token, init)
      expect(r.status, path).toBe(status)
      expect(r.json.code, path).toBe(status)
      expect(typeof r.json.message).toBe('string')
    }
    expect((await get(relay, '/eth/v1/beacon/light_client/updates?start_period=1&count=500', token)).json.message).toBe('updates count 500 is out of range: 1 to 128 per request')
    // No token, or a wrong one: 401 before anything else.
    for (const t of [undefined, randomBytes(32).toString('hex')]) expect((await get(relay, '/eth/v1/beacon/light_client/finality_update', t)).status).toBe(401)
    expect(beacon.requests).toEqual([])
  })

  it('error: a host without --relay-beacon answers 501; a dead or slow beacon node 502/504', async () => {
    const none = await setup({ beacon: false })
    const r = await get(none.relay, '/eth/v1/beacon/light_client/finality_update', none.token)
    expect(r).toMatchObject({ status: 501, json: { code: 501, message: 'this pool host offers no beacon API (its operator did not pass --relay-beacon)' } })
    const { relay, beacon, token } = await setup()
    beacon.setDown(true)
    expect(await get(relay, '/eth/v1/beacon/light_client/finality_update', token)).toMatchObject({ status: 502, json: { code: 502, message: "the pool host's beacon node is unavailable: HTTP 503: beacon node is syncing" } })
    beacon.setDown(false)
    beacon.setSlow(1_500)
    expect(await get(relay, '/eth/v1/beacon/light_client/finality_update', token)).toMatchObject({ status: 504, json: { code: 504, message: "the pool host's beacon node is unavailable: no answer within 1000 ms" } })
    beacon.setSlow(0)
    await beacon.close()
    expect((await get(relay, '/eth/v1/beacon/light_client/finality_update', token)).status).toBe(502)
  })

  it('behavior: beacon requests take compute units from the client bucket', async () => {
    const { relay, beacon, token } = await setup({ limits: { cuPerSec: 1, cuBurst: 3 * BEACON_REQUEST_CU } })
    expect((await get(relay, '/eth/v1/beacon/light_client/updates?start_period=999&count=2', token)).status).toBe(200)
    expect((await get(relay, '/eth/v1/beacon/light_client/updates?start_period=999&count=2', token)).json.message).toMatch(/^rate limited: this request costs 40 compute units/)
    expect(beacon.requests).toHaveLength(1)
  })

  it('behavior: served beacon requests are the client\'s activity with their compute units; answers that are not service count nothing', async () => {
    const { relay, beacon, token } = await setup({ limits: { cuPerSec: 1, cuBurst: 200 } })
    expect(relay.drainActivity().size).toBe(0)
    expect((await get(relay, '/eth/v1/beacon/light_client/finality_update', token)).status).toBe(200)
    expect((await get(relay, '/eth/v1/beacon/light_client/updates?start_period=999&count=3', token)).status).toBe(200)
    expect(relay.drainActivity().get(CLIENT)).toMatchObject({ requests: 2, computeUnits: BEACON_REQUEST_CU + 3 * BEACON_REQUEST_CU })

    // The beacon node's 404, refusals at the relay, a dead beacon node, an empty bucket: none is service.
    expect((await get(relay, `/eth/v1/beacon/light_client/bootstrap/${fakeRoot('nope')}`, token)).status).toBe(404)
    expect((await get(relay, '/eth/v1/node/peers', token)).status).toBe(404)
    expect((await get(relay, '/eth/v1/beacon/light_client/finality_update', undefined)).status).toBe(401)
    beacon.setDown(true)
    expect((await get(relay, '/eth/v1/beacon/light_client/finality_update', token)).status).toBe(502)
    beacon.setDown(false)
    expect((await get(relay, '/eth/v1/beacon/light_client/updates?start_period=999&count=128', token)).status).toBe(429)
    expect(relay.drainActivity().get(CLIENT)).toBeUndefined()
  })
})
