/** vipnode_reportBadAnswer: an rpc client's shim found a host in the minority of three answers (services/reports.ts judges it). */
import { parseParams, reportBadAnswerParamsSchema } from '../../protocol/index.ts'
import type { Handler } from './context.ts'

export const reportBadAnswer: Handler<'vipnode_reportBadAnswer'> = async (raw, conn, services) => {
  const params = parseParams(reportBadAnswerParamsSchema, raw, 'vipnode_reportBadAnswer')
  return services.reports.reportBadAnswer(conn.session!, params)
}
