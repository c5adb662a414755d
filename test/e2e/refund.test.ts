/**
 * A client refund on a real (in-process) chain, end to end: a client deposits
 * through the payout contract, is served for a while, asks for its unspent
 * deposit back with the real `vipnode client refund` (a child process signing
 * with the node key file), the epoch settles, the coordinator posts the root,
 * and the refund address claims exactly deposit − charged.
 */
import { test, expect, afterAll } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonRpcProvider, Wallet, parseEther, type Contract } from 'ethers'
import { startDevchain, type Devchain } from '../../contracts/devchain.ts'
import { vipnodePoolAt } from '../../contracts/artifacts.ts'
import { depositAccountOf } from '../../contracts/depositAccount.ts'
import { manualClock } from '../../lib/clock.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'
import type { EpochRecord } from '../../coordinator/store/store.ts'
import { audit } from '../../coordinator/admin/audit.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { testAgent, type TestAgent } from '../harness/agents.ts'
import { waitFor } from '../harness/waitFor.ts'
import { chargedWei } from '../harness/attackers.ts'
import { VIPNODE_BIN } from '../harness/processes.ts'

const run = promisify(execFile)
const cleanup: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined)
})

/**
 * The one place that knows when a settled epoch's root can be claimed: the
 * coordinator proposes it, the dev chain's clock jumps past the root delay
 * (the guardian's window), and the chain service sees it active.
 */
async function untilClaimable(c: RunningCoordinator, chain: Devchain, pool: Contract, epoch: number): Promise<string> {
  await c.chain!.tick()
  const settled = await waitFor(async () => {
    const e = await c.services.store.getEpoch(epoch)
    return e?.txHash ? e : undefined
  }, `root of epoch ${epoch} proposed`) as EpochRecord
  expect(await pool.getFunction('root')()).not.toBe(settled.root) // still in its delay
  await chain.provider.request({ method: 'evm_increaseTime', params: [chain.rootDelaySeconds] })
  await chain.provider.request({ method: 'evm_mine', params: [] })
  await c.chain!.tick()
  expect(await pool.getFunction('root')()).toBe(settled.root)
  return settled.root
}

test('behavior: deposit, partial service, refund with the CLI, settlement, root, and a claim of exactly the unspent deposit', async () => {
  const chain: Devchain = await startDevchain({ port: 0 })
  cleanup.push(() => chain.close())
  const dir = mkdtempSync(join(tmpdir(), 'vipnode-refund-'))
  const operatorKey = join(dir, 'operator.key')
  writeFileSync(operatorKey, chain.accounts[0]!.privateKey)
  const rpc = new JsonRpcProvider(chain.url, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
  cleanup.push(async () => rpc.destroy())
  const depositor = new Wallet(chain.accounts[2]!.privateKey, rpc)
  const claimer = new Wallet(chain.accounts[3]!.privateKey, rpc)
  const refundTo = Wallet.createRandom().address // starts at 0 wei: its balance is exactly what it claims
  const hostPayout = Wallet.createRandom().address

  const clock = manualClock(Date.now())
  const c = await testCoordinator(
    { chainRpc: chain.url, contract: chain.contractAddress, operatorKey, confirmations: 1, chainPollMs: 100, priceWeiPerMinute: parseEther('0.001'), feeBps: 500, feeAddress: chain.accounts[1]!.address, updateIntervalMs: 10_000, epochMs: 3_600_000 },
    { clock },
  )
  cleanup.push(() => c.close())
  const agents: TestAgent[] = []
  cleanup.push(() => Promise.all(agents.map((a) => a.close())))
  const host = await testAgent(c.url, { role: 'host', payout: hostPayout })
  const client = await testAgent(c.url, { role: 'client' })
  agents.push(host, client)
  const clientKeyFile = join(dir, 'client.nodekey')
  writeFileSync(clientKeyFile, client.id.key, { mode: 0o600 })

  const DEPOSIT = parseEther('0.01')
  const pool = vipnodePoolAt(chain.contractAddress, depositor)
  await (await pool.getFunction('deposit')(depositAccountOf(client.id.nodeId), { value: DEPOSIT })).wait()
  await chain.provider.request({ method: 'hardhat_mine', params: ['0x1'] })
  await c.chain!.tick()
  await waitFor(async () => (await c.services.store.balanceOf(`client:${client.id.nodeId}`)) === DEPOSIT, 'deposit credited')

  // Partial service: 2 minutes of corroborated time, well under what the deposit pays for.
  await client.conn.call('vipnode_requestHosts', { count: 1 })
  for (let i = 0; i < 13; i++) {
    clock.advance(10_000)
    const who = i % 2 === 0 ? host : client
    const other = who === host ? client : host
    await who.conn.call('vipnode_update', { peers: [{ id: other.id.nodeId, enode: other.id.enode }], block: { number: 1, hash: `0x${'ab'.repeat(32)}` } })
  }
  const charged = chargedWei(c, client.id.nodeId)
  expect(charged).toBeGreaterThan(0n)
  expect(charged).toBeLessThan(DEPOSIT)

  // The real CLI, signing with the node key file.
  const { stdout } = await run(process.execPath, [VIPNODE_BIN, 'client', 'refund', '--bootstrap', c.url, '--nodekey', clientKeyFile, '--to', refundTo], { env: { ...process.env, NODE_NO_WARNINGS: '1' } })
  const [preview, result] = stdout.trim().split('\n').map((l) => JSON.parse(l))
  expect(preview).toMatchObject({ nodeId: client.id.nodeId, refundableWei: (DEPOSIT - charged).toString(), to: refundTo.toLowerCase() })
  expect(result).toMatchObject({ refundedWei: (DEPOSIT - charged).toString(), releasedHosts: 1 })
  // Running it again refunds nothing more.
  const again = await run(process.execPath, [VIPNODE_BIN, 'client', 'refund', '--bootstrap', c.url, '--nodekey', clientKeyFile, '--to', refundTo]).catch((e: { stderr: string; code: number }) => e)
  expect(again).toMatchObject({ code: 1, stderr: expect.stringContaining('nothing to refund') })

  const epoch = c.services.epochs.epochOf(clock.now())
  clock.set(c.services.epochs.bounds(epoch).endMs)
  await c.services.settlement.settleDue()
  await untilClaimable(c, chain, pool, epoch)
  // The root promises no more than the contract holds.
  expect(await pool.getFunction('totalEntitled')()).toBeLessThanOrEqual(await pool.getFunction('totalReceived')())

  const proof = (await (await fetch(`${c.url}/v1/payouts/${refundTo}`)).json()) as { cumulativeWei: string; proof: string[] }
  expect(proof.cumulativeWei).toBe((DEPOSIT - charged).toString())
  await (await vipnodePoolAt(chain.contractAddress, claimer).getFunction('claim')(refundTo, proof.cumulativeWei, proof.proof)).wait()
  expect(await rpc.getBalance(refundTo)).toBe(DEPOSIT - charged)
  expect(await audit(c.services.store)).toMatchObject({ ok: true, problems: [] })
}, 90_000)
