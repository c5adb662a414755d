/** An rpc-service host in-process: a fake geth node on a fake network with a real host agent and relay on loopback. */
import { startFakeNode, type FakeNode } from '../fakenode/fakeNode.ts'
import type { FakeNetwork } from '../fakenode/fakeNetwork.ts'
import { silentLogger } from '../../lib/logger.ts'
import { startHostAgent, type RunningHostAgent } from '../../host-agent/hostAgent.ts'

export interface RpcHostDeps {
  net: FakeNetwork
  /** Writes a node key file (test/harness/scratch.ts keyFileWriter). */
  keyFile: (key: string) => string
  /** A test's closers (closeAfterEach): the node and the agent are closed after it. */
  cleanup: (() => Promise<unknown>)[]
  /** The fake node's head (default 50). */
  head?: number
  /** Serve the agent's Prometheus metrics here (`--metrics-listen`). */
  metricsListen?: { host: string; port: number }
  /** A beacon API for the relay (--relay-beacon): the host then advertises `beacon`. */
  beaconUrl?: string
}

/** A host agent (capacity 5, 100 ms reports) serving the rpc service from its relay, authenticated with the pool. */
export async function startRpcHost(coordinator: string, deps: RpcHostDeps): Promise<{ node: FakeNode; agent: RunningHostAgent }> {
  const node = await startFakeNode({ kind: 'geth', chainId: 1337, network: deps.net })
  node.setHead(deps.head ?? 50)
  deps.cleanup.push(() => node.close())
  const agent = await startHostAgent(
    {
      coordinator,
      nodeRpc: node.url,
      nodekey: deps.keyFile(node.nodeKey),
      capacity: 5,
      updateIntervalMs: 100,
      relay: { listenHost: '127.0.0.1', listenPort: 0, nodeHttpUrl: node.url, ...(deps.beaconUrl !== undefined ? { beaconUrl: deps.beaconUrl } : {}) },
      ...(deps.metricsListen ? { metricsListen: deps.metricsListen } : {}),
    },
    { log: silentLogger },
  )
  deps.cleanup.push(() => agent.close())
  await agent.pool.ready()
  return { node, agent }
}
