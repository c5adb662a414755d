// An in-process Ethereum dev chain on Nomic Foundation's EDR (the engine inside Hardhat), exposed
// as an EIP-1193 provider. Contract tests and benchmarks use it, and a `vipnode devchain` command
// can serve it over HTTP via `handleJsonRpc`. Hardhat itself refuses Node 20, so we drive EDR
// directly (shared/TOOLCHAIN.md).
import { EventEmitter } from 'node:events'
import {
  ContractDecoder,
  EdrContext,
  L1_CHAIN_TYPE,
  MineOrdering,
  l1GenesisState,
  l1HardforkFromString,
  l1ProviderFactory,
} from '@nomicfoundation/edr'
import type { Provider as EdrNativeProvider, ProviderConfig, SubscriptionEvent } from '@nomicfoundation/edr'
import { BrowserProvider, JsonRpcSigner, computeAddress, getBytes, parseEther, toQuantity } from 'ethers'

/** The well-known Hardhat/Anvil dev mnemonic. Its keys are public: never use them on a real chain. */
export const DEV_MNEMONIC = 'test test test test test test test test test test test junk'

/**
 * The first ten keys of DEV_MNEMONIC on m/44'/60'/0'/0/i, precomputed because deriving them costs
 * ~90 ms per start (edr.test.ts re-derives them to prove they match).
 */
export const DEV_PRIVATE_KEYS: readonly string[] = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
  '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e',
  '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356',
  '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97',
  '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6',
]

export const DEFAULT_CHAIN_ID = 31337
export const DEFAULT_ACCOUNT_BALANCE = parseEther('10000')
const BLOCK_GAS_LIMIT = 30_000_000n
// Hardhat's coinbase, so priority fees never land in (and skew the balances of) a test account.
const COINBASE = '0xc014ba5ec014ba5ec014ba5ec014ba5ec014ba5e'

export interface DevAccount {
  privateKey: string
  balance: bigint
}

export interface FundedAccount extends DevAccount {
  address: string
}

export interface EdrProviderOptions {
  chainId?: number
  /** Funded at genesis and unlocked for eth_sendTransaction. Default: DEV_PRIVATE_KEYS, 10,000 ETH each. */
  accounts?: readonly DevAccount[]
  /** Default 'cancun', the evmVersion the contracts are compiled for. */
  hardfork?: string
}

export interface Eip1193RequestArguments {
  readonly method: string
  readonly params?: readonly unknown[] | object
}

export interface Eip1193Provider {
  request(args: Eip1193RequestArguments): Promise<unknown>
}

export interface JsonRpcRequest {
  jsonrpc: '2.0'
  id: string | number | null
  method: string
  params?: readonly unknown[] | object
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0', id: string | number | null, result: unknown }
  | { jsonrpc: '2.0', id: string | number | null, error: { code: number, message: string, data?: unknown } }

/**
 * A JSON-RPC error from EDR. `data` is the revert data (0x…) when the call reverted: EDR nests it
 * as `error.data.data`, where ethers would not find it, so custom errors would not decode.
 * `edrData` keeps EDR's original `data` object.
 */
export class EdrRpcError extends Error {
  readonly code: number
  readonly data: unknown
  readonly edrData: unknown

  constructor(code: number, message: string, edrData: unknown) {
    super(message)
    this.name = 'EdrRpcError'
    this.code = code
    this.edrData = edrData
    this.data = revertDataOf(edrData) ?? edrData
  }
}

/**
 * An EIP-1193 provider over one EDR chain. Emits `message` events
 * (`{type: 'eth_subscription', data: {subscription, result}}`) for `eth_subscribe`.
 */
export class EdrEip1193Provider extends EventEmitter implements Eip1193Provider {
  readonly chainId: number
  readonly accounts: readonly FundedAccount[]
  readonly #native: EdrNativeProvider

  constructor(native: EdrNativeProvider, chainId: number, accounts: readonly FundedAccount[]) {
    super()
    this.#native = native
    this.chainId = chainId
    this.accounts = accounts
  }

  async request(args: Eip1193RequestArguments): Promise<unknown> {
    const response = await this.handleJsonRpc({ jsonrpc: '2.0', id: 1, method: args.method, params: args.params ?? [] })
    if ('error' in response) throw new EdrRpcError(response.error.code, response.error.message, response.error.data)
    return response.result
  }

  /** Raw JSON-RPC in, JSON-RPC out (EDR's answers lack `jsonrpc` and `id`; they are added here). */
  async handleJsonRpc(request: JsonRpcRequest): Promise<JsonRpcResponse> {
    const response = await this.#native.handleRequest(JSON.stringify(request))
    const body = (typeof response.data === 'string' ? JSON.parse(response.data) : response.data) as
      { result?: unknown, error?: { code: number, message: string, data?: unknown } }
    if (body.error !== undefined) return { jsonrpc: '2.0', id: request.id, error: body.error }
    return { jsonrpc: '2.0', id: request.id, result: body.result }
  }

  /** @internal Called by EDR for eth_subscribe notifications. */
  notify(event: SubscriptionEvent): void {
    this.emit('message', { type: 'eth_subscription', data: { subscription: toQuantity(event.filterId), result: event.result } })
  }
}

// EDR allows one EdrContext per process ("Should only be called once!"); every provider shares it.
let contextPromise: Promise<EdrContext> | undefined

function edrContext(): Promise<EdrContext> {
  contextPromise ??= (async () => {
    const context = new EdrContext()
    await context.registerProviderFactory(L1_CHAIN_TYPE, l1ProviderFactory())
    return context
  })()
  return contextPromise
}

/** The default dev accounts (DEV_PRIVATE_KEYS), each funded with `balance`. */
export function devAccounts(balance: bigint = DEFAULT_ACCOUNT_BALANCE): DevAccount[] {
  return DEV_PRIVATE_KEYS.map((privateKey) => ({ privateKey, balance }))
}

/**
 * Starts a fresh, empty chain: automine (one block per transaction), `options.hardfork`
 * (default cancun), 1 gwei initial base fee, reverts returned as JSON-RPC errors.
 */
export async function startEdrProvider(options: EdrProviderOptions = {}): Promise<EdrEip1193Provider> {
  const chainId = options.chainId ?? DEFAULT_CHAIN_ID
  const hardfork = options.hardfork ?? 'cancun'
  const accounts = (options.accounts ?? devAccounts()).map((a) => ({ ...a, address: computeAddress(a.privateKey) }))
  const context = await edrContext()

  let provider: EdrEip1193Provider | undefined
  const config: ProviderConfig = {
    allowBlocksWithSameTimestamp: false,
    allowUnlimitedContractSize: false,
    // Return failed calls and transactions as JSON-RPC errors (with revert data), as Hardhat does;
    // a failed transaction is still mined.
    bailOnCallFailure: true,
    bailOnTransactionFailure: true,
    chainId: BigInt(chainId),
    coinbase: getBytes(COINBASE),
    defaultTransactionGasLimit: BLOCK_GAS_LIMIT,
    // The system contracts the hardfork expects (e.g. the EIP-4788 beacon roots contract), then our accounts.
    genesisState: [
      ...l1GenesisState(l1HardforkFromString(hardfork)),
      ...accounts.map((a) => ({ address: getBytes(a.address), balance: a.balance })),
    ],
    hardfork,
    initialBaseFeePerGas: 1_000_000_000n,
    minGasPrice: 0n,
    mining: { autoMine: true, blockGasLimit: BLOCK_GAS_LIMIT, memPool: { order: MineOrdering.Priority } },
    network: { genesisBlockGasLimit: BLOCK_GAS_LIMIT },
    networkId: BigInt(chainId),
    observability: {},
    ownedAccounts: accounts.map((a) => a.privateKey),
    precompileOverrides: [],
  }
  const native = await context.createProvider(
    L1_CHAIN_TYPE,
    config,
    { enable: false, decodeConsoleLogInputsCallback: () => [], printLineCallback: () => {} },
    { subscriptionCallback: (event) => provider?.notify(event) },
    new ContractDecoder(),
  )
  provider = new EdrEip1193Provider(native, chainId, accounts)
  return provider
}

export interface EthersOnEdr {
  provider: BrowserProvider
  /** One signer per funded account, in order; EDR signs their eth_sendTransaction itself. */
  signers: JsonRpcSigner[]
}

/**
 * ethers v6 on top of an EDR provider. The static network and disabled cache stop ethers from
 * asking eth_chainId before every request and from serving a stale block number after automine.
 */
export function ethersOn(p: EdrEip1193Provider): EthersOnEdr {
  const provider = new BrowserProvider(p, p.chainId, { staticNetwork: true, cacheTimeout: -1 })
  return { provider, signers: p.accounts.map((a) => new JsonRpcSigner(provider, a.address)) }
}

function revertDataOf(edrData: unknown): string | undefined {
  if (typeof edrData !== 'object' || edrData === null) return undefined
  const nested = (edrData as { data?: unknown }).data
  return typeof nested === 'string' && nested.startsWith('0x') ? nested : undefined
}
