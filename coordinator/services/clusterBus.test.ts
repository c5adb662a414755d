/**
 * The cluster bus on a real NATS server (127.0.0.1:4222; VIPNODE_TEST_NATS overrides): subjects per pool,
 * publish/subscribe, request/reply, and the two ways a request goes unanswered (nobody serves the subject;
 * a subscriber that never answers), each counted in vipnode_cluster_requests_total.
 */
import { test, expect, afterEach } from 'vitest'
import { randomUUID } from 'node:crypto'
import { Registry } from 'prom-client'
import { connect } from '@nats-io/transport-node'
import { NatsClusterBus, soloBus, subjectToken, BusRequestError, type ClusterBus } from './clusterBus.ts'
import { createCoordinatorMetrics } from '../metrics.ts'
import { silentLogger } from '../../lib/logger.ts'
import { within } from '../../test/harness/waitFor.ts'

const NATS = process.env.VIPNODE_TEST_NATS ?? 'nats://127.0.0.1:4222'
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

async function bus(poolId: string, replicaId = randomUUID()) {
  const metrics = createCoordinatorMetrics(new Registry())
  const b = await NatsClusterBus.open({ url: NATS, poolId, replicaId }, { log: silentLogger, metrics })
  cleanup.push(() => b.close())
  return { b, metrics }
}

const requestsCounted = async (metrics: ReturnType<typeof createCoordinatorMetrics>) =>
  Object.fromEntries((await metrics.busRequests.get()).values.map((v) => [`${v.labels.topic},${v.labels.result}`, v.value]))

test('default: publish reaches the pool\'s subscribers, not another pool\'s; a request gets the served reply', async () => {
  const pool = `pool.${randomUUID()}` // a dot in a pool id must not add a subject token
  const { b: a } = await bus(pool)
  const { b: other } = await bus(pool)
  const { b: stranger } = await bus(`another-${randomUUID()}`)
  const got: unknown[] = []
  const strangerGot: unknown[] = []
  const arrived = new Promise<void>((resolve) => other.subscribe('hosts', (m) => (got.push(m), resolve())))
  stranger.subscribe('hosts', (m) => strangerGot.push(m))
  other.serve(`admit.${other.replicaId}`, async (body) => ({ echoed: body }))
  // Subscriptions travel on each bus's own connection: wait until the server has them.
  await Promise.all([other.ready(), stranger.ready()])
  expect(await a.request(`admit.${other.replicaId}`, { n: 1 }, 2_000)).toEqual({ echoed: { n: 1 } })
  a.publish('hosts', { replicaId: a.replicaId, hosts: [] })
  await within(arrived, 2_000, 'the sibling got the message')
  expect(got).toEqual([{ replicaId: a.replicaId, hosts: [] }])
  expect(strangerGot).toEqual([])
})

test('error: nobody serves the subject -> no-responders; a silent subscriber -> timeout after the deadline', async () => {
  const pool = randomUUID()
  const { b: a, metrics } = await bus(pool)
  const noOne = await a.request('admit.nobody', {}, 2_000).catch((e: unknown) => e)
  expect(noOne).toBeInstanceOf(BusRequestError)
  expect((noOne as BusRequestError).result).toBe('no-responders')

  // A replica that hangs: subscribed, never answers.
  const nc = await connect({ servers: NATS })
  cleanup.push(() => nc.close())
  nc.subscribe(`vipnode.${subjectToken(pool)}.admit.hung`, { callback: () => undefined })
  await nc.flush()
  const started = Date.now()
  const hung = await a.request('admit.hung', {}, 300).catch((e: unknown) => e)
  expect((hung as BusRequestError).result).toBe('timeout')
  expect((hung as Error).message).toBe('no answer on the cluster bus within 300 ms')
  expect(Date.now() - started).toBeGreaterThanOrEqual(290)
  expect(await requestsCounted(metrics)).toEqual({ 'admit,no-responders': 1, 'admit,timeout': 1 })
})

test('behavior: close drains (a handler in progress still answers), then publishing is a logged no-op', async () => {
  const pool = randomUUID()
  const { b: a } = await bus(pool)
  const { b: server } = await bus(pool)
  let release!: () => void
  let entered!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const inHandler = new Promise<void>((r) => (entered = r))
  server.serve('slow', async () => {
    entered()
    await gate
    return 'late but answered'
  })
  await server.ready()
  const asked = a.request('slow', {}, 5_000)
  // Close while the handler holds the request.
  await within(inHandler, 2_000, 'the request reached the handler')
  const closed = server.close()
  release()
  expect(await asked).toBe('late but answered')
  await closed
  expect(() => server.publish('hosts', {})).not.toThrow()
})

test('solo bus: nothing to ask, said plainly', async () => {
  const solo: ClusterBus = soloBus('r1')
  expect(solo.clustered).toBe(false)
  await solo.ready()
  await expect(solo.request('admit.x', {}, 10)).rejects.toThrow('this coordinator runs without --nats: there is no other replica to ask')
})

test('subjectToken keeps [A-Za-z0-9_-] and escapes the rest', () => {
  expect(subjectToken('test-pool_1')).toBe('test-pool_1')
  expect(subjectToken('a.b *>c')).toBe('a~2eb~20~2a~3ec')
})
