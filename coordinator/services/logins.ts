/**
 * Opening an agent's session (vipnode_connect): the agent proves it owns its
 * node ID by signing this socket's challenge with its node key. Checks run
 * cheapest first; the challenge is burned by the first attempt, good or bad,
 * so a socket gets one try and a signature can never be replayed on another
 * socket. Then the node and its session are stored, the connection attached
 * (a newer one for the same node wins) and a new client given its trial.
 */
import { randomUUID } from 'node:crypto'
import {
  enodeHostProblem,
  normaliseOrigin,
  parseEnode,
  PROTOCOL_VERSION,
  recoverSigner,
  relayUrlProblem,
  resolvedNameProblem,
  rpcError,
  SUPPORTED_PROTOCOL_VERSIONS,
  type connectParamsSchema,
  type NodeId,
} from '../../protocol/index.ts'
import type { z } from 'zod'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import { systemResolveName, type ResolveName } from '../../lib/resolveName.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import type { LedgerStore, NodeStore, SessionStore } from '../store/store.ts'
import { Accounts } from '../logic/accounts.ts'
import type { MeteringService, TrialResult } from './metering.ts'
import type { AgentConnection, AgentSession, SessionRegistry } from './sessions.ts'

/** The per-socket state the transport keeps until the agent logs in. */
export interface PendingAuth {
  challenge: string
  expiresAtMs: number
  used: boolean
  /** The origin the socket was reached at (Host header), normalised; accepted when no --public-url is set. */
  reachedOrigin: string | undefined
}

export type LoginConnection = AgentConnection & { auth: PendingAuth }

/** What a login is checked against (from the coordinator's config). */
export interface LoginConfig {
  /** The origins agents may sign logins for (--public-url); without it the Host header decides. */
  publicUrls?: readonly string[] | undefined
  chainId?: number | undefined
  allowPrivateAddresses: boolean
  trialWei: bigint
}

export interface LoginDeps {
  config: LoginConfig
  poolId: string
  /** This coordinator process, recorded on every session it opens (services/replicaSessions.ts). */
  replicaId?: string | undefined
  store: NodeStore & SessionStore & LedgerStore
  sessions: SessionRegistry
  metering: MeteringService
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
  /** How relay URL names are resolved at connect; default the system resolver (tests inject their own DNS). */
  resolveName?: ResolveName
  /**
   * Replicas: an agent that logs in here brings its pairs from the store (AssignmentService.adoptHost: a host is
   * owned here from now on; adoptClient: a client's side of its sibling-owned pairs); awaited before the login
   * answers, so its first report is answered with its counterparts vouched for.
   */
  adoptPairs?: ((nodeId: NodeId, role: AgentSession['role']) => Promise<unknown>) | undefined
}

export interface Login {
  session: AgentSession
  balanceWei: bigint
  trial: TrialResult
}

/** How long a relay URL's name may take to resolve at connect. */
const RESOLVE_TIMEOUT_MS = 5_000

export class LoginService {
  constructor(private readonly deps: LoginDeps) {}

  /** Verify the login and open the session on `conn`; throws RpcError (and opens nothing) when refused. */
  async login(conn: LoginConnection, params: z.output<typeof connectParamsSchema>): Promise<Login> {
    const { config, poolId, clock, store, sessions, log, metrics } = this.deps
    if (conn.session) throw rpcError('ALREADY_AUTHENTICATED')
    if (!SUPPORTED_PROTOCOL_VERSIONS.includes(params.protocolVersion)) {
      throw rpcError('UNSUPPORTED_VERSION', `protocol version ${params.protocolVersion} is not supported; this pool speaks ${PROTOCOL_VERSION}`)
    }
    if (params.challenge !== conn.auth.challenge || conn.auth.used) {
      throw rpcError('REPLAY', 'challenge already used or not issued to this connection: reconnect for a fresh one')
    }
    conn.auth.used = true
    if (clock.now() > conn.auth.expiresAtMs) throw rpcError('CHALLENGE_EXPIRED')
    checkOrigin(params.origin, config.publicUrls, conn.auth.reachedOrigin)
    const enode = parseEnode(params.enode)
    if (enode.nodeId !== params.nodeId) {
      throw rpcError('ENODE_MISMATCH', 'nodeId does not match the public key in enode')
    }
    const { challenge, signature, ...body } = params
    let signer: string
    try {
      signer = recoverSigner({ method: 'vipnode_connect', poolId, chainId: params.chainId, challenge, body }, signature)
    } catch {
      throw rpcError('BAD_SIGNATURE', 'signature is malformed')
    }
    if (signer !== params.nodeId) throw rpcError('BAD_SIGNATURE')
    if (config.chainId !== undefined && params.chainId !== config.chainId) {
      throw rpcError('WRONG_NETWORK', `this pool serves chain ${config.chainId}, the node is on chain ${params.chainId}`)
    }
    if (params.role === 'host' && !params.capacity) {
      throw rpcError('INVALID_PARAMS', 'invalid params for vipnode_connect: capacity: hosts must declare a capacity of at least 1')
    }
    if (params.role === 'host' && params.kind === 'rpc' && !params.relayUrl) {
      throw rpcError('INVALID_PARAMS', 'invalid params for vipnode_connect: relayUrl: rpc hosts must say where clients reach their relay')
    }
    // Addresses other members will dial or post to: public only, unless the pool runs for development.
    // An rpc client's enode is never dialled (it carries only the identity), so its address is not checked.
    if (!(params.role === 'client' && params.kind === 'rpc')) {
      const problem = enodeHostProblem(enode.host, config.allowPrivateAddresses)
      if (problem) throw rpcError('INVALID_PARAMS', `invalid params for vipnode_connect: enode: ${problem}`)
    }
    if (params.relayUrl !== undefined) await checkRelayUrl(params.relayUrl, config.allowPrivateAddresses, this.deps.resolveName ?? systemResolveName)
    if (!conn.isOpen()) throw rpcError('CONNECTION_CLOSED', 'the connection closed during login')

    const now = clock.now()
    const session: AgentSession = {
      sessionId: randomUUID(),
      nodeId: params.nodeId,
      role: params.role,
      enode: params.enode,
      chainId: params.chainId,
      kind: params.kind,
      capacity: params.role === 'host' ? params.capacity! : 0,
      payout: params.payout?.toLowerCase() ?? null,
      region: params.region ?? null,
      clientVersion: params.clientVersion,
      connectedAtMs: now,
      lastReportAtMs: now,
      blockNumber: 0,
      ...(params.role === 'host' && params.kind === 'rpc' ? { relayUrl: params.relayUrl, capabilities: new Set(params.capabilities ?? []) } : {}),
    }
    // Read before the upsert below: only a key the pool has never seen is told that the trial budget is spent.
    const newKey = session.role === 'client' && config.trialWei > 0n && (await store.getNode(session.nodeId)) === undefined
    await store.upsertNode({
      nodeId: session.nodeId,
      role: session.role,
      enode: session.enode,
      chainId: session.chainId,
      kind: session.kind,
      clientVersion: session.clientVersion,
      payout: session.payout,
      capacity: session.capacity,
      region: session.region,
      firstSeenMs: now,
      lastSeenMs: now,
    })
    await store.openSession({ id: session.sessionId, nodeId: session.nodeId, role: session.role, remoteAddress: conn.remoteAddress, connectedAtMs: now, replicaId: this.deps.replicaId ?? null })
    // The socket may have closed while the store was written (an asynchronous store makes the window wide):
    // its close handler saw no session, so attaching it now would leave a dead connection registered as live.
    if (!conn.isOpen()) {
      await store.closeSession(session.sessionId, now, 'closed during login')
      throw rpcError('CONNECTION_CLOSED', 'the connection closed during login')
    }
    conn.session = session
    const superseded = sessions.attach(conn)
    if (superseded?.session) await store.closeSession(superseded.session.sessionId, now, 'superseded')
    metrics.agentSockets.set({ role: 'host' }, sessions.count('host'))
    metrics.agentSockets.set({ role: 'client' }, sessions.count('client'))
    log.info('agent authenticated', { node: session.nodeId, role: session.role, chainId: session.chainId, session: session.sessionId, superseded: Boolean(superseded) })
    await this.deps.adoptPairs?.(session.nodeId, session.role)

    const trial = session.role === 'client' ? await this.deps.metering.grantTrial(session.nodeId, now, newKey) : 'off'
    if (trial === 'granted') log.info('trial credit granted', { node: session.nodeId })
    else if (trial === 'budget-spent') log.info('no trial credit: the trial allowance of this epoch is spent', { node: session.nodeId })
    const balanceWei = session.role === 'client' ? await store.balanceOf(Accounts.client(session.nodeId)) : 0n
    return { session, balanceWei, trial }
  }

  /** The connection closed: detach it (a newer one may already hold its node) and close its stored session. Returns whether it was the node's current one. */
  logout(conn: AgentConnection, reason: string): boolean {
    const { sessions, metrics, store, clock, log } = this.deps
    const session = conn.session
    if (!session) return false
    const wasCurrent = sessions.detach(conn)
    metrics.agentSockets.set({ role: 'host' }, sessions.count('host'))
    metrics.agentSockets.set({ role: 'client' }, sessions.count('client'))
    store.closeSession(session.sessionId, clock.now(), reason).catch((err: unknown) => log.error('closing session failed', { node: session.nodeId }, err))
    return wasCurrent
  }
}

/**
 * The signed origin must be one of this coordinator's own: a login signed for another pool's URL is one
 * that pool relayed here (or a man in the middle did). Without --public-url the Host header decides.
 */
function checkOrigin(given: string, publicUrls: readonly string[] | undefined, reachedOrigin: string | undefined): void {
  const accepted = publicUrls?.length ? publicUrls.map(normaliseOrigin) : reachedOrigin ? [reachedOrigin] : []
  if (accepted.length === 0) {
    throw rpcError('WRONG_ORIGIN', `this coordinator cannot tell its own origin (no --public-url and no Host header), so it cannot accept the login signed for ${given.slice(0, 300)}`)
  }
  if (!accepted.includes(given)) {
    throw rpcError('WRONG_ORIGIN', `login signed for origin ${given.slice(0, 300)}, but this coordinator is ${accepted.join(', ')}: it was made for another pool (relayed?) or the agent dialled an address the pool does not list in --public-url`, { expected: accepted, given: given.slice(0, 300) })
  }
}

/**
 * A relay URL clients will post to: https and a public address outside development. A DNS name is
 * resolved once, here, and every answer must be public. It may resolve elsewhere later (DNS rebinding):
 * the client shims resolve and check it again for every connection they open to the relay
 * (client-shim/rpcProxy/relayAddresses.ts, docs/security.md attack 15).
 */
async function checkRelayUrl(url: string, allowPrivate: boolean, resolveName: ResolveName): Promise<void> {
  const r = relayUrlProblem(url, allowPrivate)
  if ('problem' in r) throw rpcError('INVALID_PARAMS', `invalid params for vipnode_connect: relayUrl: ${r.problem}`)
  if (!r.needsResolve) return
  let addresses: string[]
  try {
    const answers = await Promise.race([
      resolveName(r.needsResolve),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${RESOLVE_TIMEOUT_MS} ms`)), RESOLVE_TIMEOUT_MS).unref()),
    ])
    addresses = answers.map((a) => a.address)
  } catch (err) {
    throw rpcError('INVALID_PARAMS', `invalid params for vipnode_connect: relayUrl: ${r.needsResolve} could not be resolved (${(err as { code?: string }).code ?? (err as Error).message})`)
  }
  const problem = resolvedNameProblem(r.needsResolve, addresses)
  if (problem) throw rpcError('INVALID_PARAMS', `invalid params for vipnode_connect: relayUrl: ${problem}`)
}
