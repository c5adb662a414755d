/**
 * What both client shims (peer and rpc mode) do the same way: show the pool's
 * notices to the person running them, and ask for hosts when short of them
 * without asking again every report while the pool has none.
 */
import { ErrorCode, MAX_HOSTS_PER_REQUEST, noticeParamsSchema, parseParams, RpcError, type AssignedHost, type HostNeed, type NodeId, type ServiceKind } from '../protocol/index.ts'
import type { Logger } from '../lib/logger.ts'
import type { PoolConnection } from './poolConnection.ts'
import { reportIntervalMs } from './reportLoop.ts'
import type { Ticker } from './ticker.ts'

/** Log a vipnode_notice prominently; returns its code (a `host-gone` notice asks for a report at once). */
export function showNotice(raw: unknown, log: Logger): string {
  const n = parseParams(noticeParamsSchema, raw, 'vipnode_notice')
  // Notices are for the person running the node: make them stand out in the log.
  const line = `*** POOL NOTICE: ${n.message}${n.url ? ` -> ${n.url}` : ''} ***`
  if (n.level === 'info') log.info(line, { notice: n.code })
  else log.warn(line, { notice: n.code })
  return n.code
}

/** On every (re)connect: show the pool's welcome and report at once, so a restarted coordinator learns our state without waiting an interval. */
export function greetOnConnect(pool: PoolConnection, ticker: Ticker, log: Logger): void {
  pool.on('connected', (s) => {
    if (s.message) log.info(`*** POOL: ${s.message} ***`, { balanceWei: s.balanceWei })
    ticker.kick()
  })
}

/**
 * Ask for hosts when the client has fewer than it wants, without asking again
 * every report while the pool has none. Hosts that never served the client
 * (`replace`) are handed back in the same call, at once: the pool releases
 * them (client-replaced) and tops up in their place.
 *
 * `needs` (rpc: `beacon` with --beacon-listen) go with every request. A
 * client whose hosts do not meet them asks even when it holds its count (the
 * pool swaps a host in when it has one: coordinator/services/assignments.ts),
 * and an answer that still does not meet them counts as short: it asks again
 * an interval later, not every report.
 */
export class HostTopUp {
  private askAfterMs = 0

  constructor(
    /** `updateIntervalMs`: the agent's override of the report interval, which is also how long to wait before asking again. */
    private readonly o: { pool: PoolConnection; kind: ServiceKind; want: number; log: Logger; updateIntervalMs: number | undefined; needs?: readonly HostNeed[] | undefined },
  ) {}

  /**
   * The hosts the pool gave, kept ones included (none when not due, or when it has none to give). `needsMet`: the
   * hosts the client holds meet its needs (a beacon host among them).
   */
  async topUp(have: number, replace: readonly NodeId[] = [], needsMet = true): Promise<AssignedHost[]> {
    const { pool, kind, want, log, needs } = this.o
    const needy = needs !== undefined && needs.length > 0
    if (replace.length === 0 && ((have >= want && (needsMet || !needy)) || Date.now() < this.askAfterMs)) return []
    if (replace.length > 0) log.warn(`giving back ${replace.length} host(s) that never served this client`, { hosts: replace })
    try {
      const got = await pool.call('vipnode_requestHosts', { count: want, kind, ...(replace.length > 0 ? { replace: replace.slice(0, MAX_HOSTS_PER_REQUEST) } : {}), ...(needy ? { needs: [...needs] } : {}) })
      if (got.hosts.length < want || (needy && !got.hosts.some(meetsNeeds))) this.askAfterMs = Date.now() + reportIntervalMs(pool, this.o.updateIntervalMs)
      return got.hosts
    } catch (err) {
      if (!(err instanceof RpcError && err.code === ErrorCode.NO_HOSTS_AVAILABLE)) throw err
      log.warn(`no ${kind === 'rpc' ? 'rpc ' : ''}hosts available yet`, { reason: err.message })
      this.askAfterMs = Date.now() + reportIntervalMs(pool, this.o.updateIntervalMs)
      return []
    }
  }
}

/** The one need there is: a host whose relay serves the beacon API (the pool marks its grant). */
export function meetsNeeds(host: AssignedHost): boolean {
  return host.relay?.beacon === true
}
