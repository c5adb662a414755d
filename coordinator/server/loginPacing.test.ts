/**
 * Login pacing at the /v1/agent upgrade (socketGate.ts on TokenBucket.reserve),
 * over real sockets: a reconnect storm of real agents (PoolConnection) is
 * admitted at the configured rate, every agent gets in within the bound the
 * schedule promises, slot tokens are single-use and bound to their address,
 * and one address that dials without its token cannot push honest agents back.
 */
import { afterEach, describe, expect, test } from 'vitest'
import WebSocket from 'ws'
import { LOGIN_SLOT_HEADER, RETRY_AFTER_MS_HEADER } from '../../protocol/index.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { testAgent, type TestAgent } from '../../test/harness/agents.ts'
import type { RunningCoordinator } from '../coordinator.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function coordinator(config: Parameters<typeof testCoordinator>[0]): Promise<RunningCoordinator> {
  const c = await testCoordinator(config)
  cleanups.push(() => c.close())
  return c
}

type Upgrade = { status: number; waitMs: number; token: string | undefined }

/** One bare upgrade of /v1/agent with optional headers: 101 (socket kept for cleanup) or the refusal's status and slot. */
function upgrade(c: RunningCoordinator, headers: Record<string, string> = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${c.url.replace('http', 'ws')}/v1/agent`, { headers })
    ws.once('open', () => {
      cleanups.push(async () => ws.terminate())
      resolve({ status: 101, waitMs: 0, token: undefined })
    })
    ws.once('unexpected-response', (_req, res) => {
      const token = res.headers[LOGIN_SLOT_HEADER]
      resolve({ status: res.statusCode!, waitMs: Number(res.headers[RETRY_AFTER_MS_HEADER] ?? NaN), token: typeof token === 'string' ? token : undefined })
      res.resume()
      ws.terminate()
    })
    ws.once('error', (err) => {
      if (!/Unexpected server response|closed before/.test(err.message)) reject(err)
    })
  })
}

describe('login pacing', () => {
  test('behavior: a reconnect storm of 120 agents at 40 logins/s (burst 10) is admitted at the rate, and every agent is in within its slot bound', async () => {
    const rate = 40
    const burst = 10
    const c = await coordinator({ loginRate: rate, loginBurst: burst })
    const started = Date.now()
    const loginAt: number[] = []
    const agents = await Promise.all(
      Array.from({ length: 120 }, async () => {
        const a: TestAgent = await testAgent(c.url, {})
        loginAt.push(Date.now() - started)
        return a
      }),
    )
    cleanups.push(async () => void (await Promise.all(agents.map((a) => a.close()))))
    loginAt.sort((x, y) => x - y)
    // Paced: by any time t, at most burst + rate × t logins (the coordinator enforces this; one slot of rounding).
    loginAt.forEach((t, k) => expect(k + 1, `login ${k + 1} at ${t} ms`).toBeLessThanOrEqual(burst + Math.floor((t * rate) / 1_000) + 1))
    // Bounded: the k-th agent is in by its slot, (k - burst) / rate, plus the agents' own scheduling (a loaded CI box: 2 s).
    loginAt.forEach((t, k) => expect(t, `login ${k + 1}`).toBeLessThanOrEqual((Math.max(0, k + 1 - burst) * 1_000) / rate + 2_000))
    expect(c.services.sessions.count('host')).toBe(120)
  })

  test('behavior: a slot token admits its holder once, at its time; early it is answered with the same slot, reused it books a new one', async () => {
    const c = await coordinator({ loginRate: 5, loginBurst: 1 })
    expect((await upgrade(c)).status).toBe(101)
    const refused = await upgrade(c)
    expect(refused).toMatchObject({ status: 503, token: expect.any(String) })
    expect(refused.waitMs).toBeGreaterThan(0)
    expect(refused.waitMs).toBeLessThanOrEqual(200)
    // Too early: the same slot again, not a later one.
    const early = await upgrade(c, { [LOGIN_SLOT_HEADER]: refused.token! })
    expect(early).toMatchObject({ status: 503, token: refused.token })
    // A forged token (another MAC) counts as none: a new slot, later than the first.
    const forged = await upgrade(c, { [LOGIN_SLOT_HEADER]: refused.token!.replace(/.$/, (ch) => (ch === '0' ? '1' : '0')) })
    expect(forged).toMatchObject({ status: 503 })
    expect(forged.token).not.toBe(refused.token)
    await new Promise<void>((resolve) => setTimeout(resolve, refused.waitMs))
    expect((await upgrade(c, { [LOGIN_SLOT_HEADER]: refused.token! })).status).toBe(101)
    // Used once: the same token again is paced like a stranger.
    const reused = await upgrade(c, { [LOGIN_SLOT_HEADER]: refused.token! })
    expect(reused.status).toBe(503)
  })

  test('attack: one address dialling again and again without its token books at most its cap, then gets 429; an honest agent elsewhere keeps an early slot', async () => {
    // One login a second: the five booked turns span five seconds, far longer than the attacker's dials take.
    const c = await coordinator({ loginRate: 1, loginBurst: 1, maxPendingSocketsPerAddress: 5, trustProxy: ['127.0.0.1'] })
    const attacker = { 'X-Forwarded-For': '203.0.113.7' }
    const statuses: number[] = []
    for (let i = 0; i < 40; i++) statuses.push((await upgrade(c, attacker)).status)
    // One admitted (the burst), five slots booked (its cap), every later dial refused without booking.
    expect(statuses.filter((s) => s === 101)).toHaveLength(1)
    expect(statuses.filter((s) => s === 503)).toHaveLength(5)
    expect(statuses.filter((s) => s === 429)).toHaveLength(34)
    // The honest address is behind the five bookings (6 s at 1/s at most), not behind 39.
    const honest = await upgrade(c, { 'X-Forwarded-For': '198.51.100.1' })
    expect(honest.status).toBe(503)
    expect(honest.waitMs).toBeLessThanOrEqual(6_000)
    // And a token is bound to the address it was given to.
    const stolen = await upgrade(c, { 'X-Forwarded-For': '203.0.113.7', [LOGIN_SLOT_HEADER]: honest.token! })
    expect(stolen.status).toBe(429)
  })
})
