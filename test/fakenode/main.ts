/**
 * Start one fake node from flags and print one JSON line
 * `{"url","wsUrl","enode","nodeId","controlUrl"}` to stdout, for end-to-end
 * tests that spawn it as a child process (`tsx test/fakenode/main.ts --kind geth …`).
 * SIGTERM/SIGINT close it gracefully (peers are told); SIGKILL is a crash.
 *
 * `controlUrl` is a second loopback HTTP server for the test that spawned it,
 * standing in for the in-process handle: `POST /head {"number": n}` (setHead,
 * which emits newHeads), `GET /calls` (rpcCalls: `{calls: [{method, at}]}`),
 * `GET /subscriptions` (`{count}`).
 */
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import type { NodeKind } from '../../ethnode/ethNode.ts'
import { loadNodeKey } from '../../protocol/nodeKey.ts'
import { startFakeNode, type FakeNodeOptions } from './fakeNode.ts'
import { PROFILES } from './profiles.ts'

const { values } = parseArgs({
  options: {
    kind: { type: 'string', default: 'geth' },
    'nodekey-file': { type: 'string' },
    'chain-id': { type: 'string' },
    'max-peers': { type: 'string' },
    port: { type: 'string', default: '0' },
    'ipc-path': { type: 'string' },
    missing: { type: 'string' }, // comma-separated method names
    'redial-backoff-ms': { type: 'string' },
    head: { type: 'string' },
  },
  strict: true,
})

function int(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text)) {
    process.stderr.write(`--${name} must be a non-negative integer, got "${text}"\n`)
    process.exit(2)
  }
  return Number(text)
}

const kind = values.kind as NodeKind
if (!(kind in PROFILES)) {
  process.stderr.write(`--kind must be one of ${Object.keys(PROFILES).join(', ')}\n`)
  process.exit(2)
}

const options: FakeNodeOptions = { kind }
if (values['nodekey-file']) options.nodeKey = loadNodeKey(values['nodekey-file'])
const chainId = int('chain-id', values['chain-id'])
if (chainId !== undefined) options.chainId = chainId
const maxPeers = int('max-peers', values['max-peers'])
if (maxPeers !== undefined) options.maxPeers = maxPeers
const port = int('port', values.port)
if (port !== undefined) options.p2pPort = port
if (values['ipc-path']) options.ipcPath = values['ipc-path']
if (values.missing) options.missingMethods = values.missing.split(',').filter(Boolean)
const backoff = int('redial-backoff-ms', values['redial-backoff-ms'])
if (backoff !== undefined) options.redialBackoffMs = backoff

const node = await startFakeNode(options)
const head = int('head', values.head)
if (head !== undefined) node.setHead(head)

const control = createServer((req, res) => {
  const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    try {
      if (req.method === 'POST' && req.url === '/head') {
        const { number } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { number: unknown }
        if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0) return reply(400, { error: 'number must be a non-negative integer' })
        node.setHead(number)
        return reply(200, { head: number })
      }
      if (req.method === 'POST' && req.url === '/lie') {
        const { lie } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { lie: unknown }
        if (lie !== null && lie !== 'state-root' && lie !== 'proof') return reply(400, { error: 'lie must be "state-root", "proof" or null' })
        node.setLie(lie ?? undefined)
        return reply(200, { lie })
      }
      if (req.method === 'GET' && req.url === '/calls') return reply(200, { calls: node.rpcCalls.map((c) => ({ method: c.method, at: c.at })) })
      if (req.method === 'GET' && req.url === '/subscriptions') return reply(200, { count: node.subscriptions() })
      reply(404, { error: 'POST /head, POST /lie, GET /calls, GET /subscriptions' })
    } catch (err) {
      reply(400, { error: (err as Error).message })
    }
  })
})
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', () => resolve()))
const controlUrl = `http://127.0.0.1:${(control.address() as { port: number }).port}/`
process.stdout.write(`${JSON.stringify({ url: node.url, wsUrl: node.wsUrl, enode: node.enode, nodeId: node.nodeId, controlUrl })}\n`)

const stop = () => {
  control.close()
  void node.close().then(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
