/**
 * A scriptable EIP-1193 wallet for browser tests: `installWallet(page, …)`
 * puts `window.ethereum` into the page (before its scripts run) and bridges
 * every request to Node, where an ethers Wallet with a funded dev key signs
 * and a dev chain's JSON-RPC answers reads. Reads are forwarded raw, so the
 * page sees the node's own error shapes (revert data and all), as it would
 * through a real wallet.
 *
 * Like a real wallet it has a current chain (switchable, and unknown chains
 * answer 4902 until added), needs eth_requestAccounts before it shares an
 * account, and can be told to refuse the next request of a method with 4001.
 */
import type { Page } from 'playwright-core'
import { JsonRpcProvider, Wallet, toQuantity } from 'ethers'

export interface WalletError {
  code: number
  message: string
  data?: unknown
}

export interface BrowserWalletOptions {
  /** The dev chain's JSON-RPC URL and id: where transactions go and reads are answered. */
  rpcUrl: string
  chainId: number
  privateKey: string
  /** The chain the wallet starts on (default: the dev chain). */
  startChainId?: number
  /** Chains the wallet knows (default: the start chain and the dev chain). Others answer 4902. */
  knownChainIds?: number[]
}

export class BrowserWallet {
  readonly address: string
  readonly requests: { method: string; params: unknown }[] = []
  /** Params of every wallet_addEthereumChain accepted. */
  readonly addedChains: unknown[] = []
  chainId: number
  connected = false
  /** While true, eth_getTransactionReceipt answers null: a transaction stays "pending" for as long as a test needs. */
  holdReceipts = false
  private readonly known: Set<number>
  private readonly refuse = new Map<string, number>()
  private readonly provider: JsonRpcProvider
  private readonly signer: Wallet
  private rpcId = 1

  constructor(private readonly opts: BrowserWalletOptions) {
    this.provider = new JsonRpcProvider(opts.rpcUrl, opts.chainId, { staticNetwork: true, cacheTimeout: -1 })
    this.signer = new Wallet(opts.privateKey, this.provider)
    this.address = this.signer.address
    this.chainId = opts.startChainId ?? opts.chainId
    this.known = new Set(opts.knownChainIds ?? [this.chainId, opts.chainId])
  }

  /** The next `times` requests of `method` fail with 4001, as if the person pressed Reject. */
  rejectNext(method: string, times = 1): void {
    this.refuse.set(method, times)
  }

  close(): void {
    this.provider.destroy()
  }

  /** One request from the page; errors come back as values because exposeFunction loses their fields. */
  async handle(method: string, params: unknown): Promise<{ result: unknown } | { error: WalletError }> {
    this.requests.push({ method, params })
    const refusals = this.refuse.get(method) ?? 0
    if (refusals > 0) {
      this.refuse.set(method, refusals - 1)
      return { error: { code: 4001, message: 'User rejected the request.' } }
    }
    try {
      return { result: await this.answer(method, Array.isArray(params) ? params : []) }
    } catch (err) {
      const e = err as WalletError & { shortMessage?: string; info?: { error?: WalletError } }
      if (typeof e.code === 'number') return { error: { code: e.code, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) } }
      // An ethers error: keep the node's JSON-RPC error when it has one (it carries revert data).
      const inner = e.info?.error
      return { error: inner && typeof inner.code === 'number' ? inner : { code: -32603, message: e.shortMessage ?? e.message } }
    }
  }

  private async answer(method: string, params: unknown[]): Promise<unknown> {
    const fail = (code: number, message: string): never => {
      throw Object.assign(new Error(message), { code })
    }
    switch (method) {
      case 'eth_requestAccounts':
        this.connected = true
        return [this.address]
      case 'eth_accounts':
        return this.connected ? [this.address] : []
      case 'eth_chainId':
        return toQuantity(this.chainId)
      case 'net_version':
        return String(this.chainId)
      case 'wallet_switchEthereumChain': {
        const id = Number(BigInt((params[0] as { chainId: string }).chainId))
        if (!this.known.has(id)) fail(4902, `Unrecognized chain ID "${toQuantity(id)}". Try adding the chain using wallet_addEthereumChain first.`)
        this.chainId = id
        return null
      }
      case 'wallet_addEthereumChain': {
        const p = params[0] as { chainId: string; rpcUrls?: string[] }
        if (!p?.rpcUrls?.length) fail(-32602, 'rpcUrls required')
        this.addedChains.push(p)
        this.known.add(Number(BigInt(p.chainId)))
        return null
      }
      case 'eth_sendTransaction': {
        if (!this.connected) fail(4100, 'The requested account has not been authorized by the user.')
        if (this.chainId !== this.opts.chainId) fail(-32603, `this test wallet only sends on chain ${this.opts.chainId}`)
        const tx = params[0] as { from?: string; to: string; data?: string; value?: string; gas?: string }
        if (tx.from && tx.from.toLowerCase() !== this.address.toLowerCase()) fail(4100, `unknown account ${tx.from}`)
        const sent = await this.signer.sendTransaction({
          to: tx.to,
          ...(tx.data ? { data: tx.data } : {}),
          ...(tx.value ? { value: BigInt(tx.value) } : {}),
          ...(tx.gas ? { gasLimit: BigInt(tx.gas) } : {}),
        })
        return sent.hash
      }
      case 'eth_getTransactionReceipt':
        if (this.holdReceipts) return null
        return this.forward(method, params)
      default:
        if (!method.startsWith('eth_')) fail(4200, `The wallet does not support ${method}`)
        if (this.chainId !== this.opts.chainId) fail(-32603, `this test wallet only reads chain ${this.opts.chainId}`)
        return this.forward(method, params)
    }
  }

  /** A read, raw, so the page gets the node's own error object. */
  private async forward(method: string, params: unknown[]): Promise<unknown> {
    const res = await fetch(this.opts.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: this.rpcId++, method, params }),
    })
    const body = (await res.json()) as { result?: unknown; error?: WalletError }
    if (body.error) throw Object.assign(new Error(body.error.message), body.error)
    return body.result
  }
}

/**
 * Give `page` a `window.ethereum` backed by `wallet` (call before page.goto).
 * chainChanged and accountsChanged fire after the requests that change them.
 */
export async function installWallet(page: Page, wallet: BrowserWallet): Promise<void> {
  await page.exposeFunction('__vipnodeTestWallet', (method: string, params: unknown) => wallet.handle(method, params))
  await page.addInitScript(() => {
    type Listener = (value: unknown) => void
    const bridge = (globalThis as unknown as { __vipnodeTestWallet: (m: string, p: unknown) => Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }> }).__vipnodeTestWallet
    const listeners = new Map<string, Set<Listener>>()
    const emit = (event: string, value: unknown) => {
      for (const l of listeners.get(event) ?? []) l(value)
    }
    const ethereum = {
      isVipnodeTestWallet: true,
      async request(args: { method: string; params?: unknown }) {
        if (!args || typeof args.method !== 'string') throw Object.assign(new Error('invalid request'), { code: -32600 })
        const before = args.method === 'wallet_switchEthereumChain' ? await bridge('eth_chainId', []) : undefined
        const r = await bridge(args.method, args.params ?? [])
        if (r.error) throw Object.assign(new Error(r.error.message), { code: r.error.code, ...(r.error.data === undefined ? {} : { data: r.error.data }) })
        if (args.method === 'wallet_switchEthereumChain') {
          const after = await bridge('eth_chainId', [])
          if (after.result !== before?.result) setTimeout(() => emit('chainChanged', after.result), 0)
        }
        if (args.method === 'eth_requestAccounts') setTimeout(() => emit('accountsChanged', r.result), 0)
        return r.result
      },
      on(event: string, listener: Listener) {
        if (!listeners.has(event)) listeners.set(event, new Set())
        listeners.get(event)!.add(listener)
        return ethereum
      },
      removeListener(event: string, listener: Listener) {
        listeners.get(event)?.delete(listener)
        return ethereum
      },
    }
    ;(globalThis as unknown as { ethereum: unknown }).ethereum = ethereum
  })
}
