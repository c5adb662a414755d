/**
 * Relay throughput (issue 21 item 5): a light-client-shaped mix of JSON-RPC
 * calls through the pool path (client shim -> host relay -> stand-in node),
 * against the same stand-in node called directly in the same run (the
 * ceiling).
 *
 *   npm run bench:relay -- [--seconds 10] [--concurrency 16] [--no-node-ws] [--profile DIR]
 *
 * Real processes, as in production: the coordinator, a stand-in node
 * (test/fakenode/main.ts), `vipnode host --service rpc` with its relay, and
 * `vipnode client --service rpc` (the shim); this process is the light
 * client, `--concurrency` calls in flight on keep-alive HTTP connections.
 * The relay's per-client compute-unit limit is lifted (`--relay-cu-rate`) so
 * the figure is the path's speed, not the pool's price of it. Target on a
 * 2-core machine: >= 2,400 calls/s through the pool path and <= 2 ms added
 * p50 latency. Prints progress on stderr and a table on stdout.
 */
import { Agent, request } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, cpus } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { intArgs } from './args.ts'
import { generateNodeKey } from '../protocol/index.ts'
import { DEFAULT_COST_TABLE } from '../protocol/costTable.ts'
import { spawnTs, spawnVipnode, type Proc } from '../test/harness/processes.ts'

const args = intArgs(process.argv.slice(2), { seconds: { fallback: 10, max: 600 }, concurrency: { fallback: 16, max: 1_024 } })
/** `--profile DIR`: V8 CPU profiles of the host agent and the shim (written when they stop, SIGTERM). */
const profileDir = process.argv.includes('--profile') ? process.argv[process.argv.indexOf('--profile') + 1] : undefined
const profileArgs = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []
/** `--no-node-ws`: the host's relay without its node's WebSocket (every call to the node over HTTP), for an A/B of the node hop. */
const nodeWs = !process.argv.includes('--no-node-ws')
const CHAIN_ID = 1337
const ZERO = `0x${'0'.repeat(40)}`
const FAKE_NODE = fileURLToPath(new URL('../test/fakenode/main.ts', import.meta.url))

/** What a light client (Helios-like) asks, by weight: proofs and blocks dominate, with calls and the odd log query. */
const MIX: { weight: number; method: string; params: unknown[] }[] = [
  { weight: 30, method: 'eth_getProof', params: [ZERO, [], 'latest'] },
  { weight: 20, method: 'eth_getBlockByNumber', params: ['latest', false] },
  { weight: 15, method: 'eth_call', params: [{ to: ZERO, data: '0x' }, 'latest'] },
  { weight: 15, method: 'eth_blockNumber', params: [] },
  { weight: 10, method: 'eth_getCode', params: [ZERO, 'latest'] },
  { weight: 5, method: 'eth_chainId', params: [] },
  { weight: 5, method: 'eth_getLogs', params: [{ fromBlock: 'latest', toBlock: 'latest' }] },
]
const TOTAL_WEIGHT = MIX.reduce((n, m) => n + m.weight, 0)
const bodies = MIX.flatMap((m) => Array.from({ length: m.weight }, () => m))

interface Figures {
  calls: number
  errors: number
  perSecond: number
  p50: number
  p99: number
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : NaN
}

/** `--concurrency` loops, each posting the next call of the mix as soon as the last one answered, for `seconds`. */
async function drive(url: string, what: string, seconds: number): Promise<Figures> {
  const u = new URL(url)
  const agent = new Agent({ keepAlive: true, maxSockets: args.concurrency })
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  let next = 0
  const until = performance.now() + seconds * 1000
  const progress = setInterval(() => console.error(`… ${what}: ${latencies.length} calls`), 2_000)
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const m = bodies[next++ % bodies.length]!
      const body = JSON.stringify({ jsonrpc: '2.0', id: next, method: m.method, params: m.params })
      const started = performance.now()
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          const reply = JSON.parse(text) as { error?: unknown }
          if (res.statusCode !== 200 || reply.error !== undefined) {
            errors++
            firstError ??= `HTTP ${res.statusCode}: ${text.slice(0, 300)}`
          }
          else latencies.push(performance.now() - started)
          resolve()
        })
      })
      req.on('error', () => {
        errors++
        resolve()
      })
      req.end(body)
    })
  const began = performance.now()
  await Promise.all(
    Array.from({ length: args.concurrency }, async () => {
      while (performance.now() < until) await one()
    }),
  )
  const elapsedS = (performance.now() - began) / 1000
  clearInterval(progress)
  agent.destroy()
  if (firstError) console.error(`${what}: ${errors} errors, the first: ${firstError}`)
  latencies.sort((a, b) => a - b)
  return { calls: latencies.length, errors, perSecond: latencies.length / elapsedS, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'vipnode-relay-bench-'))
  const procs: Proc[] = []
  const track = (p: Proc) => (procs.push(p), p)
  try {
    console.error('starting: coordinator, stand-in node, host agent with relay, client shim')
    const coordinator = track(spawnVipnode(['coordinator', '--allow-private-addresses', '--port', '0', '--db', join(dir, 'pool.db'), '--pool-id', 'bench-relay', '--chain-id', String(CHAIN_ID), '--update-interval', '2s', '--log-level', 'info']))
    const key = generateNodeKey()
    const keyFile = join(dir, 'node.key')
    writeFileSync(keyFile, key)
    const node = track(spawnTs(FAKE_NODE, ['--kind', 'geth', '--chain-id', String(CHAIN_ID), '--nodekey-file', keyFile, '--head', '100']))
    const nodeUp = await node.waitForLog((l) => typeof l.controlUrl === 'string', 'stand-in node started', 30_000)
    const coordinatorUrl = (await coordinator.waitForLog((l) => l.msg === 'coordinator listening', 'coordinator listening', 30_000)).url as string
    const host = track(
      spawnVipnode(
        ['host', '--coordinator', coordinatorUrl, '--service', 'rpc', '--node-rpc', nodeUp.url, '--nodekey', keyFile, '--capacity', '5', '--relay-listen', '127.0.0.1:0', '--relay-node-http', nodeUp.url, ...(nodeWs ? ['--relay-node-ws', nodeUp.wsUrl] : []), '--relay-cu-rate', '100000000', '--log-level', 'info'],
        { VIPNODE_UPDATE_INTERVAL: '2s' },
        undefined,
        profileArgs,
      ),
    )
    await host.waitForLog((l) => l.msg === 'connected to coordinator', 'host connected', 30_000)
    const clientKey = join(dir, 'client.key')
    writeFileSync(clientKey, generateNodeKey())
    const shim = track(
      spawnVipnode(['client', '--service', 'rpc', '--bootstrap', coordinatorUrl, '--nodekey', clientKey, '--chain-id', String(CHAIN_ID), '--listen', '127.0.0.1:0', '--hosts', '1', '--log-level', 'info'], { VIPNODE_UPDATE_INTERVAL: '2s' }, undefined, profileArgs),
    )
    const ready = await shim.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('rpc endpoint ready'), 'shim endpoint ready', 30_000)
    await shim.waitForLog((l) => l.msg === 'relaying through host', 'the shim has its host', 30_000)
    console.error(`up: stand-in node ${nodeUp.url}, shim ${ready.url}`)

    // The pool path first, while the shim's fresh assignment is in use (an idle light client's pair is released
    // after the connect grace and asked for again: docs/security.md), each path warmed for 2 s before it is measured.
    await drive(ready.url, 'warming the pool path', 2)
    const pooled = await drive(ready.url, 'through shim -> relay -> node', args.seconds)
    await drive(nodeUp.url, 'warming the direct path', 2)
    const direct = await drive(nodeUp.url, 'direct to the stand-in node (ceiling)', args.seconds)
    const unitsPerCall = MIX.reduce((n, m) => n + m.weight * (DEFAULT_COST_TABLE.methods[m.method] ?? DEFAULT_COST_TABLE.defaultCost), 0) / TOTAL_WEIGHT

    const row = (name: string, a: string, b: string) => console.log(`| ${name.padEnd(34)} | ${a.padStart(14)} | ${b.padStart(14)} |`)
    console.log(`\n# ${args.concurrency} calls in flight for ${args.seconds} s each, relay to node over ${nodeWs ? 'its WebSocket (single calls) and HTTP' : 'HTTP only (--no-node-ws)'}, light-client mix (${MIX.map((m) => `${m.method} ${Math.round((100 * m.weight) / TOTAL_WEIGHT)} %`).join(', ')}; ${unitsPerCall.toFixed(1)} CU a call on average), ${cpus().length} cores shared by all processes\n`)
    row('figure', 'pool path', 'direct (ceiling)')
    console.log(`|${'-'.repeat(36)}|${'-'.repeat(16)}|${'-'.repeat(16)}|`)
    row('calls answered per second', pooled.perSecond.toFixed(0), direct.perSecond.toFixed(0))
    row('latency p50 (ms)', pooled.p50.toFixed(2), direct.p50.toFixed(2))
    row('latency p99 (ms)', pooled.p99.toFixed(2), direct.p99.toFixed(2))
    row('errors', String(pooled.errors), String(direct.errors))
    row('added p50 latency (ms)', (pooled.p50 - direct.p50).toFixed(2), '')
    row('ratio of calls per second', `${Math.round((100 * pooled.perSecond) / direct.perSecond)} %`, '')
    console.log(`\ntargets: >= 2,400 calls/s through the pool path (${pooled.perSecond >= 2_400 ? 'met' : 'missed'}); <= 2 ms added p50 (${pooled.p50 - direct.p50 <= 2 ? 'met' : 'missed'})`)
    if (profileDir) {
      await Promise.all([shim.stop('SIGTERM'), host.stop('SIGTERM')])
      console.error(`CPU profiles of the host agent and the shim in ${profileDir}`)
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')))
    rmSync(dir, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err)
    process.exit(1)
  },
)
