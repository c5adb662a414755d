/** In-memory agent sessions and connections for service tests that need no socket (assignments, disputes). */
import type { AgentConnection, AgentSession } from '../../coordinator/services/sessions.ts'
import { identity, type Identity } from './rawAgent.ts'

/** A fresh node's session as a login would open it, connected and last reporting at `nowMs`. */
export function fakeSession(role: 'host' | 'client', nowMs: number, overrides: Partial<AgentSession> = {}): { id: Identity; session: AgentSession } {
  const id = identity()
  const session: AgentSession = {
    sessionId: `s-${id.nodeId.slice(0, 8)}`,
    nodeId: id.nodeId,
    role,
    enode: id.enode,
    chainId: 1,
    kind: 'peer',
    capacity: role === 'host' ? 10 : 0,
    payout: null,
    region: null,
    clientVersion: 'test',
    connectedAtMs: nowMs,
    lastReportAtMs: nowMs,
    blockNumber: 100,
    ...overrides,
  }
  return { id, session }
}

/** An open connection for `session` whose calls and notices go to the given functions. */
export function fakeConnection(session: AgentSession, peer: Pick<AgentConnection, 'call' | 'notify'>): AgentConnection {
  return {
    socketId: session.sessionId,
    remoteAddress: '127.0.0.1',
    isOpen: () => true,
    session,
    call: peer.call,
    notify: peer.notify,
    close: () => undefined,
  }
}
