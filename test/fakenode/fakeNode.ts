/**
 * A stand-in execution client for tests: a real JSON-RPC 2.0 server (HTTP and
 * WebSocket on one loopback port, optionally a unix IPC socket) that answers
 * like geth, reth, Nethermind, Erigon or Besu, and simulates devp2p peering
 * with other fakes in this process or in other processes.
 *
 * Peering goes over plain HTTP on the same port (`/p2p/dial`, `/p2p/disconnect`,
 * `/p2p/ping`), which is why the advertised enode's port is the RPC port.
 * See README.md for the rules it follows.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createNetServer, isIP, type Server as NetServer, type Socket } from 'node:net'
import { rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { keccak256, toUtf8Bytes } from 'ethers'
import { WebSocketServer, type WebSocket } from 'ws'
import { formatEnode, parseEnode, parseNodeId, type Enode, type NodeId } from '../../protocol/enode.ts'
import { generateNodeKey, nodeIdOf, type NodeKey } from '../../protocol/nodeKey.ts'
import type { NodeKind } from '../../ethnode/ethNode.ts'
import { createJsonStream } from '../../ethnode/jsonStream.ts'
import { ChainDataError, createChainData, type FakeLie } from './chainData.ts'
import type { FakeNetwork } from './fakeNetwork.ts'
import { PROFILES, type PeerView } from './profiles.ts'

export interface FakeNodeOptions {
  kind: NodeKind
  nodeKey?: NodeKey
  chainId?: number
  maxPeers?: number
  /** Loopback only; the enode advertises this host. */
  host?: string
  /** The single port for RPC, WebSocket and p2p; 0 or absent picks a free one. */
  p2pPort?: number
  head?: { number: number; hash: string }
  /** Methods that reply -32601 as if their API were not enabled. */
  missingMethods?: string[]
  /**
   * Methods that fail with this error on every call, e.g. Erigon 2's
   * `{code: -32000, message: 'not implemented'}` for eth_getProof, or a
   * served method failing this time (-32000 "header not found").
   */
  methodErrors?: Record<string, { code: number; message: string }>
  network?: FakeNetwork
  /** Also serve JSON-RPC on this unix socket (geth's IPC framing). */
  ipcPath?: string
  /** Impersonate a client we have no profile for (e.g. to test detection). */
  clientVersion?: string
  /** Period of static redials and peer liveness checks. Default 200 ms. */
  tickMs?: number
  /**
   * After a peer disconnects us, wait this long before redialling it as a
   * static peer. geth waits ~35 s (dialHistoryExpiration); default 5 s here.
   */
  redialBackoffMs?: number
  /** EthereumJS: how long a target whose admin_addPeer failed stays banned. Default 5 minutes, as devp2p's DPT. */
  dialBanMs?: number
}

export interface RecordedCall {
  method: string
  params: unknown[]
  at: number
  /** The call came over a WebSocket (else HTTP or IPC). */
  viaWebSocket?: boolean
}

/** An inbound dial as the receiving node decided it. */
export interface DialRecord {
  from: NodeId
  accepted: boolean
  reason?: string
  at: number
}

export interface FakeNode {
  readonly kind: NodeKind
  readonly clientVersion: string
  readonly url: string
  readonly wsUrl: string
  readonly ipcPath: string | undefined
  readonly enode: string
  readonly nodeId: NodeId
  readonly nodeKey: NodeKey
  readonly port: number
  /** Every admin_* and perm_* call received, in order. */
  readonly calls: RecordedCall[]
  /** Every JSON-RPC call received over any transport, in order (the last 10,000): evidence a method did or did not reach the node. */
  readonly rpcCalls: RecordedCall[]
  /** eth_subscribe subscriptions currently open over WebSocket. */
  subscriptions(): number
  /** Trusted peers (Besu: the nodes allowlist). */
  readonly trusted: Set<NodeId>
  /** Every inbound dial and whether it was accepted: evidence that a refused dial happened. */
  readonly dialLog: DialRecord[]
  /** Node IDs currently peered. */
  peers(): NodeId[]
  /** Static peers being maintained (admin_addPeer). */
  staticPeers(): NodeId[]
  setHead(head: number | { number: number; hash: string }): void
  /** RPC down: HTTP answers 503, WebSocket and IPC connections close. p2p keeps running. */
  setDown(down: boolean): void
  /** Delay every RPC reply by this many ms (0 = off). */
  setSlow(ms: number): void
  /** Answer RPC with bytes that are not JSON. */
  setGarbage(garbage: boolean): void
  /** Lie (checked answers): forged state roots in headers, or forged account proofs; undefined tells the truth again. */
  setLie(lie: FakeLie | undefined): void
  /** notifyPeers: false simulates a crash: peers find out from failed liveness pings. */
  close(options?: { notifyPeers?: boolean }): Promise<void>
}

class RpcFault extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

interface Conn {
  nodeId: NodeId
  /** The peer's listening enode, used for our p2p messages to it. */
  enode: Enode
  name: string
  inbound: boolean
  /** Our side's port for outbound connections, theirs for inbound: the connection's ephemeral port. */
  ephemeralPort: number
}

interface StaticDial {
  enode: Enode
  /** Do not dial before this time (ms since epoch). */
  notBefore: number
  /** Nethermind's addPeer(enode, false) dials once and forgets. */
  once: boolean
}

const P2P_TIMEOUT_MS = 1000
const MAX_BODY = 1 << 20

const hashOf = (text: string) => keccak256(toUtf8Bytes(text)).slice(2)
const pubkeyHash = (nodeId: string) => keccak256(`0x${nodeId}`).slice(2)
const hex = (n: number) => `0x${n.toString(16)}`
const ephemeral = () => 32768 + Math.floor(Math.random() * 28000)

export async function startFakeNode(options: FakeNodeOptions): Promise<FakeNode> {
  const profile = PROFILES[options.kind]
  const clientVersion = options.clientVersion ?? profile.clientVersion
  const nodeKey = options.nodeKey ?? generateNodeKey()
  const nodeId = nodeIdOf(nodeKey)
  const hashId = pubkeyHash(nodeId)
  const chainId = options.chainId ?? 1337
  const maxPeers = options.maxPeers ?? 25
  const host = options.host ?? '127.0.0.1'
  // Test nodes must never be reachable from outside the machine.
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) throw new Error(`fake node host must be a 127.x.x.x address, got ${host}`)
  const tickMs = options.tickMs ?? 200
  const redialBackoffMs = options.redialBackoffMs ?? 5000
  const missing = new Set(options.missingMethods ?? [])
  const blockHash = (n: number) => `0x${hashOf(`fakenode-block-${chainId}-${n}`)}`
  const genesis = blockHash(0)

  let head = options.head ?? { number: 0, hash: genesis }
  let down = false
  let slowMs = 0
  let garbage = false
  let lie: FakeLie | undefined
  let closed = false

  const calls: RecordedCall[] = []
  const rpcCalls: RecordedCall[] = []
  const methodErrors = new Map(Object.entries(options.methodErrors ?? {}))
  /** eth_subscribe id -> the socket it was opened on (newHeads only). */
  const subscriptions = new Map<string, WebSocket>()
  /** Raw transactions seen, by hash: a second send is "already known", as in geth's pool. */
  const txPool = new Set<string>()
  const chain = createChainData(() => ({ chainId, head, blockHash, lie }))
  const trusted = new Set<NodeId>()
  /** Besu: the enode as allowlisted, for perm_getNodesAllowlist. */
  const allowlisted = new Map<NodeId, string>()
  const conns = new Map<NodeId, Conn>()
  const statics = new Map<NodeId, StaticDial>()
  const dialing = new Set<NodeId>()
  const dialLog: DialRecord[] = []
  // EthereumJS: the entries admin_addPeer leaves behind, the IDs it ever dialled, banned address:ports.
  const dialEntries = new Map<NodeId, { address: string; tcpPort: number }>()
  const everDialled = new Set<NodeId>()
  const bans = new Map<string, number>()
  const dialBanMs = options.dialBanMs ?? 5 * 60_000

  // ---- servers -----------------------------------------------------------
  const server = createHttpServer((req, res) => void onHttp(req, res))
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, headBytes) => {
    if (down || closed) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, headBytes, (ws) => onWebSocket(ws))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.p2pPort ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as { port: number }).port
  const self: Enode = { nodeId, host, tcpPort: port, udpPort: port }
  const selfEnode = formatEnode(self)

  let ipcServer: NetServer | undefined
  const ipcSockets = new Set<Socket>()
  const ipcPath = options.ipcPath
  const listenIpc = async () => {
    if (!ipcPath) return
    rmSync(ipcPath, { force: true }) // a stale socket file from a crashed run
    const srv = createNetServer((sock) => onIpc(sock))
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject)
      srv.listen(ipcPath, () => resolve())
    })
    ipcServer = srv
  }
  const closeIpc = async () => {
    const srv = ipcServer
    ipcServer = undefined
    for (const s of ipcSockets) s.destroy()
    ipcSockets.clear()
    if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()))
  }
  await listenIpc()

  const timer = setInterval(() => void tick(), tickMs)
  timer.unref()

  // ---- JSON-RPC ----------------------------------------------------------
  async function onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: string
    try {
      body = await readBody(req)
    } catch {
      res.writeHead(413).end()
      return
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (path.startsWith('/p2p/')) return p2pHandler(path, body, res)
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end()
      return
    }
    if (down) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('503 Service Unavailable')
      return
    }
    const reply = await answer(body)
    if (res.destroyed) return
    res.writeHead(200, { 'content-type': garbage ? 'text/html' : 'application/json' }).end(reply)
  }

  function onWebSocket(ws: WebSocket): void {
    ws.on('message', (data) => {
      void answer(data.toString(), ws).then((reply) => {
        if (ws.readyState === ws.OPEN) ws.send(reply)
      })
    })
    ws.on('error', () => {}) // a client vanishing mid-frame is not our problem
    // A node drops a connection's subscriptions with the connection.
    ws.on('close', () => {
      for (const [id, owner] of subscriptions) if (owner === ws) subscriptions.delete(id)
    })
  }

  function onIpc(sock: Socket): void {
    if (down) {
      sock.destroy()
      return
    }
    ipcSockets.add(sock)
    sock.on('close', () => ipcSockets.delete(sock))
    sock.on('error', () => {})
    sock.setEncoding('utf8')
    const stream = createJsonStream((value) => {
      void answerParsed(value).then((reply) => {
        // geth writes one value per line; the client must not rely on it.
        if (!sock.destroyed) sock.write(`${reply}\n`)
      })
    })
    sock.on('data', (chunk: string) => {
      try {
        stream.push(chunk)
      } catch {
        sock.end(`${JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } })}\n`)
      }
    })
  }

  async function answer(text: string, ws?: WebSocket): Promise<string> {
    let msg: unknown
    try {
      msg = JSON.parse(text)
    } catch {
      return answerParsed(undefined, true)
    }
    return answerParsed(msg, false, ws)
  }

  /** `ws`: the socket the request came on, for eth_subscribe (HTTP and IPC have none here). */
  async function answerParsed(msg: unknown, parseError = false, ws?: WebSocket): Promise<string> {
    if (garbage) return '<html><body>502 Bad Gateway</body></html>'
    if (parseError) return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } })
    if (Array.isArray(msg)) return JSON.stringify(await Promise.all(msg.map((m) => handleOne(m, ws))))
    return JSON.stringify(await handleOne(msg, ws))
  }

  async function handleOne(msg: unknown, ws?: WebSocket): Promise<Record<string, unknown>> {
    const req = msg as { id?: unknown; method?: unknown; params?: unknown } | null
    const id = req?.id ?? null
    if (typeof req !== 'object' || req === null || typeof req.method !== 'string') {
      return { jsonrpc: '2.0', id, error: { code: -32600, message: 'invalid request' } }
    }
    const params = Array.isArray(req.params) ? req.params : []
    try {
      return { jsonrpc: '2.0', id, result: await dispatch(req.method, params, ws) }
    } catch (err) {
      const code = err instanceof RpcFault || err instanceof ChainDataError ? err.code : -32603
      return { jsonrpc: '2.0', id, error: { code, message: (err as Error).message } }
    }
  }

  function enodeParam(value: unknown): Enode {
    if (typeof value !== 'string') throw new RpcFault(-32602, 'invalid argument 0: expected an enode string')
    try {
      return parseEnode(value)
    } catch (err) {
      throw new RpcFault(-32000, `invalid enode: ${(err as Error).message}`)
    }
  }

  function enodeListParam(value: unknown): Enode[] {
    if (!Array.isArray(value) || value.length === 0) throw new RpcFault(-32602, 'Invalid params')
    return value.map((v) => enodeParam(v))
  }

  async function dispatch(method: string, params: unknown[], ws?: WebSocket): Promise<unknown> {
    if (method.startsWith('admin_') || method.startsWith('perm_')) calls.push({ method, params, at: Date.now() })
    rpcCalls.push({ method, params, at: Date.now(), ...(ws ? { viaWebSocket: true } : {}) })
    if (rpcCalls.length > 10_000) rpcCalls.shift()
    // Slow after the call is recorded: a test sees a call that is in the node and not answered yet.
    if (slowMs > 0) await new Promise((r) => setTimeout(r, slowMs))
    if (missing.has(method)) throw new RpcFault(-32601, `the method ${method} does not exist/is not available`)
    const failure = methodErrors.get(method)
    if (failure) throw new RpcFault(failure.code, failure.message)
    const unknown = () => new RpcFault(-32601, profile.unknownMethod(method))

    switch (method) {
      case 'web3_clientVersion':
        return clientVersion
      case 'net_version':
        return String(chainId)
      case 'net_listening':
        return true
      case 'net_peerCount':
        return hex(conns.size)
      case 'eth_chainId':
        return hex(chainId)
      case 'eth_syncing':
        if (profile.syncingNeedsPeers && conns.size === 0) throw new RpcFault(-32603, 'no peer available for synchronization')
        return false
      case 'eth_blockNumber':
        return hex(head.number)
      case 'eth_getBlockByNumber':
        return chain.block(params[0], params[1])
      case 'eth_getBlockReceipts':
        return chain.blockReceipts(params[0])
      case 'eth_getLogs':
        return chain.logs(params[0])
      case 'eth_getProof':
        return chain.proof(params[0], params[1], params[2])
      case 'eth_getBalance':
        return chain.balance(params[0], params[1])
      case 'eth_createAccessList':
        return chain.accessList(params[0], params[1])
      case 'eth_call':
        if (typeof params[0] !== 'object' || params[0] === null) throw new RpcFault(-32602, 'invalid argument 0: expected a transaction object')
        chain.resolveState(params[1], 1)
        return '0x'
      case 'eth_estimateGas':
        return hex(21_000)
      case 'eth_getCode':
        chain.stateRead(params[0], params[1])
        return '0x'
      case 'eth_getTransactionCount':
        chain.stateRead(params[0], params[1])
        return '0x0'
      case 'eth_getStorageAt':
        chain.stateRead(params[0], params[2], 2)
        return `0x${'0'.repeat(64)}`
      case 'eth_gasPrice':
        return hex(2_000_000_000)
      case 'eth_maxPriorityFeePerGas':
        return hex(1_000_000_000)
      case 'eth_sendRawTransaction': {
        const raw = params[0]
        if (typeof raw !== 'string' || !/^0x([0-9a-fA-F]{2})+$/.test(raw)) throw new RpcFault(-32602, 'invalid argument 0: json: cannot unmarshal invalid hex string into Go value of type hexutil.Bytes')
        const txHash = keccak256(raw)
        if (txPool.has(txHash)) throw new RpcFault(-32000, 'already known')
        txPool.add(txHash)
        return txHash
      }
      case 'eth_subscribe': {
        // geth: subscriptions need a connection that can carry notifications.
        if (!ws) throw new RpcFault(-32601, 'notifications not supported')
        if (params[0] !== 'newHeads') throw new RpcFault(-32601, `no ${JSON.stringify(params[0])} subscription in eth namespace`)
        const id = `0x${randomBytes(16).toString('hex')}`
        subscriptions.set(id, ws)
        return id
      }
      case 'eth_unsubscribe': {
        if (!ws) throw new RpcFault(-32601, 'notifications not supported')
        const id = String(params[0])
        if (subscriptions.get(id) !== ws) throw new RpcFault(-32000, 'subscription not found')
        subscriptions.delete(id)
        return true
      }
      case 'admin_nodeInfo':
        return profile.nodeInfo({ nodeId, hashId, enode: selfEnode, name: clientVersion, host, port, chainId, genesis, head })
      case 'admin_peers': {
        const live = [...conns.values()].map((c) => profile.peerEntry(view(c)))
        const dead = profile.dialEntry ? [...dialEntries].map(([id, t]) => profile.dialEntry!({ nodeId: id, ...t })) : []
        return [...dead, ...live]
      }
      case 'admin_addPeer': {
        if (profile.addPeerByAddress) return addPeerByAddress(params[0])
        const target = enodeParam(params[0])
        if (target.nodeId !== nodeId) {
          // Nethermind without addToStaticNodes=true dials once; everyone else keeps the peer static.
          const once = options.kind === 'nethermind' && params[1] !== true
          statics.set(target.nodeId, { enode: target, notBefore: 0, once })
          void dialStatic(target.nodeId)
        }
        return profile.peerChangeResult(formatEnode(target))
      }
      case 'admin_removePeer': {
        if (profile.removePeer === false) throw unknown()
        const target = enodeParam(params[0])
        if (options.kind !== 'nethermind' || params[1] === true) statics.delete(target.nodeId)
        drop(target.nodeId, true)
        return profile.peerChangeResult(formatEnode(target))
      }
      case 'admin_addTrustedPeer':
        if (!profile.trustedPeers) throw unknown()
        trusted.add(enodeParam(params[0]).nodeId)
        return true
      case 'admin_removeTrustedPeer':
        // Like geth: clears the trusted flag, does not disconnect.
        if (!profile.trustedPeers) throw unknown()
        trusted.delete(enodeParam(params[0]).nodeId)
        return true
      case 'perm_addNodesToAllowlist': {
        if (!profile.allowlist) throw unknown()
        const list = enodeListParam(params[0])
        // Besu validates the whole request before changing anything.
        if (list.some((e) => trusted.has(e.nodeId))) throw new RpcFault(-32000, 'Cannot add an existing node to allowlist')
        for (const e of list) allowlisted.set(e.nodeId, formatEnode(e))
        for (const e of list) trusted.add(e.nodeId)
        return 'Success'
      }
      case 'perm_removeNodesFromAllowlist': {
        if (!profile.allowlist) throw unknown()
        const list = enodeListParam(params[0])
        if (list.some((e) => !trusted.has(e.nodeId))) throw new RpcFault(-32000, 'Cannot remove an absent node from allowlist')
        for (const e of list) {
          trusted.delete(e.nodeId)
          allowlisted.delete(e.nodeId)
        }
        return 'Success'
      }
      case 'perm_getNodesAllowlist':
        if (!profile.allowlist) throw unknown()
        return [...trusted].map((id) => allowlisted.get(id) ?? id)
      default:
        throw unknown()
    }
  }

  /** EthereumJS's admin_addPeer: an IPv4 address object; "ping" the target for its ID, then dial it once. */
  async function addPeerByAddress(param: unknown): Promise<unknown> {
    if (typeof param !== 'object' || param === null || Array.isArray(param)) throw new RpcFault(-32602, 'invalid argument 0: argument is not object')
    const { address, tcpPort, udpPort } = param as Record<string, unknown>
    if (typeof address !== 'string' || isIP(address) !== 4) throw new RpcFault(-32602, "invalid argument 0 for key 'address': argument is not ipv4 address")
    for (const [k, v] of [['tcpPort', tcpPort], ['udpPort', udpPort]] as const) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new RpcFault(-32602, `invalid argument 0 for key '${k}': argument is not an unsigned integer`)
    }
    const tcp = tcpPort as number
    const key = `${address}:${tcp}`
    const failed = () => new RpcFault(-32603, `failed to add peer: ${JSON.stringify([param])}`)
    if ((bans.get(key) ?? 0) > Date.now()) throw failed()
    let id: NodeId
    try {
      // Stands in for the discv4 ping/pong that tells ethereumjs the target's ID.
      id = parseNodeId(String((await p2pPost({ nodeId, host: address, tcpPort: tcp, udpPort: tcp }, '/p2p/whoami', {})).nodeId))
    } catch {
      bans.set(key, Date.now() + dialBanMs)
      throw failed()
    }
    if (id !== nodeId) {
      dialEntries.set(id, { address, tcpPort: tcp })
      // Its RLPx layer remembers every ID it dialled and never dials one again.
      if (!everDialled.has(id)) {
        everDialled.add(id)
        statics.set(id, { enode: { nodeId: id, host: address, tcpPort: tcp, udpPort: udpPort as number }, notBefore: 0, once: true })
        void dialStatic(id)
      }
    }
    return true
  }

  function view(c: Conn): PeerView {
    const listen = c.enode.tcpPort
    // Outbound: we connected from an ephemeral port to their listening port;
    // inbound: they connected from an ephemeral port to ours.
    const remotePort = c.inbound && profile.inboundEphemeralPort ? c.ephemeralPort : listen
    const remoteAddress = `${c.enode.host}:${c.inbound ? c.ephemeralPort : listen}`
    const localAddress = `${host}:${c.inbound ? port : c.ephemeralPort}`
    return {
      nodeId: c.nodeId,
      hashId: pubkeyHash(c.nodeId),
      enode: formatEnode({ ...c.enode, tcpPort: remotePort, udpPort: remotePort }),
      name: c.name,
      inbound: c.inbound,
      trusted: trusted.has(c.nodeId),
      static: statics.has(c.nodeId),
      localAddress,
      remoteAddress,
      remoteHost: c.enode.host,
      remotePort,
    }
  }

  // ---- simulated devp2p ----------------------------------------------------
  /** geth's rule: a connection needs a free slot, unless the peer is trusted. */
  // EthereumJS counts admin_addPeer's leftover entries against maxPeers too.
  const hasRoom = (id: NodeId) => conns.size + (profile.addPeerByAddress ? dialEntries.size : 0) < maxPeers || trusted.has(id)

  async function p2pHandler(path: string, body: string, res: ServerResponse): Promise<void> {
    let msg: Record<string, unknown>
    try {
      msg = JSON.parse(body) as Record<string, unknown>
    } catch {
      res.writeHead(400).end()
      return
    }
    const reply = (value: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value))
    }
    if (closed) {
      res.writeHead(503).end()
      return
    }
    switch (path) {
      case '/p2p/dial': {
        let from: Enode
        try {
          from = parseEnode(String(msg.enode))
        } catch {
          res.writeHead(400).end()
          return
        }
        const decide = (accepted: boolean, reason?: string) => {
          const record: DialRecord = { from: from.nodeId, accepted, at: Date.now() }
          if (reason !== undefined) record.reason = reason
          dialLog.push(record)
          reply(accepted ? { accepted, name: clientVersion } : { accepted, reason })
        }
        if (from.nodeId === nodeId) return decide(false, 'self')
        if (conns.has(from.nodeId)) return decide(true)
        if (!hasRoom(from.nodeId)) return decide(false, 'too many peers')
        conns.set(from.nodeId, {
          nodeId: from.nodeId,
          enode: from,
          name: typeof msg.name === 'string' ? msg.name : 'unknown',
          inbound: true,
          ephemeralPort: ephemeral(),
        })
        return decide(true)
      }
      case '/p2p/disconnect': {
        const id = msg.nodeId as NodeId
        conns.delete(id)
        // geth does not redial a node it was just connected to for a while.
        const s = statics.get(id)
        if (s) s.notBefore = Date.now() + redialBackoffMs
        return reply({ ok: true })
      }
      case '/p2p/whoami':
        return reply({ nodeId })
      case '/p2p/ping': {
        // A dial in flight counts: the dialer has not yet recorded the peer it is connecting to.
        const id = msg.nodeId as NodeId
        return reply({ peered: conns.has(id) || dialing.has(id) })
      }
      default:
        res.writeHead(404).end()
    }
  }

  async function p2pPost(to: Enode, path: string, body: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`http://${to.host}:${to.tcpPort}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(P2P_TIMEOUT_MS),
    })
    if (!res.ok) throw new Error(`p2p ${path}: HTTP ${res.status}`)
    return (await res.json()) as Record<string, unknown>
  }

  /** One outbound connection attempt; true when peered afterwards. */
  async function dial(target: Enode): Promise<boolean> {
    const id = target.nodeId
    if (conns.has(id)) return true
    if (dialing.has(id) || id === nodeId || closed) return false
    // Our own side refuses too when full (geth checks both directions).
    if (!hasRoom(id)) return false
    dialing.add(id)
    try {
      const reply = await p2pPost(target, '/p2p/dial', { enode: selfEnode, name: clientVersion })
      if (reply.accepted !== true || closed) return false
      if (conns.has(id)) return true // they dialled us meanwhile
      if (!hasRoom(id)) {
        void p2pPost(target, '/p2p/disconnect', { nodeId }).catch(() => {})
        return false
      }
      const name = typeof reply.name === 'string' ? reply.name : 'unknown'
      conns.set(id, { nodeId: id, enode: target, name, inbound: false, ephemeralPort: ephemeral() })
      return true
    } catch {
      return false // unreachable: like a TCP connect failure
    } finally {
      dialing.delete(id)
    }
  }

  async function dialStatic(id: NodeId): Promise<void> {
    const s = statics.get(id)
    if (!s || conns.has(id) || Date.now() < s.notBefore) return
    const ok = await dial(s.enode)
    if (statics.get(id) !== s) return // removed or replaced meanwhile
    if (s.once) statics.delete(id)
    else if (!ok) s.notBefore = Math.max(s.notBefore, Date.now() + tickMs)
  }

  function drop(id: NodeId, notify: boolean): void {
    const c = conns.get(id)
    if (!c) return
    conns.delete(id)
    if (notify) void p2pPost(c.enode, '/p2p/disconnect', { nodeId }).catch(() => {})
  }

  let ticking = false
  async function tick(): Promise<void> {
    if (ticking || closed) return
    ticking = true
    try {
      // Liveness: a peer that does not answer, or no longer lists us, is gone.
      await Promise.all(
        [...conns.values()].map(async (c) => {
          let peered = false
          try {
            peered = (await p2pPost(c.enode, '/p2p/ping', { nodeId })).peered === true
          } catch {
            peered = false
          }
          if (!peered && conns.get(c.nodeId) === c) conns.delete(c.nodeId)
        }),
      )
      // geth keeps dialling static peers until they connect or are removed.
      await Promise.all([...statics.keys()].map((id) => dialStatic(id)))
    } finally {
      ticking = false
    }
  }

  /** newHeads: one notification per new block, as geth sends for each imported block (the last 64 of a jump). */
  function notifyHeads(from: number, to: number): void {
    if (subscriptions.size === 0 || down) return
    for (let n = Math.max(from, to - 63); n <= to; n++) {
      const header = chain.header(n)
      for (const [id, ws] of subscriptions) {
        if (ws.readyState !== ws.OPEN) continue
        ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'eth_subscription', params: { subscription: id, result: header } }))
      }
    }
  }

  // ---- handle ----------------------------------------------------------------
  const node: FakeNode = {
    kind: options.kind,
    clientVersion,
    url: `http://${host}:${port}/`,
    wsUrl: `ws://${host}:${port}/`,
    ipcPath,
    enode: selfEnode,
    nodeId,
    nodeKey,
    port,
    calls,
    rpcCalls,
    subscriptions: () => subscriptions.size,
    trusted,
    dialLog,
    peers: () => [...conns.keys()],
    staticPeers: () => [...statics.keys()],
    setHead(h) {
      const before = head.number
      head = typeof h === 'number' ? { number: h, hash: blockHash(h) } : h
      if (head.number > before) notifyHeads(before + 1, head.number)
    },
    setDown(value) {
      down = value
      if (value) {
        for (const ws of wss.clients) ws.terminate()
        void closeIpc()
      } else if (ipcPath && !ipcServer) {
        void listenIpc()
      }
    },
    setSlow(ms) {
      slowMs = ms
    },
    setGarbage(value) {
      garbage = value
    },
    setLie(value) {
      lie = value
    },
    async close(closeOptions = {}) {
      if (closed) return
      if (closeOptions.notifyPeers ?? true) {
        await Promise.allSettled([...conns.values()].map((c) => p2pPost(c.enode, '/p2p/disconnect', { nodeId })))
      }
      closed = true
      clearInterval(timer)
      conns.clear()
      statics.clear()
      for (const ws of wss.clients) ws.terminate()
      wss.close()
      await closeIpc()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      options.network?.nodes.delete(node)
    },
  }
  options.network?.nodes.add(node)
  return node
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY) {
        reject(new Error('body too large'))
        req.destroy()
      } else chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}
