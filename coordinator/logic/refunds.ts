/**
 * What part of a client's balance is refundable. A client's account holds
 * three kinds of money: deposits (real money, on chain), and gifts (trial
 * credit and `vipnode credit`), which the pool gave and which never leave the
 * pool. Charges spend gifts first, then deposits; refunds take deposits only.
 * So a key that never deposited can never be refunded anything, whatever it
 * was given, and a client that deposited gets back exactly what it deposited
 * minus what its deposits paid for.
 *
 * The split is not kept in separate accounts: it is replayed from the client
 * account's ledger history, in write order, classifying each entry by its
 * transfer id. Pure: no clock, no I/O.
 */
import { TransferPrefix } from './accounts.ts'

/** Transfer ids that bring a client real money: an on-chain deposit, or one that waited for its node and was handed over. */
const DEPOSIT_PREFIXES = [TransferPrefix.deposit, TransferPrefix.depositHandOver] as const
/** Refunds out of a client account: `refund:<nodeId>:<nonce>`. */
export const REFUND_TRANSFER_PREFIX = TransferPrefix.refund

export type EntryKind = 'deposit' | 'refund' | 'gift' | 'spend'

/** How one entry of a client account counts. Positive entries that are not deposits are gifts; negative entries that are not refunds are spending. */
export function entryKind(transferId: string, amountWei: bigint): EntryKind {
  if (transferId.startsWith(REFUND_TRANSFER_PREFIX)) return 'refund'
  if (amountWei > 0n) return DEPOSIT_PREFIXES.some((p) => transferId.startsWith(p)) ? 'deposit' : 'gift'
  return 'spend'
}

export interface ClientMoney {
  /** Deposited money not yet spent or refunded: what a refund pays now. */
  depositWei: bigint
  /** Trial and credit money not yet spent: never refunded. */
  giftWei: bigint
  /** Everything ever deposited, and everything ever refunded. */
  depositedWei: bigint
  refundedWei: bigint
  /** Entries the replay could not place (a refund larger than the deposits, a spend larger than the balance): 0 in sound books. */
  overdrawnWei: bigint
}

/** Replay a client account's history (oldest first): gifts are spent before deposits; refunds take deposits. */
export function clientMoney(history: readonly { transferId: string; amountWei: bigint }[]): ClientMoney {
  let depositWei = 0n
  let giftWei = 0n
  let depositedWei = 0n
  let refundedWei = 0n
  let overdrawnWei = 0n
  for (const e of history) {
    switch (entryKind(e.transferId, e.amountWei)) {
      case 'deposit':
        depositWei += e.amountWei
        depositedWei += e.amountWei
        break
      case 'gift':
        giftWei += e.amountWei
        break
      case 'refund': {
        const out = -e.amountWei
        refundedWei += out
        if (out > depositWei) overdrawnWei += out - depositWei
        depositWei = out > depositWei ? 0n : depositWei - out
        break
      }
      case 'spend': {
        let out = -e.amountWei
        const fromGift = out < giftWei ? out : giftWei
        giftWei -= fromGift
        out -= fromGift
        if (out > depositWei) overdrawnWei += out - depositWei
        depositWei = out > depositWei ? 0n : depositWei - out
        break
      }
    }
  }
  return { depositWei, giftWei, depositedWei, refundedWei, overdrawnWei }
}

/**
 * A node that asked for a refund is not served again until it deposits anew:
 * it has refunded, and no deposited money is left. (What gift it had left
 * stays in its account and is spent, gift first, once it deposits again.)
 */
export function stoppedByRefund(m: Pick<ClientMoney, 'refundedWei' | 'depositWei'>): boolean {
  return m.refundedWei > 0n && m.depositWei === 0n
}
