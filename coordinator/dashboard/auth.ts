/**
 * Dashboard login: the admin token (the same one as the admin API's bearer
 * token) is exchanged for a random session id in an HttpOnly, SameSite=Strict
 * cookie. Sessions live in memory, so a restart logs everybody out. Login
 * attempts are limited per remote address.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Request } from 'express'
import type { Clock } from '../../lib/clock.ts'
import { KeyedRateLimiter } from '../../lib/rateLimit.ts'

export const SESSION_COOKIE = 'vipnode_admin'

/** Constant-time comparison whatever the lengths (both sides are hashed first). */
export function tokenMatches(given: string | undefined, token: string | undefined): boolean {
  if (!token || !given) return false
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(given), digest(token))
}

export function bearerOf(req: Request): string | undefined {
  return /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1]
}

export function cookieOf(req: Request, name: string): string | undefined {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/**
 * Behind a TLS-terminating proxy that says so, the cookie is marked Secure.
 * X-Forwarded-Proto is honoured from anyone here (not only --trust-proxy):
 * it can only make the sender's own cookie stricter.
 */
export function isHttps(req: Request): boolean {
  return req.secure || req.get('x-forwarded-proto')?.split(',')[0]?.trim() === 'https'
}

export function sessionCookie(id: string, maxAgeMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure ? '; Secure' : ''}`
}

export function clearedCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`
}

export interface AdminSession {
  id: string
  createdAtMs: number
  expiresAtMs: number
}

/** Logged-in admin sessions, in memory, each valid for `ttlMs` from login. */
export class AdminSessions {
  private readonly byId = new Map<string, AdminSession>()

  constructor(
    private readonly clock: Clock,
    readonly ttlMs: number,
    private readonly max = 1_000,
  ) {}

  create(): AdminSession {
    this.prune()
    // Map iteration is insertion order: the oldest session makes room.
    while (this.byId.size >= this.max) this.byId.delete(this.byId.keys().next().value!)
    const now = this.clock.now()
    const session = { id: randomBytes(32).toString('base64url'), createdAtMs: now, expiresAtMs: now + this.ttlMs }
    this.byId.set(session.id, session)
    return session
  }

  valid(id: string | undefined): boolean {
    if (!id) return false
    const s = this.byId.get(id)
    if (!s) return false
    if (s.expiresAtMs <= this.clock.now()) {
      this.byId.delete(id)
      return false
    }
    return true
  }

  delete(id: string | undefined): void {
    if (id) this.byId.delete(id)
  }

  get size(): number {
    return this.byId.size
  }

  private prune(): void {
    const now = this.clock.now()
    for (const [id, s] of this.byId) if (s.expiresAtMs <= now) this.byId.delete(id)
  }
}

/**
 * Admin attempts per address (a `KeyedRateLimiter`, lib/rateLimit.ts): `limit`
 * at once, then `limit` per `windowMs` on average; every dashboard sign-in, and
 * every request with a wrong bearer token. One instance per coordinator
 * (`adminAttempts`) serves both, so guesses on one path count against the
 * other. The address is the client's (`services.clientAddress`:
 * X-Forwarded-For only from --trust-proxy).
 */
export class LoginLimiter {
  private readonly attempts: KeyedRateLimiter<string>

  constructor(
    private readonly clock: Clock,
    readonly limit = 5,
    readonly windowMs = 60_000,
  ) {
    this.attempts = new KeyedRateLimiter({ ratePerSec: (limit * 1000) / windowMs, burst: limit })
  }

  /** Count an attempt; refused (with seconds until the next is allowed) while the address is out of attempts. */
  attempt(address: string): { ok: true } | { ok: false; retryAfterS: number } {
    const now = this.clock.now()
    return this.attempts.take(address, now) ? { ok: true } : this.refusal(address, now)
  }

  /** Whether the address is locked out now, without counting an attempt. */
  check(address: string): { ok: true } | { ok: false; retryAfterS: number } {
    const now = this.clock.now()
    return this.attempts.waitMs(address, now) === 0 ? { ok: true } : this.refusal(address, now)
  }

  private refusal(address: string, now: number): { ok: false; retryAfterS: number } {
    return { ok: false, retryAfterS: Math.max(1, Math.ceil(this.attempts.waitMs(address, now) / 1000)) }
  }
}

const attemptLimiters = new WeakMap<object, LoginLimiter>()

/** The one admin-attempt limiter of a coordinator (keyed by its services), created on first use. */
export function adminAttempts(owner: object, clock: Clock, limit = 5): LoginLimiter {
  let limiter = attemptLimiters.get(owner)
  if (!limiter) {
    limiter = new LoginLimiter(clock, limit, 60_000)
    attemptLimiters.set(owner, limiter)
  }
  return limiter
}

export type BearerVerdict = { ok: true } | { ok: false; status: 401; message: string } | { ok: false; status: 429; retryAfterS: number; message: string }

/**
 * Judge an `Authorization: Bearer` header: refused while the address is locked
 * out (even with the right token, so guessing cannot go on), a wrong token
 * counted as an attempt. Undefined when the request carries no bearer token.
 */
export function judgeBearer(req: Request, token: string | undefined, address: string, limiter: LoginLimiter): BearerVerdict | undefined {
  const given = bearerOf(req)
  if (given === undefined) return undefined
  const locked = limiter.check(address)
  if (!locked.ok) return { ok: false, status: 429, retryAfterS: locked.retryAfterS, message: `too many wrong admin tokens from this address: retry in ${locked.retryAfterS} s` }
  if (tokenMatches(given, token)) return { ok: true }
  limiter.attempt(address)
  return { ok: false, status: 401, message: 'wrong admin token' }
}
