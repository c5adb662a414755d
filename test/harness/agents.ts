/** In-process agents on real loopback WebSockets, built on the agents' own PoolConnection. */
import { PoolConnection, type InboundHandler } from '../../agent/poolConnection.ts'
import { silentLogger } from '../../lib/logger.ts'
import { connectBody, identity, type Identity } from './rawAgent.ts'
import type { ConnectBody } from '../../protocol/index.ts'

export interface TestAgent {
  id: Identity
  conn: PoolConnection
  calls: { method: string; params: any }[]
  close(): Promise<void>
}

export async function testAgent(
  url: string,
  body: Partial<ConnectBody>,
  handlers: Record<string, InboundHandler> = {},
  id: Identity = identity(),
): Promise<TestAgent> {
  const calls: TestAgent['calls'] = []
  const record = (method: string, reply: InboundHandler | undefined, fallback: unknown): InboundHandler => async (params) => {
    calls.push({ method, params })
    return reply ? reply(params) : fallback
  }
  const conn = new PoolConnection({
    coordinatorUrl: url,
    nodeKey: id.key,
    hello: async () => connectBody(id, body),
    handlers: {
      vipnode_admit: record('vipnode_admit', handlers.vipnode_admit, { admitted: true }),
      vipnode_evict: record('vipnode_evict', handlers.vipnode_evict, { evicted: true }),
      vipnode_notice: record('vipnode_notice', handlers.vipnode_notice, undefined),
    },
    log: silentLogger,
    minReconnectDelayMs: 50,
    maxReconnectDelayMs: 200,
  })
  conn.start()
  await conn.ready()
  return { id, conn, calls, close: () => conn.close() }
}

/** `testAgent` bound to one coordinator URL, each agent closed by `onClose` (a test's cleanup list). */
export function agentsAt(url: string, onClose: (close: () => Promise<void>) => void) {
  return async (...args: Parameters<typeof testAgent> extends [string, ...infer R] ? R : never): Promise<TestAgent> => {
    const a = await testAgent(url, ...args)
    onClose(() => a.close())
    return a
  }
}

/** A Logger that keeps every line, for tests that wait on what an agent reported. */
export function recordingLogger(): import('../../lib/logger.ts').Logger & { lines: { level: string; message: string; context?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; context?: Record<string, unknown> }[] = []
  const make = (): ReturnType<typeof recordingLogger> => {
    const push = (level: string) => (message: string, context?: Record<string, unknown>) => {
      lines.push(context ? { level, message, context } : { level, message })
    }
    return { lines, level: 'debug', debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error'), child: () => make() }
  }
  return make()
}
