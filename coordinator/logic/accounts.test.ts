import { expect, test } from 'vitest'
import { AccountPrefix, Accounts, ownerOf } from './accounts.ts'
import type { NodeId } from '../../protocol/index.ts'

test('default: every named account family reads back its owner through its prefix, addresses lower-cased', () => {
  const node = 'ab'.repeat(64) as NodeId
  const address = '0xAbCdEf0123456789abcdef0123456789ABCDEF01'
  expect(ownerOf(AccountPrefix.client, Accounts.client(node))).toBe(node)
  expect(ownerOf(AccountPrefix.host, Accounts.host(node))).toBe(node)
  expect(ownerOf(AccountPrefix.payee, Accounts.payee(address))).toBe(address.toLowerCase())
  expect(ownerOf(AccountPrefix.refund, Accounts.refund(address))).toBe(address.toLowerCase())
  expect(ownerOf(AccountPrefix.deposit, Accounts.unclaimedDeposit('0xAB'))).toBe('0xab')
  expect(ownerOf(AccountPrefix.revenue, Accounts.revenue(7))).toBe('7')
  expect(ownerOf(AccountPrefix.trialEpoch, Accounts.trialEpoch(3))).toBe('3')
})

test('error: an account of another family has no owner in this one', () => {
  const address = '0x' + '11'.repeat(20)
  expect(ownerOf(AccountPrefix.client, Accounts.payee(address))).toBeUndefined()
  expect(ownerOf(AccountPrefix.payee, Accounts.refund(address))).toBeUndefined()
  // No family's prefix is the start of another's: a balancesWithPrefix never mixes two families.
  const prefixes = Object.values(AccountPrefix)
  for (const a of prefixes) for (const b of prefixes) if (a !== b) expect(b.startsWith(a)).toBe(false)
})
