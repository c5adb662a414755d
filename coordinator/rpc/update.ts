/** vipnode_update: an agent's report (services/reports.ts meters it); the reply says whom to keep and whom to drop. */
import { parseParams, updateParamsSchema, weiToWire } from '../../protocol/index.ts'
import type { Handler } from './context.ts'

export const update: Handler<'vipnode_update'> = async (raw, conn, services) => {
  const started = performance.now()
  const params = parseParams(updateParamsSchema, raw, 'vipnode_update')
  const answer = await services.reports.report(conn.session!, params)
  services.metrics.reports.inc()
  services.metrics.reportAck.observe((performance.now() - started) / 1000)
  return { peers: answer.peers, drop: answer.drop, balanceWei: weiToWire(answer.balanceWei), ...(answer.relays.length > 0 ? { relays: answer.relays } : {}) }
}
