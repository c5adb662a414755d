/**
 * The directory on the real NATS server (127.0.0.1:4222; VIPNODE_TEST_NATS overrides): a replica with more hosts
 * than one NATS message holds (1 MB by default, about 2,000 hosts) still reaches its siblings whole.
 */
import { test, expect, afterEach } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Registry } from 'prom-client'
import { NatsClusterBus } from './clusterBus.ts'
import { ClusterService, type ClusterDeps } from './cluster.ts'
import { HostDirectory, DIRECTORY_PART_HOSTS, directoryMessageSchema, type DirectoryHost } from './hostDirectory.ts'
import { createCoordinatorMetrics } from '../metrics.ts'
import { silentLogger } from '../../lib/logger.ts'
import { manualClock } from '../../lib/clock.ts'
import { waitFor } from '../../test/harness/waitFor.ts'

const NATS = process.env.VIPNODE_TEST_NATS ?? 'nats://127.0.0.1:4222'
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

const hostAt = (n: number): DirectoryHost => {
  const nodeId = n.toString(16).padStart(128, '0') as DirectoryHost['nodeId']
  return { nodeId, enode: `enode://${nodeId}@203.0.113.7:30303?discport=30303`, chainId: 1, kind: 'peer', capacity: 1, load: 0, blockNumber: 21_000_000, reportedBlockNumber: 21_000_000, region: null, capabilities: null, relayUrl: null, coolingForMs: 0, lastReportAgoMs: 500 }
}

test('behavior: a directory of 5,000 hosts (about 2.5 MB) reaches a sibling whole, in parts; the next list drops the hosts that left', async () => {
  const poolId = randomUUID()
  const clock = manualClock(1_000_000)
  const open = async () => {
    const metrics = createCoordinatorMetrics(new Registry())
    const bus = await NatsClusterBus.open({ url: NATS, poolId, replicaId: randomUUID() }, { log: silentLogger, metrics })
    cleanup.push(() => bus.close())
    return { bus, metrics }
  }
  const a = await open()
  const b = await open()
  let hosts = Array.from({ length: 5_000 }, (_, i) => hostAt(i + 1))
  expect(JSON.stringify(hosts).length).toBeGreaterThan(2 * 1024 * 1024)
  // Replica A: the cluster service with the few parts of the coordinator publishing needs (its directory, versions).
  const published = new ClusterService({ updateIntervalMs: 60_000 }, {
    bus: a.bus,
    directory: new HostDirectory({ selfReplicaId: a.bus.replicaId, maxAgeMs: 180_000 }),
    assignments: { localDirectory: () => hosts, version: 0 },
    sessions: { version: 0 },
    clock,
    log: silentLogger,
    metrics: a.metrics,
  } as unknown as ClusterDeps)
  cleanup.push(async () => published.stop())
  // Replica B's mirror, fed as cluster.ts feeds it.
  const mirror = new HostDirectory({ selfReplicaId: b.bus.replicaId, maxAgeMs: 180_000 })
  b.bus.subscribe('hosts', (body) => mirror.accept(directoryMessageSchema.parse(body), clock.now()))
  await b.bus.ready()
  await published.start()
  await waitFor(() => mirror.size === 5_000, 'the sibling mirrors all 5,000 hosts', { timeoutMs: 10_000 })
  expect(await a.metrics.busMessages.get().then((m) => m.values.find((v) => v.labels.direction === 'out')?.value)).toBe(Math.ceil(5_000 / DIRECTORY_PART_HOSTS))

  // 1,500 hosts leave A: its next list drops them on B once all its parts are in.
  hosts = hosts.slice(0, 3_500)
  published.publish()
  await waitFor(() => mirror.size === 3_500, 'the sibling drops the hosts that left', { timeoutMs: 10_000 })
  expect([...mirror.hosts(clock.now())].every((h) => h.replicaId === a.bus.replicaId)).toBe(true)
}, 30_000)
