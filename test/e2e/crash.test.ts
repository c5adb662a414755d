/**
 * kill -9 of the coordinator in the middle of a metered run: on restart the
 * books still balance (`vipnode audit` passes) and every pair's metered time
 * is within one interval of the time its two agents were reporting each other.
 */
import { test, expect, afterAll } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import { spawnVipnode, VIPNODE_BIN, type Proc } from '../harness/processes.ts'
import { testAgent, type TestAgent } from '../harness/agents.ts'
import { identity } from '../harness/rawAgent.ts'

const INTERVAL_MS = 3_000
const dir = mkdtempSync(join(tmpdir(), 'vipnode-crash-'))
const db = join(dir, 'pool.db')
const procs: Proc[] = []
const agents: TestAgent[] = []
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()))
  await Promise.all(procs.map((p) => p.stop('SIGKILL')))
})

async function coordinator(port: number): Promise<{ proc: Proc; url: string; port: number }> {
  const proc = spawnVipnode(['coordinator', '--allow-private-addresses', '--port', String(port), '--db', db, '--update-interval', `${INTERVAL_MS}ms`, '--epoch', '4s', '--price', '60000', '--trial', '1000000', '--pool-id', 'crash',
    // All twelve clients are placed before anyone reports; slow start (tested in test/adversary) would hold them back.
    '--slow-start-slots', '0'])
  procs.push(proc)
  const l = await proc.waitForLog((x) => x.msg === 'coordinator listening', 'listening')
  return { proc, url: l.url, port: Number(new URL(l.url).port) }
}

test('behavior: kill -9 of the coordinator under load loses no money and at most one interval of service', async () => {
  let c = await coordinator(0)
  const hosts = await Promise.all(Array.from({ length: 4 }, (_, i) => testAgent(c.url, { role: 'host', capacity: 5, payout: `0x${String(i + 1).repeat(40)}` }, {}, identity(31000 + i))))
  const clients = await Promise.all(Array.from({ length: 12 }, (_, i) => testAgent(c.url, { role: 'client' }, {}, identity(32000 + i))))
  agents.push(...hosts, ...clients)
  const peersOf = new Map<TestAgent, TestAgent[]>()
  for (const cl of clients) {
    const { hosts: got } = await cl.conn.call('vipnode_requestHosts', { count: 1 })
    const host = hosts.find((h) => h.id.nodeId === got[0]!.nodeId)!
    peersOf.set(cl, [host])
    peersOf.set(host, [...(peersOf.get(host) ?? []), cl])
  }
  // What each agent saw: the times its reports listing the other side were accepted.
  const accepted = new Map<TestAgent, number[]>()
  const report = async (a: TestAgent) => {
    try {
      await a.conn.call('vipnode_update', { peers: (peersOf.get(a) ?? []).map((p) => ({ id: p.id.nodeId, enode: p.id.enode })), block: { number: 1, hash: `0x${'ab'.repeat(32)}` } })
      accepted.set(a, [...(accepted.get(a) ?? []), Date.now()])
    } catch {
      // The coordinator is down or the agent is reconnecting: this report is lost, as in real life.
    }
  }
  const round = () => Promise.all([...peersOf.keys()].map(report))
  const started = Date.now()
  let killed = false
  while (Date.now() - started < 16_000) {
    await round()
    if (!killed && Date.now() - started > 6_000) {
      killed = true
      c.proc.child.kill('SIGKILL')
      await c.proc.exited
      c = await coordinator(c.port)
      await Promise.all([...peersOf.keys()].map((a) => a.conn.ready()))
      continue
    }
    await new Promise((r) => setTimeout(r, INTERVAL_MS / 2))
  }
  // The restarted coordinator's view for its operator: the crashed run's 16 sessions, all back (services/returnWatch.ts).
  const back = await c.proc.waitForLog((x) => x.msg === "previous run's agents back", 'the crashed run\'s agents back')
  expect(back).toMatchObject({ previousRun: 16, online: 16 })
  await Promise.all(agents.map((a) => a.close()))
  expect(await c.proc.stop('SIGTERM')).toEqual({ code: 0, signal: null })

  const { stdout } = await promisify(execFile)(process.execPath, [VIPNODE_BIN, 'audit', '--db', db])
  expect(JSON.parse(stdout)).toMatchObject({ ok: true, problems: [] })

  const conn = new Database(db, { readonly: true })
  const metered = new Map<string, number>(
    (conn.prepare('SELECT client_id AS c, host_id AS h, sum(service_ms) AS ms FROM usage GROUP BY client_id, host_id').all() as { c: string; h: string; ms: number }[]).map((r) => [`${r.c}:${r.h}`, r.ms]),
  )
  conn.close()
  for (const cl of clients) {
    const host = peersOf.get(cl)![0]!
    // Corroborated from the moment both had reported until the last report of either side.
    const first = Math.max(accepted.get(cl)![0]!, accepted.get(host)![0]!)
    const last = Math.max(accepted.get(cl)!.at(-1)!, accepted.get(host)!.at(-1)!)
    const seen = last - first
    const got = metered.get(`${cl.id.nodeId}:${host.id.nodeId}`) ?? 0
    expect(Math.abs(got - seen), `pair ${cl.id.nodeId.slice(0, 8)}: metered ${got} ms, agents saw ${seen} ms`).toBeLessThanOrEqual(INTERVAL_MS)
  }
}, 90_000)
