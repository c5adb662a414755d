/**
 * A deliberately low-level agent for protocol tests: a real WebSocket on
 * loopback that sends whatever frames a test wants and records every frame
 * and the close event.
 */
import WebSocket from 'ws'
import {
  AGENT_PATH,
  formatEnode,
  generateNodeKey,
  nodeIdOf,
  signEnvelope,
  PROTOCOL_VERSION,
  normaliseOrigin,
  type ConnectBody,
  type ConnectHello,
  type NodeKey,
  type ChallengeParams,
} from '../../protocol/index.ts'

export interface Frame {
  jsonrpc: '2.0'
  id?: number | string | null
  method?: string
  params?: any
  result?: any
  error?: { code: number; message: string; data?: unknown }
}

export class RawAgent {
  readonly frames: Frame[] = []
  closed: { code: number; reason: string } | undefined
  private nextId = 1
  private waiters: (() => void)[] = []

  private constructor(
    readonly ws: WebSocket,
    /** The origin this agent dialled: what an honest agent signs into vipnode_connect. */
    readonly origin: string,
  ) {
    ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()) as Frame)
      this.wake()
    })
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() }
      this.wake()
    })
  }

  static async open(baseUrl: string): Promise<RawAgent> {
    const url = baseUrl.replace(/^http/, 'ws') + AGENT_PATH
    const ws = new WebSocket(url)
    const agent = new RawAgent(ws, normaliseOrigin(url))
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return agent
  }

  private wake() {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Wait until `predicate` holds over the frames seen so far (bounded). */
  async waitFor<T>(predicate: () => T | undefined, what: string, timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const got = predicate()
      if (got !== undefined && got !== false) return got
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames).slice(0, 500)}`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }

  /** The challenge, with the origin this socket dialled (signedConnect signs it unless the body says otherwise). */
  async challenge(): Promise<DialledChallenge> {
    const f = await this.waitFor(() => this.frames.find((f) => f.method === 'vipnode_challenge'), 'challenge')
    return { ...(f.params as ChallengeParams), dialledOrigin: this.origin }
  }

  sendText(text: string | Buffer, binary = false): void {
    this.ws.send(text, { binary })
  }

  /** Send a request and wait for the reply with its id. */
  async request(method: string, params?: unknown): Promise<Frame> {
    const id = this.nextId++
    this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
    return this.reply(id)
  }

  reply(id: number | string): Promise<Frame> {
    return this.waitFor(() => this.frames.find((f) => f.id === id && f.method === undefined), `reply ${id}`)
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    return this.waitFor(() => this.closed, 'close')
  }

  close(): void {
    this.ws.close()
  }
}

export interface Identity {
  key: NodeKey
  nodeId: ReturnType<typeof nodeIdOf>
  enode: string
}

export function identity(port = 30303): Identity {
  const key = generateNodeKey()
  const nodeId = nodeIdOf(key)
  return { key, nodeId, enode: formatEnode({ nodeId, host: '127.0.0.1', tcpPort: port, udpPort: port }) }
}

/** A challenge as an agent sees it: what the server sent, plus the origin the agent dialled. */
export type DialledChallenge = ChallengeParams & { dialledOrigin?: string }

/** The connect body without origin (signedConnect adds the dialled one); `overrides.origin` forces one. */
export function connectBody(id: Identity, overrides: Partial<ConnectBody> = {}): ConnectHello & { origin?: string } {
  return {
    protocolVersion: PROTOCOL_VERSION,
    role: 'host',
    nodeId: id.nodeId,
    enode: id.enode,
    chainId: 1337,
    clientVersion: 'Geth/v1.14.12-stable/linux-amd64/go1.23.4',
    agentVersion: 'test',
    kind: 'peer',
    capacity: 5,
    ...overrides,
  }
}

/**
 * Signed vipnode_connect params for this socket's challenge. The origin is the body's, else the one the
 * socket dialled; with neither the body goes out without one, as an agent older than origin binding sends it.
 */
export function signedConnect(id: Identity, challenge: DialledChallenge, bodyWithoutOrigin: ConnectHello & { origin?: string } = connectBody(id), signWith: NodeKey = id.key) {
  const origin = bodyWithoutOrigin.origin ?? challenge.dialledOrigin
  const body = origin === undefined ? bodyWithoutOrigin : { ...bodyWithoutOrigin, origin }
  const signature = signEnvelope(signWith, { method: 'vipnode_connect', poolId: challenge.poolId, chainId: body.chainId, challenge: challenge.challenge, body })
  return { ...body, challenge: challenge.challenge, signature }
}

/** Open a socket and authenticate; returns the agent and the connect reply. */
export async function authenticated(baseUrl: string, id: Identity, overrides: Partial<ConnectBody> = {}): Promise<{ agent: RawAgent; reply: Frame }> {
  const agent = await RawAgent.open(baseUrl)
  const challenge = await agent.challenge()
  const reply = await agent.request('vipnode_connect', signedConnect(id, challenge, connectBody(id, overrides)))
  return { agent, reply }
}
