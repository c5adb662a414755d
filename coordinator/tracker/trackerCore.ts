/**
 * What the tracker's parts share: the settings in force, one socket's state
 * (`Conn`), the core every part is handed (state, metrics, sockets by name,
 * the secret check, update events), and the three things done to a socket
 * (send, close, ignore a frame). createTracker (trackerServer.ts) builds the
 * core; login (trackerLogin.ts) and frame dispatch (trackerDispatch.ts) use it.
 */
import type { WebSocket } from 'ws'
import type { Logger } from '../../lib/logger.ts'
import type { Clock } from '../../lib/clock.ts'
import type { TokenBucket } from '../../lib/rateLimit.ts'
import { closeWithin, sendBounded } from '../../lib/socketKit.ts'
import type { GateTicket } from '../server/socketGate.ts'
import type { NodeId } from '../../protocol/enode.ts'
import type { TrackerState } from './state.ts'
import type { CloseReason, DropReason, TrackerMetrics } from './metrics.ts'

/** The options of TrackerOptions with their defaults applied. */
export interface TrackerSettings {
  pingIntervalMs: number
  silenceTimeoutMs: number
  helloTimeoutMs: number
  maxFrameBytes: number
  ratePerSec: number
  burst: number
  floodDropsPerSecond: number
  maxSockets: number
  maxPendingPerAddress: number
  maxPending: number
  maxLoggedInPerAddress: number
  maxPreLoginFrameBytes: number
  forgetAfterMs: number
  maxNodes: number
}

export type UpdateKind = 'login' | 'block' | 'pending' | 'stats' | 'latency' | 'peers' | 'history' | 'disconnect'

/** Close codes the tracker uses besides the standard ones (1001 shutdown, 1008 policy, 1009 too big). */
export const TrackerCloseCode = {
  REPLACED: 4000,
  SILENT: 4001,
  HELLO_TIMEOUT: 4002,
} as const

/**
 * A listed name's own secret, and the devp2p node ID the operator bound to that
 * name (`name:secret:nodeId` in the secrets file), if any. Only a bound node ID
 * is proven; what a hello carries is only claimed.
 */
export interface NodeSecret {
  secret: string
  nodeId: NodeId | null
}

/** A per-node secret as TrackerOptions takes it: the secret alone, or with the node ID bound to the name (any spelling parseNodeId reads). */
export type SecretEntry = string | { secret: string; nodeId?: string | null }

/** A name's own secret as the checker holds it: its digest, and its bound node ID. */
export interface OwnSecret {
  digest: Buffer
  nodeId: NodeId | null
}

/** Which secret a login used: a node's own (with the node ID bound to it), or the shared pool secret. */
export type LoginGrant = { by: 'shared' } | ({ by: 'own' } & OwnSecret)

export interface SecretCheck {
  /** The grant for a login with this name and secret, or undefined when the secret is not the one this name needs. */
  check(name: string, secret: string): LoginGrant | undefined
  /** A listed name's own secret (to judge again, after a reload, sockets that logged in under the old table). */
  ownOf(name: string): OwnSecret | undefined
}

export interface Conn {
  ws: WebSocket
  remoteAddress: string
  log: Logger
  bucket: TokenBucket
  ticket: GateTicket
  connectedAtMs: number
  lastSeenMs: number
  lastPingSentMs: number
  /** The name this socket logged in as, while it still owns it. */
  name: string | undefined
  /** The secret its login used; undefined before login. */
  grant: LoginGrant | undefined
  closing: boolean
  dropWindowStartMs: number
  dropsInWindow: number
  /** Log each kind of ignored frame once per socket, so a misbehaving reporter cannot flood the log. */
  loggedDrops: Set<DropReason>
}

export interface TrackerCore {
  readonly settings: TrackerSettings
  readonly log: Logger
  readonly clock: Clock
  readonly metrics: TrackerMetrics
  readonly state: TrackerState
  /** Open sockets, logged in or not. */
  readonly conns: Set<Conn>
  /** The socket that owns each logged-in name. */
  readonly connsByName: Map<string, Conn>
  /** Replaced when the per-node secrets are reloaded. */
  checkSecret: SecretCheck
  /** Tell listeners a node changed (and the best head, when that moved). */
  emitUpdate(name: string, kind: UpdateKind): void
}

/** A socket whose unsent data grows past this does not read its pongs and is cut. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024
/** Time a closing socket gets to finish the closing handshake before it is cut. */
export const CLOSE_GRACE_MS = 1_000

export function send(core: TrackerCore, conn: Conn, text: string): void {
  const sent = sendBounded(conn.ws, text, MAX_BUFFERED_BYTES, (buffered) => {
    conn.log.warn('slow consumer cut', { buffered })
    core.metrics.closed('slow_consumer')
    conn.closing = true
  })
  if (sent === 'sent') core.metrics.frame('out')
}

export function closeConn(core: TrackerCore, conn: Conn, code: number, reason: string, why: CloseReason): void {
  if (conn.closing) return
  conn.closing = true
  core.metrics.closed(why)
  // A peer that is gone (the usual reason for silence) never completes the handshake: cut after the grace.
  void closeWithin(conn.ws, code, reason, CLOSE_GRACE_MS)
}

/** A frame ignored: counted always, logged once per reason per socket. */
export function drop(core: TrackerCore, conn: Conn, reason: DropReason, detail?: string): void {
  core.metrics.dropped(reason)
  if (!conn.loggedDrops.has(reason)) {
    conn.loggedDrops.add(reason)
    conn.log.debug('frame ignored', { reason, detail, node: conn.name })
  }
}
