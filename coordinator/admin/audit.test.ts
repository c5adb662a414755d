import { test, expect } from 'vitest'
import { openSqliteStore } from '../store/sqlite/sqliteStore.ts'
import { buildPayoutTree } from '../../contracts/merkle.ts'
import { audit } from './audit.ts'

const PAYEE = `0x${'ab'.repeat(20)}`

async function settledStore() {
  const store = openSqliteStore(':memory:')
  await store.post({ id: 'rev', atMs: 1, memo: 'charge', entries: [{ account: 'external', amountWei: -100n }, { account: 'revenue:1', amountWei: 100n }] })
  const tree = buildPayoutTree([{ payee: PAYEE, cumulativeWei: 99n }])
  await store.settleEpoch(
    { epoch: 1, startMs: 0, endMs: 10, revenueWei: 100n, carriedInWei: 0n, feeWei: 0n, carriedOutWei: 1n, totalEntitledWei: 99n, root: tree.root, tree: JSON.stringify(tree.dump()), settledAtMs: 10, txHash: null, postedAtMs: null },
    [{ payee: PAYEE, serviceMs: 5, amountWei: 99n, cumulativeWei: 99n }],
    { id: 'settle:1', atMs: 10, memo: 'settle', entries: [{ account: 'revenue:1', amountWei: -100n }, { account: `payee:${PAYEE}`, amountWei: 99n }, { account: 'carry', amountWei: 1n }] },
  )
  return store
}

test('default: consistent books pass', async () => {
  const store = await settledStore()
  expect(await audit(store)).toEqual({ ok: true, problems: [], checked: { accounts: 1, epochs: 1 } })
})

test('error: a tampered balance, a forged root and an overdrawn client are all reported', async () => {
  const store = await settledStore()
  store.sqlite.prepare("UPDATE accounts SET balance_wei = '150' WHERE account = ?").run(`payee:${PAYEE}`)
  store.sqlite.prepare(`UPDATE epochs SET root = '0x${'00'.repeat(32)}'`).run()
  store.sqlite.prepare("INSERT INTO accounts (account, balance_wei) VALUES ('client:x', '-5')").run()
  const report = await audit(store)
  expect(report.ok).toBe(false)
  expect(report.problems).toEqual(
    expect.arrayContaining([
      expect.stringContaining('ledger does not balance'),
      expect.stringContaining('client:x is overdrawn'),
      expect.stringContaining('is not the root of its tree'),
      expect.stringContaining('the ledger credited 150'),
    ]),
  )
})

test('error: a trial budget or a trial allowance below zero is reported', async () => {
  const store = await settledStore()
  await store.post({ id: 'over', atMs: 11, memo: 'test', entries: [{ account: 'trial-epoch:1', amountWei: -3n }, { account: 'trial-budget', amountWei: 1n }, { account: 'external', amountWei: 2n }] })
  const report = await audit(store)
  expect(report.problems).toEqual(['trial-epoch:1 is overdrawn: -3 wei'])
})
