/**
 * Assignment latency over loopback with real agents, bounded in time.
 *
 *   npx tsx bench/assignLatency.ts [--hosts 50] [--clients 500] [--inflight 50]
 *
 * A real coordinator runs in a child process (the `vipnode coordinator` CLI,
 * a fresh SQLite file). This process connects `--hosts` host agents and
 * `--clients` client agents, all PoolConnections as the shims use, each
 * authenticated with its own node key. Then every client calls
 * vipnode_requestHosts {count: 3}: half of them one at a time (latency with
 * nothing else going on), the other half with `--inflight` requests
 * outstanding at once. An assignment is one client → coordinator round trip
 * that contains three parallel coordinator → host admissions, each followed
 * by a SQLite insert.
 *
 * The ceiling: WebSocket ping/pong to the same coordinator process over the
 * same loopback (answered by the ws library itself: framing, sockets and
 * the event loop, no JSON, no policy, no store). An assignment needs at least
 * two such round trips. It is measured before and after the clients run (the
 * machine may be shared) and the better figures are shown.
 *
 * Both the agents and the coordinator share this machine's cores; the
 * agents' own JSON work is in the figures, as it would be on one box.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir, cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { AGENT_PATH, ErrorCode, RpcError } from '../protocol/index.ts'
import { spawnVipnode, type Proc } from '../test/harness/processes.ts'
import { testAgent, type TestAgent } from '../test/harness/agents.ts'
import { intArgs } from './args.ts'

interface Args {
  hosts: number
  clients: number
  inflight: number
}

function parseArgs(argv: string[]): Args {
  return intArgs(argv, { hosts: { fallback: 50, max: 1_000 }, clients: { fallback: 500, max: 5_000 }, inflight: { fallback: 50, max: 1_000 } })
}

const HOSTS_PER_CLIENT = 3
const DEADLINE_MS = 180_000
const PINGS = 1_000
const CONNECT_BATCH = 50

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

function stats(samples: number[]) {
  const s = [...samples].sort((a, b) => a - b)
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1) ?? NaN }
}

/** Sequential ws ping/pong round trips to the coordinator's agent endpoint. */
async function pingRtts(baseUrl: string, n: number): Promise<number[]> {
  const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + AGENT_PATH)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const rtts: number[] = []
  for (let i = 0; i < n; i++) {
    const started = performance.now()
    await new Promise<void>((resolve) => {
      ws.once('pong', () => resolve())
      ws.ping()
    })
    rtts.push(performance.now() - started)
  }
  ws.close()
  return rtts
}

async function inBatches<T>(n: number, batch: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < n; i += batch) out.push(...(await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => make(i + j)))))
  return out
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const dir = mkdtempSync(join(tmpdir(), 'vipnode-bench-'))
  let coordinator: Proc | undefined
  const agents: TestAgent[] = []
  const deadline = setTimeout(() => {
    console.error(`bench did not finish within ${DEADLINE_MS / 1000} s; giving up`)
    void coordinator?.stop('SIGKILL')
    process.exit(1)
  }, DEADLINE_MS)
  deadline.unref()
  try {
    // Generous per-socket limits: the bench measures the assignment path, not the rate limiter.
    coordinator = spawnVipnode(['coordinator', '--allow-private-addresses', '--port', '0', '--db', join(dir, 'pool.db'), '--pool-id', 'bench', '--rate-burst', '100000', '--rate-limit', '100000', '--log-level', 'info'])
    const listening = await coordinator.waitForLog((l) => l.msg === 'coordinator listening', 'coordinator listening', 30_000)
    const url = listening.url as string

    const capacity = Math.ceil((args.clients * HOSTS_PER_CLIENT) / args.hosts / 0.75) // about 75 % full at the end
    const connectStarted = performance.now()
    const hosts = await inBatches(args.hosts, CONNECT_BATCH, () => testAgent(url, { role: 'host', capacity }))
    agents.push(...hosts)
    const clients = await inBatches(args.clients, CONNECT_BATCH, () => testAgent(url, { role: 'client' }))
    agents.push(...clients)
    const connectMs = performance.now() - connectStarted

    const pingBefore = await pingRtts(url, PINGS)

    const latencies = { sequential: [] as number[], concurrent: [] as number[] }
    let failures = 0
    let short = 0
    const assign = async (client: TestAgent, into: number[]) => {
      const started = performance.now()
      try {
        const r = await client.conn.call('vipnode_requestHosts', { count: HOSTS_PER_CLIENT })
        into.push(performance.now() - started)
        if (r.hosts.length < HOSTS_PER_CLIENT) short++
      } catch (err) {
        if (err instanceof RpcError && err.code === ErrorCode.NO_HOSTS_AVAILABLE) short++
        failures++
      }
    }
    const half = Math.floor(clients.length / 2)
    const sequentialStarted = performance.now()
    for (const c of clients.slice(0, half)) await assign(c, latencies.sequential)
    const sequentialMs = performance.now() - sequentialStarted
    const rest = clients.slice(half)
    let next = 0
    const concurrentStarted = performance.now()
    await Promise.all(
      Array.from({ length: Math.min(args.inflight, rest.length) }, async () => {
        while (next < rest.length) await assign(rest[next++]!, latencies.concurrent)
      }),
    )
    const concurrentMs = performance.now() - concurrentStarted

    const pingAfter = await pingRtts(url, PINGS)
    const before = stats(pingBefore)
    const after = stats(pingAfter)
    const ping = before.p50 <= after.p50 ? before : after

    const seq = stats(latencies.sequential)
    const conc = stats(latencies.concurrent)
    const f = (ms: number) => ms.toFixed(2)
    console.log(`${args.hosts} hosts (capacity ${capacity} each), ${args.clients} clients × ${HOSTS_PER_CLIENT} hosts; coordinator in a child process, loopback; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`)
    console.log(`connected ${hosts.length + clients.length} agents in ${(connectMs / 1000).toFixed(1)} s\n`)
    const rows = [
      ['what', 'n', 'p50 ms', 'p99 ms', 'max ms', 'throughput'],
      ['ws ping/pong (ceiling)', String(ping.n), f(ping.p50), f(ping.p99), f(ping.max), ''],
      ['floor: 2 × ping', '', f(2 * ping.p50), f(2 * ping.p99), '', ''],
      ['requestHosts, one at a time', String(seq.n), f(seq.p50), f(seq.p99), f(seq.max), `${((seq.n / sequentialMs) * 1000).toFixed(0)}/s`],
      [`requestHosts, ${args.inflight} in flight`, String(conc.n), f(conc.p50), f(conc.p99), f(conc.max), `${((conc.n / concurrentMs) * 1000).toFixed(0)}/s`],
    ]
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
    for (const [i, r] of rows.entries()) {
      console.log(r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  '))
      if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '))
    }
    console.log(`\nping p50 before ${f(before.p50)} ms, after ${f(after.p50)} ms; requests that failed: ${failures}, got fewer than ${HOSTS_PER_CLIENT} hosts: ${short}`)
  } finally {
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)))
    await coordinator?.stop()
    rmSync(dir, { recursive: true, force: true })
    clearTimeout(deadline)
  }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
