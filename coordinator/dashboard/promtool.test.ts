/**
 * /metrics must pass `promtool check metrics` (Prometheus' own linter), with
 * agents connected, reports metered and an epoch settled so that every metric
 * has samples; so must the agents' (`--metrics-listen`) after relayed calls. CI installs promtool (Debian `prometheus`); without it this
 * test fails rather than skips.
 */
import { test, expect, afterEach } from 'vitest'
import { spawnSync } from 'node:child_process'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { testAgent } from '../../test/harness/agents.ts'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { createFakeNetwork } from '../../test/fakenode/fakeNetwork.ts'
import { startRpcHost } from '../../test/harness/rpcHosts.ts'
import { startRpcClientShim } from '../../client-shim/rpcClientShim.ts'
import { HELIOS_START, postRpc, rpcCall } from '../../test/harness/jsonRpcClient.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import { silentLogger } from '../../lib/logger.ts'
import { generateNodeKey } from '../../protocol/index.ts'

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

test('behavior: the host relay\'s and the rpc proxy\'s /metrics (--metrics-listen) pass promtool check metrics with no complaint', async () => {
  const probe = spawnSync(PROMTOOL, ['--version'], { encoding: 'utf8', timeout: 15_000 })
  expect(probe.error?.message, `cannot run ${PROMTOOL}: install promtool (apt-get install prometheus) or set PROMTOOL to its path`).toBeUndefined()
  const c = await testCoordinator({ updateIntervalMs: 300, relayTokenWindowMs: 60_000 })
  cleanup.push(() => c.close())
  const dir = mkdtempSync(join(tmpdir(), 'vipnode-metrics-'))
  const keyFile = (key: string) => {
    const path = join(dir, `${randomBytes(6).toString('hex')}.key`)
    writeFileSync(path, key)
    return path
  }
  const net = createFakeNetwork()
  cleanup.push(() => net.closeAll())
  const listen = { host: '127.0.0.1', port: 0 }
  const host = await startRpcHost(c.url, { net, keyFile, cleanup, metricsListen: listen })
  const shim = await startRpcClientShim({ bootstrap: c.url, nodekey: keyFile(generateNodeKey()), chainId: 1337, hosts: 1, listenHost: '127.0.0.1', listenPort: 0, updateIntervalMs: 100, metricsListen: listen }, { log: silentLogger })
  cleanup.push(() => shim.close())
  await waitFor(() => shim.proxy.targets().length === 1, 'an rpc host assigned')
  for (const req of HELIOS_START) expect((await postRpc(shim.proxy.url, req)).json.error).toBeUndefined()
  expect((await postRpc(shim.proxy.url, rpcCall('admin_peers'))).json.error.code).toBe(-32601)

  for (const [url, names] of [
    [host.agent.metricsUrl!, ['vipnode_relay_calls_total{method="eth_getProof",outcome="served"} 1', 'vipnode_relay_calls_total{method="other",outcome="not-relayed"} 1', 'vipnode_relay_call_seconds_bucket', 'vipnode_relay_compute_units_total', 'vipnode_relay_sessions ', 'vipnode_process_process_cpu_seconds_total']],
    [shim.metricsUrl!, ['vipnode_proxy_calls_total{method="eth_getProof",outcome="ok"} 1', 'vipnode_proxy_calls_total{method="other",outcome="client-error"} 1', 'vipnode_proxy_call_seconds_bucket', 'vipnode_proxy_hosts 1', 'vipnode_proxy_benched_hosts 0', 'vipnode_process_process_cpu_seconds_total']],
  ] as const) {
    const res = await fetch(url)
    expect(res.status).toBe(200)
    const text = await res.text()
    for (const name of names) expect(text, name).toContain(name)
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 15_000 })
    expect({ url, status: check.status, complaints: `${check.stdout}${check.stderr}`.trim() }).toEqual({ url, status: 0, complaints: '' })
    expect((await fetch(url.replace(/metrics$/, 'other'))).status).toBe(404)
  }
})
