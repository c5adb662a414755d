/**
 * One load-generator process: opens `count` agent WebSockets to a target,
 * authenticates each with its own node key (unless the target is the raw
 * echo ceiling), then sends a 30-peer vipnode_update (peers as node IDs, as our agents send them) per agent at the
 * requested interval and reports acknowledgement latencies to its parent.
 * Controlled over IPC: {cmd:'connect'|'report'|'stop', …}.
 */
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import { SigningKey, keccak256, toUtf8Bytes } from 'ethers'
import { signEnvelope, formatEnode, parseNodeKey, nodeIdOf, normaliseOrigin, PROTOCOL_VERSION, LOGIN_SLOT_HEADER, RETRY_AFTER_MS_HEADER, type NodeKey } from '../protocol/index.ts'

interface Agent {
  ws: WebSocket
  ready: boolean
  nextId: number
  pending: Map<number, number>
  key: NodeKey
  nodeId: string
  /** A report naming the peers was accepted in this session. */
  peersAccepted: boolean
  /** Which of `urls` this agent dials. */
  urlIndex: number
}

/** One coordinator, or several replicas of one pool (comma-separated): an agent starts on the first and, when its
 * connection is lost, comes back on the next (as agent/poolConnection.ts moves between replicas). */
const urls = process.env.LOAD_URL!.split(',')
const count = Number(process.env.LOAD_COUNT)
const offset = Number(process.env.LOAD_OFFSET)
const raw = process.env.LOAD_RAW === '1'
const agents: Agent[] = []
const OPEN_TIMEOUT_MS = 30_000
/** LOAD_SAME_PEERS=0: every report names its 30 peers (the protocol before samePeers). */
const SAME_PEERS = process.env.LOAD_SAME_PEERS !== '0'
let latencies: number[] = []
let acked = 0
let errors = 0
let reconnectsDone = 0
/** Upgrades the coordinator answered with a login slot (paced). */
let pacedCount = 0

/** Deterministic keys: the same bench run always uses the same node IDs. */
function keyFor(i: number): NodeKey {
  return parseNodeKey(keccak256(toUtf8Bytes(`vipnode-bench-${i}`)).slice(2))
}

// 30 peers, reported as our agents report them: node IDs (protocol/methods.ts, updateParams.peerIds).
const PEER_IDS = Array.from({ length: 30 }, (_, i) => SigningKey.computePublicKey(keccak256(toUtf8Bytes(`peer-${i}`)), false).slice(4))
const BLOCK = { number: 21_000_000, hash: `0x${'ab'.repeat(32)}` }

function open(i: number, agent?: Agent, slotToken?: string): Promise<Agent> {
  return new Promise((resolve) => {
    const key = agent?.key ?? keyFor(offset + i)
    const nodeId = agent?.nodeId ?? nodeIdOf(key)
    const url = urls[(agent?.urlIndex ?? 0) % urls.length]!
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(slotToken ? { headers: { [LOGIN_SLOT_HEADER]: slotToken } } : {}) })
    // Paced by the coordinator (HTTP 503 with a booked slot): come back at the slot with its token, as our agents do.
    let paced: { atMs: number; token: string } | undefined
    ws.on('unexpected-response', (_req, res) => {
      const token = res.headers[LOGIN_SLOT_HEADER]
      if (typeof token === 'string') paced = { atMs: performance.now() + Number(res.headers[RETRY_AFTER_MS_HEADER] ?? 0), token }
      res.resume()
      ws.terminate()
    })
    const a: Agent = agent ?? { ws, ready: false, nextId: 1, pending: new Map(), key, nodeId, peersAccepted: false, urlIndex: 0 }
    a.ws = ws
    a.ready = false
    a.peersAccepted = false
    // A connect that gets no answer at all (an overloaded or hung target) gives up, so the run always finishes.
    const giveUp = setTimeout(() => ws.terminate(), OPEN_TIMEOUT_MS)
    ws.once('close', () => clearTimeout(giveUp))
    // The echo ceiling sends no challenge: sign a made-up one, so the ceiling pays the generator's own signing cost too.
    ws.on('open', () => {
      if (raw) sendConnect({ challenge: randomBytes(32).toString('hex'), poolId: 'echo' })
    })
    const sendConnect = (challenge: { challenge: string; poolId: string }) => {
      const body = {
        protocolVersion: PROTOCOL_VERSION,
        role: 'host' as const,
        nodeId,
        enode: formatEnode({ nodeId: nodeId as never, host: '127.0.0.1', tcpPort: 30303, udpPort: 30303 }),
        chainId: 1,
        clientVersion: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4',
        agentVersion: 'bench',
        kind: 'peer' as const,
        capacity: 1,
        origin: normaliseOrigin(url),
      }
      const signature = signEnvelope(key, { method: 'vipnode_connect', poolId: challenge.poolId, chainId: 1, challenge: challenge.challenge, body })
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'vipnode_connect', params: { ...body, challenge: challenge.challenge, signature } }))
    }
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { id?: number; method?: string; params?: { challenge: string; poolId: string }; error?: unknown }
      if (msg.method === 'vipnode_challenge' && msg.params) {
        sendConnect(msg.params)
        return
      }
      if (msg.id === 0) {
        clearTimeout(giveUp)
        if (msg.error) errors++
        a.ready = !msg.error
        resolve(a)
        // Refused (say, rate limited in a reconnect storm): hang up, and come back like a real agent does.
        if (msg.error) ws.close()
        // Logged in: report at once, as our agents do after every (re)connect (host-agent/hostAgent.ts), so a
        // pool's first reports arrive as its agents log in. (Not the echo ceiling: it has no login to follow.)
        else if (!raw) send(a)
        return
      }
      if (typeof msg.id === 'number') {
        const sent = a.pending.get(msg.id)
        if (sent !== undefined) {
          a.pending.delete(msg.id)
          if (msg.error) errors++
          else {
            // As our agents do (agent/peerReport.ts): once a report naming the peers is accepted, unchanged peers are samePeers.
            a.peersAccepted = true
            acked++
            latencies.push(performance.now() - sent)
          }
        }
      }
    })
    ws.on('error', () => undefined)
    ws.on('close', () => {
      a.ready = false
      if (paced && !stopping) {
        pacedCount++
        const slot = paced
        setTimeout(() => void open(i, a, slot.token).then(resolve), Math.max(0, slot.atMs - performance.now()))
        return
      }
      // A connection that never made it (refused, reset in a connect storm) settles as not ready.
      resolve(a)
      if (!stopping && reconnecting) {
        // Come back like a real agent: after a jittered delay, on the next replica when there are several.
        a.urlIndex++
        setTimeout(() => void open(i, a).then(() => reconnectsDone++), 200 + Math.random() * 1_000)
      }
    })
  })
}

let stopping = false
let reconnecting = false
let reportTimer: NodeJS.Timeout | undefined

function send(a: Agent): void {
  if (!a.ready || a.ws.readyState !== WebSocket.OPEN) return
  const id = a.nextId++
  a.pending.set(id, performance.now())
  a.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'vipnode_update', params: { ...(a.peersAccepted && SAME_PEERS ? { samePeers: true } : { peerIds: PEER_IDS }), block: BLOCK } }))
}

process.on('message', async (m: { cmd: string; intervalMs?: number; tickMs?: number; batch?: number; deadlineMs?: number }) => {
  if (m.cmd === 'connect') {
    const started = performance.now()
    const batch = m.batch ?? 50
    // A bounded phase: past the deadline no more agents are opened, and the parent gets what is ready.
    const deadline = started + (m.deadlineMs ?? Infinity)
    for (let i = 0; i < count && performance.now() < deadline; i += batch) {
      const opened = await Promise.all(Array.from({ length: Math.min(batch, count - i) }, (_, j) => open(i + j)))
      agents.push(...opened)
    }
    process.send!({ ev: 'connected', ready: agents.filter((a) => a.ready).length, ms: performance.now() - started, errors })
  } else if (m.cmd === 'report') {
    latencies = []
    acked = 0
    errors = 0
    const interval = m.intervalMs!
    const tick = m.tickMs ?? 5
    // Spread the agents evenly over the interval, `tick` ms at a time: real agents report on their own timers,
    // started when each connected, so reports arrive spread out, not in bursts. (A 50 ms tick, the old shape,
    // sends 250 reports within a millisecond at 5,000/s; `--tick 50ms` reproduces it.)
    // What is due follows the clock, not the number of ticks: timers fire late under load, and the offered rate must not sag with them.
    let due = 0
    let cursor = 0
    let last = performance.now()
    clearInterval(reportTimer)
    reportTimer = setInterval(() => {
      const now = performance.now()
      due += (agents.length * (now - last)) / interval
      last = now
      for (; due >= 1; due--) send(agents[cursor++ % agents.length]!)
    }, tick)
  } else if (m.cmd === 'reset') {
    // End of the warm-up: hand over what it measured and start counting afresh.
    process.send!({ ev: 'warmup', acked, errors, latencies })
    latencies = []
    acked = 0
    errors = 0
  } else if (m.cmd === 'pause') {
    clearInterval(reportTimer)
    process.send!({ ev: 'stats', acked, errors, latencies })
  } else if (m.cmd === 'reconnect-watch') {
    reconnecting = true
    reconnectsDone = 0
  } else if (m.cmd === 'ready-count') {
    process.send!({ ev: 'ready-count', ready: agents.filter((a) => a.ready).length, acked, reconnects: reconnectsDone, paced: pacedCount })
  } else if (m.cmd === 'stop') {
    stopping = true
    clearInterval(reportTimer)
    for (const a of agents) a.ws.terminate()
    process.send!({ ev: 'stopped' })
    setTimeout(() => process.exit(0), 100)
  }
})
process.send!({ ev: 'up' })
