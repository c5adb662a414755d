/**
 * The beacon side of the rpc service in one process: a coordinator, hosts
 * with and without a beacon relay (stand-in beacon APIs), and a shim with
 * --beacon-listen that a light client reads the light-client routes from.
 */
import { describe, test, expect } from 'vitest'
import { createFakeNetwork } from '../test/fakenode/fakeNetwork.ts'
import { startFakeBeacon } from '../test/fakenode/fakeBeacon.ts'
import { testCoordinator } from '../test/harness/coordinator.ts'
import { waitFor } from '../test/harness/waitFor.ts'
import { generateNodeKey } from '../protocol/index.ts'
import { silentLogger } from '../lib/logger.ts'
import { startRpcClientShim } from './rpcClientShim.ts'
import { closeAfterEach, keyFileWriter, scratchDir } from '../test/harness/scratch.ts'
import { startRpcHost } from '../test/harness/rpcHosts.ts'

const dir = scratchDir('beacon')
const cleanup = closeAfterEach()
const net = createFakeNetwork()
const keyFile = keyFileWriter(dir)

const FINALITY = '/eth/v1/beacon/light_client/finality_update'

describe('rpc service: beacon API', () => {
  test('behavior: the shim serves the light-client routes through beacon hosts only, fails over when a beacon node dies, and refused routes reach none', async () => {
    const c = await testCoordinator({ updateIntervalMs: 300, relayTokenWindowMs: 60_000 })
    cleanup.push(() => c.close())
    const beacons = [await startFakeBeacon(), await startFakeBeacon()]
    for (const b of beacons) cleanup.push(() => b.close())
    const a = await startRpcHost(c.url, { net, keyFile, cleanup, beaconUrl: beacons[0]!.url })
    const b = await startRpcHost(c.url, { net, keyFile, cleanup, beaconUrl: beacons[1]!.url })
    const plain = await startRpcHost(c.url, { net, keyFile, cleanup })
    expect(c.services.sessions.get(a.agent.identity.nodeId)?.session?.capabilities?.has('beacon')).toBe(true)
    expect(c.services.sessions.get(plain.agent.identity.nodeId)?.session?.capabilities?.has('beacon')).toBe(false)

    const shim = await startRpcClientShim(
      { bootstrap: c.url, nodekey: keyFile(generateNodeKey()), chainId: 1337, hosts: 3, listenHost: '127.0.0.1', listenPort: 0, beaconListen: { host: '127.0.0.1', port: 0 }, updateIntervalMs: 100 },
      { log: silentLogger },
    )
    cleanup.push(() => shim.close())
    await waitFor(() => shim.proxy.targets().length === 3, 'three rpc hosts assigned')
    const beaconHosts = new Set([a.agent.identity.nodeId, b.agent.identity.nodeId])
    expect(new Set(shim.beacon!.targets().map((t) => t.hostNodeId))).toEqual(beaconHosts)

    const get = async (path: string) => {
      const res = await fetch(`${shim.beacon!.url}${path}`)
      return { status: res.status, json: (await res.json()) as any }
    }
    const first = await get(FINALITY)
    expect(first.status).toBe(200)
    const used = beacons.findIndex((x) => x.requests.length === 1)
    expect(used).toBeGreaterThanOrEqual(0)

    // Refused at the shim: nothing reaches any beacon node.
    expect((await get('/eth/v1/node/peers')).status).toBe(404)
    expect((await get('/eth/v1/beacon/light_client/updates?start_period=999&count=129')).status).toBe(400)
    expect(beacons.flatMap((x) => x.requests).map((r) => r.url)).toEqual([FINALITY])

    // The beacon node in use dies: the other host answers the same.
    await beacons[used]!.close()
    const after = await get(FINALITY)
    expect(after).toEqual(first)
    expect(beacons[1 - used]!.requests.map((r) => r.url)).toEqual([FINALITY])

    // Both gone: a 503 that says why, per host.
    await beacons[1 - used]!.close()
    const none = await get(FINALITY)
    expect(none.status).toBe(503)
    expect(none.json.message).toMatch(/^no pool host with a beacon API available: host [0-9a-f]{8}: the pool host's beacon node is unavailable: /)
  })
})
