/**
 * Attack 8, login relayed across pools: a malicious pool (or a man in the
 * middle on ws://) forwards a victim agent's frames to another pool B and B's
 * challenge back, hoping to log in to B as the victim. The victim signs the
 * origin it dialled (the relay's), so B refuses the login with WRONG_ORIGIN and
 * the relayed socket stays unauthenticated.
 * Economic bound: the attacker gains nothing as the victim at B: no session,
 * no node row, no assignment, no ledger entry (B's store is unchanged).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import WebSocket, { WebSocketServer } from 'ws'
import { PoolConnection } from '../../agent/poolConnection.ts'
import { KnownPoolError, KnownPools } from '../../agent/knownPools.ts'
import { AGENT_PATH, ErrorCode, RpcError, normaliseOrigin } from '../../protocol/index.ts'
import { silentLogger } from '../../lib/logger.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { RawAgent, connectBody, identity, signedConnect, type Identity } from '../harness/rawAgent.ts'
import { storeSnapshot } from '../harness/storeState.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { startCoordinator } from '../../coordinator/coordinator.ts'
import { tempDb } from '../harness/coordinator.ts'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f()
})

async function coordinator(config: Parameters<typeof testCoordinator>[0] = {}): Promise<RunningCoordinator> {
  const c = await testCoordinator(config)
  cleanups.push(() => c.close())
  return c
}

/**
 * The attacker: a real WebSocket server that pipes each victim socket to `target` (another pool's agent
 * endpoint), frame by frame, and may rewrite what the victim sends. It keeps every upstream socket so the
 * test can try to act on it after the login.
 */
async function maliciousRelay(target: string, rewrite: (frame: any) => any = (f) => f, opts: { forgeHost?: boolean } = {}) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: AGENT_PATH })
  let relayHost = ''
  const upstreams: { ws: WebSocket; fromPool: any[] }[] = []
  wss.on('connection', (victim) => {
    // A careful attacker sends its own host:port as Host, so that B's Host-based origin matches the victim's signature.
    const upstream = new WebSocket(target.replace(/^http/, 'ws') + AGENT_PATH, opts.forgeHost ? { headers: { host: relayHost } } : {})
    const entry = { ws: upstream, fromPool: [] as any[] }
    upstreams.push(entry)
    const queued: string[] = []
    upstream.on('open', () => {
      for (const text of queued.splice(0)) upstream.send(text)
    })
    upstream.on('message', (data) => {
      entry.fromPool.push(JSON.parse(data.toString()))
      if (victim.readyState === WebSocket.OPEN) victim.send(data.toString())
    })
    victim.on('message', (data) => {
      const text = JSON.stringify(rewrite(JSON.parse(data.toString())))
      if (upstream.readyState === WebSocket.OPEN) upstream.send(text)
      else queued.push(text)
    })
    // The attacker keeps its upstream socket open after the victim leaves: that is the one it wants to use.
    upstream.on('close', () => victim.close())
  })
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()))
  relayHost = `127.0.0.1:${(wss.address() as AddressInfo).port}`
  const url = `http://${relayHost}`
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const u of upstreams) u.ws.terminate()
        for (const c of wss.clients) c.terminate()
        wss.close(() => resolve())
      }),
  )
  return { url, upstreams }
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A real agent connection (the code `vipnode host` runs), resolved with its session or its fatal refusal. */
async function dial(url: string, id: Identity, opts: { knownPools?: KnownPools } = {}): Promise<{ conn: PoolConnection; outcome: { ok: true } | { ok: false; error: RpcError | KnownPoolError } }> {
  const conn = new PoolConnection({
    coordinatorUrl: url,
    nodeKey: id.key,
    hello: async () => connectBody(id, { role: 'host', capacity: 5 }),
    handlers: {},
    log: silentLogger,
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 200,
    ...opts,
  })
  cleanups.push(() => conn.close())
  conn.start()
  const outcome = await conn.ready().then(
    () => ({ ok: true as const }),
    (error: RpcError | KnownPoolError) => ({ ok: false as const, error }),
  )
  return { conn, outcome }
}

/** Nothing at B belongs to the victim: no session, no assignment, no row. */
function expectNothingFor(b: RunningCoordinator, victim: Identity) {
  expect(b.services.sessions.get(victim.nodeId)).toBeUndefined()
  expect(b.services.assignments.clientsOf(victim.nodeId)).toEqual([])
  expect(b.services.assignments.hostsOf(victim.nodeId)).toEqual([])
}

describe('attack 8: login relayed across pools', () => {
  test('bound: a relayed login is refused with WRONG_ORIGIN and B holds nothing for the victim', async () => {
    const b = await coordinator({ poolId: 'pool-b' })
    const relay = await maliciousRelay(b.url)
    const victim = identity(30310)
    const before = storeSnapshot(b)
    const startedAt = performance.now()
    const { outcome } = await dial(relay.url, victim)
    const refusedInMs = performance.now() - startedAt

    expect(outcome.ok).toBe(false)
    const error = (outcome as { error: RpcError }).error
    expect(error.code).toBe(ErrorCode.WRONG_ORIGIN)
    expect(error.message).toContain(`login signed for origin ${normaliseOrigin(relay.url)}, but this coordinator is ${normaliseOrigin(b.url)}`)
    expectNothingFor(b, victim)
    expect(storeSnapshot(b), "B's store changed").toEqual(before)

    // The attacker's socket at B stays unauthenticated: acting on it as the victim is refused too.
    const upstream = relay.upstreams[0]!
    upstream.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 'steal', method: 'vipnode_requestHosts', params: { count: 1 } }))
    await new Promise<void>((resolve) => upstream.ws.once('message', () => resolve()))
    expect(upstream.fromPool.find((f) => f.id === 'steal')?.error?.code).toBe(ErrorCode.UNAUTHORIZED)
    expect(storeSnapshot(b)).toEqual(before)

    // Control: the same key dialling B itself is welcome, so only the origin made the difference.
    const direct = await dial(b.url, victim)
    expect(direct.outcome).toEqual({ ok: true })
    expect(b.services.sessions.get(victim.nodeId)).toBeDefined()
    console.log(`LOGIN RELAY: relayed login refused with WRONG_ORIGIN after ${refusedInMs.toFixed(0)} ms; pool B store unchanged (digest ${before.digest.slice(0, 12)}), 0 sessions/assignments for the victim`)
  })

  test('bound: rewriting the signed origin to B breaks the signature (BAD_SIGNATURE), still nothing stored', async () => {
    const b = await coordinator({ poolId: 'pool-b' })
    const bOrigin = normaliseOrigin(b.url)
    const relay = await maliciousRelay(b.url, (f) => (f.method === 'vipnode_connect' ? { ...f, params: { ...f.params, origin: bOrigin } } : f))
    const victim = identity(30311)
    const before = storeSnapshot(b)
    const { outcome } = await dial(relay.url, victim)
    expect(outcome.ok).toBe(false)
    expect((outcome as { error: RpcError }).error.code).toBe(ErrorCode.BAD_SIGNATURE)
    expectNothingFor(b, victim)
    expect(storeSnapshot(b)).toEqual(before)
  })

  test('bound: with --public-url set, a relay that forges the Host header is refused all the same', async () => {
    // The operator's setting: the URL agents dial B at (here its loopback address, on a port chosen first).
    const port = await freePort()
    const b = await coordinator({ poolId: 'pool-b', port, publicUrls: [`http://127.0.0.1:${port}`] })
    const relay = await maliciousRelay(b.url, (f) => f, { forgeHost: true })
    const victim = identity(30314)
    const before = storeSnapshot(b)
    const { outcome } = await dial(relay.url, victim)
    expect(outcome.ok).toBe(false)
    expect((outcome as { error: RpcError }).error.code).toBe(ErrorCode.WRONG_ORIGIN)
    expectNothingFor(b, victim)
    expect(storeSnapshot(b)).toEqual(before)
  })

  test('limit: without --public-url the Host header decides, and a relay that forges it gets through (why production must set --public-url)', async () => {
    const b = await coordinator({ poolId: 'pool-b' })
    const relay = await maliciousRelay(b.url, (f) => f, { forgeHost: true })
    const { outcome } = await dial(relay.url, identity(30315))
    expect(outcome).toEqual({ ok: true })
  })

  test('behavior: with --public-url only the listed origins are accepted; a login without origin is INVALID_PARAMS', async () => {
    const b = await coordinator({ poolId: 'pool-b', publicUrls: ['https://Pool-B.example/', 'wss://pool-b.example:8443'] })
    const before = storeSnapshot(b)
    const id = identity(30312)

    // Dialled at its loopback address, which the operator did not list: refused, with both origins named.
    const a = await RawAgent.open(b.url)
    const refused = await a.request('vipnode_connect', signedConnect(id, await a.challenge()))
    expect(refused.error).toEqual({
      code: ErrorCode.WRONG_ORIGIN,
      message: `login signed for origin ${normaliseOrigin(b.url)}, but this coordinator is wss://pool-b.example:443, wss://pool-b.example:8443: it was made for another pool (relayed?) or the agent dialled an address the pool does not list in --public-url`,
      data: { expected: ['wss://pool-b.example:443', 'wss://pool-b.example:8443'], given: normaliseOrigin(b.url) },
    })

    // An agent older than origin binding: the missing field is named.
    const old = await RawAgent.open(b.url)
    const { dialledOrigin: _dialled, ...ch } = await old.challenge()
    const missing = await old.request('vipnode_connect', signedConnect(id, ch))
    expect(missing.error?.code).toBe(ErrorCode.INVALID_PARAMS)
    expect(missing.error?.message).toMatch(/origin/)
    expect(storeSnapshot(b)).toEqual(before)

    // Signed for the public URL (the agent dialled it through the operator's proxy): accepted.
    const ok = await RawAgent.open(b.url)
    const accepted = await ok.request('vipnode_connect', signedConnect(id, await ok.challenge(), connectBody(id, { origin: 'wss://pool-b.example:443' })))
    expect(accepted.error).toBeUndefined()
    for (const s of [a, old, ok]) s.close()
  })

  test('bound: a changed pool id at the same origin is refused before anything is signed, unless --pool-id names it', async () => {
    const first = await startCoordinator({ port: 0, db: tempDb(), poolId: 'pool-a', logLevel: 'silent', allowPrivateAddresses: true }, { logger: silentLogger })
    const port = first.port
    const victim = identity(30313)
    const file = KnownPools.fileFor(join(mkdtempSync(join(tmpdir(), 'vipnode-victim-')), 'nodekey'))
    const trusted = await dial(first.url, victim, { knownPools: new KnownPools({ file }) })
    expect(trusted.outcome).toEqual({ ok: true })
    await trusted.conn.close()
    await first.close()

    // Someone else now answers at the same address, with its own pool id.
    const impostor = await startCoordinator({ port, db: tempDb(), poolId: 'pool-evil', logLevel: 'silent', allowPrivateAddresses: true }, { logger: silentLogger })
    cleanups.push(() => impostor.close())
    const before = storeSnapshot(impostor)
    const refused = await dial(impostor.url, victim, { knownPools: new KnownPools({ file }) })
    expect(refused.outcome.ok).toBe(false)
    const error = (refused.outcome as { error: Error }).error
    expect(error).toBeInstanceOf(KnownPoolError)
    expect(error.message).toContain(`announced pool id "pool-evil", but this key first logged in there to pool "pool-a"`)
    expect(error.message).toContain('start with --pool-id pool-evil')
    expectNothingFor(impostor, victim)
    expect(storeSnapshot(impostor)).toEqual(before)

    // The operator says the change is real.
    const told = await dial(impostor.url, victim, { knownPools: new KnownPools({ file, expectedPoolId: 'pool-evil' }) })
    expect(told.outcome).toEqual({ ok: true })
  })

  test('error: plain ws:// to a host off loopback is refused at start, in the agent and on the command line', async () => {
    const id = identity()
    const make = (coordinatorUrl: string, allowInsecureCoordinator?: boolean) =>
      new PoolConnection({ coordinatorUrl, nodeKey: id.key, hello: async () => connectBody(id), handlers: {}, log: silentLogger, ...(allowInsecureCoordinator ? { allowInsecureCoordinator } : {}) })
    expect(() => make('ws://203.0.113.7:8080')).toThrow('coordinator URL ws://203.0.113.7:8080 is not encrypted')
    expect(() => make('http://pool.example')).toThrow(/--insecure-coordinator/)
    expect(() => make('ws://203.0.113.7:8080', true)).not.toThrow()
    expect(() => make('wss://pool.example')).not.toThrow()
    expect(() => make('http://127.0.0.1:8080')).not.toThrow()

    const cli = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, ['bin/vipnode.js', 'client', '--bootstrap', 'http://203.0.113.7:8080', '--node-rpc', 'http://127.0.0.1:1'], { timeout: 20_000 }, (_err, _stdout, stderr) =>
        resolve({ code: child.exitCode, stderr }),
      )
    })
    expect(cli.code).not.toBe(0)
    expect(cli.stderr).toContain('coordinator URL http://203.0.113.7:8080 is not encrypted')
  }, 30_000)
})
