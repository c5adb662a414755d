/**
 * The coordinator's side of the payout contract. Deposits are read from
 * `Deposited` events once they are `confirmations` blocks deep and credited
 * to the ledger exactly once (the transfer id is the log's transaction hash
 * and index). Settled roots go out through one queue (concurrency 1) that
 * owns the operator's nonce, checks the chain before sending, retries with
 * bumped fees, and never posts a root twice, even across restarts.
 */
import PQueue from 'p-queue'
import { Contract, JsonRpcProvider, type EventLog, type Wallet, type TransactionReceipt } from 'ethers'
import { Counter, type Registry } from 'prom-client'
import { loadVipnodePoolArtifact, vipnodePoolInterface } from '../../contracts/artifacts.ts'
import { depositAccountOf } from '../../contracts/depositAccount.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import { StoreError, type Store } from '../store/store.ts'
import { Accounts } from '../services/metering.ts'
import type { NodeId } from '../../protocol/index.ts'

export interface ChainOptions {
  chainRpc: string
  contract: string
  confirmations: number
  pollMs: number
  /** How long to wait for a root transaction before replacing it with higher fees. */
  txTimeoutMs: number
  maxAttempts: number
}

export interface ChainDeps {
  store: Store
  wallet: Wallet
  clock: Clock
  log: Logger
  registry: Registry
}

const SCAN_CHUNK = 2_000
const unassigned = (account: string) => `deposit:${account.toLowerCase()}`

export class ChainService {
  private readonly provider: JsonRpcProvider
  private readonly pool: Contract
  private readonly queue = new PQueue({ concurrency: 1 })
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private readonly metrics

  constructor(
    private readonly opts: ChainOptions,
    private readonly deps: ChainDeps,
  ) {
    this.provider = new JsonRpcProvider(opts.chainRpc, undefined, { staticNetwork: true, polling: true, pollingInterval: 1_000 })
    this.pool = new Contract(opts.contract, loadVipnodePoolArtifact().abi, deps.wallet.connect(this.provider))
    this.metrics = {
      deposits: new Counter({ name: 'vipnode_chain_deposits_credited_total', help: 'Deposited events credited to the ledger.', registers: [deps.registry] }),
      roots: new Counter({ name: 'vipnode_chain_roots_posted_total', help: 'Payout roots posted to the contract.', registers: [deps.registry] }),
      txFailures: new Counter({ name: 'vipnode_chain_tx_failures_total', help: 'Root transactions that failed or timed out.', registers: [deps.registry] }),
    }
  }

  /** Check the contract is there and the key is its operator, then poll. */
  async start(): Promise<void> {
    const code = await this.provider.getCode(this.opts.contract)
    if (code === '0x') throw new Error(`no contract at ${this.opts.contract} on ${this.opts.chainRpc}`)
    const operator = (await this.pool.getFunction('operator')()) as string
    if (operator.toLowerCase() !== this.deps.wallet.address.toLowerCase()) {
      throw new Error(`the operator key (${this.deps.wallet.address}) is not the contract's operator (${operator})`)
    }
    this.deps.log.info('payout contract attached', { contract: this.opts.contract, operator })
    const loop = () => {
      if (this.closed) return
      this.tick()
        .catch((err: unknown) => this.deps.log.error('chain poll failed', { error: (err as Error).message }))
        .finally(() => {
          if (!this.closed) this.timer = setTimeout(loop, this.opts.pollMs)
        })
    }
    loop()
  }

  /** One round: credit confirmed deposits, then post the latest root if it is not on chain yet. */
  tick(): Promise<void> {
    return this.queue.add(async () => {
      await this.scanDeposits()
      await this.postLatestRoot()
    })
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    await this.queue.onIdle()
    this.provider.destroy()
  }

  private async scanDeposits(): Promise<void> {
    const { store, log } = this.deps
    const safe = (await this.provider.getBlockNumber()) - this.opts.confirmations
    let from = Number((await store.getMeta('depositsScannedBlock')) ?? '-1') + 1
    if (safe < from) return
    const owners = await this.ownersByAccount()
    while (from <= safe) {
      const to = Math.min(safe, from + SCAN_CHUNK - 1)
      const logs = (await this.pool.queryFilter(this.pool.filters.Deposited!(), from, to)) as EventLog[]
      for (const ev of logs) {
        const [account, depositor, amount] = ev.args as unknown as [string, string, bigint]
        const owner = owners.get(account.toLowerCase())
        const credited = await this.post(`deposit:${ev.transactionHash}:${ev.index}`, owner ? Accounts.client(owner) : unassigned(account), amount, `deposit from ${depositor}`)
        if (credited) {
          this.metrics.deposits.inc()
          log.info('deposit credited', { account, client: owner, amountWei: amount.toString(), tx: ev.transactionHash })
        }
      }
      await store.setMeta('depositsScannedBlock', String(to))
      from = to + 1
    }
    // Deposits made before their node first connected wait in deposit:<account>; hand them over now.
    for (const [name, balance] of await store.balancesWithPrefix('deposit:')) {
      const owner = owners.get(name.slice('deposit:'.length))
      if (owner && balance > 0n) {
        await store.post({
          id: `deposit-assign:${name}:${this.deps.clock.now()}`,
          atMs: this.deps.clock.now(),
          memo: 'deposit assigned to its node',
          entries: [
            { account: name, amountWei: -balance },
            { account: Accounts.client(owner), amountWei: balance },
          ],
        })
      }
    }
  }

  private async ownersByAccount(): Promise<Map<string, NodeId>> {
    const nodes = await this.deps.store.listNodes({ role: 'client' })
    return new Map(nodes.map((n) => [depositAccountOf(n.nodeId), n.nodeId]))
  }

  /** External money in; false when this transfer was already credited. */
  private async post(id: string, account: string, amount: bigint, memo: string): Promise<boolean> {
    try {
      await this.deps.store.post({ id, atMs: this.deps.clock.now(), memo, entries: [{ account: Accounts.external, amountWei: -amount }, { account, amountWei: amount }] })
      return true
    } catch (err) {
      if (err instanceof StoreError && err.code === 'DUPLICATE_TRANSFER') return false
      throw err
    }
  }

  private async postLatestRoot(): Promise<void> {
    const { store, log, clock, wallet } = this.deps
    const latest = (await store.listEpochs()).filter((e) => e.tree !== '{}').at(-1)
    if (!latest || latest.txHash) return
    const onChainRoot = (await this.pool.getFunction('root')()) as string
    if (onChainRoot === latest.root) {
      // Posted before a crash, but not recorded: find the transaction instead of posting again.
      const events = (await this.pool.queryFilter(this.pool.filters.RootPosted!())) as EventLog[]
      const ev = events.reverse().find((e) => (e.args as unknown as [bigint, string])[1] === latest.root)
      await store.markEpochPosted(latest.epoch, ev?.transactionHash ?? onChainRoot, clock.now())
      return
    }
    const received = (await this.pool.getFunction('totalReceived')()) as bigint
    if (latest.totalEntitledWei > received) {
      log.error('root not posted: it promises more than the contract holds (credits or trials not backed by deposits?)', {
        epoch: latest.epoch,
        entitledWei: latest.totalEntitledWei.toString(),
        receivedWei: received.toString(),
      })
      return
    }
    const chainEpoch = ((await this.pool.getFunction('lastEpoch')()) as bigint) + 1n
    const nonce = await this.provider.getTransactionCount(wallet.address, 'pending')
    const fees = await this.provider.getFeeData()
    for (let attempt = 0; attempt < this.opts.maxAttempts; attempt++) {
      // Each retry replaces the same nonce with 25 % higher fees, so at most one can ever be mined.
      const bump = (v: bigint | null) => (v === null ? undefined : (v * BigInt(100 + 25 * attempt)) / 100n)
      const overrides = { nonce, ...(fees.maxFeePerGas ? { maxFeePerGas: bump(fees.maxFeePerGas), maxPriorityFeePerGas: bump(fees.maxPriorityFeePerGas) } : { gasPrice: bump(fees.gasPrice) }) }
      try {
        const tx = await this.pool.getFunction('postRoot')(chainEpoch, latest.root, latest.totalEntitledWei, overrides)
        const receipt = (await this.provider.waitForTransaction(tx.hash, 1, this.opts.txTimeoutMs)) as TransactionReceipt | null
        if (!receipt) throw new Error('timed out')
        if (receipt.status !== 1) throw new Error('reverted')
        await store.markEpochPosted(latest.epoch, tx.hash, clock.now())
        this.metrics.roots.inc()
        log.info('root posted', { epoch: latest.epoch, chainEpoch: chainEpoch.toString(), root: latest.root, tx: tx.hash })
        return
      } catch (err) {
        this.metrics.txFailures.inc()
        const reason = decodeRevert(err) ?? (err as Error).message
        log.warn('root transaction failed', { epoch: latest.epoch, attempt: attempt + 1, reason })
        if (/InvalidEpoch|EnforcedPause|Unauthorized|RootExceedsBalance|EntitlementDecreased/.test(reason)) return
      }
    }
  }
}

function decodeRevert(err: unknown): string | undefined {
  const data = (err as { data?: unknown; info?: { error?: { data?: unknown } } }).data ?? (err as { info?: { error?: { data?: unknown } } }).info?.error?.data
  if (typeof data !== 'string' || !data.startsWith('0x')) return undefined
  try {
    const parsed = vipnodePoolInterface().parseError(data)
    return parsed ? `${parsed.name}(${parsed.args.join(', ')})` : undefined
  } catch {
    return undefined
  }
}
