/** vipnode_connect: the login (services/logins.ts checks it and opens the session); the reply welcomes the agent. */
import { connectParamsSchema, parseParams, weiToWire } from '../../protocol/index.ts'
import type { Handler } from './context.ts'

export const connect: Handler<'vipnode_connect'> = async (raw, conn, services) => {
  const params = parseParams(connectParamsSchema, raw, 'vipnode_connect')
  const { session, balanceWei, trial } = await services.logins.login(conn, params)
  const { poolId, config } = services
  return {
    sessionId: session.sessionId,
    poolId,
    nodeId: session.nodeId,
    role: session.role,
    updateIntervalMs: config.updateIntervalMs,
    balanceWei: weiToWire(balanceWei),
    allowPrivateAddresses: config.allowPrivateAddresses,
    message: trial === 'budget-spent' ? `welcome to vipnode pool ${poolId}; no trial credit: the pool's trial budget for this epoch is spent` : `welcome to vipnode pool ${poolId}`,
  }
}
