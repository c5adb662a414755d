/**
 * A report observed just before an epoch's end whose charge is written after that epoch was settled: its money
 * must still reach a settlement (docs/cluster.md, "Not safe yet"). The judge reads the client's balance before it
 * queues the charge; here that read is held while the epoch settles, as a slow read or a sibling replica's late
 * commit would.
 */
import { test, expect, afterEach } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator, tempDb } from '../../test/harness/coordinator.ts'
import { agentsAt } from '../../test/harness/agents.ts'
import { openStore } from '../store/openStore.ts'
import type { Store } from '../store/store.ts'
import { Accounts } from '../logic/accounts.ts'
import { audit } from '../admin/audit.ts'

const HASH = `0x${'12'.repeat(32)}`
const INTERVAL = 10_000
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

/** A store whose next balance read of a client account waits until released. */
function gatedStore(store: Store) {
  let armed = false
  let held: (() => void) | undefined
  let release: () => void = () => undefined
  const hit = new Promise<void>((resolve) => (held = resolve))
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver)
      if (prop !== 'balanceOf') return typeof value === 'function' ? value.bind(target) : value
      return async (account: string) => {
        if (armed && account.startsWith('client:')) {
          armed = false
          const go = new Promise<void>((resolve) => (release = resolve))
          held!()
          await go
        }
        return target.balanceOf(account as never)
      }
    },
  })
  return { store: wrapped, arm: () => (armed = true), hit, release: () => release() }
}

test('attack: a charge judged for an epoch that settles meanwhile is not stranded in that epoch\'s revenue', async () => {
  // Epoch 1 starts at the hour the pool first starts (epochs are aligned): start near its end, so the pair is
  // served without a long quiet gap (the dispute rule would release it).
  const clock = manualClock(Date.UTC(2026, 0, 1) + 3_600_000 - 5 * INTERVAL)
  const gate = gatedStore(await openStore(tempDb()))
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, epochMs: 3_600_000, priceWeiPerMinute: 60_000_000n }, { clock, store: gate.store })
  cleanup.push(() => c.close())
  const agent = agentsAt(c.url, (close) => cleanup.push(close))
  const host = await agent({ role: 'host', payout: `0x${'a1'.repeat(20)}` })
  const client = await agent({ role: 'client' })
  await c.services.store.post({ id: 'credit:test', atMs: clock.now(), memo: 'credit', entries: [{ account: Accounts.external, amountWei: -(10n ** 15n) }, { account: Accounts.client(client.id.nodeId), amountWei: 10n ** 15n }] })
  await client.conn.call('vipnode_requestHosts', { count: 1 })
  const report = (who: typeof host, peer: typeof host) => who.conn.call('vipnode_update', { peerIds: [peer.id.nodeId], block: { number: 1, hash: HASH } })

  // Served through epoch 1, up to a millisecond before its end.
  const epoch = c.services.epochs.epochOf(clock.now())
  const { endMs } = c.services.epochs.bounds(epoch)
  clock.set(endMs - 3 * INTERVAL)
  for (let i = 0; i < 2; i++) {
    await report(host, client)
    await report(client, host)
    clock.advance(INTERVAL)
  }
  clock.set(endMs - 2)
  await report(client, host)
  clock.set(endMs - 1)
  // The host's report at endMs - 1 credits the pair; its judge is held at the client's balance read.
  gate.arm()
  const reported = report(host, client)
  await gate.hit
  // Meanwhile the epoch ends and settles.
  clock.set(endMs + 1)
  expect(await c.services.settlement.settleDue()).toEqual([epoch])
  gate.release()
  await reported

  // The race happened: the charge landed in epoch 1's revenue after epoch 1 was settled.
  const late = await c.services.store.balanceOf(Accounts.revenue(epoch))
  expect(late).toBeGreaterThan(0n)
  // The next settlement splits it with its own revenue: nothing clients paid is left out of a settlement.
  clock.set(c.services.epochs.bounds(epoch + 1).endMs + 1)
  expect(await c.services.settlement.settleDue()).toEqual([epoch + 1])
  expect(await c.services.store.balanceOf(Accounts.revenue(epoch))).toBe(0n)
  expect(await c.services.store.balanceOf(Accounts.revenue(epoch + 1))).toBe(0n)
  const next = (await c.services.store.getEpoch(epoch + 1))!
  expect(next.revenueWei).toBe(late)
  // Nobody served in epoch 2, so it is carried to the next epoch with service, like any unserved revenue.
  expect(next.carriedOutWei).toBe(next.carriedInWei + late)
  expect(await audit(c.services.store)).toMatchObject({ ok: true, problems: [] })
})
