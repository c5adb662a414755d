/**
 * Load on the coordinator from thousands of authenticated agents in separate
 * processes, beside the raw ceilings measured in the same run (a bare `ws`
 * echo server, and raw better-sqlite3 report inserts), so a slow machine
 * neither hides nor fakes progress.
 *
 *   npm run bench:load -- --agents 20000 --workers 4 --interval 4s --seconds 20
 *   npm run bench:load -- --db postgres://postgres@127.0.0.1:5432/postgres --replicas 2 --agents 5000 --interval 1s
 *
 * With --replicas N (PostgreSQL and NATS), N coordinators share one scratch database and the agents are spread over
 * them by worker; the kill -9 phase kills one replica and counts its agents back on the others.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createInterface } from 'node:readline'
import Database from 'better-sqlite3'
import { parseDuration } from '../lib/duration.ts'
import { openSqliteStore } from '../coordinator/store/sqlite/sqliteStore.ts'
import { openPostgresStore } from '../coordinator/store/postgres/postgresStore.ts'
import { createScratchDatabase } from '../test/harness/postgresScratch.ts'
import { parseMetrics, scrapeMetric } from '../test/harness/metrics.ts'

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '20000' },
    workers: { type: 'string', default: '4' },
    interval: { type: 'string', default: '4s' },
    seconds: { type: 'string', default: '20' },
    // Reports leave each worker every tick (5 ms: close to independent agents' timers; 50 ms: bursts of 250 at 5,000/s).
    tick: { type: 'string', default: '5ms' },
    // Reports with unchanged peers say samePeers, as our agents do; --no-same-peers names all 30 every time.
    'no-same-peers': { type: 'boolean', default: false },
    // How long the kill -9 phase waits for every agent to come back before it prints what it has.
    'recover-timeout': { type: 'string', default: '120s' },
    // Load bench/stallTracer.ts into the coordinator: long callbacks, GC pauses and late timers on stderr.
    'trace-stalls': { type: 'boolean', default: false },
    // Write a V8 CPU profile of the coordinator into this folder (skips the kill -9 phase, which would lose it).
    profile: { type: 'string' },
    // The coordinator's store: a SQLite file (default) or postgres://… of any database on a server, where the run
    // makes (and drops) a scratch database of its own; the ceiling is then raw pg inserts on the same server.
    db: { type: 'string', default: 'sqlite' },
    // Coordinator replicas of one pool on that database (PostgreSQL only), joined over NATS.
    replicas: { type: 'string', default: '1' },
    nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    // Append every line the servers (the coordinators and the echo server) print to this file, to look into a run.
    log: { type: 'string' },
    // An admin watching the dashboard the whole run: one live event stream on the first coordinator, re-opened after the restart.
    dashboard: { type: 'boolean', default: false },
  },
})
const serverLog = values.log
const REPLICAS = Number(values.replicas)
if (!Number.isInteger(REPLICAS) || REPLICAS < 1) throw new Error(`--replicas: expected a whole number of coordinators, got "${values.replicas}"`)
if (REPLICAS > 1 && !/^postgres(ql)?:\/\//.test(values.db!)) throw new Error('--replicas: replicas share a PostgreSQL database: give --db postgres://…')
/**
 * Every agent socket is a file descriptor in the coordinator. Where the hard limit on open files is below what
 * the run asks for (this project's machine: 20,000, and no privilege to raise it), the run holds as many agents
 * as fit, says so, and does not wait forever for sockets the kernel cannot give.
 */
const FD_RESERVE = 64
const hardFdLimit = Number(/Max open files\s+\S+\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 'Infinity') || Infinity
const REQUESTED_AGENTS = Number(values.agents)
const AGENTS = Math.min(REQUESTED_AGENTS, Math.min(65_536, hardFdLimit) - FD_RESERVE)
const WORKERS = Number(values.workers)
const INTERVAL_MS = parseDuration(values.interval!)
const SECONDS = Number(values.seconds)
const RECOVER_MS = parseDuration(values['recover-timeout']!)
const TICK_MS = parseDuration(values.tick!)
/** The connect phase opens no more agents after this (each open gives up after 30 s too): the run always ends. */
const CONNECT_DEADLINE_MS = Math.max(60_000, AGENTS * 10)
/** A graceful stop that takes longer than this is cut short with SIGKILL (systemd's TimeoutStopSec is 90 s by default). */
const STOP_DEADLINE_MS = 60_000
const root = fileURLToPath(new URL('..', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'vipnode-load-'))

interface Stats {
  acked: number
  errors: number
  latencies: number[]
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : NaN
}

/** Start a child that prints one JSON line when ready; resolve with that line. */
function startServer(cmd: string, args: string[], match: (line: Record<string, unknown>) => boolean): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  // Many sockets need many file descriptors; root may raise its own limit.
  const child = spawn('bash', ['-c', `ulimit -n 65536 2>/dev/null; exec ${cmd} ${args.map((a) => `'${a}'`).join(' ')}`], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      if (serverLog) appendFileSync(serverLog, `${text}\n`)
      try {
        const line = JSON.parse(text) as Record<string, unknown>
        if (match(line)) resolve({ child, line })
      } catch {
        // not JSON
      }
    })
    child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code}`)))
  })
}

/**
 * `--dashboard`: an admin's browser on the dashboard's live stream (`/dashboard/api/events`), read to the end and
 * counted. Opened again whenever it ends (the coordinator restarted) until `stop`.
 */
function watchDashboard(url: () => string, token: string) {
  const abort = new AbortController()
  const seen = { snapshots: 0, bytes: 0 }
  const marker = 'event: snapshot'
  void (async () => {
    while (!abort.signal.aborted) {
      try {
        const res = await fetch(`${url()}/dashboard/api/events`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal })
        const decoder = new TextDecoder()
        // A marker split between two chunks is counted once: the end of each chunk is kept for the next.
        let tail = ''
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          seen.bytes += chunk.length
          const text = tail + decoder.decode(chunk, { stream: true })
          seen.snapshots += text.split(marker).length - 1
          tail = text.slice(-(marker.length - 1))
        }
      } catch {
        // The coordinator is down (kill -9) or the run is over.
      }
      await new Promise((r) => setTimeout(r, 500))
    }
  })()
  return { seen, stop: () => abort.abort() }
}

/** The event each worker command answers with: replies are routed by it, so a progress query may overlap a long command. */
const REPLY_TO: Record<string, string> = { connect: 'connected', pause: 'stats', reset: 'warmup', 'ready-count': 'ready-count', stop: 'stopped' }

class Workers {
  readonly procs: ChildProcess[] = []
  private waiting: Map<string, ((m: any) => void)[]>[] = []

  /** `url(w)`: the target of worker w (a comma-separated list of replicas: it starts on the first). */
  async start(url: (worker: number) => string, raw: boolean): Promise<void> {
    const per = Math.ceil(AGENTS / WORKERS)
    for (let w = 0; w < WORKERS; w++) {
      const child = fork(join(root, 'bench/loadWorker.ts'), [], {
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, LOAD_URL: url(w), LOAD_COUNT: String(Math.min(per, AGENTS - w * per)), LOAD_OFFSET: String(w * per), LOAD_RAW: raw ? '1' : '0', LOAD_SAME_PEERS: values['no-same-peers'] ? '0' : '1' },
      })
      this.waiting[w] = new Map()
      child.on('message', (m: { ev: string }) => this.waiting[w]!.get(m.ev)?.shift()?.(m))
      this.procs.push(child)
      await this.reply(w, 'up')
    }
  }

  private reply<T>(w: number, ev: string): Promise<T> {
    return new Promise<T>((resolve) => {
      const queue = this.waiting[w]!.get(ev) ?? []
      queue.push(resolve)
      this.waiting[w]!.set(ev, queue)
    })
  }

  /** Send a command to every worker and collect one reply from each. */
  all<T>(msg: { cmd: string } & Record<string, unknown>, expectReply = true): Promise<T[]> {
    return Promise.all(
      this.procs.map((p, w) => {
        const reply = expectReply ? this.reply<T>(w, REPLY_TO[msg.cmd]!) : Promise.resolve(undefined as T)
        p.send(msg)
        return reply
      }),
    )
  }

  /** Agents authenticated now, and reports acknowledged since the report phase began, over all workers. */
  async progress(): Promise<{ ready: number; acked: number; paced: number }> {
    const counts = await this.all<{ ready: number; acked: number; paced: number }>({ cmd: 'ready-count' })
    const sum = (k: 'ready' | 'acked' | 'paced') => counts.reduce((n, c) => n + c[k], 0)
    return { ready: sum('ready'), acked: sum('acked'), paced: sum('paced') }
  }

  async stop(): Promise<void> {
    await this.all({ cmd: 'stop' })
  }

  kill(): void {
    for (const p of this.procs) p.kill('SIGKILL')
  }
}

/**
 * Progress on stderr every few seconds while `work` runs (the table goes to stdout): a 20,000-agent run takes
 * minutes, and an operator should see it move. Stops when `work` settles.
 */
async function withProgress<T>(phase: string, workers: Workers, work: Promise<T>, everyMs = 3_000): Promise<T> {
  const started = performance.now()
  let lastAcked = 0
  let lastAt = started
  const timer = setInterval(() => {
    void workers.progress().then(({ ready, acked }) => {
      const now = performance.now()
      const rate = acked >= lastAcked ? ((acked - lastAcked) * 1000) / (now - lastAt) : 0
      lastAcked = acked
      lastAt = now
      console.error(`… ${phase}: ${((now - started) / 1000).toFixed(0)} s, ${ready}/${AGENTS} agents connected, ${rate.toFixed(0)} reports/s acknowledged`)
    })
  }, everyMs)
  try {
    return await work
  } finally {
    clearInterval(timer)
  }
}

interface ReportFigures {
  rate: number
  p50: number
  p99: number
  errors: number
}

function figures(stats: Stats[], elapsedS: number): ReportFigures {
  const lat = stats.flatMap((s) => s.latencies).sort((a, b) => a - b)
  return { rate: stats.reduce((n, s) => n + s.acked, 0) / elapsedS, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), errors: stats.reduce((n, s) => n + s.errors, 0) }
}

/**
 * Every agent starts reporting at once, so its first report (which names its peers and starts its history) lands
 * in the same interval as everyone else's: a transient a running pool sees only after a restart, when login
 * pacing spreads it. It is measured apart (the warm-up: one interval and a second) from the steady state that
 * follows (`SECONDS`); `steady` runs between the two, to start the coordinator-side counters.
 */
async function measureReports(workers: Workers, intervalMs: number, phase: string, steady: () => Promise<void> = async () => undefined): Promise<{ warmup: ReportFigures; steady: ReportFigures }> {
  await workers.all({ cmd: 'report', intervalMs, tickMs: TICK_MS }, false)
  const warmupMs = intervalMs + 1_000
  const warmStart = performance.now()
  await new Promise((r) => setTimeout(r, warmupMs))
  const warm = await workers.all<Stats>({ cmd: 'reset' })
  const started = performance.now()
  await steady()
  await withProgress(phase, workers, new Promise((r) => setTimeout(r, SECONDS * 1000)))
  const stats = await workers.all<Stats>({ cmd: 'pause' })
  return { warmup: figures(warm, (started - warmStart) / 1000), steady: figures(stats, (performance.now() - started) / 1000) }
}

/** The coordinator's own view from /metrics: event-loop delay since the previous scrape (prom-client resets it per scrape) and GC seconds so far. */
async function coordinatorInternals(httpUrl: string): Promise<{ loopP99Ms: number; loopMaxMs: number; gcSeconds: number; ackBuckets: Map<number, number> }> {
  const samples = parseMetrics(await (await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text())
  const named = (name: string) => samples.filter((x) => x.name === name)
  const value = (name: string) => named(name)[0]?.value ?? NaN
  const gcSeconds = named('vipnode_process_nodejs_gc_duration_seconds_sum').reduce((n, x) => n + x.value, 0)
  // The coordinator's own time from reading a report to acknowledging it (cumulative histogram buckets, by bound).
  const ackBuckets = new Map(named('vipnode_report_ack_seconds_bucket').map((x) => [x.labels.le === '+Inf' ? Infinity : Number(x.labels.le), x.value]))
  return { loopP99Ms: value('vipnode_process_nodejs_eventloop_lag_p99_seconds') * 1000, loopMaxMs: value('vipnode_process_nodejs_eventloop_lag_max_seconds') * 1000, gcSeconds, ackBuckets }
}

/** The bucket bound (ms) under which a share `p` of the acknowledgements between two scrapes fell. */
function ackQuantileMs(before: Map<number, number>, after: Map<number, number>, p: number): string {
  const bounds = [...after.keys()].sort((a, b) => a - b)
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0)
  if (total <= 0) return '-'
  const bound = bounds.find((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0) >= p * total)!
  return bound === Infinity ? `> ${bounds.at(-2)! * 1000}` : `≤ ${bound * 1000}`
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

/** Raw pg inserts of report rows into a migrated scratch database: one transaction each, and 64 rows per transaction. */
async function postgresCeiling(serverUrl: string): Promise<{ single: number; batched: number }> {
  const scratch = await createScratchDatabase(serverUrl, 'vipnode_bench')
  try {
    const store = await openPostgresStore(scratch.url)
    const peers = JSON.stringify(Array.from({ length: 30 }, (_, k) => String(k).padStart(128, '0')))
    const timed = async (rows: number) => {
      const values = Array.from({ length: rows }, (_, r) => `($${r * 6 + 1}, $${r * 6 + 2}, $${r * 6 + 3}, $${r * 6 + 4}, $${r * 6 + 5}, $${r * 6 + 6})`).join(', ')
      const text = `INSERT INTO reports (node_id, session_id, observed_at_ms, block_number, block_hash, peers) VALUES ${values}`
      const started = performance.now()
      let n = 0
      while (performance.now() - started < 2_000) {
        await store.pool.query({ name: `bench-insert-${rows}`, text, values: Array.from({ length: rows }, (_, r) => [`node-${(n + r) % 1000}`, 's', Date.now(), 1, '0xab', peers]).flat() })
        n += rows
      }
      return n / ((performance.now() - started) / 1000)
    }
    const single = await timed(1)
    const batched = await timed(64)
    await store.close()
    return { single, batched }
  } finally {
    await scratch.drop()
  }
}

function sqliteCeiling(): number {
  const store = openSqliteStore(join(dir, 'ceiling.db'))
  const db: Database.Database = store.sqlite
  const insert = db.prepare('INSERT INTO reports (node_id, session_id, observed_at_ms, block_number, block_hash, peers) VALUES (?, ?, ?, ?, ?, ?)')
  const peers = JSON.stringify(Array.from({ length: 30 }, (_, k) => String(k).padStart(128, '0')))
  const tx = db.transaction((i: number) => insert.run(`node-${i % 1000}`, 's', Date.now(), 1, '0xab', peers))
  const started = performance.now()
  let n = 0
  while (performance.now() - started < 2_000) tx(n++)
  const rate = n / ((performance.now() - started) / 1000)
  void store.close()
  return rate
}

async function main() {
  const target = AGENTS / (INTERVAL_MS / 1000)
  if (AGENTS < REQUESTED_AGENTS) console.log(`# note: open files are limited to ${hardFdLimit} per process here (ulimit -Hn), so one coordinator holds at most ${AGENTS} agents: running ${AGENTS} of the ${REQUESTED_AGENTS} asked for`)
  if (REPLICAS > 1) console.log(`# ${REPLICAS} coordinator replicas on one PostgreSQL database, joined over NATS; agents spread over them by worker; CPU, RSS and GC are their sums, loop delay the worst of them`)
  console.log(`# ${AGENTS} agents in ${WORKERS} worker processes, one 30-peer report per agent every ${INTERVAL_MS} ms (${Math.round(target)} reports/s offered, sent every ${TICK_MS} ms${values['no-same-peers'] ? ', every report naming its peers' : ', unchanged peers as samePeers'}), ${SECONDS} s per phase`)

  // --- ceilings, same run
  const onPostgres = /^postgres(ql)?:\/\//.test(values.db!)
  const sqliteRate = sqliteCeiling()
  const pgRate = onPostgres ? await postgresCeiling(values.db!) : undefined
  const echo = await startServer('node', ['--import', 'tsx', 'bench/echoServer.ts'], (l) => typeof l.url === 'string')
  const rawWorkers = new Workers()
  await rawWorkers.start(() => String(echo.line.url), true)
  const rawConnect = await withProgress('ceiling: connecting', rawWorkers, rawWorkers.all<{ ready: number; ms: number }>({ cmd: 'connect', deadlineMs: CONNECT_DEADLINE_MS }))
  const { warmup: rawWarmup, steady: rawLoad } = await measureReports(rawWorkers, INTERVAL_MS, 'ceiling: reports')
  await rawWorkers.stop()
  echo.child.kill('SIGKILL')

  // --- the coordinator (or its replicas)
  const scratch = onPostgres ? await createScratchDatabase(values.db!, 'vipnode_bench') : undefined
  const db = scratch?.url ?? join(dir, 'pool.db')
  console.error(`store: ${scratch ? `PostgreSQL, scratch database ${scratch.name}` : 'SQLite'}${REPLICAS > 1 ? `, ${REPLICAS} replicas over ${values.nats}` : ''}`)
  // Every agent connects from 127.0.0.1: lift the per-address limit on unauthenticated sockets (HTTP 429 beyond it).
  // As bin/vipnode.js runs itself (its shebang sets the young generation).
  const adminToken = 'bench-admin-token-0123456789abcdef'
  const coordArgs = ['--max-semi-space-size=64', 'bin/vipnode.js', 'coordinator', '--allow-private-addresses', '--port', '0', '--db', db, '--update-interval', `${INTERVAL_MS}ms`, '--challenge-ttl', '5m', '--log-level', 'info', '--pool-id', 'bench', '--max-pending-per-address', '100000', '--max-pending-sockets', '100000', '--max-agents-per-address', '100000', ...(REPLICAS > 1 ? ['--nats', values.nats!] : []), ...(values.dashboard ? ['--admin-token', adminToken] : [])]
  const profileArgs = [...(values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : []), ...(values['trace-stalls'] ? ['--import', 'tsx', '--import', './bench/stallTracer.ts'] : [])]
  const listening = (l: Record<string, unknown>) => l.msg === 'coordinator listening'
  // The first replica is profiled (and takes the duties lease: it starts first).
  const coords = [await startServer('node', [...profileArgs, ...coordArgs], listening)]
  for (let r = 1; r < REPLICAS; r++) coords.push(await startServer('node', coordArgs, listening))
  /**
   * SIGTERM (a profile is written on the way out), wait for the exits, then drop the scratch database. A coordinator
   * still running after STOP_DEADLINE_MS is killed (as systemd would) and the run says so.
   */
  const stopCoordinators = async () => {
    await Promise.all(
      coords.map((c) => {
        const exited = c.child.exitCode !== null || c.child.signalCode !== null ? Promise.resolve() : new Promise((r) => c.child.once('exit', r))
        c.child.kill('SIGTERM')
        const deadline = setTimeout(() => {
          console.error(`coordinator ${c.child.pid} still running ${STOP_DEADLINE_MS / 1000} s after SIGTERM: killed`)
          c.child.kill('SIGKILL')
        }, STOP_DEADLINE_MS)
        return exited.finally(() => clearTimeout(deadline))
      }),
    )
    await scratch?.drop()
  }
  const httpUrls = coords.map((c) => String(c.line.url))
  const dashboard = values.dashboard ? watchDashboard(() => String(coords[0]!.line.url), adminToken) : undefined
  const wsUrls = httpUrls.map((u) => u.replace('http', 'ws') + '/v1/agent')
  const port = new URL(httpUrls[0]!).port
  const rssOf = () => coords.reduce((n, c) => n + rssMb(c.child.pid!), 0)
  const idleRss = rssOf()
  const workers = new Workers()
  // Worker w starts on replica w mod N and knows the others, in order, for when its replica goes.
  await workers.start((w) => wsUrls.map((_, k) => wsUrls[(w + k) % REPLICAS]!).join(','), false)
  const connect = await withProgress('coordinator: connecting', workers, workers.all<{ ready: number; ms: number; errors: number }>({ cmd: 'connect', deadlineMs: CONNECT_DEADLINE_MS }))
  const connected = connect.reduce((n, c) => n + c.ready, 0)
  const connectMs = Math.max(...connect.map((c) => c.ms))
  const loadedRss = rssOf()
  const cpuOf = () => ({ coordinator: coords.reduce((n, c) => n + cpuSeconds(c.child.pid!), 0), workers: workers.procs.reduce((n, p) => n + cpuSeconds(p.pid!), 0), at: performance.now() })
  /** Every replica's internals: the worst loop delay of any, GC seconds of all. */
  const internals = async () => {
    const each = await Promise.all(httpUrls.map(coordinatorInternals))
    const ackBuckets = new Map<number, number>()
    for (const i of each) for (const [b, n] of i.ackBuckets) ackBuckets.set(b, (ackBuckets.get(b) ?? 0) + n)
    return { loopP99Ms: Math.max(...each.map((i) => i.loopP99Ms)), loopMaxMs: Math.max(...each.map((i) => i.loopMaxMs)), gcSeconds: each.reduce((n, i) => n + i.gcSeconds, 0), ackBuckets }
  }
  let before = { loopP99Ms: NaN, loopMaxMs: NaN, gcSeconds: NaN, ackBuckets: new Map<number, number>() }
  let cpuBefore = cpuOf()
  const { warmup, steady: load } = await measureReports(workers, INTERVAL_MS, 'coordinator: reports', async () => {
    before = await internals()
    cpuBefore = cpuOf()
  })
  const cpuAfter = cpuOf()
  const phaseS = (cpuAfter.at - cpuBefore.at) / 1000
  const cpuShare = (k: 'coordinator' | 'workers') => `${Math.round((100 * (cpuAfter[k] - cpuBefore[k])) / phaseS)} %`
  const during = await internals()
  const afterRss = rssOf()

  if (values.profile) {
    // SIGTERM with every agent online, as below: the profile ends with the graceful stop.
    dashboard?.stop()
    await stopCoordinators()
    await workers.stop()
    console.log(`reports acknowledged per second ${load.rate.toFixed(0)}, p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms; CPU profile in ${values.profile}`)
    process.exit(0)
  }

  // --- kill -9: one coordinator restarted on its port, or one of several replicas gone for good
  await workers.all({ cmd: 'reconnect-watch' }, false)
  const killed = coords[0]!
  killed.child.kill('SIGKILL')
  await new Promise((r) => killed.child.once('exit', r))
  const restartAt = performance.now()
  let listeningMs = NaN
  if (REPLICAS === 1) {
    coords[0] = await startServer('node', coordArgs.map((a) => (a === '0' ? port : a)), listening)
    listeningMs = performance.now() - restartAt
  } else coords.shift()
  /** Replicas: when a survivor took the singleton duties the killed replica held. */
  let dutiesMs = NaN
  const dutiesMoved = async () => {
    for (const c of coords) if ((await scrapeMetric(String(c.line.url), 'vipnode_singleton_duties').catch(() => 0)) === 1) return true
    return false
  }
  let back = 0
  let paced = 0
  let printedAt = performance.now()
  while (performance.now() - restartAt < RECOVER_MS) {
    ;({ ready: back, paced } = await workers.progress())
    if (REPLICAS > 1 && Number.isNaN(dutiesMs) && (await dutiesMoved())) dutiesMs = performance.now() - restartAt
    if (back >= connected && (REPLICAS === 1 || !Number.isNaN(dutiesMs))) break
    if (performance.now() - printedAt >= 3_000) {
      printedAt = performance.now()
      console.error(`… kill -9 recovery: ${((printedAt - restartAt) / 1000).toFixed(0)} s, ${back}/${connected} agents back`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  const restartMs = performance.now() - restartAt
  // A graceful stop (systemd's SIGTERM) with every agent online: each socket closed, each session closed in the store.
  dashboard?.stop()
  const stopAt = performance.now()
  await stopCoordinators()
  const stopMs = performance.now() - stopAt
  await workers.stop()

  const row = (name: string, value: string, ceiling: string, ratio: string) => console.log(`| ${name.padEnd(38)} | ${value.padStart(14)} | ${ceiling.padStart(14)} | ${ratio.padStart(7)} |`)
  const pct = (a: number, b: number) => `${Math.round((100 * a) / b)} %`
  console.log('')
  row('figure', 'coordinator', 'raw ceiling', 'ratio')
  console.log(`|${'-'.repeat(40)}|${'-'.repeat(16)}|${'-'.repeat(16)}|${'-'.repeat(9)}|`)
  row('agents connected (authenticated)', `${connected}`, `${rawConnect.reduce((n, c) => n + c.ready, 0)}`, '')
  const times = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(1)} ×` : '')
  const rawConnectMs = Math.max(...rawConnect.map((c) => c.ms))
  row('connect time for all (s)', (connectMs / 1000).toFixed(1), (rawConnectMs / 1000).toFixed(1), times(connectMs, rawConnectMs))
  row('reports acknowledged per second', load.rate.toFixed(0), rawLoad.rate.toFixed(0), pct(load.rate, rawLoad.rate))
  row('ack latency p50 (ms)', load.p50.toFixed(1), rawLoad.p50.toFixed(1), times(load.p50, rawLoad.p50))
  row('ack latency p99 (ms)', load.p99.toFixed(1), rawLoad.p99.toFixed(1), times(load.p99, rawLoad.p99))
  row('warm-up (first reports) p50 / p99 (ms)', `${warmup.p50.toFixed(1)} / ${warmup.p99.toFixed(1)}`, `${rawWarmup.p50.toFixed(1)} / ${rawWarmup.p99.toFixed(1)}`, '')
  row('report errors', `${load.errors}`, `${rawLoad.errors}`, '')
  // Inside the coordinator (vipnode_report_ack_seconds): what of the latency above is the coordinator's own work.
  row('in the coordinator: p50 / p99 (ms)', `${ackQuantileMs(before.ackBuckets, during.ackBuckets, 0.5)} / ${ackQuantileMs(before.ackBuckets, during.ackBuckets, 0.99)}`, '', '')
  row('coordinator event-loop delay p99 / max (ms)', `${during.loopP99Ms.toFixed(0)} / ${during.loopMaxMs.toFixed(0)}`, '', '')
  row('CPU in the phase: coordinator / workers', `${cpuShare('coordinator')} / ${cpuShare('workers')}`, `${os.cpus().length * 100} %`, '')
  row('coordinator GC share of the phase', `${((100 * (during.gcSeconds - before.gcSeconds)) / SECONDS).toFixed(0)} %`, '', '')
  row('reports stored per second (raw: one tx each)', load.rate.toFixed(0), (pgRate?.single ?? sqliteRate).toFixed(0), pct(load.rate, pgRate?.single ?? sqliteRate))
  if (pgRate) row('reports stored per second (raw: 64 per tx)', load.rate.toFixed(0), pgRate.batched.toFixed(0), pct(load.rate, pgRate.batched))
  if (pgRate) row('(SQLite raw inserts, one tx each, same run)', '', sqliteRate.toFixed(0), '')
  row(REPLICAS === 1 ? 'coordinator RSS idle / loaded (MB)' : `RSS of ${REPLICAS} replicas idle / loaded (MB)`, `${idleRss.toFixed(0)} / ${afterRss.toFixed(0)}`, '', '')
  row('memory per connected agent (KB)', (((loadedRss - idleRss) * 1024) / Math.max(1, connected)).toFixed(1), '', '')
  if (REPLICAS === 1) row('kill -9 -> listening again (s)', (listeningMs / 1000).toFixed(1), '', '')
  else row('kill -9 of one replica -> duties moved (s)', (dutiesMs / 1000).toFixed(1), '', '')
  row('logins paced (503 with a slot), all phases', `${paced}`, '', '')
  row(REPLICAS === 1 ? 'kill -9 -> all agents back (s)' : 'kill -9 -> all back on survivors (s)', `${(restartMs / 1000).toFixed(1)} (${back}/${connected})`, '', '')
  if (dashboard) row('dashboard snapshots streamed (MB)', `${dashboard.seen.snapshots} (${(dashboard.seen.bytes / 1e6).toFixed(1)})`, '', '')
  row(`SIGTERM with ${back} agents online -> exit (s)`, (stopMs / 1000).toFixed(1), '', '')
  console.log(`\ntargets: ${AGENTS} sockets held, >= 5000 reports/s with p99 < 50 ms (steady state) and event-loop delay max < 100 ms; all agents back within 60 s of a kill -9`)
  process.exit(0)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
