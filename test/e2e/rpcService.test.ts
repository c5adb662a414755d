/**
 * The rpc service for light clients with real processes: the coordinator, two
 * stand-in nodes (test/fakenode/main.ts), two `vipnode host --service rpc`
 * agents with relays in front of them and one `vipnode client --service rpc`
 * shim are child processes. The test process is the light client: it sends
 * what Helios sends at start over HTTP and WebSocket to the shim's --listen
 * port, holds a newHeads subscription, and keeps polling while the host in
 * use is killed with SIGKILL. The nodes' heads are driven through their
 * control endpoint, as block production would.
 */
import { describe, test, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import type { NodeId } from '../../protocol/index.ts'
import { spawnVipnode, type Proc } from '../harness/processes.ts'
import { startFakeNodeProcess, startRpcHostProcess, type FakeNodeProc, type RpcHostProc } from '../harness/rpcProcesses.ts'
import { waitFor } from '../harness/waitFor.ts'
import { HELIOS_START, postRpc, rpcCall } from '../harness/jsonRpcClient.ts'

const INTERVAL_MS = 300
const INTERVAL = `${INTERVAL_MS}ms`
/** The coordinator's metering cap: two update intervals. */
const CAP_MS = 2 * INTERVAL_MS
const CHAIN_ID = 1337
const START_HEAD = 50
const ADMIN_TOKEN = 'e2e-admin-token-0123456789'

const dir = mkdtempSync(join(tmpdir(), 'vipnode-e2e-rpc-'))
const procs: Proc[] = []

let coordinatorUrl = ''
let nodes: FakeNodeProc[] = []
let hosts: RpcHostProc[] = []
let shim: Proc
let shimUrl = ''
let shimWsUrl = ''
let clientId = '' as NodeId
let head = START_HEAD
/** Set by the failover test, read by the metering test. */
let killed: RpcHostProc | undefined
let survivor: RpcHostProc | undefined
let killedUsageAtDeath = 0

function track(p: Proc): Proc {
  procs.push(p)
  return p
}
const spawn = (args: string[], env: Record<string, string> = {}): Proc => track(spawnVipnode(args, env))

const startFakeNode = () => startFakeNodeProcess({ dir, chainId: CHAIN_ID, head: START_HEAD, track })
const startRpcHost = (node: FakeNodeProc) => startRpcHostProcess({ coordinatorUrl, node, interval: INTERVAL, track })

// ---- the light client's side -----------------------------------------------------------------
type Reply = { jsonrpc: '2.0'; id?: unknown; result?: any; error?: { code: number; message: string } }
const call = rpcCall
const post = postRpc
const ZERO = `0x${'0'.repeat(40)}`



async function control(node: FakeNodeProc, path: string, body?: unknown): Promise<any> {
  const res = await fetch(new URL(path, node.controlUrl), body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!res.ok) throw new Error(`control ${path}: HTTP ${res.status} ${await res.text()}`)
  return res.json()
}
const nodeCallLog = async (node: FakeNodeProc): Promise<{ method: string; at: number }[]> => (await control(node, '/calls')).calls
const nodeCalls = async (node: FakeNodeProc): Promise<string[]> => (await nodeCallLog(node)).map((c) => c.method)
const nodeSubscriptions = async (node: FakeNodeProc): Promise<number> => (await control(node, '/subscriptions')).count as number

/** One block on the chain: every node advances to it (the same chain data on every fake of one chain ID). */
async function produceBlock(): Promise<number> {
  head++
  await Promise.all(nodes.map((n) => control(n, '/head', { number: head })))
  return head
}

/** A WebSocket JSON-RPC client: replies by id, subscription notifications in order. */
class WsClient {
  readonly notifications: { subscription: string; number: number }[] = []
  readonly #pending = new Map<number, (r: Reply | Reply[]) => void>()
  #nextId = 1000
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString())
      if (!Array.isArray(msg) && msg.method === 'eth_subscription') {
        this.notifications.push({ subscription: msg.params.subscription, number: Number(msg.params.result.number) })
        return
      }
      const id = Array.isArray(msg) ? msg[0]?.id : msg.id
      const resolve = this.#pending.get(id)
      if (resolve) {
        this.#pending.delete(id)
        resolve(msg)
      }
    })
  }

  static open(url: string): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.once('open', () => resolve(new WsClient(ws)))
      ws.once('error', reject)
    })
  }

  /** Send one call or a batch (replies matched by the first call's id). */
  send<T extends Reply | Reply[]>(body: { id: number }[] | { id: number }): Promise<T> {
    const id = Array.isArray(body) ? body[0]!.id : body.id
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no WebSocket reply to ${id}`)), 10_000)
      this.#pending.set(id, (r) => {
        clearTimeout(timer)
        resolve(r as T)
      })
      this.ws.send(JSON.stringify(body))
    })
  }

  call(method: string, params: unknown[] = []): Promise<Reply> {
    return this.send(call(method, params, this.#nextId++))
  }

  close(): void {
    this.ws.close()
  }
}

let lightClient: WsClient | undefined
let subscriptionId = ''

async function usage(): Promise<{ clientId: string; hostId: string; serviceMs: number; computeUnits: number }[]> {
  const res = await fetch(new URL('/v1/admin/usage', coordinatorUrl), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(res.status).toBe(200)
  return ((await res.json()) as { pairs: { clientId: string; hostId: string; serviceMs: number; computeUnits: number }[] }).pairs
}
const serviceMs = async (host: RpcHostProc) => (await usage()).find((u) => u.hostId === host.node.nodeId && u.clientId === clientId)?.serviceMs ?? 0

beforeAll(async () => {
  const started = Date.now()
  // Everything starts as soon as what it needs is up: process start-up (tsx) is most of this file's time.
  const keygen = spawn(['keygen', '--out', join(dir, 'client.key')])
  const coordinator = spawn(['coordinator', '--allow-private-addresses', '--port', '0', '--db', join(dir, 'pool.db'), '--pool-id', 'e2e-rpc', '--chain-id', String(CHAIN_ID), '--update-interval', INTERVAL], {
    VIPNODE_ADMIN_TOKEN: ADMIN_TOKEN,
  })
  const coordinatorUp = coordinator.waitForLog((l) => l.msg === 'coordinator listening', 'coordinator listening', 30_000).then((l) => {
    coordinatorUrl = l.url
  })
  const hostsUp = Promise.all(
    [0, 1].map(async () => {
      const node = await startFakeNode()
      await coordinatorUp
      return { node, host: await startRpcHost(node) }
    }),
  )
  const shimUp = (async () => {
    const key = await keygen.waitForLog((l) => typeof l.nodeId === 'string', 'keygen', 30_000)
    clientId = key.nodeId
    expect(await keygen.exited).toEqual({ code: 0, signal: null })
    await coordinatorUp
    shim = spawn(['client', '--service', 'rpc', '--bootstrap', coordinatorUrl, '--nodekey', join(dir, 'client.key'), '--chain-id', String(CHAIN_ID), '--listen', '127.0.0.1:0', '--hosts', '2'], {
      VIPNODE_UPDATE_INTERVAL: INTERVAL,
    })
    const ready = await shim.waitForLog((l) => l.msg?.startsWith('rpc endpoint ready'), 'shim endpoint ready', 30_000)
    shimUrl = ready.url
    shimWsUrl = ready.ws
    expect(ready.nodeId).toBe(clientId)
  })()
  const [up] = await Promise.all([hostsUp, shimUp])
  nodes = up.map((x) => x.node)
  hosts = up.map((x) => x.host)
  // A shim that asked before both hosts were up asks again after an interval.
  await waitFor(() => shim.logs.filter((l) => l.msg === 'relaying through host').length >= 2, 'both rpc hosts assigned to the shim', { timeoutMs: 15_000 })
  console.log(`6 processes up and the shim has 2 rpc hosts in ${Date.now() - started} ms`)
}, 40_000)

afterAll(async () => {
  lightClient?.close()
  await Promise.all(procs.map((p) => p.stop('SIGKILL')))
})

describe('rpc service across processes', () => {
  test('default: the Helios start sequence, one by one and as a batch over HTTP and WebSocket, gets the node\'s own answers', async () => {
    expect(new Set(shim.logs.filter((l) => l.msg === 'relaying through host').map((l) => l.relay))).toEqual(new Set(hosts.map((h) => h.relayUrl)))
    for (const req of HELIOS_START) {
      const { status, json } = await post(shimUrl, req)
      expect(status).toBe(200)
      expect(json.error, `${req.method}: ${JSON.stringify(json.error)}`).toBeUndefined()
      const direct = await post(nodes[0]!.url, req)
      expect(direct.json.error).toBeUndefined()
      expect(json).toEqual({ jsonrpc: '2.0', id: 1, result: direct.json.result })
    }
    const batch = HELIOS_START.map((r, i) => ({ ...r, id: 100 + i }))
    const viaShim = await post(shimUrl, batch)
    const direct = await post(nodes[1]!.url, batch)
    const byId = (replies: Reply[]) => [...replies].sort((a, b) => Number(a.id) - Number(b.id))
    expect(viaShim.status).toBe(200)
    expect(byId(viaShim.json)).toEqual(byId(direct.json))
    expect(viaShim.json.every((r: Reply) => r.result !== undefined)).toBe(true)

    lightClient = await WsClient.open(shimWsUrl)
    const wsBatch = await lightClient.send<Reply[]>(HELIOS_START.map((r, i) => ({ ...r, id: 200 + i })))
    expect(byId(wsBatch).map((r) => r.result)).toEqual(byId(direct.json).map((r) => r.result))
  })

  test('error: forbidden methods are refused by the relay and never reach a node; a token the pool never issued gets 401', async () => {
    for (const req of [call('admin_addPeer', ['enode://x']), call('debug_traceTransaction', [`0x${'11'.repeat(32)}`]), call('personal_sign', ['0x00', ZERO])]) {
      const { status, json } = await post(shimUrl, req)
      expect(status).toBe(200)
      expect(json.error, req.method).toMatchObject({ code: -32601, message: expect.stringMatching(/not relayed by this pool host/) })
    }
    const mixed = await post(shimUrl, [call('eth_chainId', [], 1), call('admin_addPeer', ['enode://x'], 2)])
    expect(mixed.json.find((r: Reply) => r.id === 1)).toMatchObject({ result: `0x${CHAIN_ID.toString(16)}` })
    expect(mixed.json.find((r: Reply) => r.id === 2)).toMatchObject({ error: { code: -32601 } })
    const reached = (await Promise.all(nodes.map(nodeCalls))).flat()
    expect(reached).toContain('eth_chainId')
    for (const m of ['admin_addPeer', 'debug_traceTransaction', 'personal_sign']) expect(reached).not.toContain(m)

    const forged = `Bearer ${'ab'.repeat(32)}`
    for (const h of hosts) {
      const res = await post(h.relayUrl, call('eth_chainId'), { authorization: forged })
      expect(res.status).toBe(401)
      expect(res.json.error).toMatchObject({ code: -32010, message: expect.stringMatching(/unknown or expired/) })
      expect((await post(h.relayUrl, call('eth_chainId'))).status).toBe(401) // no token at all
      const upgrade = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(h.relayUrl.replace(/^http/, 'ws'), { headers: { authorization: forged } })
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0)
          ws.terminate()
        })
        ws.once('open', () => reject(new Error('the relay accepted a forged token')))
        ws.once('error', () => {})
      })
      expect(upgrade).toBe(401)
    }
  })

  test('behavior: kill -9 of the host in use: polling sees no error and the newHeads subscription resumes under the same id', async () => {
    const client = lightClient!
    const sub = await client.call('eth_subscribe', ['newHeads'])
    expect(sub.error).toBeUndefined()
    subscriptionId = sub.result
    // Which host is in use: the node that answers a call nobody else makes (the agents' capability probes and
    // the direct calls above touch the start-sequence methods on both nodes). The proxy is sticky, so the host that
    // served the start sequence serves this and carries the subscription too.
    expect((await post(shimUrl, call('eth_gasPrice'))).json.result).toBe('0x77359400')
    const served = await Promise.all(hosts.map(async (h) => (await nodeCalls(h.node)).includes('eth_gasPrice')))
    expect(served.filter(Boolean)).toHaveLength(1)
    killed = hosts[served.indexOf(true)]!
    survivor = hosts[served.indexOf(false)]!
    await waitFor(async () => (await nodeSubscriptions(killed!.node)) === 1, 'the subscription reached the node in use')
    expect(await nodeSubscriptions(survivor.node)).toBe(0)

    // A light client polling without pause (Helios: the head, the block and a proof at it every block), so
    // requests are in flight when the host dies.
    const errors: string[] = []
    let polling = true
    let dead = false
    let pollsAfterKill = 0
    const poller = (async () => {
      while (polling) {
        const afterKill = dead
        for (const req of [call('eth_blockNumber'), call('eth_getBlockByNumber', ['latest', false]), call('eth_getProof', [ZERO, [], 'latest'])]) {
          try {
            const { status, json } = await post(shimUrl, req)
            if (status !== 200 || json.error) errors.push(`${req.method}: HTTP ${status} ${JSON.stringify(json?.error)}`)
          } catch (err) {
            errors.push(`${req.method}: ${(err as Error).message}`)
          }
        }
        if (afterKill) pollsAfterKill++
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    // A block every ~100 ms until the pool has metered the host in use (both sides report the open session and the polls).
    await waitFor(
      async () => {
        await produceBlock()
        return head >= START_HEAD + 4 && (await serviceMs(killed!)) >= INTERVAL_MS
      },
      'the host in use to be metered while it serves',
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    expect(await serviceMs(killed), 'the host in use is metered while it serves').toBeGreaterThanOrEqual(INTERVAL_MS)
    const lastBeforeKill = head
    await waitFor(() => client.notifications.at(-1)?.number === lastBeforeKill, 'newHeads before the kill')

    const proofsOnSurvivor = async () => (await nodeCalls(survivor!.node)).filter((m) => m === 'eth_getProof').length
    const survivorProofsBefore = await proofsOnSurvivor()
    expect(await killed.agent.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' })
    dead = true
    const killedAt = Date.now()
    // Read once a report the agent sent just before it died has surely been processed.
    await new Promise((r) => setTimeout(r, 100))
    killedUsageAtDeath = await serviceMs(killed)

    // Keep producing blocks until the subscription has resumed on the other host and carried a few more.
    let resumedAt: number | undefined
    await waitFor(
      async () => {
        await produceBlock()
        resumedAt ??= client.notifications.find((n) => n.number > lastBeforeKill)?.number
        return resumedAt !== undefined && head >= resumedAt + 4
      },
      'newHeads to resume after the kill and carry four more blocks',
      { timeoutMs: 15_000, intervalMs: 100 },
    )
    polling = false
    await poller
    expect(errors).toEqual([])
    expect(resumedAt, 'notifications resumed after the kill').toBeDefined()
    await waitFor(() => client.notifications.at(-1)?.number === head, 'the latest block notified')
    console.log(`host killed -> newHeads resumed at block ${resumedAt} (${resumedAt! - lastBeforeKill - 1} block(s) produced during the move were not delivered)`)

    const numbers = client.notifications.map((n) => n.number)
    // One subscription id throughout, heads in order without repeats.
    expect(new Set(client.notifications.map((n) => n.subscription))).toEqual(new Set([subscriptionId]))
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b))
    expect(new Set(numbers).size).toBe(numbers.length)
    // Every block before the kill and every block from the resumption on arrived: the only gap is the move itself.
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
    expect(numbers).toEqual([...range(START_HEAD + 1, lastBeforeKill), ...range(resumedAt!, head)])

    expect(await nodeSubscriptions(survivor.node)).toBe(1)
    // The shim did see the host die, and moved both the calls and the subscription. It sees the death first either
    // on a poll in flight (a failed relayed request) or on the subscription socket (which moves the calls with it,
    // so no poll ever reaches the dead relay): which comes first is a race the kill decides, both are right, and
    // the polls after the kill are checked below to have gone to the survivor either way.
    const sawDeath = (msg: string) => shim.logs.some((l) => l.msg === msg && l.host === killed!.node.nodeId)
    expect(sawDeath('pool host failed a relayed request; trying the next') || sawDeath('subscriptions lost their pool host; moving them')).toBe(true)
    expect(shim.logs.some((l) => l.msg === 'subscriptions moved to another pool host' && l.host === survivor!.node.nodeId)).toBe(true)
    // Every poll after the kill was answered by the survivor.
    expect((await proofsOnSurvivor()) - survivorProofsBefore).toBeGreaterThanOrEqual(pollsAfterKill)
    // The dead host's node got nothing more: its relay died with the agent.
    // (A call the agent sent just before it died may still land: allow 100 ms.)
    expect((await nodeCallLog(killed.node)).filter((c) => c.at > killedAt + 100)).toEqual([])
  }, 30_000)

  test('behavior: relayed traffic is service time for the host that served it; the killed host accrues nothing beyond the cap', async () => {
    expect(killedUsageAtDeath).toBeGreaterThanOrEqual(INTERVAL_MS)
    // The subscription keeps both sides busy; a light client also polls every block.
    const replies: Awaited<ReturnType<typeof post>>['json'][] = []
    await waitFor(
      async () => {
        await produceBlock()
        replies.push((await post(shimUrl, call('eth_blockNumber'))).json)
        return (await serviceMs(survivor!)) >= 3 * INTERVAL_MS
      },
      'the survivor to be metered for three intervals',
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    for (const json of replies) expect(json.error).toBeUndefined()
    expect(await serviceMs(survivor!)).toBeGreaterThanOrEqual(3 * INTERVAL_MS)
    const killedNow = await serviceMs(killed!)
    expect(killedNow - killedUsageAtDeath).toBeLessThanOrEqual(CAP_MS)
    const pairs = await usage()
    console.log(`killed host: ${killedUsageAtDeath} ms at its death, +${killedNow - killedUsageAtDeath} ms after (cap ${CAP_MS} ms); survivor: ${await serviceMs(survivor!)} ms`)
    // Both sides reported compute units for the survivor's polls and notifications: the pool credits what they agree on.
    const survivorUnits = pairs.find((p) => p.hostId === survivor!.node.nodeId)?.computeUnits ?? 0
    expect(survivorUnits).toBeGreaterThan(0)
    console.log(`figures: compute units corroborated per pair: ${pairs.map((p) => `${p.hostId.slice(0, 8)} ${p.computeUnits} CU in ${p.serviceMs} ms`).join(', ')}`)
    // Nobody else was served: only this client's two pairs.
    expect(pairs.every((p) => p.clientId === clientId)).toBe(true)
  }, 20_000)
})
