/**
 * Admin access (issue 18.6) over real HTTP on loopback: one attempt limiter for
 * dashboard sign-in and bearer tokens, per client address (X-Forwarded-For
 * only from --trust-proxy), the token from a file, and a Secure cookie over
 * forwarded https.
 */
import { describe, test, expect, afterEach } from 'vitest'
import { request } from 'node:http'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunningCoordinator } from '../coordinator.ts'
import type { CoordinatorConfigInput } from '../config.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'

const TOKEN = 'admin-token-0123456789abcdef'
let c: RunningCoordinator | undefined

afterEach(async () => {
  await c?.close()
  c = undefined
})

async function start(config: CoordinatorConfigInput = {}): Promise<RunningCoordinator> {
  c = await testCoordinator({ adminToken: TOKEN, ...config })
  return c
}

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function call(path: string, options: { method?: string; localAddress?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const target = new URL(path, c!.url)
  return new Promise((resolve, reject) => {
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: options.method ?? 'GET', headers: options.headers ?? {}, ...(options.localAddress ? { localAddress: options.localAddress } : {}), agent: false },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}

const bearer = (token: string, more: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...more })

describe('bearer attempts', () => {
  test('five wrong tokens lock that address out (even with the right token), not another', async () => {
    await start()
    for (let i = 0; i < 5; i++) expect((await call('/v1/admin/epochs', { headers: bearer(`wrong-${i}`) })).status).toBe(401)
    const locked = await call('/v1/admin/epochs', { headers: bearer(TOKEN) })
    expect(locked.status).toBe(429)
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0)
    // The dashboard API shares the limiter.
    expect((await call('/dashboard/api/snapshot', { headers: bearer(TOKEN) })).status).toBe(429)
    // Another address is served.
    expect((await call('/v1/admin/epochs', { localAddress: '127.0.0.2', headers: bearer(TOKEN) })).status).toBe(200)
    expect((await call('/dashboard/api/snapshot', { localAddress: '127.0.0.2', headers: bearer(TOKEN) })).status).toBe(200)
  })

  test('sign-in and bearer share one budget', async () => {
    await start()
    for (let i = 0; i < 3; i++) expect((await call('/dashboard/api/snapshot', { headers: bearer(`wrong-${i}`) })).status).toBe(401)
    const form = { 'content-type': 'application/x-www-form-urlencoded' }
    expect((await call('/dashboard/login', { method: 'POST', headers: form, body: 'token=nope' })).status).toBe(401)
    expect((await call('/dashboard/login', { method: 'POST', headers: form, body: 'token=nope' })).status).toBe(401)
    expect((await call('/dashboard/login', { method: 'POST', headers: form, body: `token=${TOKEN}` })).status).toBe(429)
    expect((await call('/v1/admin/epochs', { headers: bearer(TOKEN) })).status).toBe(429)
  })

  test('a right bearer token is never counted', async () => {
    await start()
    for (let i = 0; i < 20; i++) expect((await call('/v1/admin/epochs', { headers: bearer(TOKEN) })).status).toBe(200)
  })

  test('behind a trusted proxy, forwarded clients count separately; an untrusted sender cannot pick its address', async () => {
    await start({ trustProxy: ['127.0.0.1'] })
    const from = (client: string) => ({ 'x-forwarded-for': client })
    for (let i = 0; i < 5; i++) expect((await call('/v1/admin/epochs', { headers: bearer('wrong', from('198.51.100.1')) })).status).toBe(401)
    expect((await call('/v1/admin/epochs', { headers: bearer(TOKEN, from('198.51.100.1')) })).status).toBe(429)
    // The admin behind the same proxy is not locked out by the stranger.
    expect((await call('/v1/admin/epochs', { headers: bearer(TOKEN, from('198.51.100.2')) })).status).toBe(200)
    // The proxy's own address (no header) is not locked either.
    expect((await call('/v1/admin/epochs', { headers: bearer(TOKEN) })).status).toBe(200)
    // 127.0.0.2 is not trusted: a fresh X-Forwarded-For per guess does not buy fresh attempts.
    for (let i = 0; i < 5; i++) expect((await call('/v1/admin/epochs', { localAddress: '127.0.0.2', headers: bearer('wrong', from(`203.0.113.${i}`)) })).status).toBe(401)
    expect((await call('/v1/admin/epochs', { localAddress: '127.0.0.2', headers: bearer(TOKEN, from('203.0.113.99')) })).status).toBe(429)
  })
})

describe('admin token file', () => {
  test('the first line of --admin-token-file is the token', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vipnode-admin-')), 'token')
    writeFileSync(file, `${TOKEN}\n# anything below the first line is ignored\n`, { mode: 0o600 })
    c = await testCoordinator({ adminTokenFile: file })
    expect((await call('/v1/admin/epochs', { headers: bearer(TOKEN) })).status).toBe(200)
    expect((await call('/v1/admin/epochs', { headers: bearer('wrong') })).status).toBe(401)
  })

  test('a short token in the file, or both flags, refuse to start', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'vipnode-admin-')), 'token')
    writeFileSync(file, 'short\n')
    await expect(testCoordinator({ adminTokenFile: file })).rejects.toThrow(/at least 16 characters/)
    await expect(testCoordinator({ adminTokenFile: file, adminToken: TOKEN })).rejects.toThrow(/not both/)
  })
})

describe('session cookie', () => {
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const cookieOf = (r: Reply) => String(r.headers['set-cookie'] ?? '')
  test('Secure when a trusted proxy forwards https; not over plain http', async () => {
    await start({ trustProxy: ['127.0.0.1'] })
    const plain = await call('/dashboard/login', { method: 'POST', headers: form, body: `token=${TOKEN}` })
    expect(plain.status).toBe(303)
    expect(cookieOf(plain)).toMatch(/HttpOnly; SameSite=Strict/)
    expect(cookieOf(plain)).not.toMatch(/Secure/)
    const viaHttps = await call('/dashboard/login', { method: 'POST', headers: { ...form, 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.1' }, body: `token=${TOKEN}` })
    expect(viaHttps.status).toBe(303)
    expect(cookieOf(viaHttps)).toMatch(/; Secure$/)
    const logout = await call('/dashboard/logout', { method: 'POST', headers: { 'x-forwarded-proto': 'https' } })
    expect(cookieOf(logout)).toMatch(/Max-Age=0; Secure$/)
  })
})
