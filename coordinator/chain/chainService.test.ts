/**
 * Deposits across reorganisations on the EDR dev chain (evm_snapshot/evm_revert): a deposit that
 * vanishes before it is creditable is never credited, a deposit re-included at another position
 * after a reorganisation is credited once, and a database written with the old deposit ids is
 * not credited again after the upgrade.
 */
import { test, expect, afterEach } from 'vitest'
import { JsonRpcProvider, Wallet, parseEther, keccak256, toUtf8Bytes, type EventLog } from 'ethers'
import { Registry } from 'prom-client'
import { startDevchain, type Devchain } from '../../contracts/devchain.ts'
import { vipnodePoolAt, vipnodePoolInterface } from '../../contracts/artifacts.ts'
import { manualClock } from '../../lib/clock.ts'
import { silentLogger } from '../../lib/logger.ts'
import { openSqliteStore, type SqliteStore } from '../store/sqlite/sqliteStore.ts'
import { Accounts } from '../logic/accounts.ts'
import { ChainService, depositTransferId } from './chainService.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

const ACCOUNT = keccak256(toUtf8Bytes('a client nobody has seen yet'))
const unassigned = `deposit:${ACCOUNT.toLowerCase()}`

async function setup(store: SqliteStore = openSqliteStore(':memory:')) {
  const chain: Devchain = await startDevchain({ port: 0 })
  cleanup.push(() => chain.close())
  const rpc = new JsonRpcProvider(chain.url, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
  cleanup.push(async () => rpc.destroy())
  cleanup.push(() => store.close())
  const service = new ChainService(
    { chainRpc: chain.url, contract: chain.contractAddress, confirmations: 2, pollMs: 60_000, txTimeoutMs: 5_000, maxAttempts: 1 },
    { store, wallet: new Wallet(chain.accounts[0]!.privateKey), clock: manualClock(), log: silentLogger, registry: new Registry() },
  )
  cleanup.push(() => service.close())
  const send = (method: string, params: unknown[] = []) => chain.provider.request({ method, params } as never) as Promise<unknown>
  const mine = (n: number) => send('hardhat_mine', [`0x${n.toString(16)}`])
  /** A signed deposit transaction, not sent: a reorg test broadcasts the same bytes twice. */
  const signedDeposit = async (from: number, wei: bigint) => {
    const wallet = new Wallet(chain.accounts[from]!.privateKey, rpc)
    const data = vipnodePoolInterface().encodeFunctionData('deposit', [ACCOUNT])
    const tx = await wallet.populateTransaction({ to: chain.contractAddress, data, value: wei })
    return wallet.signTransaction(tx)
  }
  const deposit = async (from: number, wei: bigint) => {
    const raw = await signedDeposit(from, wei)
    return (await send('eth_sendRawTransaction', [raw])) as string
  }
  return { chain, rpc, store, service, send, mine, signedDeposit, deposit }
}

test('attack: a deposit that vanishes in a reorganisation before it is creditable is never credited', async () => {
  const { store, service, send, mine, deposit } = await setup()
  const snapshot = await send('evm_snapshot')
  await deposit(2, parseEther('1'))
  await mine(1) // one confirmation: not creditable with --confirmations 2
  await service.tick()
  expect(await store.balanceOf(unassigned)).toBe(0n)
  await send('evm_revert', [snapshot]) // the deposit's block is gone
  await mine(5)
  await service.tick()
  expect(await store.balanceOf(unassigned)).toBe(0n)
  expect(await store.balanceOf(Accounts.external)).toBe(0n)
})

test('attack: a credited deposit re-included at another log position after a deep reorganisation is credited once', async () => {
  const { rpc, store, service, send, mine, signedDeposit, deposit } = await setup()
  const snapshot = await send('evm_snapshot')
  const rawX = await signedDeposit(2, parseEther('1'))
  const hashX = (await send('eth_sendRawTransaction', [rawX])) as string
  await mine(2)
  await service.tick()
  expect(await store.balanceOf(unassigned)).toBe(parseEther('1'))
  const firstLog = (await rpc.getTransactionReceipt(hashX))!.logs[0]!.index

  // Reorganise below the credited block: the same transaction lands in a block after another deposit.
  await send('evm_revert', [snapshot])
  await send('evm_setAutomine', [false])
  await deposit(3, parseEther('2'))
  await send('eth_sendRawTransaction', [rawX])
  await mine(1)
  await send('evm_setAutomine', [true])
  await mine(4)
  const again = (await rpc.getTransactionReceipt(hashX))!
  expect(again.logs[0]!.index).not.toBe(firstLog) // the block-level index moved: the old id would credit it twice

  await service.tick()
  // Both deposits on chain, each credited once: the ledger holds exactly what the contract received.
  expect(await store.balanceOf(unassigned)).toBe(parseEther('3'))
  const received = (await vipnodePoolAt((await service['pool'].getAddress()) as string, rpc).getFunction('totalReceived')()) as bigint
  expect(-(await store.balanceOf(Accounts.external))).toBe(received)
  await service.tick()
  expect(await store.balanceOf(unassigned)).toBe(parseEther('3'))
})

test('upgrade: deposits credited under the old block-level ids are not credited again, new ones are', async () => {
  const store = openSqliteStore(':memory:')
  const { rpc, service, mine, deposit, chain } = await setup(store)
  const hashOld = await deposit(2, parseEther('1'))
  await mine(2)
  // What the previous release left behind: the deposit under `deposit:<tx>:<block log index>` and its cursor.
  const receipt = (await rpc.getTransactionReceipt(hashOld))!
  await store.post({ id: `deposit:${hashOld}:${receipt.logs[0]!.index}`, atMs: 1, memo: 'old id', entries: [{ account: Accounts.external, amountWei: -parseEther('1') }, { account: unassigned, amountWei: parseEther('1') }] })
  await store.setMeta('depositsScannedBlock', String(receipt.blockNumber))

  await service.tick()
  expect(await store.balanceOf(unassigned)).toBe(parseEther('1'))
  // Even a rescan from genesis (a cursor reset, or a reorg rewind) leaves the old deposit alone.
  await store.setMeta('depositsScannedBlock', '-1')
  await service.tick()
  expect(await store.balanceOf(unassigned)).toBe(parseEther('1'))

  const hashNew = await deposit(3, parseEther('2'))
  await mine(2)
  await service.tick()
  await service.tick()
  expect(await store.balanceOf(unassigned)).toBe(parseEther('3'))
  const pool = vipnodePoolAt(chain.contractAddress, rpc)
  const events = (await pool.queryFilter(pool.filters.Deposited!())) as EventLog[]
  expect(events.map((e) => e.transactionHash)).toEqual([hashOld, hashNew])
  expect(depositTransferId(hashNew, 0)).toBe(`deposit:${hashNew.toLowerCase()}:tx-log:0`)
})
