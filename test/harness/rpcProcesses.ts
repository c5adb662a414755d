/**
 * The rpc service as child processes, for end-to-end tests: a stand-in node
 * (test/fakenode/main.ts, with its control endpoint) and a `vipnode host
 * --service rpc` agent with its relay in front of it. Each is awaited by its
 * log lines; the caller keeps the processes (`track`) and stops them.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateNodeKey, nodeIdOf, type NodeId } from '../../protocol/index.ts'
import { spawnTs, spawnVipnode, type Proc } from './processes.ts'

const FAKE_NODE = fileURLToPath(new URL('../fakenode/main.ts', import.meta.url))

export interface FakeNodeProc {
  proc: Proc
  url: string
  wsUrl: string
  controlUrl: string
  nodeId: NodeId
  /** The node key's file, which its host agent signs in with. */
  keyFile: string
}

export interface RpcHostProc {
  node: FakeNodeProc
  agent: Proc
  /** The relay URL the agent advertises to the pool. */
  relayUrl: string
}

/** A stand-in geth with a fresh key written under `dir`. */
export async function startFakeNodeProcess(o: { dir: string; chainId: number; head: number; track: (p: Proc) => Proc }): Promise<FakeNodeProc> {
  const key = generateNodeKey()
  const keyFile = join(o.dir, `${nodeIdOf(key).slice(0, 12)}.key`)
  writeFileSync(keyFile, key)
  const proc = o.track(spawnTs(FAKE_NODE, ['--kind', 'geth', '--chain-id', String(o.chainId), '--nodekey-file', keyFile, '--head', String(o.head)]))
  const line = await proc.waitForLog((l) => typeof l.controlUrl === 'string', 'fake node started')
  return { proc, url: line.url, wsUrl: line.wsUrl, controlUrl: line.controlUrl, nodeId: line.nodeId, keyFile }
}

/**
 * `vipnode host --service rpc` in front of `node` (capacity 5, relay on loopback with the node's WebSocket for
 * subscriptions), resolved once its relay listens and it is connected to the pool. `args` are added (`--relay-beacon`).
 */
export async function startRpcHostProcess(o: { coordinatorUrl: string; node: FakeNodeProc; interval: string; args?: readonly string[]; track: (p: Proc) => Proc }): Promise<RpcHostProc> {
  const { node } = o
  const agent = o.track(
    spawnVipnode(
      [
        'host',
        '--coordinator', o.coordinatorUrl,
        '--service', 'rpc',
        '--node-rpc', node.url,
        '--nodekey', node.keyFile,
        '--capacity', '5',
        '--relay-listen', '127.0.0.1:0',
        '--relay-node-http', node.url,
        '--relay-node-ws', node.wsUrl,
        ...(o.args ?? []),
      ],
      { VIPNODE_UPDATE_INTERVAL: o.interval },
    ),
  )
  const listening = await agent.waitForLog((l) => l.msg === 'relay listening', 'relay listening', 20_000)
  await agent.waitForLog((l) => l.msg === 'connected to coordinator', 'host connected', 20_000)
  return { node, agent, relayUrl: listening.advertised }
}
