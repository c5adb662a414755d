/**
 * The admin dashboard and the public status page, end to end: an in-process
 * coordinator on loopback with real agents, driven by a real Chromium
 * (playwright-core, /usr/bin/chromium). Screenshots of each page go to
 * test-artifacts/.
 */
import { describe, test, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { agentsAt, testAgent, type TestAgent } from '../../test/harness/agents.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import type { RunningCoordinator } from '../coordinator.ts'
import { dashboardHubOf } from './routes.ts'
import type { CoordinatorConfigInput } from '../config.ts'
import { poolAgent } from '../../test/harness/attackers.ts'
import { LATENCY_BUCKET_COUNT, RPC_REQUIRED_METHODS } from '../../protocol/index.ts'
import { explainUnitCosts } from './assets/format.js'
import { computeUnitCosts } from '../../protocol/costTable.ts'
import { VERSION } from '../../lib/packageVersion.ts'

const TOKEN = 'dashboard-test-token-0123456789'
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const INTERVAL = 600_000
const EPOCH = 6 * 3_600_000
const HASH = `0x${'12'.repeat(32)}`
const FEE = `0x${'fe'.repeat(20)}`
const PAYOUT_A = `0x${'a1'.repeat(20)}`
const PAYOUT_B = `0x${'b2'.repeat(20)}`
const PAYOUT_D = `0x${'d4'.repeat(20)}`
const WAIT = { timeout: 10_000 }

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

let browser: Browser
beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
})
afterAll(async () => {
  await browser?.close()
})

async function pool(config: CoordinatorConfigInput = {}) {
  const clock = manualClock(Date.UTC(2026, 2, 2, 6))
  const c = await testCoordinator(
    { adminToken: TOKEN, updateIntervalMs: INTERVAL, epochMs: EPOCH, priceWeiPerMinute: 20n * 10n ** 9n, trialWei: 10n ** 16n, feeBps: 500, feeAddress: FEE, ...config },
    { clock },
  )
  cleanup.push(() => c.close())
  const agent = agentsAt(c.url, (close) => cleanup.push(close))
  return { c, clock, agent }
}

async function newPage(c: RunningCoordinator): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, baseURL: c.url })
  cleanup.push(() => context.close())
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(e.message))
  return { context, page, errors }
}

/**
 * A small pool with history: hosts A and B serve clients for three settled
 * epochs (host D serves the first two, then leaves), and the running epoch has
 * some service. Heads differ so block lag shows.
 */
async function scenario() {
  const p = await pool()
  const { c, clock, agent } = p
  const hostA = await agent({ role: 'host', payout: PAYOUT_A, capacity: 4, clientVersion: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4' })
  const hostB = await agent({ role: 'host', payout: PAYOUT_B, capacity: 2, clientVersion: 'Nethermind/v1.29.1+dfea5240/linux-x64/dotnet8.0.11' })
  const hostD = await agent({ role: 'host', payout: PAYOUT_D, capacity: 2, clientVersion: 'reth/v1.1.4-e4f6a1e/x86_64-unknown-linux-gnu' })
  const clients: TestAgent[] = []
  for (let i = 0; i < 5; i++) clients.push(await agent({ role: 'client' }))
  for (const cl of clients) await cl.conn.call('vipnode_requestHosts', { count: 1 })
  // The chart's history: wait for the hub to record the change before the clock moves on.
  const sampled = (hosts: number, clients: number) =>
    waitFor(() => {
      const last = dashboardHubOf(c.services)?.samples.last()
      return last?.hosts === hosts && last.clients === clients
    }, `a sample of ${hosts} hosts and ${clients} clients`)
  await sampled(3, 5)
  // A fourth host at the head that serves nobody: the best head is a quorum of hosts, so lag shows only
  // while at least two of the online hosts are ahead of host B (A and E once D is gone).
  const hostE = await agent({ role: 'host', capacity: 1, clientVersion: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4' })
  await sampled(4, 5)
  let head = 21_000_000
  const lagOf = new Map([[hostB, 3]])
  const all = () => [hostA, hostB, hostD, hostE, ...clients]
  /** The agents assigned to this one that are online: what its node would be peered with. */
  const peersOf = (a: TestAgent, online: TestAgent[]) => {
    const onlineIds = new Set(online.map((x) => x.id.nodeId))
    const ids = new Set([...c.services.assignments.hostsOf(a.id.nodeId), ...c.services.assignments.clientsOf(a.id.nodeId)])
    return all().filter((x) => ids.has(x.id.nodeId) && onlineIds.has(x.id.nodeId))
  }
  const serveSteps = async (steps: number, online: TestAgent[]) => {
    for (let i = 0; i < steps; i++) {
      clock.advance(INTERVAL / 2)
      head++
      for (const a of online) {
        const peers = peersOf(a, online)
        await a.conn.call('vipnode_update', { peers: peers.map((x) => ({ id: x.id.nodeId, enode: x.id.enode })), block: { number: head - (lagOf.get(a) ?? 0), hash: HASH } })
      }
    }
  }
  const settle = async () => {
    const epoch = c.services.epochs.epochOf(clock.now())
    clock.set(c.services.epochs.bounds(epoch).endMs)
    expect(await c.services.settlement.settleDue()).toEqual([epoch])
    return epoch
  }
  await serveSteps(10, all())
  await settle()
  await serveSteps(7, all())
  await settle()
  await hostD.close()
  await waitFor(() => !c.services.sessions.isOnline(hostD.id.nodeId), 'host D offline')
  await sampled(3, 5)
  // D's clients keep it assigned (the release sweep runs on real time) but no longer report it: D earns nothing more.
  await serveSteps(9, all().filter((x) => x !== hostD))
  await settle()
  await serveSteps(5, all().filter((x) => x !== hostD))
  // The best head is recomputed at most once a second of the pool's clock: let the last step's head count.
  clock.advance(1_000)
  return { ...p, hostA, hostB, hostD, clients }
}

async function login(page: Page) {
  await page.goto('/dashboard')
  await page.fill('#token', TOKEN)
  await Promise.all([page.waitForURL('**/dashboard'), page.click('button[type=submit]')])
  await page.waitForSelector('#overview-cards', WAIT)
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true })

describe('dashboard in a browser', () => {
  test('behavior: log in, watch a host arrive live, sort, open an epoch, every page renders; sign out', { timeout: 90_000 }, async () => {
    const { c, agent } = await scenario()
    const { context, page, errors } = await newPage(c)

    // The login form; a wrong token is refused with 401.
    await page.goto('/dashboard')
    await shot(page, 'dashboard-login')
    await page.fill('#token', 'not-the-token-at-all')
    const [refused] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/dashboard/login')), page.click('button[type=submit]')])
    expect(refused.status()).toBe(401)
    await expect(page.locator('#login-error').textContent()).resolves.toContain('not right')
    errors.length = 0 // Chromium logs the 401 document as a console error.

    await login(page)
    const cookie = (await context.cookies()).find((k) => k.name === 'vipnode_admin')
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' })
    expect(cookie!.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    await page.waitForSelector('#live[data-state="live"]', WAIT)
    expect(await page.locator('#stat-hosts').textContent()).toBe('3')
    expect(await page.locator('#stat-clients').textContent()).toBe('5')
    await page.waitForSelector('[data-chart="online"] canvas', WAIT)
    await shot(page, 'dashboard-overview')

    // Hosts: a host that connects now appears without a reload; its self-reported version is shown as text, never as markup.
    await page.click('a[data-page="hosts"]')
    await page.waitForSelector('#hosts-table', WAIT)
    expect(await page.locator('#hosts-table tbody tr').count()).toBe(4)
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42))
    const hostile = '<img src=x onerror="window.pwned=1">Geth/evil'
    const hostC = await agent({ role: 'host', capacity: 3, clientVersion: hostile })
    const row = page.locator(`#hosts-table tr[data-id="${hostC.id.nodeId}"]`)
    await row.waitFor(WAIT)
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42)
    expect(await row.locator('td').last().locator('span').getAttribute('title')).toBe(hostile)
    expect(await page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned)).toBeUndefined()
    expect(await page.locator('#hosts-table img').count()).toBe(0)
    expect(await row.textContent()).toContain('none') // no payout address
    // Block lag: host B reports 3 behind.
    const { hostB } = await scenarioHosts(c)
    expect(await page.locator(`#hosts-table tr[data-id="${hostB}"]`).textContent()).toContain('−3')
    await shot(page, 'dashboard-hosts')

    // Sorting: by node ID, then reversed.
    const ids = () => page.locator('#hosts-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')!))
    await page.click('#hosts-table th[data-key="node"] button')
    const ascending = await ids()
    expect(ascending).toEqual([...ascending].sort())
    expect(await page.getAttribute('#hosts-table th[data-key="node"]', 'aria-sort')).toBe('ascending')
    await page.click('#hosts-table th[data-key="node"] button')
    expect(await ids()).toEqual([...ascending].reverse())
    // Sorting survives the next live update.
    await hostC.close()
    await page.locator(`#hosts-table tr[data-id="${hostC.id.nodeId}"] .pill-off`).waitFor(WAIT)
    expect(await ids()).toEqual([...ascending].reverse())

    // Clients: balances and hosts.
    await page.click('a[data-page="clients"]')
    await page.waitForSelector('#clients-table', WAIT)
    expect(await page.locator('#clients-table tbody tr').count()).toBe(5)
    await shot(page, 'dashboard-clients')

    // Epochs: three settled; open one and see its root and payouts.
    await page.click('a[data-page="epochs"]')
    await page.waitForSelector('#epochs-table', WAIT)
    expect(await page.locator('#epochs-table tbody tr').count()).toBe(3)
    await shot(page, 'dashboard-epochs')
    await page.click('#epochs-table tr[data-id="2"]')
    await page.waitForSelector('#epoch-root', WAIT)
    const e2 = (await c.services.store.getEpoch(2))!
    expect(await page.locator('#epoch-root').textContent()).toBe(e2.root)
    const payees = await page.locator('#payouts-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))
    expect(new Set(payees)).toEqual(new Set((await c.services.store.epochPayouts(2)).map((p) => p.payee)))
    expect(await page.locator('#payouts-table tbody tr td:last-child').first().textContent()).toBe('—')
    await shot(page, 'dashboard-epoch')

    // Charts.
    await page.click('a[data-page="charts"]')
    for (const key of ['service-tall', 'revenue-tall', 'online-tall']) await page.waitForSelector(`[data-chart="${key}"] canvas`, WAIT)
    await shot(page, 'dashboard-charts')
    expect(errors).toEqual([])

    // Sign out: the cookie no longer opens the API.
    const jar = `vipnode_admin=${cookie!.value}`
    expect((await fetch(`${c.url}/dashboard/api/snapshot`, { headers: { cookie: jar } })).status).toBe(200)
    await page.click('text=Sign out')
    await page.waitForSelector('#token', WAIT)
    expect((await fetch(`${c.url}/dashboard/api/snapshot`, { headers: { cookie: jar } })).status).toBe(401)
  })

  async function expectEmptyState(page: Page, text: string): Promise<void> {
    const empty = page.locator('.empty', { hasText: text })
    await empty.first().waitFor({ timeout: 10_000 })
    expect(await empty.first().textContent()).toContain(text)
  }

  test('default: with no hosts and no epochs every page says what to do', { timeout: 60_000 }, async () => {
    const { c } = await pool()
    const { page, errors } = await newPage(c)
    await login(page)
    expect(await page.locator('#stat-hosts').textContent()).toBe('0')
    // Each tab renders after the click: wait for its empty state rather than reading the previous page's.
    await expectEmptyState(page, `npx vipnode host --coordinator ${c.url}`)
    await page.click('a[data-page="hosts"]')
    await expectEmptyState(page, 'No hosts yet')
    await page.click('a[data-page="clients"]')
    await expectEmptyState(page, `npx vipnode client --bootstrap ${c.url}`)
    await page.click('a[data-page="epochs"]')
    await expectEmptyState(page, 'No epoch settled yet')
    await shot(page, 'dashboard-empty-epochs')
    expect(errors).toEqual([])
  })

  test('default: the public status page, with and without free slots', { timeout: 60_000 }, async () => {
    const { c, agent } = await pool()
    const { page, errors } = await newPage(c)
    await page.goto('/')
    expect(await page.locator('#pool-state').textContent()).toContain('No hosts online yet')
    const host = await agent({ role: 'host', capacity: 1 })
    await page.goto('/')
    expect(await page.locator('#pool-state').textContent()).toContain('Slots available')
    expect(await page.locator('#hosts-online').textContent()).toBe('1')
    expect(await page.locator('#free-slots').textContent()).toBe('1')
    expect(await page.locator('#price').textContent()).toBe('20 gwei')
    expect(await page.locator('#host-command').textContent()).toContain(`npx vipnode host --coordinator ${c.url} --node-rpc http://127.0.0.1:8545`)
    expect(await page.locator('#client-command').textContent()).toContain(`npx vipnode client --bootstrap ${c.url} --node-rpc http://127.0.0.1:8545`)
    await shot(page, 'status-page')
    const client = await agent({ role: 'client' })
    await client.conn.call('vipnode_requestHosts', { count: 1 })
    await page.goto('/')
    expect(await page.locator('#pool-state').textContent()).toContain('Pool is full')
    await host.close()
    expect(errors).toEqual([])
  })
})

describe('prices in a browser', () => {
  test('behavior: a pool that prices compute units shows the unit price beside the minute price, with what a unit buys, on the status page and the overview', { timeout: 60_000 }, async () => {
    const { c } = await pool({ pricePerCuWei: 10n ** 9n })
    const { page, errors } = await newPage(c)
    await page.goto('/')
    expect(await page.locator('#price').textContent()).toBe('20 gwei')
    expect(await page.locator('#price-cu').textContent()).toBe('1 gwei')
    const costs = explainUnitCosts(computeUnitCosts(), 10n ** 9n)
    expect(await page.locator('#cu-costs').textContent()).toContain(costs)
    await shot(page, 'status-page-compute-units')
    await login(page)
    expect(await page.locator('.page-head p').textContent()).toBe(`20 gwei per host-minute and 1 gwei per compute unit · pool fee 5.00 % · vipnode ${VERSION}`)
    expect(await page.locator('#cu-costs').textContent()).toBe(costs)
    await shot(page, 'dashboard-overview-compute-units')
    expect(errors).toEqual([])
  })

  test('default: a pool that prices only time shows no unit price on the overview', { timeout: 60_000 }, async () => {
    const { c } = await pool()
    const { page, errors } = await newPage(c)
    await login(page)
    expect(await page.locator('.page-head p').textContent()).toBe(`20 gwei per host-minute · pool fee 5.00 % · vipnode ${VERSION}`)
    expect(await page.locator('#cu-costs').count()).toBe(0)
    expect(errors).toEqual([])
  })
})

/** The scenario's host B (the one 3 blocks behind), found by its payout address. */
async function scenarioHosts(c: RunningCoordinator) {
  const nodes = await c.services.store.listNodes({ role: 'host' })
  return { hostB: nodes.find((n) => n.payout === PAYOUT_B)!.nodeId }
}

describe('dashboard: service quality', () => {
  test('behavior: the quality tab shows each rpc host\'s standing, score, uptime, p50/p99 and error rate from its clients\' reports', { timeout: 60_000 }, async () => {
    const { c } = await pool({ slowStartSlots: 0 })
    const { page, errors } = await newPage(c)
    await login(page)
    await page.click('a[data-page="quality"]')
    await page.locator('.empty', { hasText: 'No rpc service quality yet' }).waitFor(WAIT)

    // Two rpc hosts, two clients holding both: one host serves in 40 ms, the other times out.
    const rpcHost = () => poolAgent(c, { role: 'host', kind: 'rpc', relayUrl: 'http://127.0.0.1:9/', capabilities: [...RPC_REQUIRED_METHODS], capacity: 5 })
    const [good, bad] = [await rpcHost(), await rpcHost()]
    const clients = [await poolAgent(c, { role: 'client', kind: 'rpc' }), await poolAgent(c, { role: 'client', kind: 'rpc' })]
    for (const a of [good, bad, ...clients]) cleanup.push(async () => a.close())
    const buckets = Array.from({ length: LATENCY_BUCKET_COUNT }, (_, i) => (i === 2 ? 50 : 0))
    for (const cl of clients) {
      expect((await cl.request('vipnode_requestHosts', { count: 2, kind: 'rpc' })).result.hosts).toHaveLength(2)
      const quality = [
        { nodeId: good.nodeId, ok: 50, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 0, latency: [{ method: 'eth_getProof', buckets }] },
        { nodeId: bad.nodeId, ok: 0, clientErrors: 0, nodeErrors: 0, refused: 0, transport: 0, timeouts: 50, latency: [] },
      ]
      expect((await cl.agent.reply(cl.report([], { quality }))).error).toBeUndefined()
    }
    for (const hst of [good, bad]) await hst.agent.reply(hst.report([]))

    const row = (id: string) => page.locator(`#quality-table tr[data-id="${id}"]`)
    await row(bad.nodeId).waitFor(WAIT)
    await row(good.nodeId).waitFor(WAIT)
    expect(await row(bad.nodeId).locator('td').nth(2).textContent()).toBe('probation')
    expect(await row(good.nodeId).locator('td').nth(2).textContent()).toBe('good')
    const cells = async (id: string) => (await row(id).locator('td').allTextContents()).slice(3)
    // The page renders each pushed snapshot; one taken between the two hosts' reports shows the
    // later host without uptime yet, so wait for the snapshot that has both.
    await expect.poll(() => cells(good.nodeId), WAIT).toEqual(['1.00', '100 %', '50 ms', '50 ms', '0 %', '100'])
    await expect.poll(() => cells(bad.nodeId), WAIT).toEqual(['0.00', '100 %', '—', '—', '100 %', '100'])
    // Sorted by score, worst first.
    expect(await page.locator('#quality-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')))).toEqual([bad.nodeId, good.nodeId])
    await shot(page, 'dashboard-quality')
    expect(errors).toEqual([])
  })
})

describe('dashboard access', () => {
  test('error: anonymous and wrong-token API calls are refused with 401; the bearer token works', async () => {
    const { c } = await pool()
    for (const path of ['/dashboard/api/snapshot', '/dashboard/api/events', '/dashboard/api/epochs/1', '/dashboard/api/nope']) {
      const res = await fetch(c.url + path)
      expect(res.status, path).toBe(401)
      expect(await res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } })
      expect((await fetch(c.url + path, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, path).toBe(401)
      expect((await fetch(c.url + path, { headers: { cookie: 'vipnode_admin=forged' } })).status, path).toBe(401)
    }
    const ok = await fetch(`${c.url}/dashboard/api/snapshot`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ poolId: 'test-pool', overview: { hostsOnline: 0, ledgerImbalanceWei: '0' }, hosts: [], epochs: [] })
    expect((await fetch(`${c.url}/dashboard/api/epochs/1`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404)
  })

  test('behavior: login attempts are limited per address: the sixth within a minute gets 429, even with the right token', async () => {
    const { c, clock } = await pool()
    const attempt = (token: string) =>
      fetch(`${c.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token }), redirect: 'manual' })
    for (let i = 0; i < 4; i++) expect((await attempt('wrong-wrong-wrong-wrong')).status).toBe(401)
    const good = await attempt(TOKEN)
    expect(good.status).toBe(303)
    expect(good.headers.get('set-cookie')).toMatch(/^vipnode_admin=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/)
    const limited = await attempt(TOKEN)
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await limited.text()).toContain('Too many sign-in attempts')
    clock.advance(60_000)
    expect((await attempt(TOKEN)).status).toBe(303)
  })

  test('behavior: a session expires; its event stream is told and closed', async () => {
    const { c, clock } = await pool()
    const res = await fetch(`${c.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' })
    const jar = res.headers.get('set-cookie')!.split(';')[0]!
    const stream = await fetch(`${c.url}/dashboard/api/events`, { headers: { cookie: jar } })
    expect(stream.status).toBe(200)
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const reader = stream.body!.getReader()
    let text = ''
    const readUntil = async (what: string) => {
      while (!text.includes(what)) {
        const { value, done } = await reader.read()
        if (done) break
        text += new TextDecoder().decode(value)
      }
      return text.includes(what)
    }
    expect(await readUntil('event: snapshot')).toBe(true)
    clock.advance(12 * 3_600_000)
    // A change makes the hub push; the expired session gets `expired` and the stream ends.
    await testAgent(c.url, { role: 'host' }).then((a) => cleanup.push(() => a.close()))
    expect(await readUntil('event: expired')).toBe(true)
    expect((await reader.read()).done).toBe(true)
    expect((await fetch(`${c.url}/dashboard/api/snapshot`, { headers: { cookie: jar } })).status).toBe(401)
  })

  test('default: without --admin-token, /dashboard says how to enable it and the API is off', async () => {
    const { c } = await pool({ adminToken: undefined })
    const page = await fetch(`${c.url}/dashboard`)
    expect(page.status).toBe(200)
    const body = await page.text()
    expect(body).toContain('The dashboard is off')
    expect(body).toContain('--admin-token')
    const api = await fetch(`${c.url}/dashboard/api/snapshot`, { headers: { authorization: 'Bearer anything-at-all-0000' } })
    expect(api.status).toBe(401)
    expect(await api.json()).toMatchObject({ error: { message: expect.stringContaining('--admin-token') } })
    expect((await fetch(`${c.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ token: 'x'.repeat(20) }) })).status).toBe(404)
  })

  test('error: values from agents and config are escaped in server-rendered pages; pages carry a strict CSP', async () => {
    const { c } = await pool({ poolId: 'p<script>alert(1)</script>' })
    const res = await fetch(`${c.url}/`)
    const body = await res.text()
    expect(body).not.toContain('<script>alert(1)')
    expect(body).toContain('p&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    const login = await (await fetch(`${c.url}/dashboard`)).text()
    expect(login).not.toContain('<script>alert(1)')
    // /v1/status is unchanged JSON.
    expect(await (await fetch(`${c.url}/v1/status`)).json()).toMatchObject({ poolId: 'p<script>alert(1)</script>', hostsOnline: 0 })
  })
})
