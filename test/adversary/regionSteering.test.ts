/**
 * Attack 4, region half (issue 16): node keys are free, and a client's
 * declared region put it first on hosts of that region, so an attacker's
 * Sybil clients, all declaring the attacker's region, all landed on the
 * attacker's own host, which took the whole epoch's revenue.
 *
 * Bound (logic/selectHosts.ts): region only breaks ties between equally
 * loaded hosts, so the attacker's host is chosen over another only when its
 * load is not higher: after every admission its load is at most the most
 * loaded honest host's + 1 (the tiebreak), and its share stays near the fair
 * share instead of all of it.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { testCoordinator } from '../harness/coordinator.ts'
import { poolAgent } from '../harness/attackers.ts'

const SYBILS = 40
const HONEST_HOSTS = 4

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await Promise.resolve(f()).catch(() => undefined)
})

describe('attack 4: region steering', () => {
  test('Sybil clients declaring the attacker’s region get the attacker’s host only on a tie', async () => {
    // Slow start off: every host offers its declared 20 slots, so only load and region decide.
    const c = await testCoordinator({ updateIntervalMs: 1_000, slowStartSlots: 0 })
    cleanup.push(() => c.close())
    const { assignments } = c.services
    const attacker = await poolAgent(c, { role: 'host', capacity: 20, region: 'eve' })
    const honest = await Promise.all(Array.from({ length: HONEST_HOSTS }, () => poolAgent(c, { role: 'host', capacity: 20, region: 'us' })))
    for (const h of [attacker, ...honest]) cleanup.push(() => h.close())

    let worst = -Infinity
    for (let i = 0; i < SYBILS; i++) {
      const sybil = await poolAgent(c, { role: 'client', region: 'eve' })
      cleanup.push(() => sybil.close())
      const r = await sybil.request('vipnode_requestHosts', { count: 1 })
      expect(r.error).toBeUndefined()
      const attackerLoad = assignments.loadOf(attacker.nodeId)
      const mostHonest = Math.max(...honest.map((h) => assignments.loadOf(h.nodeId)))
      worst = Math.max(worst, attackerLoad - mostHonest)
      expect(attackerLoad).toBeLessThanOrEqual(mostHonest + 1)
    }
    const share = assignments.loadOf(attacker.nodeId)
    const fair = SYBILS / (HONEST_HOSTS + 1)
    console.log(`figures: region steering: attacker's host got ${share} of ${SYBILS} Sybils (fair share ${fair}; most above the busiest honest host: ${worst})`)
    expect(share).toBeLessThan(SYBILS / 2)
  })
})
