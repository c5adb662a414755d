/**
 * /metrics must pass `promtool check metrics` (Prometheus' own linter), with
 * agents connected, reports metered and an epoch settled so that every metric
 * has samples. CI installs promtool (Debian `prometheus`); without it this
 * test fails rather than skips.
 */
import { test, expect, afterEach } from 'vitest'
import { spawnSync } from 'node:child_process'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { testAgent } from '../../test/harness/agents.ts'

const PROMTOOL = process.env.PROMTOOL ?? 'promtool'
const HASH = `0x${'12'.repeat(32)}`
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

test('behavior: /metrics from a busy coordinator passes promtool check metrics with no complaint', async () => {
  const probe = spawnSync(PROMTOOL, ['--version'], { encoding: 'utf8', timeout: 15_000 })
  expect(probe.error?.message, `cannot run ${PROMTOOL}: install promtool (apt-get install prometheus) or set PROMTOOL to its path`).toBeUndefined()
  const clock = manualClock(Date.UTC(2026, 0, 1))
  const c = await testCoordinator({ updateIntervalMs: 10_000, epochMs: 3_600_000, priceWeiPerMinute: 60_000n, trialWei: 10n ** 9n, adminToken: 'metrics-test-token-0000' }, { clock })
  cleanup.push(() => c.close())
  const host = await testAgent(c.url, { role: 'host', payout: `0x${'a1'.repeat(20)}` })
  cleanup.push(() => host.close())
  const client = await testAgent(c.url, { role: 'client' })
  cleanup.push(() => client.close())
  await client.conn.call('vipnode_requestHosts', { count: 1 })
  for (let i = 0; i < 4; i++) {
    clock.advance(5_000)
    await host.conn.call('vipnode_update', { peers: [{ id: client.id.nodeId, enode: client.id.enode }], block: { number: 10 + i, hash: HASH } })
    await client.conn.call('vipnode_update', { peers: [{ id: host.id.nodeId, enode: host.id.enode }], block: { number: 10 + i, hash: HASH } })
  }
  clock.set(c.services.epochs.bounds(1).endMs)
  expect(await c.services.settlement.settleDue()).toEqual([1])

  const res = await fetch(`${c.url}/metrics`)
  expect(res.status).toBe(200)
  const text = await res.text()
  // promtool passes empty input, so make sure there is something to check.
  for (const name of ['vipnode_agent_sockets', 'vipnode_agent_reports_total', 'vipnode_service_seconds_total', 'vipnode_epochs_settled_total', 'vipnode_store_seconds_bucket', 'vipnode_process_process_cpu_seconds_total']) {
    expect(text, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'))
  }
  const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 15_000 })
  expect(check.error, String(check.error)).toBeUndefined()
  expect({ status: check.status, complaints: `${check.stdout}${check.stderr}`.trim() }).toEqual({ status: 0, complaints: '' })
})
