/** vipnode_requestHosts: a client asks for hosts; only clients may. */
import { parseParams, requestHostsParamsSchema, rpcError } from '../../protocol/index.ts'
import type { Handler } from './context.ts'
import { topupLink } from '../services/metering.ts'

export const requestHosts: Handler<'vipnode_requestHosts'> = async (raw, conn, services) => {
  const session = conn.session!
  if (session.role !== 'client') throw rpcError('UNAUTHORIZED', 'only clients may request hosts')
  const params = parseParams(requestHostsParamsSchema, raw, 'vipnode_requestHosts')
  await services.refunds.assertServable(session.nodeId)
  const { ok, balanceWei } = await services.metering.canBeServed(session.nodeId)
  if (!ok) {
    const url = services.config.topupUrl ? topupLink(services.config.topupUrl, session.nodeId) : undefined
    throw rpcError(
      'INSUFFICIENT_BALANCE',
      `balance ${balanceWei} wei is below the minimum of ${services.config.minBalanceWei > 0n ? services.config.minBalanceWei : 1n} wei${url ? `: top up at ${url}` : ''}`,
      { balanceWei: balanceWei.toString(), ...(url ? { topupUrl: url } : {}) },
    )
  }
  // A client must be able to pay every host it holds for one update interval (its time, and in a pool that prices
  // compute units what the host may serve it meanwhile): keys with dust cannot hold slots.
  const affordable = await services.metering.affordableHosts(session.nodeId, services.config.updateIntervalMs, params.kind)
  if (affordable.refusal !== undefined) {
    throw rpcError('INSUFFICIENT_BALANCE', affordable.refusal, { balanceWei: affordable.balanceWei.toString() })
  }
  const end = services.metrics.assignmentSeconds.startTimer()
  try {
    return await services.assignments.requestHosts(session, params.count, params.kind, { replace: params.replace, affordable: affordable.hosts, needs: params.needs })
  } finally {
    end()
  }
}
