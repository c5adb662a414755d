/**
 * The coordinator's side of the payout contract. Deposits are read from
 * `Deposited` events up to the chain's `finalized` block, and never closer
 * than `confirmations` blocks to the head, and credited to the ledger exactly
 * once (the transfer id is the transaction hash and the log's index within
 * that transaction, which a reorg that re-includes the transaction keeps).
 * Settled roots are *proposed* through one queue
 * (concurrency 1) that owns the proposer's nonce, checks the chain before
 * sending, retries with bumped fees, and never proposes a root twice, even
 * across restarts.
 *
 * A proposed root is pending for the contract's root delay, during which the
 * guardian may revoke it; hosts are told a root is claimable only once the
 * chain says it is active (`rootStatus()`, read every poll). The contract
 * refuses a proposal while another root is pending, so the latest settled
 * root goes out once the pending one is active (the proposal activates it)
 * or revoked. A revoked root is detected (the pending root vanished without
 * becoming active) and logged; if it was someone else's (a stolen proposer
 * key's junk), the coordinator proposes its own root again; if it was ours,
 * it is not re-proposed as is (the guardian said no): the next settled epoch
 * with a different root goes out.
 */
import PQueue from 'p-queue'
import { Contract, JsonRpcProvider, type EventLog, type Wallet, type TransactionReceipt } from 'ethers'
import { Counter, type Registry } from 'prom-client'
import { loadVipnodePoolArtifact, vipnodePoolInterface } from '../../contracts/artifacts.ts'
import { depositAccountOf } from '../../contracts/depositAccount.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import { StoreError, type Store } from '../store/store.ts'
import { AccountPrefix, Accounts, ownerOf, TransferPrefix } from '../logic/accounts.ts'
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
  /** Whether this coordinator talks to the chain now (the one holding the singleton duties); default always. */
  runs?: () => boolean
}

/** What the chain says about roots, read every poll. Times are milliseconds. */
export interface ChainRootStatus {
  /** The root claims prove against now (zero hash before the first activation). */
  activeRoot: string
  /** A proposed root not active yet, and when it becomes claimable (unless revoked). */
  pending: { root: string; claimableAtMs: number } | undefined
  paused: boolean
  rootDelayMs: number
  readAtMs: number
}

const ZERO_ROOT = `0x${'0'.repeat(64)}`
const SCAN_CHUNK = 2_000
/** How far back a rescan starts after a reorganisation below the cursor. */
const REORG_REWIND_BLOCKS = 128
const DEPOSIT_ID_SCHEME = 'tx-log-index'

/** A deposit's transfer id: its transaction and the log's index within that transaction's receipt. */
export function depositTransferId(txHash: string, logIndexInTx: number): string {
  return `${TransferPrefix.deposit}${txHash.toLowerCase()}:tx-log:${logIndexInTx}`
}

export class ChainService {
  private readonly provider: JsonRpcProvider
  private readonly pool: Contract
  private readonly queue = new PQueue({ concurrency: 1 })
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private readonly metrics
  private status: ChainRootStatus | undefined
  private readonly revokedLogged = new Set<string>()

  constructor(
    private readonly opts: ChainOptions,
    private readonly deps: ChainDeps,
  ) {
    this.provider = new JsonRpcProvider(opts.chainRpc, undefined, { staticNetwork: true, polling: true, pollingInterval: 1_000, cacheTimeout: -1 })
    this.pool = new Contract(opts.contract, loadVipnodePoolArtifact().abi, deps.wallet.connect(this.provider))
    this.metrics = {
      deposits: new Counter({ name: 'vipnode_chain_deposits_credited_total', help: 'Deposited events credited to the ledger.', registers: [deps.registry] }),
      roots: new Counter({ name: 'vipnode_chain_roots_proposed_total', help: 'Payout roots proposed to the contract.', registers: [deps.registry] }),
      revoked: new Counter({ name: 'vipnode_chain_roots_revoked_total', help: 'Pending roots seen revoked by the guardian.', registers: [deps.registry] }),
      reorgs: new Counter({ name: 'vipnode_chain_deposit_reorgs_total', help: 'Reorganisations found below the deposit scan cursor (deeper than the confirmations rule).', registers: [deps.registry] }),
      txFailures: new Counter({ name: 'vipnode_chain_tx_failures_total', help: 'Root transactions that failed or timed out.', registers: [deps.registry] }),
    }
  }

  /** Check the contract is there and the key is its root proposer, then poll. */
  async start(): Promise<void> {
    const code = await this.provider.getCode(this.opts.contract)
    if (code === '0x') throw new Error(`no contract at ${this.opts.contract} on ${this.opts.chainRpc}`)
    const proposer = (await this.pool.getFunction('proposer')()) as string
    if (proposer.toLowerCase() !== this.deps.wallet.address.toLowerCase()) {
      throw new Error(`the operator key (${this.deps.wallet.address}) is not the contract's root proposer (${proposer})`)
    }
    await this.readRoots()
    this.deps.log.info('payout contract attached', { contract: this.opts.contract, proposer, rootDelayMs: this.status?.rootDelayMs })
    const loop = () => {
      if (this.closed) return
      if (this.deps.runs?.() === false) {
        this.timer = setTimeout(loop, this.opts.pollMs)
        return
      }
      this.tick()
        .catch((err: unknown) => this.deps.log.error('chain poll failed', { error: (err as Error).message }))
        .finally(() => {
          if (!this.closed) this.timer = setTimeout(loop, this.opts.pollMs)
        })
    }
    loop()
  }

  /** One round: credit confirmed deposits, read the roots, then propose the latest root if it is not on chain yet. */
  tick(): Promise<void> {
    return this.queue.add(async () => {
      await this.scanDeposits()
      await this.readRoots()
      await this.proposeLatestRoot()
    })
  }

  /** The chain's roots as of the last poll (undefined before the first read). */
  rootStatus(): ChainRootStatus | undefined {
    return this.status
  }

  /** Reads active and pending roots; a pending root that vanished without becoming active was revoked. */
  private async readRoots(): Promise<void> {
    const [activeRoot, pending, paused, delay, block] = await Promise.all([
      this.pool.getFunction('root')() as Promise<string>,
      this.pool.getFunction('pendingRoot')() as Promise<[bigint, string, bigint, bigint]>,
      this.pool.getFunction('paused')() as Promise<boolean>,
      this.pool.getFunction('rootDelay')() as Promise<bigint>,
      this.provider.getBlock('latest'),
    ])
    const previous = this.status
    const next: ChainRootStatus = {
      activeRoot,
      pending: pending[1] === ZERO_ROOT ? undefined : { root: pending[1], claimableAtMs: Number(pending[3]) * 1000 },
      paused,
      rootDelayMs: Number(delay) * 1000,
      readAtMs: (block?.timestamp ?? 0) * 1000,
    }
    const was = previous?.pending?.root
    if (was && was !== next.pending?.root && was !== activeRoot) {
      this.metrics.revoked.inc()
      this.deps.log.warn('pending root revoked by the guardian', { root: was })
    }
    if (next.pending && next.pending.root !== previous?.pending?.root) {
      this.deps.log.info('root pending', { root: next.pending.root, claimableAtMs: next.pending.claimableAtMs })
    }
    if (previous && activeRoot !== previous.activeRoot) this.deps.log.info('root active', { root: activeRoot })
    this.status = next
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    await this.queue.onIdle()
    this.provider.destroy()
  }

  /**
   * The last block whose deposits may be credited: the chain's `finalized` block where it has one,
   * and never closer to the head than `confirmations` (a dev chain reports its head as finalized).
   */
  private async creditableBlock(): Promise<number> {
    const head = await this.provider.getBlockNumber()
    const byConfirmations = head - this.opts.confirmations
    let finalized: number | undefined
    try {
      finalized = (await this.provider.getBlock('finalized'))?.number ?? undefined
    } catch {
      finalized = undefined // no `finalized` tag on this chain: the confirmations rule alone
    }
    return finalized === undefined ? byConfirmations : Math.min(finalized, byConfirmations)
  }

  /**
   * Databases written before deposit ids used the log's index within its transaction credited every
   * block up to their scan cursor under the old ids; those blocks are never credited again.
   */
  private async legacyThroughBlock(): Promise<number> {
    const { store, log } = this.deps
    const scheme = await store.getMeta('depositIdScheme')
    if (scheme === DEPOSIT_ID_SCHEME) return Number((await store.getMeta('depositsLegacyThroughBlock')) ?? '-1')
    const cursor = Number((await store.getMeta('depositsScannedBlock')) ?? '-1')
    await store.setMeta('depositsLegacyThroughBlock', String(cursor))
    await store.setMeta('depositIdScheme', DEPOSIT_ID_SCHEME)
    if (cursor >= 0) log.info('deposit ids: blocks credited under the old ids are not credited again', { legacyThroughBlock: cursor })
    return cursor
  }

  private async scanDeposits(): Promise<void> {
    const { store, log } = this.deps
    const legacyThrough = await this.legacyThroughBlock()
    const safe = await this.creditableBlock()
    let cursor = Number((await store.getMeta('depositsScannedBlock')) ?? '-1')
    // A reorganisation below the cursor (deeper than the confirmations rule allows): rescan from further back.
    // Deposits still on chain are found again under the same ids and not credited twice.
    const cursorHash = await store.getMeta('depositsScannedHash')
    if (cursor >= 0 && cursorHash) {
      const block = await this.provider.getBlock(cursor)
      if (block?.hash !== cursorHash) {
        this.metrics.reorgs.inc()
        const rewindTo = Math.max(-1, cursor - REORG_REWIND_BLOCKS)
        log.error('chain reorganised below the deposit scan cursor: rescanning; deposits credited from vanished blocks stay credited', {
          cursorBlock: cursor,
          expectedHash: cursorHash,
          actualHash: block?.hash ?? null,
          rescanFromBlock: rewindTo + 1,
        })
        cursor = rewindTo
      }
    }
    let from = cursor + 1
    if (safe < from) {
      if (cursor !== Number((await store.getMeta('depositsScannedBlock')) ?? '-1')) await this.setCursor(cursor)
      return
    }
    const owners = await this.ownersByAccount()
    while (from <= safe) {
      const to = Math.min(safe, from + SCAN_CHUNK - 1)
      const logs = (await this.pool.queryFilter(this.pool.filters.Deposited!(), from, to)) as EventLog[]
      for (const ev of logs) {
        if (ev.blockNumber <= legacyThrough) continue // credited under an old id before the upgrade
        const [account, depositor, amount] = ev.args as unknown as [string, string, bigint]
        const owner = owners.get(account.toLowerCase())
        const id = depositTransferId(ev.transactionHash, await this.logIndexInTx(ev))
        const credited = await this.post(id, owner ? Accounts.client(owner) : Accounts.unclaimedDeposit(account), amount, `deposit from ${depositor}`)
        if (credited) {
          this.metrics.deposits.inc()
          log.info('deposit credited', { account, client: owner, amountWei: amount.toString(), tx: ev.transactionHash, block: ev.blockNumber })
        }
      }
      await this.setCursor(to)
      from = to + 1
    }
    // Deposits made before their node first connected wait in deposit:<account>; hand them over now.
    for (const [name, balance] of await store.balancesWithPrefix(AccountPrefix.deposit)) {
      const owner = owners.get(ownerOf(AccountPrefix.deposit, name)!)
      if (owner && balance > 0n) {
        await store.post({
          id: `${TransferPrefix.depositHandOver}${name}:${this.deps.clock.now()}`,
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

  private async setCursor(block: number): Promise<void> {
    await this.deps.store.setMeta('depositsScannedBlock', String(block))
    const hash = block >= 0 ? (await this.provider.getBlock(block))?.hash : undefined
    await this.deps.store.setMeta('depositsScannedHash', hash ?? '')
  }

  /** The log's position among its transaction's logs: unlike the block-level index, a reorg that re-includes the transaction keeps it. */
  private async logIndexInTx(ev: EventLog): Promise<number> {
    const receipt = await this.provider.getTransactionReceipt(ev.transactionHash)
    const i = receipt?.logs.findIndex((l) => l.index === ev.index) ?? -1
    if (i < 0) throw new Error(`deposit log ${ev.transactionHash}/${ev.index} is not in its receipt (reorg in progress?): retrying next poll`)
    return i
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

  private async proposeLatestRoot(): Promise<void> {
    const { store, log, clock, wallet } = this.deps
    // The newest epoch with a payout tree, without any tree: this runs every poll, and the history only grows.
    const latest = await store.latestPayoutEpoch()
    const status = this.status
    if (!latest || !status) return
    if (latest.root === status.activeRoot || latest.root === status.pending?.root) {
      if (!latest.txHash) {
        // Proposed before a crash, but not recorded: find the transaction instead of proposing again.
        const events = (await this.pool.queryFilter(this.pool.filters.RootProposed!())) as EventLog[]
        const ev = events.reverse().find((e) => (e.args as unknown as [bigint, string])[1] === latest.root)
        await store.markEpochPosted(latest.epoch, ev?.transactionHash ?? latest.root, clock.now())
      }
      return
    }
    // One pending root at a time: wait for it to become active (or be revoked).
    if (status.pending) return
    if (latest.txHash && (await this.revokedByGuardian(latest.txHash, latest.root))) {
      if (!this.revokedLogged.has(latest.root)) {
        this.revokedLogged.add(latest.root)
        log.error('our root was revoked by the guardian: not proposing it again; the next settled epoch with a different root will be proposed', { epoch: latest.epoch, root: latest.root })
      }
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
        const tx = await this.pool.getFunction('proposeRoot')(chainEpoch, latest.root, latest.totalEntitledWei, overrides)
        const receipt = (await this.provider.waitForTransaction(tx.hash, 1, this.opts.txTimeoutMs)) as TransactionReceipt | null
        if (!receipt) throw new Error('timed out')
        if (receipt.status !== 1) throw new Error('reverted')
        await store.markEpochPosted(latest.epoch, tx.hash, clock.now())
        this.metrics.roots.inc()
        log.info('root proposed', { epoch: latest.epoch, chainEpoch: chainEpoch.toString(), root: latest.root, tx: tx.hash })
        await this.readRoots()
        return
      } catch (err) {
        this.metrics.txFailures.inc()
        const reason = decodeRevert(err) ?? (err as Error).message
        log.warn('root transaction failed', { epoch: latest.epoch, attempt: attempt + 1, reason })
        if (/InvalidEpoch|EnforcedPause|Unauthorized|RootExceedsBalance|EntitlementDecreased|RootPending/.test(reason)) return
      }
    }
  }

  /** Whether the guardian revoked `root` after our proposal in `txHash` (false if that proposal is gone, e.g. reorged). */
  private async revokedByGuardian(txHash: string, root: string): Promise<boolean> {
    const receipt = await this.provider.getTransactionReceipt(txHash).catch(() => null)
    if (!receipt) return false
    const events = (await this.pool.queryFilter(this.pool.filters.RootRevoked!(), receipt.blockNumber)) as EventLog[]
    return events.some((e) => (e.args as unknown as [bigint, string])[1] === root)
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
