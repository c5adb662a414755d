import { describe, expect, it } from 'vitest'
import { silentLogger } from '../lib/logger.ts'
import type { NodeId } from '../protocol/index.ts'
import type { PoolConnection } from './poolConnection.ts'
import { HostTopUp } from './clientDuties.ts'

const A = 'a'.repeat(128) as NodeId

/** Just what HostTopUp uses of a pool connection: the calls it makes, answered with no hosts. */
function stubPool(hosts: unknown[] = []) {
  const calls: { method: string; params: any }[] = []
  const pool = {
    current: { updateIntervalMs: 60_000 },
    call: async (method: string, params: unknown) => {
      calls.push({ method, params })
      return { hosts }
    },
  } as unknown as PoolConnection
  return { pool, calls }
}

const rpcHost = (beacon: boolean) => ({ nodeId: A, enode: `enode://${A}@127.0.0.1:0`, kind: 'rpc', relay: { nodeId: A, token: 'ab'.repeat(32), expiresAtMs: 1, ...(beacon ? { beacon: true } : {}) } })

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

  it('behavior: with needs, asks even when holding its count if none of its hosts meets them; an answer that still does not waits an interval', async () => {
    const { pool, calls } = stubPool([rpcHost(false)])
    const t = new HostTopUp({ pool, kind: 'rpc', want: 1, log: silentLogger, updateIntervalMs: undefined, needs: ['beacon'] })
    await t.topUp(1, [], true)
    expect(calls).toEqual([])
    await t.topUp(1, [], false)
    await t.topUp(1, [], false)
    expect(calls).toEqual([{ method: 'vipnode_requestHosts', params: { count: 1, kind: 'rpc', needs: ['beacon'] } }])
  })

  it('behavior: with needs met by the answer, the next report may ask again at once', async () => {
    const { pool, calls } = stubPool([rpcHost(true)])
    const t = new HostTopUp({ pool, kind: 'rpc', want: 1, log: silentLogger, updateIntervalMs: undefined, needs: ['beacon'] })
    await t.topUp(0)
    await t.topUp(0)
    expect(calls).toHaveLength(2)
  })
})
