/** The tracker as mounted in the coordinator: same port as the agents, `--ethstats-secret`, and the JSON feed. */
import { test, expect, afterEach } from 'vitest'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { ScriptedReporter } from '../../test/harness/trackerReporter.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import { READY_FRAME, SERVER_CLOSE_FRAME } from './frames.ts'
import type { RunningCoordinator } from '../coordinator.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

async function pool(): Promise<RunningCoordinator> {
  const c = await testCoordinator({ ethstatsSecret: 's3cret' })
  cleanup.push(() => c.close())
  return c
}

const info = { name: 'geth-1', node: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4', port: 30303, net: '1', protocol: 'eth/68', api: 'No', os: 'linux', os_v: 'amd64', client: '0.1.1', canUpdateHistory: true }

test('default: a geth reporter logs in at /api?_primuscb=…, gets exactly ready, and shows up in /v1/tracker/nodes', async () => {
  const c = await pool()
  const r = await ScriptedReporter.open(`${c.url.replace('http', 'ws')}/api/?_primuscb=1700000000000-0`, { answerPings: true })
  cleanup.push(async () => r.ws.close())
  r.emit('hello', { id: 'geth-1', info, secret: 's3cret' })
  expect(await r.next()).toBe(READY_FRAME)
  r.emit('block', { id: 'geth-1', block: { number: 1234, hash: `0x${'ab'.repeat(32)}`, parentHash: `0x${'cd'.repeat(32)}`, timestamp: 1_700_000_000, miner: `0x${'00'.repeat(20)}`, gasUsed: 0, gasLimit: 30_000_000, difficulty: '0', totalDifficulty: '0', transactions: [], uncles: [] } })
  type Feed = { nodes: { name: string; block?: { number: number } | null }[] }
  const feed = await waitFor(
    async () => {
      const f = (await (await fetch(`${c.url}/v1/tracker/nodes`)).json()) as Feed
      return f.nodes.some((n) => n.name === 'geth-1' && JSON.stringify(n).includes('1234')) && f
    },
    'the block in /v1/tracker/nodes',
    { timeoutMs: 3_000, intervalMs: 25 },
  )
  expect(JSON.stringify(feed.nodes.find((n) => n.name === 'geth-1'))).toContain('1234')
  expect(c.services.tracker.bestHead()?.number).toBe(1234)
})

test('error: a wrong secret gets primus::server::close and the agent socket path is unaffected', async () => {
  const c = await pool()
  const r = await ScriptedReporter.open(`${c.url.replace('http', 'ws')}/api`)
  r.emit('hello', { id: 'intruder', info, secret: 'guess' })
  expect(await r.next()).toBe(SERVER_CLOSE_FRAME)
  await r.closed
  expect(c.services.tracker.nodes()).toEqual([])
  expect((await fetch(`${c.url}/healthz`)).status).toBe(200)
})
