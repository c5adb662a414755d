/** The explicit method -> handler table for agent requests. */
import type { AgentMethod } from '../../protocol/index.ts'
import type { Handler } from './context.ts'
import { connect } from './connect.ts'
import { update } from './update.ts'
import { requestHosts } from './requestHosts.ts'
import { reportBadAnswer } from './reportBadAnswer.ts'

export const handlers: { [M in AgentMethod]: Handler<M> } = {
  vipnode_connect: connect,
  vipnode_update: update,
  vipnode_requestHosts: requestHosts,
  vipnode_reportBadAnswer: reportBadAnswer,
}

/** Methods an unauthenticated socket may call. */
export const publicMethods: ReadonlySet<string> = new Set<AgentMethod>(['vipnode_connect'])
