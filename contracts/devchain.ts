/**
 * A local chain for trying the whole pool on one machine: EDR (an in-process
 * EVM) behind a JSON-RPC HTTP server on loopback, with funded dev accounts
 * and the payout contract deployed. Blocks are mined on every transaction
 * and, with `blockTimeMs`, on a timer too, so confirmations advance.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { startEdrProvider, ethersOn, DEFAULT_CHAIN_ID, type EdrEip1193Provider, type FundedAccount, type JsonRpcRequest } from './edr.ts'
import { deployVipnodePool } from './artifacts.ts'

export interface DevchainOptions {
  host?: string
  port?: number
  chainId?: number
  /** Mine an empty block this often (0: only on transactions). */
  blockTimeMs?: number
  /** Seconds a proposed root waits before it is claimable (default DEV_ROOT_DELAY_S). */
  rootDelaySeconds?: number
}

/** The dev chain's default root delay: short enough to try the pool by hand, long enough to see a root pending. */
export const DEV_ROOT_DELAY_S = 30

export interface Devchain {
  url: string
  chainId: number
  provider: EdrEip1193Provider
  /**
   * accounts[0] deployed the pool and is its proposer (the coordinator's key); accounts[1] receives
   * the pool fee; accounts[8] is the owner and accounts[9] the guardian.
   */
  accounts: readonly FundedAccount[]
  contractAddress: string
  rootDelaySeconds: number
  close(): Promise<void>
}

const MAX_BODY = 5 * 1024 * 1024

export async function startDevchain(options: DevchainOptions = {}): Promise<Devchain> {
  const provider = await startEdrProvider({ chainId: options.chainId ?? DEFAULT_CHAIN_ID })
  const { signers } = ethersOn(provider)
  const rootDelaySeconds = options.rootDelaySeconds ?? DEV_ROOT_DELAY_S
  const [proposer, feeRecipient, owner, guardian] = [0, 1, 8, 9].map((i) => provider.accounts[i]!.address)
  const pool = await deployVipnodePool(signers[0]!, { owner: owner!, proposer: proposer!, guardian: guardian!, feeRecipient: feeRecipient!, rootDelaySeconds })
  const contractAddress = await pool.getAddress()

  const server = createServer((req, res) => void serve(provider, req, res))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 8545, options.host ?? '127.0.0.1', () => resolve())
  })
  const miner = options.blockTimeMs ? setInterval(() => void provider.request({ method: 'evm_mine', params: [] }).catch(() => undefined), options.blockTimeMs) : undefined
  miner?.unref()
  const addr = server.address() as AddressInfo
  return {
    url: `http://${addr.address}:${addr.port}`,
    chainId: provider.chainId,
    provider,
    accounts: provider.accounts,
    contractAddress,
    rootDelaySeconds,
    async close() {
      clearInterval(miner)
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function serve(provider: EdrEip1193Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  if (req.method !== 'POST') return reply(405, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'POST JSON-RPC requests' } })
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) return reply(413, { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'request too large' } })
    chunks.push(chunk as Buffer)
  }
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return reply(200, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } })
  }
  const one = (r: unknown) =>
    typeof r === 'object' && r !== null && typeof (r as JsonRpcRequest).method === 'string'
      ? provider.handleJsonRpc({ jsonrpc: '2.0', id: (r as JsonRpcRequest).id ?? null, method: (r as JsonRpcRequest).method, params: (r as JsonRpcRequest).params ?? [] })
      : Promise.resolve({ jsonrpc: '2.0' as const, id: null, error: { code: -32600, message: 'invalid request' } })
  reply(200, Array.isArray(body) ? await Promise.all(body.map(one)) : await one(body))
}
