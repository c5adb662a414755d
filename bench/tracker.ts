/**
 * Tracker ingestion benchmark, loopback only, bounded in time and count.
 *
 *   npx tsx bench/tracker.ts [--clients 1000] [--seconds 10] [--txs 100]
 *
 * This process runs the tracker (behind an http.Server, routed as the
 * coordinator routes it) and, for the ceiling, a raw `ws` server. A separate
 * load-generator process (forked with the same tsx loader) opens `--clients`
 * reporters, logs each in, then runs them closed-loop for `--seconds`: each
 * reporter sends block + pending + stats + node-ping (geth's frame shapes) and
 * waits for the node-pong before its next batch. So every batch is three
 * reports acknowledged end to end, and a round-trip time is measured.
 *
 * The ceiling replays the very same frames (same client count, same sizes)
 * against a `ws` server that parses nothing and answers every fourth frame of
 * a socket with that frame: framing, sockets and event loop, no tracker.
 * The ceiling is measured before and after the tracker (the machine may be
 * shared), and the tracker's figure is reported as a fraction of the better one.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { WebSocket, WebSocketServer, type RawData } from 'ws'
import { Registry } from 'prom-client'
import { createLogger } from '../lib/logger.ts'
import { systemClock } from '../lib/clock.ts'
import { createTracker, isTrackerPath, type Tracker } from '../coordinator/tracker/index.ts'
import { intArgs } from './args.ts'

interface Args {
  clients: number
  seconds: number
  txs: number
}

function parseArgs(argv: string[]): Args {
  return intArgs(argv, { clients: { fallback: 1000, max: 20_000 }, seconds: { fallback: 10, max: 120 }, txs: { fallback: 100, max: 2_000 } })
}

const SECRET = 'bench-secret'
const FRAMES_PER_BATCH = 4
const REPORTS_PER_BATCH = 3

// ---------------------------------------------------------------------------
// Messages between the two processes

type ToLoad = { type: 'go' }
type FromLoad =
  | { type: 'connected'; clients: number; connectMs: number; failed: number }
  | { type: 'done'; batches: number; windowMs: number; rttP50: number; rttP99: number; rttMax: number; errors: number; cpuMs: number }
  | { type: 'error'; message: string }

// ---------------------------------------------------------------------------
// Load generator (child process)

function hex64(n: number): string {
  return '0x' + n.toString(16).padStart(64, '0')
}

/** geth's frames for one reporter; only the block number changes between batches. */
function reporterFrames(id: string, txs: number) {
  const transactions = Array.from({ length: txs }, (_, i) => ({ hash: hex64(i + 1) }))
  const block = (n: number) =>
    JSON.stringify({
      emit: [
        'block',
        {
          id,
          block: {
            number: n,
            hash: hex64(n),
            parentHash: hex64(n - 1),
            timestamp: 1700000000 + n * 12,
            miner: '0x' + '0'.repeat(40),
            gasUsed: 15_000_000,
            gasLimit: 30_000_000,
            difficulty: '0',
            totalDifficulty: '58750003716598352816469',
            transactions,
            transactionsRoot: hex64(7),
            stateRoot: hex64(8),
            uncles: [],
          },
        },
      ],
    }) + '\n'
  // Split once around the number, so each batch costs a concatenation, not a JSON.stringify.
  const marker = 987654321
  const parts = block(marker).split(`"number":${marker},`)
  if (parts.length !== 2) throw new Error('block template: number marker not unique')
  const [before, after] = parts as [string, string]
  return {
    hello: JSON.stringify({
      emit: ['hello', { id, info: { name: id, node: 'Geth/v1.14.8-stable/linux-amd64/go1.22.6', port: 30303, net: '1', protocol: 'eth/68', api: 'No', os: 'linux', os_v: 'amd64', client: '0.1.1', canUpdateHistory: true }, secret: SECRET }],
    }),
    block: (n: number) => `${before}"number":${n},${after}`,
    pending: JSON.stringify({ emit: ['pending', { id, stats: { pending: 42 } }] }) + '\n',
    stats: JSON.stringify({ emit: ['stats', { id, stats: { active: true, syncing: false, mining: false, hashrate: 0, peers: 25, gasPrice: 1_000_000_007, uptime: 100 } }] }) + '\n',
    // Same length every time (13-digit ms), so tracker and ceiling see identical sizes.
    ping: (ms: number) => JSON.stringify({ emit: ['node-ping', { id, clientTime: String(ms) }] }) + '\n',
  }
}

async function runLoad(url: string, mode: 'tracker' | 'echo', args: Args): Promise<void> {
  const send = (m: FromLoad) => process.send?.(m)
  const t0 = Date.now()
  let failed = 0
  let errors = 0
  let running = false
  let batches = 0
  const rtts: number[] = []

  interface Client {
    ws: WebSocket
    frames: ReturnType<typeof reporterFrames>
    n: number
    sentAt: number
  }

  const open = (i: number) =>
    new Promise<Client | undefined>((resolve) => {
      const id = `bench-${String(i).padStart(5, '0')}`
      const ws = new WebSocket(url, { perMessageDeflate: false })
      const client: Client = { ws, frames: reporterFrames(id, args.txs), n: 1_000_000, sentAt: 0 }
      const timer = setTimeout(() => {
        ws.terminate()
        resolve(undefined)
      }, 20_000)
      ws.once('error', () => {
        clearTimeout(timer)
        resolve(undefined)
      })
      ws.once('open', () => {
        if (mode === 'echo') {
          clearTimeout(timer)
          return resolve(client)
        }
        ws.send(client.frames.hello)
        ws.once('message', (data: RawData) => {
          clearTimeout(timer)
          resolve(String(data) === '{"emit":["ready"]}' ? client : undefined)
        })
      })
    })

  // Connect in waves so the accept queue is not the thing being measured.
  const clients: Client[] = []
  for (let i = 0; i < args.clients; i += 100) {
    const wave = await Promise.all(Array.from({ length: Math.min(100, args.clients - i) }, (_, k) => open(i + k)))
    for (const c of wave) {
      if (c) clients.push(c)
      else failed++
    }
  }
  send({ type: 'connected', clients: clients.length, connectMs: Date.now() - t0, failed })

  const batch = (c: Client) => {
    c.n++
    c.sentAt = performance.now()
    c.ws.send(c.frames.block(c.n))
    c.ws.send(c.frames.pending)
    c.ws.send(c.frames.stats)
    c.ws.send(c.frames.ping(Date.now()))
  }
  for (const c of clients) {
    c.ws.on('message', (data: RawData) => {
      const text = String(data)
      // The ack is node-pong (tracker) or the echoed node-ping (ceiling); heartbeats are answered like geth does.
      if (text.startsWith('"primus::ping::')) return c.ws.send(text.replace('ping', 'pong'))
      if (!text.includes('node-p')) return
      if (c.sentAt === 0) return
      rtts.push(performance.now() - c.sentAt)
      batches++
      c.sentAt = 0
      if (running) batch(c)
    })
    c.ws.on('error', () => errors++)
    c.ws.on('close', () => {
      if (running) errors++
    })
  }

  await new Promise<void>((resolve) => process.once('message', (m: ToLoad) => m.type === 'go' && resolve()))
  running = true
  const start = performance.now()
  const cpuRun = process.cpuUsage()
  for (const c of clients) batch(c)
  await new Promise((r) => setTimeout(r, args.seconds * 1000))
  running = false
  const windowMs = performance.now() - start
  const counted = batches
  const cpu = process.cpuUsage(cpuRun)
  // Let in-flight batches land (bounded) so the server-side count settles before the parent reads it.
  const drainUntil = Date.now() + 3_000
  while (clients.some((c) => c.sentAt !== 0) && Date.now() < drainUntil) await new Promise((r) => setTimeout(r, 10))
  rtts.sort((a, b) => a - b)
  const pct = (p: number) => rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * p))] ?? Number.NaN
  send({ type: 'done', batches: counted, windowMs, rttP50: pct(0.5), rttP99: pct(0.99), rttMax: rtts.at(-1) ?? Number.NaN, errors, cpuMs: (cpu.user + cpu.system) / 1000 })
  for (const c of clients) c.ws.terminate()
}

// ---------------------------------------------------------------------------
// Servers (parent process)

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

async function startTrackerServer(): Promise<{ tracker: Tracker; url: string; close(): Promise<void> }> {
  const tracker = createTracker(
    {
      secret: SECRET,
      // The per-socket limit protects against floods; the bench measures throughput, so it is lifted here.
      rateLimitPerSecond: 1_000_000,
      rateLimitBurst: 1_000_000,
      floodDropsPerSecond: Number.MAX_SAFE_INTEGER,
      maxSockets: 50_000,
      // Every reporter connects from 127.0.0.1.
      maxPending: 50_000,
      maxPendingPerAddress: 50_000,
      maxLoggedInPerAddress: 50_000,
    },
    { log: createLogger({ level: 'warn' }), clock: systemClock, metrics: new Registry() },
  )
  const server = createServer((_req, res) => res.writeHead(404).end())
  server.on('upgrade', (req, socket, head) => (isTrackerPath(req.url ?? '') ? tracker.handleUpgrade(req, socket, head) : socket.destroy()))
  const port = await listen(server)
  return {
    tracker,
    url: `ws://127.0.0.1:${port}/api`,
    async close() {
      await tracker.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}

/** The ceiling: same transport settings as the tracker, no parsing, one reply per four frames. */
async function startEchoServer(): Promise<{ url: string; frames: () => number; close(): Promise<void> }> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024, perMessageDeflate: false, clientTracking: true })
  let frames = 0
  wss.on('connection', (ws) => {
    let n = 0
    ws.on('message', (data: RawData) => {
      frames++
      if (++n % FRAMES_PER_BATCH === 0) ws.send(data as Buffer, { binary: false })
    })
  })
  const server = createServer((_req, res) => res.writeHead(404).end())
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)))
  const port = await listen(server)
  return {
    url: `ws://127.0.0.1:${port}/api`,
    frames: () => frames,
    async close() {
      for (const ws of wss.clients) ws.terminate()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}

interface RunResult {
  connected: Extract<FromLoad, { type: 'connected' }>
  done: Extract<FromLoad, { type: 'done' }>
  serverCpuMs: number
  serverReports: number
}

async function runAgainst(url: string, mode: 'tracker' | 'echo', args: Args, serverReports: () => number): Promise<RunResult> {
  const self = fileURLToPath(import.meta.url)
  // fork() reuses this process's execArgv, i.e. tsx's loader, so the child runs this same TypeScript file.
  const child: ChildProcess = fork(self, ['--load', url, mode, JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), (args.seconds + 120) * 1000)
  const next = <T extends FromLoad['type']>(type: T) =>
    new Promise<Extract<FromLoad, { type: T }>>((resolve, reject) => {
      const onMessage = (m: FromLoad) => {
        if (m.type === 'error') return reject(new Error(m.message))
        if (m.type === type) {
          child.off('message', onMessage)
          resolve(m as Extract<FromLoad, { type: T }>)
        }
      }
      child.on('message', onMessage)
      child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)))
    })
  try {
    const connected = await next('connected')
    const reportsBefore = serverReports()
    const cpuBefore = process.cpuUsage()
    const doneP = next('done')
    child.send({ type: 'go' } satisfies ToLoad)
    const done = await doneP
    const cpu = process.cpuUsage(cpuBefore)
    return { connected, done, serverCpuMs: (cpu.user + cpu.system) / 1000, serverReports: serverReports() - reportsBefore }
  } finally {
    clearTimeout(killer)
    child.kill()
  }
}

async function runTracker(args: Args): Promise<RunResult> {
  const t = await startTrackerServer()
  const c = t.tracker.counters
  try {
    const result = await runAgainst(t.url, 'tracker', args, () => {
      const r = c().reports
      return r.block + r.pending + r.stats
    })
    const dropped = Object.values(c().dropped).reduce((a, b) => a + b, 0)
    if (dropped > 0) console.log(`warning: the tracker dropped ${dropped} frames`, c().dropped)
    console.log(`tracker: ${t.tracker.nodes().filter((n) => n.connected).length} nodes logged in, best head ${t.tracker.bestHead()?.number}`)
    return result
  } finally {
    await t.close()
  }
}

async function runCeiling(args: Args): Promise<RunResult> {
  const e = await startEchoServer()
  try {
    return await runAgainst(e.url, 'echo', args, () => Math.floor((e.frames() / FRAMES_PER_BATCH) * REPORTS_PER_BATCH))
  } finally {
    await e.close()
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const sample = reporterFrames('bench-00000', args.txs)
  const sizes = [sample.block(1_000_001).length, sample.pending.length, sample.stats.length, sample.ping(Date.now()).length]
  console.log(`tracker bench: ${args.clients} reporters, ${args.seconds} s closed loop, batch = block (${args.txs} txs) + pending + stats + node-ping`)
  console.log(
    `frame bytes: block ${sizes[0]}, pending ${sizes[1]}, stats ${sizes[2]}, node-ping ${sizes[3]}; node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  )

  // Ceiling, tracker, ceiling: on a shared machine a single ordering is at the mercy of whatever else runs;
  // the better of the two ceilings is the reference (it is an upper bound after all).
  const echo1 = await runCeiling(args)
  const tracker = await runTracker(args)
  const echo2 = await runCeiling(args)
  const echo = echo1.done.batches / echo1.done.windowMs >= echo2.done.batches / echo2.done.windowMs ? echo1 : echo2

  const row = (name: string, r: RunResult) => {
    const seconds = r.done.windowMs / 1000
    const reportsPerSec = (r.done.batches * REPORTS_PER_BATCH) / seconds
    // Server CPU time per report holds steady when other work on the machine moves the throughput figures.
    const cpuUsPerReport = (r.serverCpuMs * 1000) / Math.max(1, r.done.batches * REPORTS_PER_BATCH)
    return {
      name,
      reportsPerSec,
      cpuUsPerReport,
      line:
        `${name.padEnd(16)} ${r.connected.clients} clients (${r.connected.failed} failed, connect ${(r.connected.connectMs / 1000).toFixed(1)} s) | ` +
        `${Math.round(reportsPerSec).toLocaleString('en-US')} reports/s acked (${Math.round((r.done.batches * FRAMES_PER_BATCH) / seconds).toLocaleString('en-US')} frames/s in), ` +
        `server counted ${Math.round(r.serverReports / seconds).toLocaleString('en-US')} reports/s | ` +
        `batch RTT p50 ${r.done.rttP50.toFixed(1)} ms, p99 ${r.done.rttP99.toFixed(1)} ms, max ${r.done.rttMax.toFixed(0)} ms | ` +
        `CPU server ${Math.round((r.serverCpuMs / r.done.windowMs) * 100)}% (${cpuUsPerReport.toFixed(1)} µs/report), load generator ${Math.round((r.done.cpuMs / r.done.windowMs) * 100)}% | errors ${r.done.errors}`,
    }
  }
  const a = row('tracker', tracker)
  console.log(row('raw ws ceiling', echo1).line)
  console.log(a.line)
  console.log(row('raw ws ceiling', echo2).line)
  const best = row('', echo)
  console.log(`tracker / best ceiling: ${((a.reportsPerSec / best.reportsPerSec) * 100).toFixed(1)}% of reports/s; ${((best.cpuUsPerReport / a.cpuUsPerReport) * 100).toFixed(1)}% by server CPU per report`)
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (figures from a busy machine swing; the CPU-per-report ratio is the steadier one)`)
}

if (process.argv[2] === '--load') {
  const [, , , url, mode, json] = process.argv
  runLoad(url!, mode as 'tracker' | 'echo', JSON.parse(json!) as Args).then(
    () => process.exit(0),
    (err: unknown) => {
      process.send?.({ type: 'error', message: String(err) } satisfies FromLoad)
      process.exit(1)
    },
  )
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err)
      process.exit(1)
    },
  )
}
