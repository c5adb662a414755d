/**
 * The beacon API with real processes: the coordinator, two stand-in nodes,
 * two `vipnode host --service rpc --relay-beacon URL` agents and one
 * `vipnode client --service rpc --beacon-listen` shim are child processes;
 * the two stand-in beacon APIs (test/fakenode/fakeBeacon.ts) run in the test
 * process, so the test can read their request logs and close one. The test
 * process is the light client: it reads what Helios reads at start through
 * the shim's beacon port, then the beacon node behind the host that served
 * goes away and the next requests must come from the other host.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnVipnode, type Proc } from '../harness/processes.ts'
import { startFakeNodeProcess, startRpcHostProcess, type RpcHostProc } from '../harness/rpcProcesses.ts'
import { waitFor } from '../harness/waitFor.ts'
import { fakeRoot, startFakeBeacon, type FakeBeacon } from '../fakenode/fakeBeacon.ts'

const INTERVAL = '300ms'
const CHAIN_ID = 1337
/** The stand-ins' head slot: its finalized block (64 slots back) is Helios's checkpoint, in sync period 1000 (8192 slots each). */
const SLOT = 8_200_000
/** What Helios asks at start, in order: the bootstrap at its checkpoint, the updates since, the latest finality and optimistic updates. */
const HELIOS_BEACON_START = [
  `/eth/v1/beacon/light_client/bootstrap/${fakeRoot(`block|${SLOT - 64}`)}`,
  '/eth/v1/beacon/light_client/updates?start_period=999&count=2',
  '/eth/v1/beacon/light_client/finality_update',
  '/eth/v1/beacon/light_client/optimistic_update',
]

const dir = mkdtempSync(join(tmpdir(), 'vipnode-e2e-beacon-'))
const procs: Proc[] = []
const beacons: FakeBeacon[] = []
let hosts: RpcHostProc[] = []
let shim: Proc
let shimBeaconUrl = ''

function track(p: Proc): Proc {
  procs.push(p)
  return p
}

/** One GET, status and the exact bytes. */
async function get(base: string, path: string): Promise<{ status: number; contentType: string | null; body: string }> {
  const res = await fetch(`${base}${path}`)
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() }
}

beforeAll(async () => {
  const started = Date.now()
  for (let i = 0; i < 2; i++) beacons.push(await startFakeBeacon({ slot: SLOT }))
  const keygen = track(spawnVipnode(['keygen', '--out', join(dir, 'client.key')]))
  const coordinator = track(spawnVipnode(['coordinator', '--allow-private-addresses', '--port', '0', '--db', join(dir, 'pool.db'), '--pool-id', 'e2e-beacon', '--chain-id', String(CHAIN_ID), '--update-interval', INTERVAL]))
  const coordinatorUrl = (await coordinator.waitForLog((l) => l.msg === 'coordinator listening', 'coordinator listening', 30_000)).url as string
  // The hosts start before the shim, so its first request can be given both.
  hosts = await Promise.all(
    beacons.map(async (b) => {
      const node = await startFakeNodeProcess({ dir, chainId: CHAIN_ID, head: 50, track })
      return startRpcHostProcess({ coordinatorUrl, node, interval: INTERVAL, args: ['--relay-beacon', b.url], track })
    }),
  )
  expect(await keygen.exited).toEqual({ code: 0, signal: null })
  shim = track(
    spawnVipnode(
      ['client', '--service', 'rpc', '--bootstrap', coordinatorUrl, '--nodekey', join(dir, 'client.key'), '--chain-id', String(CHAIN_ID), '--listen', '127.0.0.1:0', '--beacon-listen', '127.0.0.1:0', '--hosts', '2'],
      { VIPNODE_UPDATE_INTERVAL: INTERVAL },
    ),
  )
  const ready = await shim.waitForLog((l) => l.msg?.startsWith('rpc endpoint ready'), 'shim endpoint ready', 30_000)
  shimBeaconUrl = ready.beacon
  await waitFor(() => shim.logs.filter((l) => l.msg === 'relaying through host').length >= 2, 'both beacon hosts assigned to the shim', { timeoutMs: 15_000 })
  console.log(`7 processes up and the shim has 2 beacon hosts in ${Date.now() - started} ms`)
}, 60_000)

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop('SIGKILL')))
  await Promise.all(beacons.map((b) => b.close()))
})

describe('beacon API across processes', () => {
  test('behavior: the Helios start sequence through the shim gets the beacon node\'s bytes; when that beacon node dies the other host serves the rest', async () => {
    expect(new Set(shim.logs.filter((l) => l.msg === 'relaying through host').map((l) => l.relay))).toEqual(new Set(hosts.map((h) => h.relayUrl)))
    const start = []
    for (const path of HELIOS_BEACON_START) start.push(await get(shimBeaconUrl, path))
    // The shim is sticky: one beacon node served the whole sequence, and nothing reached the other.
    const used = beacons.findIndex((b) => b.requests.length > 0)
    expect(beacons[used]!.requests.map((r) => r.url)).toEqual(HELIOS_BEACON_START)
    const other = beacons[1 - used]!
    expect(other.requests).toEqual([])
    for (const [i, path] of HELIOS_BEACON_START.entries()) {
      expect(start[i]!.status, path).toBe(200)
      expect(start[i], path).toEqual(await get(beacons[used]!.url, path))
    }

    // The beacon node behind the host in use dies: that host's relay answers 502 and the shim moves on at once.
    await beacons[used]!.close()
    const after = ['/eth/v1/beacon/light_client/finality_update', '/eth/v1/beacon/light_client/optimistic_update', HELIOS_BEACON_START[1]!, '/eth/v1/beacon/headers/head']
    const moved = []
    for (const path of after) moved.push(await get(shimBeaconUrl, path))
    expect(other.requests.map((r) => r.url)).toEqual(after)
    for (const [i, path] of after.entries()) {
      expect(moved[i]!.status, path).toBe(200)
      expect(moved[i], path).toEqual(await get(other.url, path))
    }
    expect(shim.logs.some((l) => l.msg === 'pool host failed a beacon request; trying the next' && l.host === hosts[used]!.node.nodeId)).toBe(true)
  })
})
