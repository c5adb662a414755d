/**
 * Deterministic, well-formed chain data for the fake node's eth_* methods:
 * what a light client (Helios, Nimbus verified proxy, Lodestar prover) asks
 * an execution RPC for at start-up. Nothing here is a valid Merkle proof or a
 * signed transaction; the shapes and types are those of geth's replies, and
 * the same inputs always give the same outputs (per chain ID), so tests can
 * compare a reply relayed through the pool with the node's own.
 *
 * Block n (n >= 1) carries n % 3 transactions, each with one log. Hashes are
 * keccak256 of labels, so blocks, transactions and logs cross-reference.
 */
import { keccak256, toUtf8Bytes } from 'ethers'

export type Hex = `0x${string}`

/** keccak256 of the empty string: the code hash of an account without code. */
export const EMPTY_CODE_HASH = '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'
/** The root of an empty Merkle-Patricia trie: the storage hash of an account without storage. */
export const EMPTY_TRIE_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421'
const ZERO_HASH = `0x${'0'.repeat(64)}`
const EMPTY_BLOOM = `0x${'0'.repeat(512)}`
const TX_GAS = 21_000
const GENESIS_TIME = 1_700_000_000
/** geth's default for eth_getLogs block ranges is unbounded; we refuse absurd ranges rather than allocate them. */
export const MAX_LOG_RANGE = 10_000

export class ChainDataError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`

export interface ChainView {
  chainId: number
  head: { number: number; hash: string }
  /** The canonical hash of block n (the head's may differ: setHead({number, hash})). */
  blockHash(n: number): string
  /** A lying node (checked answers): forged state roots in block headers, or forged account proofs. */
  lie?: FakeLie | undefined
}

export type FakeLie = 'state-root' | 'proof'

export function createChainData(view: () => ChainView) {
  const label = (text: string) => keccak256(toUtf8Bytes(`fakenode-${view().chainId}-${text}`))
  const address = (text: string) => `0x${label(text).slice(-40)}`
  const hashAt = (n: number) => {
    const v = view()
    return n === v.head.number ? v.head.hash : v.blockHash(n)
  }
  const txCount = (n: number) => (n === 0 ? 0 : n % 3)
  const txHash = (n: number, i: number) => label(`tx-${n}-${i}`)

  /** A block tag or hex number as a block number; null when it is beyond the head. */
  function resolve(tag: unknown, argIndex = 0): number | null {
    const headNumber = view().head.number
    if (tag === 'earliest') return 0
    if (tag === 'latest' || tag === 'pending' || tag === 'safe' || tag === 'finalized' || tag === undefined) return headNumber
    if (typeof tag === 'string' && /^0x[0-9a-f]+$/i.test(tag)) {
      const n = Number.parseInt(tag, 16)
      return n > headNumber ? null : n
    }
    throw new ChainDataError(-32602, `invalid argument ${argIndex}: hex string without 0x prefix`)
  }

  /** Like geth: a state query for a block that does not exist. */
  function resolveState(tag: unknown, argIndex: number): number {
    const n = resolve(tag, argIndex)
    if (n === null) throw new ChainDataError(-32000, 'header not found')
    return n
  }

  function addressParam(value: unknown, argIndex: number): string {
    if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(value)) {
      throw new ChainDataError(-32602, `invalid argument ${argIndex}: hex string has length ${typeof value === 'string' ? value.length - 2 : 0}, want 40 for common.Address`)
    }
    return value.toLowerCase()
  }

  function transaction(n: number, i: number): Record<string, unknown> {
    return {
      blockHash: hashAt(n),
      blockNumber: hex(n),
      chainId: hex(view().chainId),
      from: address(`sender-${i}`),
      gas: hex(TX_GAS),
      gasPrice: hex(1_000_000_000),
      maxFeePerGas: hex(2_000_000_000),
      maxPriorityFeePerGas: hex(1_000_000_000),
      hash: txHash(n, i),
      input: '0x',
      nonce: hex(n),
      to: address(`recipient-${i}`),
      transactionIndex: hex(i),
      value: hex(1_000 + n),
      type: '0x2',
      accessList: [],
      v: '0x0',
      yParity: '0x0',
      r: label(`r-${n}-${i}`),
      s: label(`s-${n}-${i}`),
    }
  }

  function log(n: number, i: number): Record<string, unknown> {
    return {
      address: address(`emitter-${i}`),
      topics: [label('Transfer(address,address,uint256)'), label(`topic-${n}-${i}`)],
      data: `0x${(n * 10 + i).toString(16).padStart(64, '0')}`,
      blockNumber: hex(n),
      blockHash: hashAt(n),
      transactionHash: txHash(n, i),
      transactionIndex: hex(i),
      logIndex: hex(i),
      removed: false,
    }
  }

  function receipt(n: number, i: number): Record<string, unknown> {
    return {
      blockHash: hashAt(n),
      blockNumber: hex(n),
      contractAddress: null,
      cumulativeGasUsed: hex(TX_GAS * (i + 1)),
      effectiveGasPrice: hex(1_000_000_000),
      from: address(`sender-${i}`),
      gasUsed: hex(TX_GAS),
      logs: [log(n, i)],
      logsBloom: EMPTY_BLOOM,
      status: '0x1',
      to: address(`recipient-${i}`),
      transactionHash: txHash(n, i),
      transactionIndex: hex(i),
      type: '0x2',
    }
  }

  /** A post-Cancun header, as newHeads notifications carry it. */
  function header(n: number): Record<string, unknown> {
    const count = txCount(n)
    return {
      number: hex(n),
      hash: hashAt(n),
      parentHash: n === 0 ? ZERO_HASH : hashAt(n - 1),
      nonce: '0x0000000000000000',
      sha3Uncles: '0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347',
      logsBloom: EMPTY_BLOOM,
      transactionsRoot: count === 0 ? EMPTY_TRIE_ROOT : label(`txroot-${n}`),
      stateRoot: view().lie === 'state-root' ? label(`forged-state-${n}`) : label(`state-${n}`),
      receiptsRoot: count === 0 ? EMPTY_TRIE_ROOT : label(`receiptroot-${n}`),
      miner: address('miner'),
      difficulty: '0x0',
      extraData: '0x',
      gasLimit: hex(30_000_000),
      gasUsed: hex(TX_GAS * count),
      timestamp: hex(GENESIS_TIME + n * 12),
      mixHash: label(`randao-${n}`),
      baseFeePerGas: hex(1_000_000_000),
      withdrawalsRoot: EMPTY_TRIE_ROOT,
      blobGasUsed: '0x0',
      excessBlobGas: '0x0',
      parentBeaconBlockRoot: label(`beacon-${n}`),
    }
  }

  return {
    resolve,

    /** eth_getBlockByNumber(tag, fullTransactions). */
    block(tag: unknown, full: unknown): Record<string, unknown> | null {
      const n = resolve(tag)
      if (n === null) return null
      const count = txCount(n)
      return {
        ...header(n),
        totalDifficulty: '0x0',
        size: hex(600 + count * 120),
        transactions: Array.from({ length: count }, (_, i) => (full === true ? transaction(n, i) : txHash(n, i))),
        uncles: [],
        withdrawals: [],
      }
    },

    header,

    /** eth_getBlockReceipts(tag): null for a block we do not have, as geth. */
    blockReceipts(tag: unknown): Record<string, unknown>[] | null {
      const n = resolve(tag)
      if (n === null) return null
      return Array.from({ length: txCount(n) }, (_, i) => receipt(n, i))
    },

    /** eth_getLogs({fromBlock, toBlock, blockHash, address, topics}). */
    logs(filter: unknown): Record<string, unknown>[] {
      if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw new ChainDataError(-32602, 'invalid argument 0: expected a filter object')
      const f = filter as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown; address?: unknown; topics?: unknown }
      let from: number
      let to: number
      if (f.blockHash !== undefined) {
        if (f.fromBlock !== undefined || f.toBlock !== undefined) throw new ChainDataError(-32602, 'invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other')
        const headNumber = view().head.number
        let found = -1
        for (let n = headNumber; n >= 0 && n > headNumber - MAX_LOG_RANGE; n--) {
          if (hashAt(n) === f.blockHash) {
            found = n
            break
          }
        }
        if (found < 0) throw new ChainDataError(-32000, 'unknown block')
        from = to = found
      } else {
        const headNumber = view().head.number
        from = resolve(f.fromBlock ?? 'latest') ?? headNumber + 1
        to = resolve(f.toBlock ?? 'latest') ?? headNumber
        if (from > to) return []
        if (to - from >= MAX_LOG_RANGE) throw new ChainDataError(-32005, `query exceeds max block range ${MAX_LOG_RANGE}`)
      }
      const addresses = f.address === undefined || f.address === null ? undefined : (Array.isArray(f.address) ? f.address : [f.address]).map((a) => String(a).toLowerCase())
      const topics = Array.isArray(f.topics) ? f.topics : []
      const out: Record<string, unknown>[] = []
      for (let n = from; n <= to; n++) {
        for (let i = 0; i < txCount(n); i++) {
          const l = log(n, i)
          if (addresses && !addresses.includes(l.address as string)) continue
          const lt = l.topics as string[]
          const matches = topics.every((want, k) => {
            if (want === null || want === undefined) return true
            const options = (Array.isArray(want) ? want : [want]).map((t) => String(t).toLowerCase())
            return lt[k] !== undefined && options.includes(lt[k]!)
          })
          if (matches) out.push(l)
        }
      }
      return out
    },

    balance(addr: unknown, tag: unknown): string {
      const a = addressParam(addr, 0)
      resolveState(tag, 1)
      return hex(BigInt(label(`balance-${a}`).slice(0, 18)))
    },

    /** eth_getProof(address, storageKeys, block): an EIP-1186 proof, consistent with eth_getBalance. */
    proof(addr: unknown, keys: unknown, tag: unknown): Record<string, unknown> {
      const a = addressParam(addr, 0)
      if (!Array.isArray(keys)) throw new ChainDataError(-32602, 'invalid argument 1: expected an array of storage keys')
      const n = resolveState(tag, 2)
      return {
        address: a,
        accountProof: [0, 1, 2].map((d) => `0xf90211${label(`${view().lie === 'proof' ? 'forged-' : ''}proof-${n}-${a}-${d}`).slice(2)}`),
        balance: hex(BigInt(label(`balance-${a}`).slice(0, 18))),
        codeHash: EMPTY_CODE_HASH,
        nonce: '0x0',
        storageHash: EMPTY_TRIE_ROOT,
        storageProof: keys.map((k) => ({ key: String(k), value: '0x0', proof: [] })),
      }
    },

    /** eth_createAccessList(tx, block): a plain transfer touches no storage. */
    accessList(tx: unknown, tag: unknown): { accessList: unknown[]; gasUsed: string } {
      if (typeof tx !== 'object' || tx === null) throw new ChainDataError(-32602, 'invalid argument 0: expected a transaction object')
      resolveState(tag, 1)
      return { accessList: [], gasUsed: hex(TX_GAS) }
    },

    /** State reads that need only a valid address and an existing block. */
    stateRead(addr: unknown, tag: unknown, argIndex = 1): void {
      addressParam(addr, 0)
      resolveState(tag, argIndex)
    },

    resolveState,
  }
}

export type ChainData = ReturnType<typeof createChainData>
