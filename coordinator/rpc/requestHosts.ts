/** vipnode_requestHosts: a client asks for hosts; only clients may. */
import { parseParams, requestHostsParamsSchema, rpcError, type RequestHostsResult } from '../../protocol/index.ts'
import type { Handler } from './context.ts'

export const requestHosts: Handler = async (raw, conn, services) => {
  const session = conn.session!
  if (session.role !== 'client') throw rpcError('UNAUTHORIZED', 'only clients may request hosts')
  const params = parseParams(requestHostsParamsSchema, raw, 'vipnode_requestHosts')
  const end = services.metrics.assignmentSeconds.startTimer()
  try {
    const result: RequestHostsResult = await services.assignments.requestHosts(session, params.count, params.kind)
    return result
  } finally {
    end()
  }
}
