/**
 * The live, authenticated agent connections, one per node ID. A newer
 * connection for the same node wins and the older one is closed with a reason.
 */
import type { NodeId, Role, ServiceKind } from '../../protocol/index.ts'
import type { Clock } from '../../lib/clock.ts'

export interface AgentSession {
  sessionId: string
  nodeId: NodeId
  role: Role
  enode: string
  chainId: number
  kind: ServiceKind
  capacity: number
  payout: string | null
  region: string | null
  clientVersion: string
  connectedAtMs: number
  /** When this agent's latest vipnode_update arrived (ms); the connect time until its first one. */
  lastReportAtMs: number
  /** Every peer the node reported last (pool agents or not), for a report that says `samePeers`. */
  reportedPeerIds?: readonly NodeId[] | undefined
  /** When this agent's latest metered report arrived: reports closer together than half an interval are not metered. */
  lastMeteredAtMs?: number | undefined
  /** Latest head this agent reported (0 until its first update). */
  blockNumber: number
  /** rpc hosts: where clients reach the relay. */
  relayUrl?: string | undefined
  /** rpc hosts: methods the host's capability probe found its node serving. */
  capabilities?: ReadonlySet<string> | undefined
}

/** What services may do with a connection; the transport implements it. */
export interface AgentConnection {
  readonly socketId: string
  readonly remoteAddress: string
  session: AgentSession | undefined
  /** False once the socket is closing or closed: a login that finishes later must not attach it. */
  isOpen(): boolean
  call(method: string, params: unknown, options?: { timeoutMs?: number }): Promise<unknown>
  notify(method: string, params: unknown): void
  close(code: number, reason: string): void
}

/** WebSocket close codes we use (4000-4999 are for applications). */
export const CloseCode = {
  GOING_AWAY: 1001,
  SUPERSEDED: 4000,
  AUTH_TIMEOUT: 4001,
  /** The address already holds --max-agents-per-address authenticated agents. */
  ADDRESS_FULL: 4002,
} as const

export class SessionRegistry {
  private readonly byNode = new Map<NodeId, AgentConnection>()
  /** When each node's last connection went away; drives the release grace period. */
  private readonly goneSince = new Map<NodeId, number>()
  /** Kept on attach/detach: counting by scanning made every connect O(agents). */
  private readonly online: Record<Role, number> = { host: 0, client: 0 }
  /** Bumped on every attach and detach: watchers compare it instead of scanning. */
  version = 0

  constructor(private readonly clock: Clock) {}

  /** Register an authenticated connection. Returns the connection it superseded, already closed. */
  attach(conn: AgentConnection): AgentConnection | undefined {
    const session = conn.session
    if (!session) throw new Error('attach requires an authenticated connection')
    const previous = this.byNode.get(session.nodeId)
    this.byNode.set(session.nodeId, conn)
    this.goneSince.delete(session.nodeId)
    if (previous?.session) this.online[previous.session.role]--
    this.online[session.role]++
    this.version++
    if (previous && previous !== conn) {
      previous.close(CloseCode.SUPERSEDED, 'superseded by a newer connection for this node ID')
      return previous
    }
    return undefined
  }

  /** Forget a closed connection, unless a newer one has already replaced it. */
  detach(conn: AgentConnection): boolean {
    const nodeId = conn.session?.nodeId
    if (!nodeId || this.byNode.get(nodeId) !== conn) return false
    this.byNode.delete(nodeId)
    this.online[conn.session!.role]--
    this.version++
    this.goneSince.set(nodeId, this.clock.now())
    return true
  }

  get(nodeId: NodeId): AgentConnection | undefined {
    return this.byNode.get(nodeId)
  }

  isOnline(nodeId: NodeId): boolean {
    return this.byNode.has(nodeId)
  }

  /** When this node was last connected (ms); undefined if online or not known to be gone. */
  offlineSince(nodeId: NodeId): number | undefined {
    return this.goneSince.get(nodeId)
  }

  /** Treat nodes as having gone at `atMs` (used at start-up for nodes known from the store). */
  markGone(nodeId: NodeId, atMs: number): void {
    if (!this.byNode.has(nodeId) && !this.goneSince.has(nodeId)) this.goneSince.set(nodeId, atMs)
  }

  forgetGone(nodeId: NodeId): void {
    this.goneSince.delete(nodeId)
  }

  /** Nodes known to be gone (what forgetGone prunes). */
  goneNodes(): NodeId[] {
    return [...this.goneSince.keys()]
  }

  /** Entries per map, for the vipnode_state_entries gauge and the growth tests. */
  sizes(): Record<string, number> {
    return { sessions: this.byNode.size, sessionsGone: this.goneSince.size }
  }

  *sessions(role?: Role): IterableIterator<AgentSession> {
    for (const conn of this.byNode.values()) {
      if (conn.session && (!role || conn.session.role === role)) yield conn.session
    }
  }

  count(role: Role): number {
    return this.online[role]
  }

  connections(): IterableIterator<AgentConnection> {
    return this.byNode.values()
  }
}
