/**
 * The books check: the ledger sums to zero, no client is overdrawn, every
 * settled epoch adds up, its Merkle root matches its tree, and the latest
 * tree promises each payee exactly what the ledger credited it.
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import type { Store } from '../store/store.ts'
import { clientMoney, REFUND_TRANSFER_PREFIX } from '../logic/refunds.ts'
import { AccountPrefix, Accounts, ownerOf } from '../logic/accounts.ts'

export interface AuditReport {
  ok: boolean
  problems: string[]
  checked: { accounts: number; epochs: number }
}

export async function audit(store: Store): Promise<AuditReport> {
  const problems: string[] = []
  const sum = await store.sumAll()
  if (sum !== 0n) problems.push(`ledger does not balance: accounts sum to ${sum} wei`)
  const clients = await store.balancesWithPrefix(AccountPrefix.client)
  for (const [account, balance] of clients) if (balance < 0n) problems.push(`${account} is overdrawn: ${balance} wei`)
  const payees = await store.balancesWithPrefix(AccountPrefix.payee)
  for (const [account, balance] of payees) if (balance < 0n) problems.push(`${account} is negative: ${balance} wei`)
  // Trials are paid from the trial budget through each epoch's allowance: neither may ever go below zero.
  // Refunds waiting for the next settlement can never be negative, and no client was ever refunded more than
  // it deposited and had left: replaying its account (gifts spent first) must never overdraw its deposits.
  const refunds = await store.balancesWithPrefix(AccountPrefix.refund)
  for (const [account, balance] of refunds) if (balance < 0n) problems.push(`${account} is negative: ${balance} wei`)
  const refundedClients = new Set<string>()
  for (const e of await store.ledgerEntries({ transferIdPrefix: REFUND_TRANSFER_PREFIX })) if (ownerOf(AccountPrefix.client, e.account)) refundedClients.add(e.account)
  for (const account of refundedClients) {
    const money = clientMoney(await store.ledgerEntries({ account }))
    if (money.overdrawnWei > 0n) problems.push(`${account} was refunded or charged ${money.overdrawnWei} wei more than its deposits and gifts held`)
    if (money.refundedWei > money.depositedWei) problems.push(`${account} was refunded ${money.refundedWei} wei but deposited only ${money.depositedWei}`)
  }
  const trials = new Map([...(await store.balancesWithPrefix(Accounts.trialBudget)), ...(await store.balancesWithPrefix(AccountPrefix.trialEpoch))])
  for (const [account, balance] of trials) if (balance < 0n) problems.push(`${account} is overdrawn: ${balance} wei`)

  const epochs = await store.listEpochs()
  let expected = 1
  for (const e of epochs) {
    if (e.epoch !== expected) problems.push(`epoch ${e.epoch} follows epoch ${expected - 1}: epochs must be consecutive`)
    expected = e.epoch + 1
    const payouts = await store.epochPayouts(e.epoch)
    const out = payouts.reduce((n, p) => n + p.amountWei, 0n) + e.carriedOutWei
    if (out !== e.revenueWei + e.carriedInWei) problems.push(`epoch ${e.epoch}: paid ${out - e.carriedOutWei} + carried ${e.carriedOutWei} != revenue ${e.revenueWei} + carried in ${e.carriedInWei}`)
    if (e.tree === '{}') {
      if (e.totalEntitledWei !== 0n) problems.push(`epoch ${e.epoch}: no tree but ${e.totalEntitledWei} wei entitled`)
      continue
    }
    const tree = StandardMerkleTree.load<[string, string]>(JSON.parse(e.tree))
    if (tree.root !== e.root) problems.push(`epoch ${e.epoch}: stored root ${e.root} is not the root of its tree (${tree.root})`)
    let total = 0n
    const leaves = new Map<string, bigint>()
    for (const [, [payee, cumulative]] of tree.entries()) {
      total += BigInt(cumulative)
      leaves.set(payee.toLowerCase(), BigInt(cumulative))
    }
    if (total !== e.totalEntitledWei) problems.push(`epoch ${e.epoch}: tree sums to ${total} wei, recorded total ${e.totalEntitledWei}`)
    for (const p of payouts) {
      if (leaves.get(p.payee) !== p.cumulativeWei) problems.push(`epoch ${e.epoch}: leaf for ${p.payee} is ${leaves.get(p.payee)} wei, payout says ${p.cumulativeWei}`)
    }
    if (e === epochs.at(-1)) {
      for (const [account, balance] of payees) {
        const payee = ownerOf(AccountPrefix.payee, account)!
        const leaf = leaves.get(payee) ?? 0n
        if (leaf !== balance) problems.push(`latest tree owes ${payee} ${leaf} wei, the ledger credited ${balance}`)
      }
    }
  }
  return { ok: problems.length === 0, problems, checked: { accounts: clients.size + payees.size + trials.size + refunds.size, epochs: epochs.length } }
}
