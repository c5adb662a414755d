import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../lib/logger.ts'
import type { NodeId } from '../../protocol/enode.ts'
import { createFakeNetwork } from '../../test/fakenode/fakeNetwork.ts'
import { startFakeNode } from '../../test/fakenode/fakeNode.ts'
import { startFakeBeacon, type FakeBeacon } from '../../test/fakenode/fakeBeacon.ts'
import { startRelayServer, type RelayServer } from '../../host-agent/relay/relayServer.ts'
import { RelayTokenBook } from '../../host-agent/relay/tokenBook.ts'
import { startBeaconProxy, type BeaconProxy } from './beaconProxy.ts'
import type { RpcTarget } from './targets.ts'
import { BEACON_REQUEST_CU } from '../../agent/relay/computeUnits.ts'

const net = createFakeNetwork()
const cleanup: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
  await net.closeAll()
})

const CLIENT = 'c1'.repeat(64) as NodeId

/** One pool host: a relay in front of a stand-in node and a stand-in beacon API. */
async function host(id: string, o: { beacon?: boolean } = {}): Promise<{ target: RpcTarget; beacon: FakeBeacon; relay: RelayServer }> {
  const node = await startFakeNode({ kind: 'geth', network: net })
  const beacon = await startFakeBeacon()
  cleanup.push(() => beacon.close())
  const tokens = new RelayTokenBook()
  const token = randomBytes(32).toString('hex')
  tokens.add({ token, clientNodeId: CLIENT, expiresAtMs: Date.now() + 60_000 })
  const relay = await startRelayServer({ nodeHttpUrl: node.url, tokens, logger: silentLogger, limits: { requestTimeoutMs: 1_000 }, ...(o.beacon === false ? {} : { beaconUrl: beacon.url }) })
  cleanup.push(() => relay.close())
  return { target: { hostNodeId: id.repeat(64) as NodeId, relayUrl: relay.url, token }, beacon, relay }
}

async function proxy(targets: RpcTarget[]): Promise<BeaconProxy> {
  const p = await startBeaconProxy({ logger: silentLogger, relayAddresses: { allowPrivate: true }, requestTimeoutMs: 1_500 })
  cleanup.push(() => p.close())
  p.setTargets(targets)
  return p
}

async function get(p: BeaconProxy, path: string, init: RequestInit = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(`${p.url}${path}`, init)
  return { status: res.status, json: JSON.parse(await res.text()), headers: res.headers }
}

const FINALITY = '/eth/v1/beacon/light_client/finality_update'

describe('beacon proxy (shim)', () => {
  it('default: relays through the first host and sticks to it; the reply is the beacon node’s', async () => {
    const a = await host('a1')
    const b = await host('b2')
    const p = await proxy([a.target, b.target])
    for (let i = 0; i < 3; i++) {
      const r = await get(p, FINALITY)
      expect(r.status).toBe(200)
      expect(r.headers.get('eth-consensus-version')).toBe('deneb')
      expect(r.json.data.finalized_header.beacon.slot).toBe(String(8_200_000 - 64))
    }
    expect(a.beacon.requests).toHaveLength(3)
    expect(b.beacon.requests).toHaveLength(0)
  })

  it('behavior: one beacon node dies, the other host answers without an error', async () => {
    const a = await host('a1')
    const b = await host('b2')
    const p = await proxy([a.target, b.target])
    const before = await get(p, FINALITY)
    await a.beacon.close()
    const after = await get(p, FINALITY)
    expect(after.status).toBe(200)
    expect(after.json).toEqual(before.json)
    expect(b.beacon.requests.map((r) => r.url)).toEqual([FINALITY])
    // Sticky to the host that served: the next one goes straight to b.
    await get(p, '/eth/v1/beacon/light_client/updates?start_period=999&count=1')
    expect(b.beacon.requests).toHaveLength(2)
    // A syncing beacon node (503 -> relay 502) and a host without a beacon API (501) fail over too.
    b.beacon.setDown(true)
    const c = await host('c3', { beacon: false })
    const d = await host('d4')
    p.setTargets([b.target, c.target, d.target])
    expect((await get(p, FINALITY)).status).toBe(200)
    expect(d.beacon.requests).toHaveLength(1)
  })

  it('error: every host failing gives 503 with each host’s reason; none assigned too', async () => {
    const a = await host('a1')
    const b = await host('b2', { beacon: false })
    const p = await proxy([a.target, b.target])
    a.beacon.setDown(true)
    const r = await get(p, FINALITY)
    expect(r.status).toBe(503)
    expect(r.json).toEqual({
      code: 503,
      message:
        "no pool host with a beacon API available: host a1a1a1a1: the pool host's beacon node is unavailable: HTTP 503: beacon node is syncing (HTTP 502); host b2b2b2b2: this pool host offers no beacon API (its operator did not pass --relay-beacon) (HTTP 501)",
    })
    p.setTargets([])
    expect(await get(p, FINALITY)).toMatchObject({ status: 503, json: { code: 503, message: 'no pool host with a beacon API available: none of the hosts the pool assigned to this client serves the beacon API (--relay-beacon)' } })
  })

  it('error: refused routes, methods and bounds are answered locally and reach no host', async () => {
    const a = await host('a1')
    const p = await proxy([a.target])
    expect(await get(p, '/eth/v1/node/identity')).toMatchObject({ status: 404, json: { code: 404 } })
    expect(await get(p, '/eth/v1/beacon/light_client/updates?start_period=1&count=1000')).toMatchObject({ status: 400, json: { message: 'updates count 1000 is out of range: 1 to 128 per request' } })
    expect(await get(p, FINALITY, { method: 'POST', body: '{}' })).toMatchObject({ status: 405 })
    expect(await get(p, '/')).toMatchObject({ status: 404 })
    expect(await get(p, FINALITY, { headers: { origin: 'https://evil.example' } })).toMatchObject({ status: 403 })
    expect(a.beacon.requests).toEqual([])
  })

  it('behavior: served requests are counted per host with their compute units, the same figures the relay counts; a host that failed over counts nothing on either end', async () => {
    const a = await host('a1')
    const b = await host('b2')
    const p = await proxy([a.target, b.target])
    a.beacon.setDown(true) // a's relay answers 502: not service, the request moves to b
    expect((await get(p, FINALITY)).status).toBe(200)
    expect((await get(p, '/eth/v1/beacon/light_client/updates?start_period=999&count=4')).status).toBe(200)
    // A 404 from b's beacon node is its answer, and not service.
    expect((await get(p, `/eth/v1/beacon/light_client/bootstrap/0x${'ee'.repeat(32)}`)).status).toBe(404)
    const shimSide = p.drainActivity()
    const units = BEACON_REQUEST_CU + 4 * BEACON_REQUEST_CU
    expect([...shimSide.keys()]).toEqual([b.target.hostNodeId])
    expect(shimSide.get(b.target.hostNodeId)).toMatchObject({ requests: 2, computeUnits: units })
    expect(b.relay.drainActivity().get(CLIENT)).toMatchObject({ requests: 2, computeUnits: units })
    expect(a.relay.drainActivity().get(CLIENT)).toBeUndefined()
    expect(a.beacon.requests).toHaveLength(1) // it did reach a's beacon node, which failed
  })
})
