/**
 * Real @ethereumjs/client 0.10.5 nodes for end-to-end tests, on a private
 * clique chain, loopback RPC only, with node keys we choose (see
 * /work/shared/REALNODE.md for the client's behaviour this builds on).
 *
 * - The node key has no flag and the client never saves the one it
 *   generates, so it is written into the client's LevelDB config store
 *   (`<dataDir>/<chain>/config`, key `config:client_key`, 32 raw bytes)
 *   before the first start; the node then has a known, stable enode.
 * - Never started without `--gethGenesis` (the default chain is mainnet,
 *   which dials public bootnodes), with discovery off and without `--ws`
 *   (it ignores `--wsAddr` and would listen on every interface). devp2p
 *   itself always binds 0.0.0.0; the enode advertises 127.0.0.1.
 * - Every child is killed by its PID when the test process exits, even if
 *   a test forgot to, so no node outlives its run.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { mkdirSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Level } from 'level'
import { parseEnode, type NodeId } from '../../protocol/enode.ts'
import { nodeIdOf, type NodeKey } from '../../protocol/nodeKey.ts'

export const ETHEREUMJS_CLI = fileURLToPath(new URL('../../node_modules/@ethereumjs/client/dist/esm/bin/cli.js', import.meta.url))

export interface GenesisFile {
  path: string
  /** The client names the chain after the file's basename; its data lives under `<dataDir>/<chain>`. */
  chain: string
}

/** Write a geth genesis where the client expects it; `chain` becomes the file name. */
export function writeGenesis(dir: string, genesis: Record<string, unknown>, chain = 'vipnodetest'): GenesisFile {
  if (!/^[a-z0-9_-]+$/i.test(chain)) throw new TypeError(`chain name must be a plain file name, got ${chain}`)
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${chain}.json`)
  writeFileSync(path, JSON.stringify(genesis, null, 2))
  return { path, chain }
}

export interface StartRealNodeOptions {
  /** For logs and the data directory (`<dir>/<name>`). */
  name: string
  dir: string
  genesis: GenesisFile
  nodeKey: NodeKey
  /** Seal blocks as this clique signer (private key hex, no 0x). */
  mine?: { signerKey: string }
  /** devp2p slots. ethereumjs has no trusted peers, so a host needs room for every client (and their dial entries, see ethnode/ethereumjs.ts). */
  maxPeers?: number
  /** How long the RPC may take to answer after spawn. */
  readyTimeoutMs?: number
  /** The client's console log level (default info). */
  logLevel?: 'error' | 'warn' | 'info' | 'debug'
}

export interface RealNode {
  readonly name: string
  readonly rpcUrl: string
  readonly enode: string
  readonly nodeId: NodeId
  readonly nodeKey: NodeKey
  readonly p2pPort: number
  readonly rpcPort: number
  readonly pid: number
  readonly dataDir: string
  /** The last lines the client printed, for failure messages. */
  readonly output: string[]
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  rpc(method: string, params?: unknown[]): Promise<unknown>
  blockNumber(): Promise<number>
  /** Public keys of the peers this node is connected to (dial entries filtered out). */
  peerIds(): Promise<NodeId[]>
  /** kill -9, and wait for the process to be gone. */
  kill(): Promise<void>
  /** SIGTERM (ethereumjs takes ~8 s to shut down), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>
}

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) {
    try {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
})

/** Seed the node key where the client reads it (its LevelDB config store). The node must not be running. */
export async function seedNodeKey(dataDir: string, chain: string, nodeKey: NodeKey): Promise<void> {
  const location = join(dataDir, chain, 'config')
  mkdirSync(location, { recursive: true })
  const db = new Level<string, Uint8Array>(location, { keyEncoding: 'utf8', valueEncoding: 'view' })
  try {
    await db.put('config:client_key', Buffer.from(nodeKey, 'hex'), { keyEncoding: 'utf8', valueEncoding: 'view' })
  } finally {
    await db.close()
  }
}

export async function startRealNode(options: StartRealNodeOptions): Promise<RealNode> {
  const dataDir = join(options.dir, options.name)
  mkdirSync(dataDir, { recursive: true })
  await seedNodeKey(dataDir, options.genesis.chain, options.nodeKey)
  if (basename(options.genesis.path).split('.')[0] !== options.genesis.chain) throw new TypeError('genesis.chain must be the file basename')
  let signerFile: string | undefined
  if (options.mine) {
    signerFile = join(dataDir, 'signer.key')
    writeFileSync(signerFile, options.mine.signerKey.replace(/^0x/, ''), { mode: 0o600 })
  }
  // A port picked free can be taken by someone else before the node binds it: try again with new ones.
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(options, dataDir, signerFile)
    } catch (err) {
      lastError = err
      if (!/EADDRINUSE/.test((err as Error).message)) throw err
    }
  }
  throw lastError
}

async function launch(options: StartRealNodeOptions, dataDir: string, signerFile: string | undefined): Promise<RealNode> {
  const p2pPort = await freePort(true)
  const rpcPort = await freePort(false)
  const args = [
    ETHEREUMJS_CLI,
    '--gethGenesis', options.genesis.path,
    '--dataDir', dataDir,
    '--port', String(p2pPort),
    '--extIP', '127.0.0.1',
    '--rpc',
    '--rpcAddr', '127.0.0.1',
    '--rpcPort', String(rpcPort),
    // Not `--logFile false`: that is the string "false", a daily log file of that name in the cwd.
    '--no-logFile',
    '--discV4=false',
    '--discDns=false',
    '--maxPeers', String(options.maxPeers ?? 25),
    '--logLevel', options.logLevel ?? 'info',
  ]
  if (signerFile) args.push('--mine', '--unlock', signerFile)
  // cwd = the data dir, so nothing the client writes lands in the repository.
  const child = spawn(process.execPath, args, { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } })
  if (child.pid === undefined) throw new Error(`could not spawn ethereumjs for ${options.name}`)
  live.add(child)
  const output: string[] = []
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      // eslint-disable-next-line no-control-regex
      if (line.trim()) output.push(line.replace(/\x1b\[[0-9;]*m/g, ''))
    }
    if (output.length > 300) output.splice(0, output.length - 300)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  let gone = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      gone = true
      live.delete(child)
      resolve({ code, signal })
    })
  })

  const rpcUrl = `http://127.0.0.1:${rpcPort}/`
  let nextId = 1
  const rpc = async (method: string, params: unknown[] = []): Promise<unknown> => {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
      signal: AbortSignal.timeout(10_000),
    })
    const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string } }
    if (body.error) throw Object.assign(new Error(`${options.name} ${method}: ${body.error.message} (${body.error.code})`), { code: body.error.code })
    return body.result
  }

  const kill = async () => {
    if (!gone) child.kill('SIGKILL')
    await exited
  }

  try {
    // Poll the RPC until it answers: the client takes 1–2 s, longer on a busy machine.
    const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000)
    for (;;) {
      if (gone) throw new Error(`ethereumjs ${options.name} exited before its RPC answered:\n${output.slice(-30).join('\n')}`)
      // A port taken between picking and binding: the client logs it and carries on (RPC) or hangs; start over.
      if (output.some((l) => /EADDRINUSE/.test(l))) throw new Error(`EADDRINUSE: ethereumjs ${options.name} could not bind a port`)
      try {
        const version = await rpc('web3_clientVersion')
        if (typeof version === 'string') break
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`ethereumjs ${options.name} RPC did not answer on ${rpcUrl} in time:\n${output.slice(-30).join('\n')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    const info = (await rpc('admin_nodeInfo')) as { enode: string }
    const enode = parseEnode(info.enode)
    const expected = nodeIdOf(options.nodeKey)
    if (enode.nodeId !== expected) throw new Error(`ethereumjs ${options.name} runs with node ID ${enode.nodeId.slice(0, 16)}…, not the seeded key's ${expected.slice(0, 16)}…`)
    if (enode.tcpPort !== p2pPort) throw new Error(`ethereumjs ${options.name} advertises port ${enode.tcpPort}, not ${p2pPort}`)
    // devp2p failing to bind does not stop the client: make sure it listens.
    if (!(await tcpAccepting(p2pPort))) throw new Error(`EADDRINUSE: ethereumjs ${options.name} is not listening on p2p port ${p2pPort}`)
    return {
      name: options.name,
      rpcUrl,
      enode: info.enode,
      nodeId: enode.nodeId,
      nodeKey: options.nodeKey,
      p2pPort,
      rpcPort,
      pid: child.pid,
      dataDir,
      output,
      exited,
      rpc,
      async blockNumber() {
        return Number.parseInt(String(await rpc('eth_blockNumber')).slice(2), 16)
      },
      async peerIds() {
        const list = (await rpc('admin_peers')) as { id?: unknown; name?: unknown }[]
        // `0x…` ids with no name are the never-connected entries admin_addPeer leaves behind.
        return list
          .filter((p) => typeof p.id === 'string' && !p.id.startsWith('0x') && p.name !== null)
          .map((p) => (p.id as string).toLowerCase() as NodeId)
      },
      kill,
      async stop(graceMs = 10_000) {
        if (gone) return
        child.kill('SIGTERM')
        const timer = setTimeout(() => {
          if (!gone) child.kill('SIGKILL')
        }, graceMs)
        await exited
        clearTimeout(timer)
      },
    }
  } catch (err) {
    await kill()
    const text = (err as Error).message
    if (output.some((l) => /EADDRINUSE/.test(l))) throw new Error(`EADDRINUSE: ${text}`)
    throw err
  }
}

function tcpAccepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port })
    const done = (ok: boolean) => {
      sock.destroy()
      resolve(ok)
    }
    sock.setTimeout(2_000, () => done(false))
    sock.once('connect', () => done(true))
    sock.once('error', () => done(false))
  })
}

const handedOut = new Set<number>()

/** A port free right now on every interface (devp2p binds 0.0.0.0), TCP and, for p2p, UDP too. */
async function freePort(udpToo: boolean): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer()
      srv.once('error', reject)
      srv.listen(0, '0.0.0.0', () => {
        const p = (srv.address() as { port: number }).port
        srv.close(() => resolve(p))
      })
    })
    if (handedOut.has(port)) continue
    if (udpToo && !(await udpFree(port))) continue
    handedOut.add(port)
    return port
  }
  throw new Error('no free port found')
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4')
    sock.once('error', () => {
      try {
        sock.close()
      } catch {
        // never bound
      }
      resolve(false)
    })
    sock.bind(port, '0.0.0.0', () => sock.close(() => resolve(true)))
  })
}
