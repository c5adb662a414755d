import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createNetServer, type Server as NetServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createFakeNetwork } from '../test/fakenode/fakeNetwork.ts'
import { startFakeNode } from '../test/fakenode/fakeNode.ts'
import { NodeRpcError, NodeUnavailableError } from './errors.ts'
import type { NodeRpc } from './ethNode.ts'
import { connectNodeRpc } from './nodeRpc.ts'

const net = createFakeNetwork()
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
  await net.closeAll()
})

const rpcFor = (url: string, timeoutMs = 2000): NodeRpc => {
  const rpc = connectNodeRpc(url, { timeoutMs })
  cleanups.push(() => rpc.close())
  return rpc
}
const ipcPath = () => join(tmpdir(), `noderpc-${process.pid}-${Math.random().toString(36).slice(2, 8)}.ipc`)

async function listen(server: Server | NetServer, where: number | string): Promise<void> {
  await new Promise<void>((resolve) => server.listen(where as number, '127.0.0.1', resolve))
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
}

describe('connectNodeRpc', () => {
  it.each(['http', 'ws', 'ipc'] as const)('over %s: matches concurrent replies to requests and surfaces node errors', async (t) => {
    const fake = await startFakeNode({ kind: 'geth', network: net, chainId: 42, ...(t === 'ipc' ? { ipcPath: ipcPath() } : {}) })
    const rpc = rpcFor(t === 'http' ? fake.url : t === 'ws' ? fake.wsUrl : fake.ipcPath!)
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => rpc.request(i % 2 ? 'eth_chainId' : 'net_version')),
    )
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 ? '0x2a' : '42')))

    const err = await rpc.request('admin_addPeer', ['enode://nope']).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NodeRpcError)
    expect(err).toMatchObject({ code: -32000, message: expect.stringMatching(/^invalid enode/) })
  })

  it('treats a JSON reply without result or error as malformed', async () => {
    const server = createHttpServer((_req, res) => res.end('{"jsonrpc":"2.0","id":1}'))
    await listen(server, 0)
    const port = (server.address() as { port: number }).port
    const err = await rpcFor(`http://127.0.0.1:${port}`).request('eth_chainId').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NodeUnavailableError)
    expect((err as Error).message).toMatch(/malformed reply .*no result/)
  })

  it('reads IPC replies that arrive split and back to back, without newlines', async () => {
    const path = ipcPath()
    const server = createNetServer((sock) => {
      let buf = ''
      sock.on('data', (d) => {
        buf += d.toString()
        const reqs = buf.split('}').filter((s) => s.includes('"id"'))
        if (reqs.length < 2) return
        // Both replies in reverse order, dribbled out a few bytes at a time.
        const text = '{"jsonrpc":"2.0","id":2,"result":"b}"}{"jsonrpc":"2.0","id":1,"result":"a{"}'
        let i = 0
        const timer = setInterval(() => {
          sock.write(text.slice(i, i + 7))
          i += 7
          if (i >= text.length) clearInterval(timer)
        }, 1)
      })
    })
    await new Promise<void>((resolve) => server.listen(path, resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const rpc = rpcFor(path)
    expect(await Promise.all([rpc.request('a'), rpc.request('b')])).toEqual(['a{', 'b}'])
  })

  it('fails requests in flight when a WebSocket drops, and reconnects on the next request', async () => {
    const fake = await startFakeNode({ kind: 'geth', network: net })
    const rpc = rpcFor(fake.wsUrl)
    expect(await rpc.request('eth_chainId')).toBe('0x539')
    fake.setSlow(300)
    const inFlight = rpc.request('eth_chainId').catch((e: unknown) => e)
    await new Promise((r) => setTimeout(r, 20)) // let the request reach the socket
    fake.setDown(true)
    const err = await inFlight
    expect(err).toBeInstanceOf(NodeUnavailableError)
    expect((err as Error).message).toMatch(/connection closed/)
    fake.setDown(false)
    fake.setSlow(0)
    expect(await rpc.request('eth_chainId')).toBe('0x539')
  })

  it('refuses requests after close()', async () => {
    const fake = await startFakeNode({ kind: 'geth', network: net })
    const rpc = connectNodeRpc(fake.wsUrl)
    await rpc.request('eth_chainId')
    await rpc.close()
    await expect(rpc.request('eth_chainId')).rejects.toThrow(NodeUnavailableError)
  })
})
