/**
 * Every ledger account name, built and read here and nowhere else: a name
 * typed by hand elsewhere (`'deposit:'` instead of `'deposits:'`) would read a
 * silent zero balance. Amounts live in the store; this module only names them.
 */
import type { NodeId } from '../../protocol/index.ts'

/** The prefix of each family of accounts, for `balancesWithPrefix` and `ownerOf`. */
export const AccountPrefix = {
  client: 'client:',
  host: 'host:',
  revenue: 'revenue:',
  payee: 'payee:',
  refund: 'refund:',
  /** Deposits on chain for an account hash no node has claimed yet. */
  deposit: 'deposit:',
  trialEpoch: 'trial-epoch:',
} as const

export const Accounts = {
  /** The world outside the pool: money comes in from it (deposits, credit) and goes out to it. */
  external: 'external',
  client: (id: NodeId) => `${AccountPrefix.client}${id}`,
  host: (id: NodeId) => `${AccountPrefix.host}${id}`,
  revenue: (epoch: number) => `${AccountPrefix.revenue}${epoch}`,
  carry: 'carry',
  payee: (address: string) => `${AccountPrefix.payee}${address.toLowerCase()}`,
  /**
   * A client refund waiting for the next settlement, by refund address: the settlement moves it into
   * `payee:<address>`, so a refund address that is also a host payee gets one cumulative leaf.
   */
  refund: (address: string) => `${AccountPrefix.refund}${address.toLowerCase()}`,
  /** A deposit for a contract account (bytes32) that no node has claimed yet; moved to the client when one does. */
  unclaimedDeposit: (accountHash: string) => `${AccountPrefix.deposit}${accountHash.toLowerCase()}`,
  /** Trial money the operator set aside (`vipnode credit --trial-budget`); each epoch's allowance comes out of it. */
  trialBudget: 'trial-budget',
  /** One epoch's trial allowance (at most --trial-budget-per-epoch); that epoch's trials are paid from it. */
  trialEpoch: (epoch: number) => `${AccountPrefix.trialEpoch}${epoch}`,
} as const

/** What an account of a family is named after (a node ID, an address, an epoch), or undefined for another family. */
export function ownerOf(prefix: (typeof AccountPrefix)[keyof typeof AccountPrefix], account: string): string | undefined {
  return account.startsWith(prefix) ? account.slice(prefix.length) : undefined
}

/**
 * Transfer ids whose family other code reads back: refunds replay a client's
 * history and tell deposits, refunds and gifts apart by these prefixes.
 */
export const TransferPrefix = {
  /** An on-chain deposit: `deposit:<tx hash>:tx-log:<log index in the receipt>`. */
  deposit: 'deposit:',
  /** A deposit that waited in `deposit:<account>` and was handed to its node: `deposit-assign:<account name>:<ms>`. */
  depositHandOver: 'deposit-assign:',
  /** A client refund: `refund:<nodeId>:<nonce>`. */
  refund: 'refund:',
  /** A client paying for service time: `charge:<reporter>:<ms>:<client>:<host>` (client -> revenue of the epoch). */
  charge: 'charge:',
  /** A client paying for compute units: `charge-cu:<reporter>:<ms>:<client>:<host>`. */
  chargeUnits: 'charge-cu:',
} as const

/** What metering's charges look like in the ledger, for folding old ones (HistoryStore.foldCharges). */
export const chargeRule = {
  isCharge: (transferId: string) => transferId.startsWith(TransferPrefix.charge) || transferId.startsWith(TransferPrefix.chargeUnits),
  isPayer: (account: string) => account.startsWith(AccountPrefix.client),
  isPayee: (account: string) => account.startsWith(AccountPrefix.revenue),
}

/** Accounts named after a node (`<prefix><node ID>`): a node with one holds money and is never forgotten (HistoryStore.pruneNodes). */
export const NODE_ACCOUNT_PREFIXES: readonly string[] = [AccountPrefix.client, AccountPrefix.host]
