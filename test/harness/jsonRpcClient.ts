/** JSON-RPC over HTTP and WebSocket, as a light client or wallet speaks it: for the relay and proxy tests. */
import WebSocket from 'ws'
import { waitFor } from './waitFor.ts'

/** A JSON-RPC request; the id keeps its type (number unless a string is given). */
export function rpcCall<I extends number | string = number>(method: string, params: unknown[] = [], id: I = 1 as I) {
  return { jsonrpc: '2.0' as const, id, method, params }
}

/** POST a JSON-RPC body (a string is sent as it is); the status, parsed body (undefined when empty) and headers. */
export async function postRpc(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers }
}

export interface WsRpcClient {
  ws: WebSocket
  messages: any[]
  closed: Promise<{ code: number; reason: string }>
  request(method: string, params?: unknown[]): Promise<any>
  /** Block numbers delivered so far on one subscription. */
  heads(sub: string): string[]
}

let nextId = 1000
/** Open a WebSocket JSON-RPC client; `onClose` gets a terminator for the test's clean-up. */
export async function wsRpcClient(url: string, onClose: (terminate: () => void) => void, headers: Record<string, string> = {}): Promise<WsRpcClient> {
  const ws = new WebSocket(url, { headers })
  onClose(() => ws.terminate())
  const messages: any[] = []
  ws.on('message', (d) => messages.push(JSON.parse(d.toString())))
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    ws,
    messages,
    closed,
    async request(method, params = []) {
      const id = nextId++
      ws.send(JSON.stringify(rpcCall(method, params, id)))
      return waitFor(() => messages.find((m) => m.id === id), `reply to ${method}`)
    },
    heads: (sub) => messages.filter((m) => m.method === 'eth_subscription' && m.params.subscription === sub).map((m) => m.params.result.number),
  }
}

const ZERO_ADDRESS = `0x${'0'.repeat(40)}`
/** What Helios asks its execution RPC at start, in order (it then repeats the block reads every slot). */
export const HELIOS_START = [
  rpcCall('eth_chainId'),
  rpcCall('eth_getProof', [ZERO_ADDRESS, [], 'latest']),
  rpcCall('eth_getBlockByNumber', ['latest', false]),
  rpcCall('eth_getBlockReceipts', ['latest']),
  rpcCall('eth_createAccessList', [{ to: ZERO_ADDRESS, data: '0x' }, 'latest']),
  rpcCall('eth_getLogs', [{ fromBlock: 'latest', toBlock: 'latest' }]),
]
