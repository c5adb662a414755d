/**
 * Attack 10, peer-ID cache poisoning (issue 16): the coordinator's process-
 * wide cache of parsed peer entries keyed enode strings and bare ids in one
 * space, so one agent reporting a malformed entry (`{id: "<an enode>"}`, or
 * an `enode` field holding a bare id) cached "no node" under a key an honest
 * report used later, and zeroed another pair's metering.
 *
 * Bound: whatever one agent reports, an honest pair's billed time is its
 * wall time (within one interval either way).
 */
import { describe, test, expect, afterEach } from 'vitest'
import { randomBytes } from 'node:crypto'
import { audit } from '../../coordinator/admin/audit.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { BLOCK, poolAgent, serviceMs } from '../harness/attackers.ts'

const INTERVAL = 300
const TICKS = 8

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

describe('attack 10: peer-ID cache poisoning', () => {
  test('malformed and colliding peer entries from one agent leave an honest pair billed for its wall time', async () => {
    const c = await testCoordinator({ updateIntervalMs: INTERVAL, priceWeiPerMinute: 60_000n, trialWei: 10n ** 9n })
    cleanup.push(() => c.close())
    const host = await poolAgent(c, { role: 'host', capacity: 5 })
    const client = await poolAgent(c, { role: 'client' })
    const attacker = await poolAgent(c, { role: 'client' })
    for (const a of [host, client, attacker]) cleanup.push(() => a.close())
    expect((await client.request('vipnode_requestHosts', { count: 1 })).result.hosts[0].nodeId).toBe(host.nodeId)

    // The honest pair reports in admin_peers shape: the client as geth does (a hashed `id`, the real `enode`),
    // the host as clients that give the public key as `id` and no enode.
    const gethId = randomBytes(32).toString('hex')
    const clientSees = [{ id: gethId, enode: host.id.enode }]
    const hostSees = [{ id: client.nodeId }]
    // The poison, under the keys the honest entries use: an enode as a bare id, a bare id as an enode, and
    // look-alikes (upper case, trailing junk, a wrong key in a right-looking enode).
    const poison = [
      { id: host.id.enode },
      { id: 'x', enode: client.nodeId },
      { id: client.nodeId.toUpperCase() },
      { id: `${client.nodeId}00` },
      { id: 'y', enode: `${host.id.enode}junk` },
      { id: 'z', enode: host.id.enode.replace(host.nodeId, '0'.repeat(128)) },
    ]
    const poisoned = await attacker.request('vipnode_update', { peers: poison, block: BLOCK })
    expect(poisoned.error).toBeUndefined()

    const ticks: number[] = []
    let lastIds: number[] = []
    for (let i = 0; i < TICKS; i++) {
      const at = Date.now()
      ticks.push(at)
      // Poisoned again every interval, before the honest reports.
      await attacker.request('vipnode_update', { peers: poison, block: BLOCK })
      lastIds = [host.report([], { peers: hostSees }), client.report([], { peers: clientSees })]
      const next = at + INTERVAL - Date.now()
      if (next > 0) await new Promise((resolve) => setTimeout(resolve, next)) // the agents' cadence, not a wait for an event
    }
    await waitFor(() => host.agent.frames.some((f) => f.id === lastIds[0]) && client.agent.frames.some((f) => f.id === lastIds[1]), 'the last reports answered')

    const wallMs = ticks.at(-1)! - ticks[0]!
    const billed = serviceMs(c, client.nodeId, host.nodeId)
    console.log(`figures: peer-ID cache poisoning: honest pair billed ${billed} ms vs wall ${wallMs} ms with ${poison.length} poisoned entries every interval`)
    expect(billed).toBeGreaterThanOrEqual(wallMs - INTERVAL)
    expect(billed).toBeLessThanOrEqual(wallMs + INTERVAL)
    expect(serviceMs(c, attacker.nodeId)).toBe(0)
    expect(await audit(c.services.store)).toMatchObject({ ok: true })
  })
})
