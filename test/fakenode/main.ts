/**
 * Start one fake node from flags and print one JSON line
 * `{"url","wsUrl","enode","nodeId"}` to stdout, for end-to-end tests that
 * spawn it as a child process (`tsx test/fakenode/main.ts --kind geth …`).
 * SIGTERM/SIGINT close it gracefully (peers are told); SIGKILL is a crash.
 */
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
process.stdout.write(`${JSON.stringify({ url: node.url, wsUrl: node.wsUrl, enode: node.enode, nodeId: node.nodeId })}\n`)

const stop = () => {
  void node.close().then(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
