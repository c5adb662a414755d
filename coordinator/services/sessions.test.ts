import { describe, test, expect } from 'vitest'
import { SessionRegistry, type AgentConnection, type AgentSession } from './sessions.ts'
import { manualClock } from '../../lib/clock.ts'
import { generateNodeKey, nodeIdOf, type NodeId, type Role } from '../../protocol/index.ts'

function conn(nodeId: NodeId, role: Role): AgentConnection & { closedWith?: number } {
  const session = { nodeId, role, sessionId: `${nodeId.slice(0, 6)}-${Math.random()}` } as AgentSession
  const c: AgentConnection & { closedWith?: number } = {
    socketId: session.sessionId,
    remoteAddress: '127.0.0.1',
    isOpen: () => true,
    session,
    call: async () => undefined,
    notify: () => undefined,
    close: (code) => {
      c.closedWith = code
    },
  }
  return c
}

describe('session registry', () => {
  test('behavior: counts per role follow attach, supersede (also across roles) and detach', () => {
    const reg = new SessionRegistry(manualClock(0))
    const [a, b] = [nodeIdOf(generateNodeKey()), nodeIdOf(generateNodeKey())]
    const hostA = conn(a, 'host')
    reg.attach(hostA)
    reg.attach(conn(b, 'client'))
    expect([reg.count('host'), reg.count('client')]).toEqual([1, 1])
    const clientA = conn(a, 'client') // the same node comes back as a client
    expect(reg.attach(clientA)).toBe(hostA)
    expect(hostA.closedWith).toBe(4000)
    expect([reg.count('host'), reg.count('client')]).toEqual([0, 2])
    expect(reg.detach(hostA)).toBe(false) // the superseded socket closing later changes nothing
    expect([reg.count('host'), reg.count('client')]).toEqual([0, 2])
    expect(reg.detach(clientA)).toBe(true)
    expect(reg.detach(clientA)).toBe(false)
    expect([reg.count('host'), reg.count('client')]).toEqual([0, 1])
    expect([...reg.sessions('client')].map((s) => s.nodeId)).toEqual([b])
  })
})
