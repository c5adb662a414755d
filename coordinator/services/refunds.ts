/**
 * Client refunds: a client asks, with a request signed by its node key
 * (`protocol/refund.ts`), for its unspent deposits back. On acceptance the
 * pool stops serving the node (its hosts are released, no new hosts and no
 * billing until it deposits again), and its unspent deposits move to the
 * refund payable `refund:<address>`, which the next settlement turns into that
 * address's cumulative leaf. Trial and credit money is never refunded
 * (`logic/refunds.ts`).
 *
 * Checks run cheapest first and a refused request changes nothing. The money
 * part runs inside metering's judging queue, so no report is billed between
 * reading the client's history and moving the refund.
 */
import { normaliseOrigin, refundSigner, REFUND_MAX_AGE_MS, rpcError, type NodeId, type RefundRequest, type RefundResult } from '../../protocol/index.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorMetrics } from '../metrics.ts'
import { StoreError, type EpochStore, type LedgerStore } from '../store/store.ts'
import { clientMoney, REFUND_TRANSFER_PREFIX, stoppedByRefund, type ClientMoney } from '../logic/refunds.ts'
import { type MeteringService } from './metering.ts'
import { AccountPrefix, Accounts, ownerOf } from '../logic/accounts.ts'
import type { AssignmentService } from './assignments.ts'

export interface RefundOptions {
  poolId: string
  /** The payout contract, lower case; "" when the pool settles off chain. */
  contract: string
  /** --public-url; when empty, the origin the request reached (its Host header) is the pool's own. */
  publicUrls: readonly string[]
}

export interface RefundDeps {
  store: LedgerStore & EpochStore
  metering: MeteringService
  assignments: AssignmentService
  clock: Clock
  log: Logger
  metrics: CoordinatorMetrics
}

const ZERO_ADDRESS = `0x${'0'.repeat(40)}`

/** Tries at booking a refund while siblings' charges race it (each try reads the ledger again). */
const REFUND_ATTEMPTS = 3

export class RefundService {
  constructor(
    private readonly opts: RefundOptions,
    private readonly deps: RefundDeps,
  ) {}

  /** At start: nodes refunded and not deposited since stay unbilled and unserved. */
  async load(): Promise<number> {
    const refunded = new Set<NodeId>()
    for (const e of await this.deps.store.ledgerEntries({ transferIdPrefix: REFUND_TRANSFER_PREFIX })) {
      const client = ownerOf(AccountPrefix.client, e.account)
      if (client) refunded.add(client as NodeId)
    }
    let stopped = 0
    for (const id of refunded) {
      if (stoppedByRefund(await this.moneyOf(id))) {
        this.deps.metering.stopBilling(id)
        stopped++
      }
    }
    return stopped
  }

  /**
   * Book the refund of what the client's deposits still hold. Another coordinator on the same database may charge
   * the client between our read and the write (its pair's release is on its way): the store refuses a refund its
   * balance no longer covers, and the money is read again (a few tries: every replica stops billing on the release).
   */
  private async postRefund(transferId: string, clientId: NodeId, to: string, atMs: number): Promise<ClientMoney> {
    for (let attempt = 1; ; attempt++) {
      const money = await this.moneyOf(clientId) // a deposit may have been credited meanwhile: refund that too
      try {
        await this.deps.store.post(
          {
            id: transferId,
            atMs,
            memo: `refund to ${to.toLowerCase()}`,
            entries: [
              { account: Accounts.client(clientId), amountWei: -money.depositWei },
              { account: Accounts.refund(to), amountWei: money.depositWei },
            ],
          },
          { notBelowZero: [Accounts.client(clientId)] },
        )
        return money
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'INSUFFICIENT_FUNDS') || attempt >= REFUND_ATTEMPTS) throw err
      }
    }
  }

  /** A client's money, split into refundable deposits and gifts, replayed from its ledger history. */
  async moneyOf(clientId: NodeId): Promise<ClientMoney> {
    return clientMoney(await this.deps.store.ledgerEntries({ account: Accounts.client(clientId) }))
  }

  /**
   * Whether a client may get hosts: a refunded node only after it deposited
   * again (then it is billed again too). Throws INSUFFICIENT_BALANCE otherwise.
   */
  async assertServable(clientId: NodeId): Promise<void> {
    const { metering } = this.deps
    if (!metering.isStopped(clientId)) return
    const money = await this.moneyOf(clientId)
    if (stoppedByRefund(money)) {
      throw rpcError('INSUFFICIENT_BALANCE', 'this node asked for a refund of its deposits and is not served until it deposits again', { refundedWei: money.refundedWei.toString() })
    }
    metering.resumeBilling(clientId)
  }

  /**
   * Accept or refuse one signed refund request. `reachedOrigin` is the origin
   * the HTTP request arrived at (used only without --public-url).
   */
  async request(req: RefundRequest, reachedOrigin: string | undefined): Promise<RefundResult> {
    const { metering, assignments, store, clock, log, metrics } = this.deps
    try {
      if (req.to.toLowerCase() === ZERO_ADDRESS) throw rpcError('INVALID_PARAMS', 'invalid params for refund: to: the zero address cannot claim; name an address you control')
      if (req.poolId !== this.opts.poolId) throw rpcError('WRONG_POOL', `refund signed for pool ${req.poolId.slice(0, 128)}, but this is pool ${this.opts.poolId}`, { expected: this.opts.poolId })
      if (req.contract !== this.opts.contract) {
        throw rpcError('WRONG_POOL', `refund signed for payout contract ${req.contract || '(none)'}, but this pool's is ${this.opts.contract || '(none: it settles off chain)'}`, { expected: this.opts.contract })
      }
      const accepted = this.opts.publicUrls.length ? this.opts.publicUrls.map(normaliseOrigin) : reachedOrigin ? [reachedOrigin] : []
      if (!accepted.includes(req.origin)) {
        throw rpcError('WRONG_ORIGIN', `refund signed for origin ${req.origin.slice(0, 300)}, but this coordinator is ${accepted.join(', ') || '(unknown: no --public-url and no Host header)'}`, { expected: accepted })
      }
      let signer: NodeId
      try {
        signer = refundSigner(req)
      } catch {
        throw rpcError('BAD_SIGNATURE', 'signature is malformed')
      }
      if (signer !== req.nodeId) throw rpcError('BAD_SIGNATURE', 'the signature is not by this node\'s key: sign with the node key of the client node that is to be refunded')
      const now = clock.now()
      if (Math.abs(now - req.issuedAtMs) > REFUND_MAX_AGE_MS) {
        throw rpcError('REQUEST_EXPIRED', `refund signed at ${new Date(req.issuedAtMs).toISOString()}, more than ${REFUND_MAX_AGE_MS / 60_000} minutes from the pool's clock (${new Date(now).toISOString()}): sign a new one`)
      }
      const transferId = `${REFUND_TRANSFER_PREFIX}${req.nodeId}:${req.nonce}`
      const result = await metering.exclusive(async () => {
        if ((await store.ledgerEntries({ transferIdPrefix: transferId })).length > 0) throw rpcError('REPLAY', 'this refund request was already accepted (its nonce is used): sign a new one to ask again')
        const before = await this.moneyOf(req.nodeId)
        if (before.depositWei <= 0n) {
          throw rpcError('NOTHING_TO_REFUND', `nothing to refund: this node has no deposited money left (balance from trials and credits: ${before.giftWei} wei, never refunded)`, {
            giftWei: before.giftWei.toString(),
            refundedWei: before.refundedWei.toString(),
          })
        }
        // From here the node is leaving: no billing, no hosts. Nothing can be billed in between (we hold the queue).
        metering.stopBilling(req.nodeId)
        const releasedHosts = await assignments.releaseClient(req.nodeId, 'refunded')
        const money = await this.postRefund(transferId, req.nodeId, req.to, now)
        const settlesWithEpoch = (await store.lastSettledEpoch()) + 1
        return { nodeId: req.nodeId, to: req.to.toLowerCase(), refundedWei: money.depositWei.toString(), keptGiftWei: money.giftWei.toString(), settlesWithEpoch, releasedHosts }
      })
      metrics.refunds.inc({ result: 'accepted' })
      log.info('refund accepted', { node: req.nodeId, to: result.to, refundedWei: result.refundedWei, settlesWithEpoch: result.settlesWithEpoch, releasedHosts: result.releasedHosts })
      return result
    } catch (err) {
      const code = (err as { codeName?: string }).codeName ?? 'INTERNAL_ERROR'
      metrics.refunds.inc({ result: code.toLowerCase() })
      log.info('refund refused', { node: req.nodeId, code, reason: (err as Error).message })
      throw err
    }
  }
}
