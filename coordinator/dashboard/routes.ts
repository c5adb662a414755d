/**
 * The admin dashboard (/dashboard, behind a login) and the public status
 * page (/). Mounted by createHttpApp; `closeDashboard(services)` stops its
 * timers and ends its event streams when the coordinator closes.
 *
 * Auth: the admin API's token, either as `Authorization: Bearer <token>` or
 * exchanged at POST /dashboard/login for a session cookie. Everything under
 * /dashboard/api refuses anonymous calls with 401.
 */
import express, { Router, type Request, type Response, type NextFunction } from 'express'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CoordinatorServices } from '../rpc/context.ts'
import { epochJson } from '../server/payoutRoutes.ts'
import { qualityAdminRoutes } from '../server/qualityRoutes.ts'
// A cycle (httpServer mounts this router), harmless: status() is only called per request.
import { status } from '../server/status.ts'
import { AdminSessions, SESSION_COOKIE, adminAttempts, clearedCookie, cookieOf, isHttps, judgeBearer, sessionCookie, tokenMatches } from './auth.ts'
import { DashboardHub, defaultHubOptions, type DashboardHubOptions } from './events.ts'
import { snapshotJson } from './snapshot.ts'
import { ASSETS, appShell, dashboardOffPage, loginPage, statusPage, tooManyAttemptsPage } from './pages.ts'

export interface DashboardOptions extends DashboardHubOptions {
  /** How long a login lasts. */
  sessionTtlMs: number
  /** Login attempts allowed per remote address per minute. */
  loginAttemptsPerMinute: number
  /** Always mark the session cookie Secure (it is anyway when the request came over https or says so in X-Forwarded-Proto). */
  secureCookie: boolean
}

export const defaultDashboardOptions: DashboardOptions = { ...defaultHubOptions, sessionTtlMs: 12 * 3_600_000, loginAttemptsPerMinute: 5, secureCookie: false }

const ASSETS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'assets')
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js')

/** Strict for everything the dashboard and status page serve: own scripts and styles only. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({ 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' })
  next()
}

function sendHtml(res: Response, code: number, body: string): void {
  res.status(code).set('Cache-Control', 'no-store').type('html').send(body)
}

const running = new WeakMap<CoordinatorServices, DashboardHub>()

/** The running dashboard's hub (samples, snapshot builder, streams), for tests and tooling. */
export function dashboardHubOf(services: CoordinatorServices): DashboardHub | undefined {
  return running.get(services)
}

/** Stop the dashboard's timers and end its event streams. */
export function closeDashboard(services: CoordinatorServices): void {
  running.get(services)?.close()
  running.delete(services)
}

/** The coordinator's base URL as the requester reached it (for the commands on the status page). */
function publicBaseUrl(req: Request): string {
  const host = req.get('host') ?? ''
  const safe = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? host : `${req.socket.localAddress}:${req.socket.localPort}`
  return `${isHttps(req) ? 'https' : 'http'}://${safe}`
}

export function dashboardRoutes(services: CoordinatorServices, overrides: Partial<DashboardOptions> = {}): Router {
  const opts = { ...defaultDashboardOptions, ...overrides }
  const { config, clock, log, poolId } = services
  const { epochs: epochReads, usage: usageReads } = services.reads
  const token = config.adminToken
  const sessions = new AdminSessions(clock, opts.sessionTtlMs)
  // One limiter for sign-ins and bearer tokens, shared with the admin API (payoutRoutes).
  const limiter = adminAttempts(services, clock, opts.loginAttemptsPerMinute)
  running.get(services)?.close()
  const hub = new DashboardHub(services, opts, (id) => sessions.valid(id))
  running.set(services, hub)
  hub.start()

  /** 'session' for a valid cookie, 'bearer' for the token, undefined for anyone else. */
  const whoIs = (req: Request): { via: 'session'; sessionId: string } | { via: 'bearer' } | { via: 'locked'; retryAfterS: number } | undefined => {
    if (!token) return undefined
    const sid = cookieOf(req, SESSION_COOKIE)
    if (sid && sessions.valid(sid)) return { via: 'session', sessionId: sid }
    const address = services.clientAddress(req)
    const verdict = judgeBearer(req, token, address, limiter)
    if (verdict?.ok) return { via: 'bearer' }
    if (verdict?.status === 429) {
      log.warn('admin bearer attempts rate limited', { remote: address })
      return { via: 'locked', retryAfterS: verdict.retryAfterS }
    }
    if (verdict) log.warn('admin bearer token refused', { remote: address })
    return undefined
  }

  const r = Router()

  r.get('/', securityHeaders, (req, res) => {
    sendHtml(res, 200, statusPage(status(services), publicBaseUrl(req)))
  })

  r.use(
    ASSETS,
    (_req, res, next) => {
      res.set({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' })
      next()
    },
    express.static(ASSETS_DIR, { index: false, redirect: false, dotfiles: 'ignore', extensions: false }),
  )
  r.get(`${ASSETS}/vendor/chart.umd.min.js`, (_req, res) => {
    res.set('Cache-Control', 'no-cache').sendFile(CHART_JS)
  })

  r.get('/dashboard', securityHeaders, (req, res) => {
    if (!token) return sendHtml(res, 200, dashboardOffPage(poolId))
    const who = whoIs(req)
    sendHtml(res, 200, who && who.via !== 'locked' ? appShell(poolId) : loginPage(poolId))
  })

  r.post('/dashboard/login', securityHeaders, express.urlencoded({ extended: false, limit: '4kb' }), (req, res) => {
    if (!token) return sendHtml(res, 404, dashboardOffPage(poolId))
    const address = services.clientAddress(req)
    const allowed = limiter.attempt(address)
    if (!allowed.ok) {
      log.warn('dashboard login rate limited', { remote: address })
      res.set('Retry-After', String(allowed.retryAfterS))
      return sendHtml(res, 429, tooManyAttemptsPage(poolId, allowed.retryAfterS))
    }
    const given = typeof req.body?.token === 'string' ? (req.body.token as string) : undefined
    if (!tokenMatches(given, token)) {
      log.warn('dashboard login failed', { remote: address })
      return sendHtml(res, 401, loginPage(poolId, 'That token is not right.'))
    }
    const session = sessions.create()
    log.info('dashboard login', { remote: address })
    res.set('Set-Cookie', sessionCookie(session.id, opts.sessionTtlMs, opts.secureCookie || isHttps(req)))
    res.redirect(303, '/dashboard')
  })

  r.post('/dashboard/logout', securityHeaders, (req, res) => {
    const sid = cookieOf(req, SESSION_COOKIE)
    if (sid) {
      sessions.delete(sid)
      hub.endSession(sid)
    }
    res.set('Set-Cookie', clearedCookie(opts.secureCookie || isHttps(req)))
    res.redirect(303, '/dashboard')
  })

  const api = Router()
  api.use((req, res, next) => {
    res.set('Cache-Control', 'no-store')
    const who = whoIs(req)
    if (who?.via === 'locked') {
      res.set('Retry-After', String(who.retryAfterS))
      res.status(429).json({ error: { code: 'RATE_LIMITED', message: `too many wrong admin tokens from this address: retry in ${who.retryAfterS} s` } })
      return
    }
    if (!who) {
      res.status(401).json({
        error: {
          code: 'UNAUTHORIZED',
          message: token ? 'sign in at /dashboard, or send Authorization: Bearer <admin token>' : 'the dashboard is off: start the coordinator with --admin-token',
        },
      })
      return
    }
    res.locals.sessionId = who.via === 'session' ? who.sessionId : null
    next()
  })
  api.get('/snapshot', async (_req, res) => {
    res.type('application/json').send(await snapshotJson(await hub.builder.build()))
  })
  api.get('/events', (req, res) => {
    hub.attach(req, res, res.locals.sessionId as string | null)
  })
  api.get('/epochs/:epoch', async (req, res) => {
    const n = Number(req.params.epoch)
    const e = Number.isSafeInteger(n) && n > 0 ? await epochReads.getEpoch(n) : undefined
    if (!e) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: `epoch ${req.params.epoch} is not settled` } })
      return
    }
    const [payouts, usage] = await Promise.all([epochReads.epochPayouts(n), usageReads.usage({ epoch: n })])
    const roots = services.chainRoots?.()
    res.json({
      ...epochJson(e),
      onChain: roots?.activeRoot === e.root ? 'active' : roots?.pending?.root === e.root ? 'pending' : null,
      claimableAtMs: roots?.pending?.root === e.root ? roots.pending.claimableAtMs : null,
      serviceMs: usage.reduce((sum, u) => sum + u.serviceMs, 0),
      pairs: usage.length,
      // Whether a payee has claimed is only known on chain; not tracked off-chain yet.
      payouts: payouts.map((p) => ({ payee: p.payee, serviceMs: p.serviceMs, amountWei: p.amountWei.toString(), cumulativeWei: p.cumulativeWei.toString(), claimed: null })),
    })
  })
  // The same service-quality views as /v1/admin, for a signed-in browser.
  api.use(qualityAdminRoutes(services))
  api.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no such dashboard endpoint' } })
  })
  r.use('/dashboard/api', api)
  return r
}
