/**
 * vipnode_connect: the agent proves it owns its node ID by signing this
 * socket's challenge with its node key. Checks run cheapest first; the
 * challenge is burned by the first attempt, good or bad, so a socket gets one
 * try and a signature can never be replayed on another socket.
 */
import {
  connectParamsSchema,
  parseEnode,
  parseParams,
  PROTOCOL_VERSION,
  recoverSigner,
  rpcError,
  SUPPORTED_PROTOCOL_VERSIONS,
  weiToWire,
  type ConnectResult,
} from '../../protocol/index.ts'
import type { Handler } from './context.ts'
import { Accounts } from '../services/metering.ts'
import type { AgentSession } from '../services/sessions.ts'
import { randomUUID } from 'node:crypto'

export const connect: Handler = async (raw, conn, services) => {
  const { config, poolId, clock, store, sessions, log, metrics } = services
  if (conn.session) throw rpcError('ALREADY_AUTHENTICATED')
  const params = parseParams(connectParamsSchema, raw, 'vipnode_connect')
  if (!SUPPORTED_PROTOCOL_VERSIONS.includes(params.protocolVersion)) {
    throw rpcError('UNSUPPORTED_VERSION', `protocol version ${params.protocolVersion} is not supported; this pool speaks ${PROTOCOL_VERSION}`)
  }
  if (params.challenge !== conn.auth.challenge || conn.auth.used) {
    throw rpcError('REPLAY', 'challenge already used or not issued to this connection: reconnect for a fresh one')
  }
  conn.auth.used = true
  if (clock.now() > conn.auth.expiresAtMs) throw rpcError('CHALLENGE_EXPIRED')
  if (parseEnode(params.enode).nodeId !== params.nodeId) {
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
  await store.openSession({ id: session.sessionId, nodeId: session.nodeId, role: session.role, remoteAddress: conn.remoteAddress, connectedAtMs: now })
  conn.session = session
  const superseded = sessions.attach(conn)
  if (superseded?.session) await store.closeSession(superseded.session.sessionId, now, 'superseded')
  metrics.agentSockets.set({ role: 'host' }, sessions.count('host'))
  metrics.agentSockets.set({ role: 'client' }, sessions.count('client'))
  log.info('agent authenticated', { node: session.nodeId, role: session.role, chainId: session.chainId, session: session.sessionId, superseded: Boolean(superseded) })

  if (session.role === 'client' && (await services.metering.grantTrial(session.nodeId, now))) log.info('trial credit granted', { node: session.nodeId })
  const balance = session.role === 'client' ? await store.balanceOf(Accounts.client(session.nodeId)) : 0n
  const result: ConnectResult = {
    sessionId: session.sessionId,
    poolId,
    nodeId: session.nodeId,
    role: session.role,
    updateIntervalMs: config.updateIntervalMs,
    balanceWei: weiToWire(balance),
    message: `welcome to vipnode pool ${poolId}`,
  }
  return result
}
