/**
 * Pieces of the adversary tests (test/adversary): raw agents over real
 * sockets that report exactly what a test scripts (an honest node, or an
 * attacker), plus what the tests read back from the coordinator (metered
 * service, balances, assignments, dispute counts).
 */
import type { Socket } from 'node:net'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import { Accounts } from '../../coordinator/logic/accounts.ts'
import { REFUNDS_PATH, signRefundRequest, type ConnectBody, type NodeId, type NodeKey, type RefundRequest } from '../../protocol/index.ts'
import { authenticated, identity, type Identity, type RawAgent } from './rawAgent.ts'
import { sqliteOf } from './storeState.ts'

export const BLOCK = { number: 100, hash: `0x${'ab'.repeat(32)}` }

export interface PoolAgent {
  id: Identity
  nodeId: NodeId
  agent: RawAgent
  /** Every request the coordinator sent this agent (vipnode_admit, vipnode_evict), in order. */
  calls: { method: string; params: any }[]
  /** Notices received. */
  notices: any[]
  /** Send one vipnode_update without waiting for its reply; returns the frame's id. */
  report(peerIds: readonly NodeId[], extra?: Record<string, unknown>): number
  /** The exact frame `report` would send, for tests that write many at once. */
  reportFrame(peerIds: readonly NodeId[], extra?: Record<string, unknown>): string
  request(method: string, params?: unknown): ReturnType<RawAgent['request']>
  close(): void
}

let nextFrameId = 1_000_000

/**
 * An authenticated raw agent that answers the coordinator's requests the way
 * an agent whose node obeys would (admit and evict acknowledged), so that a
 * test controls only what it reports.
 */
export async function poolAgent(c: RunningCoordinator, body: Partial<ConnectBody>, id: Identity = identity(), opts: { admitDelayMs?: number } = {}): Promise<PoolAgent> {
  const { agent, reply } = await authenticated(c.url, id, body.role === 'client' ? { capacity: undefined, ...body } : body)
  if (reply.error) throw new Error(`connect refused: ${reply.error.message}`)
  const calls: PoolAgent['calls'] = []
  const notices: any[] = []
  agent.ws.on('message', (data) => {
    const f = JSON.parse(data.toString()) as { id?: number | string; method?: string; params?: any }
    if (f.method === undefined) return
    if (f.id === undefined || f.id === null) {
      if (f.method === 'vipnode_notice') notices.push(f.params)
      return
    }
    calls.push({ method: f.method, params: f.params })
    const result = f.method === 'vipnode_admit' ? { admitted: true } : f.method === 'vipnode_evict' ? { evicted: true } : {}
    const answer = () => agent.ws.send(JSON.stringify({ jsonrpc: '2.0', id: f.id, result }))
    // A slow node: the admission stays in flight this long.
    if (f.method === 'vipnode_admit' && opts.admitDelayMs) setTimeout(answer, opts.admitDelayMs)
    else answer()
  })
  const reportFrame = (peerIds: readonly NodeId[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({ jsonrpc: '2.0', id: nextFrameId++, method: 'vipnode_update', params: { peerIds, block: BLOCK, ...extra } })
  return {
    id,
    nodeId: id.nodeId,
    agent,
    calls,
    notices,
    reportFrame,
    report: (peerIds, extra) => {
      const frame = reportFrame(peerIds, extra)
      agent.ws.send(frame)
      return (JSON.parse(frame) as { id: number }).id
    },
    request: (method, params) => agent.request(method, params),
    close: () => agent.ws.terminate(),
  }
}

/** The raw TCP socket under a `ws` client (to cork several frames into one write). */
export const tcpOf = (agent: RawAgent): Socket => (agent.ws as unknown as { _socket: Socket })._socket

/** Send frames back to back in one TCP write, as one burst arrives in one read. */
export function sendBurst(agent: RawAgent, frames: readonly string[]): void {
  const tcp = tcpOf(agent)
  tcp.cork()
  for (const f of frames) agent.ws.send(f)
  process.nextTick(() => tcp.uncork())
}

/**
 * Host and client each send `size` reports naming the other in one burst; returns the id of each side's
 * last frame (one socket's frames are handled in order: once it is answered, the whole burst was).
 */
export function sendPairBursts(host: PoolAgent, client: PoolAgent, size: number): { agent: PoolAgent; id: number }[] {
  return ([[host, client.nodeId], [client, host.nodeId]] as const).map(([sender, peer]) => {
    const frames = Array.from({ length: size }, () => sender.reportFrame([peer]))
    sendBurst(sender.agent, frames)
    return { agent: sender, id: (JSON.parse(frames.at(-1)!) as { id: number }).id }
  })
}

/** Whether each of these frames has been answered. */
export const answered = (last: readonly { agent: PoolAgent; id: number }[]) => last.every(({ agent, id }) => agent.agent.frames.some((f) => f.id === id))

/** Metered (billed) service in ms for one pair, from the usage table. */
export function serviceMs(c: RunningCoordinator, clientId: NodeId, hostId?: NodeId): number {
  const db = sqliteOf(c)
  return hostId === undefined
    ? Number(db.prepare('SELECT coalesce(sum(service_ms), 0) FROM usage WHERE client_id = ?').pluck().get(clientId))
    : Number(db.prepare('SELECT coalesce(sum(service_ms), 0) FROM usage WHERE client_id = ? AND host_id = ?').pluck().get(clientId, hostId))
}

/** Compute units credited (and, in a pool that prices them, paid for) on a client's pairs, from the usage table. */
export function creditedUnits(c: RunningCoordinator, clientId: NodeId): number {
  return Number(sqliteOf(c).prepare('SELECT coalesce(sum(compute_units), 0) FROM usage WHERE client_id = ?').pluck().get(clientId))
}

/** Wei charged to a client, from the usage table. */
export function chargedWei(c: RunningCoordinator, clientId: NodeId): bigint {
  const rows = sqliteOf(c).prepare('SELECT charged_wei FROM usage WHERE client_id = ?').pluck().all(clientId) as string[]
  return rows.reduce((n, r) => n + BigInt(r), 0n)
}

export const balanceOf = (c: RunningCoordinator, clientId: NodeId): Promise<bigint> => c.services.store.balanceOf(Accounts.client(clientId))

/** Credit a client from outside, as `vipnode credit` would (a gift: never refunded; see `deposit` for refundable money). */
export async function fund(c: RunningCoordinator, clientId: NodeId, wei: bigint): Promise<void> {
  await c.services.store.post({
    id: `test-credit:${clientId}:${nextFrameId++}`,
    atMs: c.services.clock.now(),
    memo: 'test credit',
    entries: [
      { account: Accounts.external, amountWei: -wei },
      { account: Accounts.client(clientId), amountWei: wei },
    ],
  })
}

/** Credit a client as an on-chain deposit is credited (a `deposit:` transfer): refundable money, unlike `fund`. */
export async function deposit(c: RunningCoordinator, clientId: NodeId, wei: bigint): Promise<void> {
  await c.services.store.post({
    id: `deposit:0xtest${nextFrameId++}:0`,
    atMs: c.services.clock.now(),
    memo: 'test deposit',
    entries: [
      { account: Accounts.external, amountWei: -wei },
      { account: Accounts.client(clientId), amountWei: wei },
    ],
  })
}

/** POST a refund request as JSON; the status and the parsed body. */
export async function postRefund(c: RunningCoordinator, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${c.url}${REFUNDS_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}

/** A refund request for this coordinator, signed with `key` (the client's node key unless a test forges it). */
export function refundRequest(c: RunningCoordinator, key: NodeKey, opts: { to?: string; nowMs?: number; contract?: string | null; poolId?: string; url?: string } = {}): RefundRequest {
  return signRefundRequest(key, {
    coordinatorUrl: opts.url ?? c.url,
    poolId: opts.poolId ?? c.poolId,
    contract: opts.contract === undefined ? (c.config.contract ?? null) : opts.contract,
    to: opts.to,
    nowMs: opts.nowMs ?? c.services.clock.now(),
  })
}

/** vipnode_disputes_total by `kind,blamed` label pair. */
export async function disputeCounts(c: RunningCoordinator): Promise<Record<string, number>> {
  const metric = await c.registry.getSingleMetric('vipnode_disputes_total')!.get()
  const counts: Record<string, number> = {}
  for (const v of metric.values) counts[`${v.labels.kind},${v.labels.blamed}`] = v.value
  return counts
}

/** Every `ms`, run `tick` (each agent's report); stopped by the returned function. */
export function every(ms: number, tick: () => void): () => void {
  tick()
  const timer = setInterval(tick, ms)
  return () => clearInterval(timer)
}

export interface AssignmentRow {
  clientId: NodeId
  hostId: NodeId
  assignedAtMs: number
  releasedAtMs: number | null
  releaseReason: string | null
}

/** Every assignment a client ever had, oldest first (released ones included). */
export function assignmentHistory(c: RunningCoordinator, clientId: NodeId): AssignmentRow[] {
  return sqliteOf(c)
    .prepare(
      'SELECT client_id AS clientId, host_id AS hostId, assigned_at_ms AS assignedAtMs, released_at_ms AS releasedAtMs, release_reason AS releaseReason FROM assignments WHERE client_id = ? ORDER BY id',
    )
    .all(clientId) as AssignmentRow[]
}
