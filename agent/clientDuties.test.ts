import { describe, expect, it } from 'vitest'
import { silentLogger } from '../lib/logger.ts'
import type { NodeId } from '../protocol/index.ts'
import type { PoolConnection } from './poolConnection.ts'
import { HostTopUp } from './clientDuties.ts'

const A = 'a'.repeat(128) as NodeId

/** Just what HostTopUp uses of a pool connection: the calls it makes, answered with no hosts. */
function stubPool() {
  const calls: { method: string; params: any }[] = []
  const pool = {
    current: { updateIntervalMs: 60_000 },
    call: async (method: string, params: unknown) => {
      calls.push({ method, params })
      return { hosts: [] }
    },
  } as unknown as PoolConnection
  return { pool, calls }
}

describe('HostTopUp', () => {
  it('default: asks while short of hosts, then waits an interval after a short answer', async () => {
    const { pool, calls } = stubPool()
    const t = new HostTopUp({ pool, kind: 'peer', want: 2, log: silentLogger, updateIntervalMs: undefined })
    await t.topUp(1)
    await t.topUp(1)
    expect(calls).toEqual([{ method: 'vipnode_requestHosts', params: { count: 2, kind: 'peer' } }])
  })

  it('behavior: hands back hosts that never served at once, even when it holds enough and is waiting', async () => {
    const { pool, calls } = stubPool()
    const t = new HostTopUp({ pool, kind: 'rpc', want: 1, log: silentLogger, updateIntervalMs: undefined })
    await t.topUp(0) // short answer: the next plain top-up waits an interval
    await t.topUp(1, [A])
    expect(calls[1]).toEqual({ method: 'vipnode_requestHosts', params: { count: 1, kind: 'rpc', replace: [A] } })
  })
})
