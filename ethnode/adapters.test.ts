import { afterEach, describe, expect, it } from 'vitest'
import { createFakeNetwork } from '../test/fakenode/fakeNetwork.ts'
import { startFakeNode } from '../test/fakenode/fakeNode.ts'
import { ADAPTERS, connectEthNode } from './connect.ts'
import { NodeUnavailableError, UnsupportedClientError } from './errors.ts'
import { describeEthNode } from './ethNode.suite.ts'
import type { NodeKind } from './ethNode.ts'

const KINDS: NodeKind[] = ['geth', 'reth', 'nethermind', 'erigon', 'besu', 'ethereumjs']
for (const kind of KINDS) describeEthNode(kind)

describe('connectEthNode', () => {
  const net = createFakeNetwork()
  afterEach(() => net.closeAll())

  it('has one adapter per kind, each matching only its own client version', () => {
    expect(ADAPTERS.map((a) => a.kind)).toEqual(KINDS)
    const versions = {
      geth: 'Geth/v1.14.12-stable-293a300d/linux-amd64/go1.23.4',
      reth: 'reth/v1.1.4-15c230ba/x86_64-unknown-linux-gnu',
      nethermind: 'Nethermind/v1.30.3+87c86379/linux-x64/dotnet9.0.0',
      erigon: 'erigon/2.60.10/linux-amd64/go1.22.5',
      besu: 'besu/v24.12.2/linux-x86_64/openjdk-java-21',
      ethereumjs: 'EthereumJS/0.10.5/linux/node20.20.2',
    }
    for (const adapter of ADAPTERS) {
      for (const [kind, version] of Object.entries(versions)) {
        expect(adapter.matches(version), `${adapter.kind} vs ${version}`).toBe(kind === adapter.kind)
      }
    }
    expect(ADAPTERS.find((a) => a.matches('GETH/v1.15.0/linux'))?.kind).toBe('geth') // case-insensitive
  })

  it('rejects an unknown client, naming the supported ones', async () => {
    const node = await startFakeNode({ kind: 'geth', network: net, clientVersion: 'Parity-Ethereum//v2.7.2-stable-2662d19-20200206/x86_64-unknown-linux-gnu/rustc1.41.0' })
    const err = await connectEthNode(node.url).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UnsupportedClientError)
    expect((err as Error).message).toBe(
      'unsupported execution client "Parity-Ethereum//v2.7.2-stable-2662d19-20200206/x86_64-unknown-linux-gnu/rustc1.41.0": supported clients are geth, reth, nethermind, erigon, besu, ethereumjs',
    )
  })

  it('reports a node that is not listening as unavailable, without the credentials in its URL', async () => {
    const node = await startFakeNode({ kind: 'geth', network: net })
    const port = node.port
    await node.close()
    for (const url of [`http://alice:s3cret@127.0.0.1:${port}/`, `ws://alice:s3cret@127.0.0.1:${port}/`]) {
      const err = await connectEthNode(url, { timeoutMs: 1000 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(NodeUnavailableError)
      expect((err as Error).message).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*ECONNREFUSED`))
      expect((err as Error).message).not.toContain('s3cret')
    }
  })

  it('rejects a URL that is not http, ws or an IPC path', async () => {
    await expect(connectEthNode('ftp://127.0.0.1/')).rejects.toThrow(/unsupported node URL/)
  })
})
