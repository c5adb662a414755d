import { test, expect, afterEach } from 'vitest'
import { join, dirname } from 'node:path'
import { testCoordinator, tempDb } from '../../test/harness/coordinator.ts'
import { poolAgent } from '../../test/harness/attackers.ts'
import { openSqliteStore } from '../store/sqlite/sqliteStore.ts'
import { audit } from './audit.ts'
import { backupDatabase } from './commands.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

test('behavior: a backup taken while the coordinator writes reports opens, keeps the latest reports and passes the audit', async () => {
  const db = tempDb()
  // No per-socket rate limit: the writer below reports as fast as it is answered, and a RATE_LIMITED error
  // (id null) would leave it waiting for a reply that never comes once the backup outlasts the burst.
  const c = await testCoordinator({ db, updateIntervalMs: 1_000, rateLimitPerSecond: 1_000_000, rateLimitBurst: 1_000_000 })
  cleanup.push(() => c.close())
  const host = await poolAgent(c, { role: 'host' })
  const client = await poolAgent(c, { role: 'client' })
  await client.request('vipnode_requestHosts', { count: 1 })
  // Keep both agents reporting while the backup copies pages.
  let writing = true
  const writer = (async () => {
    let n = 0
    while (writing) {
      const ids = [host.report([client.nodeId]), client.report([host.nodeId])]
      await Promise.all([host.agent.reply(ids[0]!), client.agent.reply(ids[1]!)])
      n++
    }
    return n
  })()
  const to = join(dirname(db), 'backup.db')
  const { pages } = await backupDatabase(db, to)
  writing = false
  const reportsDuring = await writer
  expect(pages).toBeGreaterThan(0)
  expect(reportsDuring).toBeGreaterThan(0)

  const copy = openSqliteStore(to)
  const report = await audit(copy)
  expect(report).toMatchObject({ ok: true, problems: [] })
  expect(await copy.getMeta('poolId')).toBe('test-pool')
  expect((await copy.latestReport(host.nodeId))?.peers).toEqual([client.nodeId])
  await copy.close()
  // A backup never overwrites.
  await expect(backupDatabase(db, to)).rejects.toThrow(/exists/)
})
