/** The raw ceiling: a bare `ws` server that answers every JSON-RPC frame with an empty result, and nothing else. */
import { WebSocketServer } from 'ws'

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 })
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    const { id } = JSON.parse(data.toString()) as { id: number }
    ws.send(`{"jsonrpc":"2.0","id":${id},"result":{"peers":[],"drop":[],"balanceWei":"0"}}`)
  })
})
wss.on('listening', () => {
  const addr = wss.address() as { port: number }
  process.stdout.write(`${JSON.stringify({ url: `ws://127.0.0.1:${addr.port}` })}\n`)
})
