/**
 * The pool on a real (in-process) chain: a client deposits through the
 * payout contract, is served, the epoch settles, the coordinator proposes the
 * root once, it waits out the root delay (pending, not claimable), and the
 * host claims exactly its share once it is active.
 */
import { test, expect, afterAll } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { JsonRpcProvider, Wallet, parseEther, type EventLog } from 'ethers'
import { startDevchain, type Devchain } from '../../contracts/devchain.ts'
import { vipnodePoolAt } from '../../contracts/artifacts.ts'
import { depositAccountOf } from '../../contracts/depositAccount.ts'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { testAgent, type TestAgent } from '../harness/agents.ts'
import { waitFor } from '../harness/waitFor.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined)
})

test('behavior: deposit, service, settlement, one root on chain, and a claim of exactly the share', async () => {
  const chain: Devchain = await startDevchain({ port: 0 })
  cleanup.push(() => chain.close())
  const keyFile = join(mkdtempSync(join(tmpdir(), 'vipnode-chain-')), 'operator.key')
  writeFileSync(keyFile, chain.accounts[0]!.privateKey)
  const rpc = new JsonRpcProvider(chain.url, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
  cleanup.push(async () => rpc.destroy())
  const depositor = new Wallet(chain.accounts[2]!.privateKey, rpc)
  const claimer = new Wallet(chain.accounts[3]!.privateKey, rpc)
  const payout = Wallet.createRandom().address // starts at 0 wei: its balance is exactly what it claims
  const feeAddress = chain.accounts[1]!.address

  const clock = manualClock(Date.now())
  const c = await testCoordinator(
    {
      chainRpc: chain.url,
      contract: chain.contractAddress,
      operatorKey: keyFile,
      confirmations: 2,
      chainPollMs: 100,
      priceWeiPerMinute: parseEther('0.001'),
      feeBps: 500,
      feeAddress,
      updateIntervalMs: 10_000,
      epochMs: 3_600_000,
    },
    { clock },
  )
  cleanup.push(() => c.close())
  const agents: TestAgent[] = []
  cleanup.push(() => Promise.all(agents.map((a) => a.close())))
  const host = await testAgent(c.url, { role: 'host', payout })
  const client = await testAgent(c.url, { role: 'client' })
  agents.push(host, client)

  // Deposit 0.01 ether for the client's node; credited only after 2 confirmations.
  const pool = vipnodePoolAt(chain.contractAddress, depositor)
  await (await pool.getFunction('deposit')(depositAccountOf(client.id.nodeId), { value: parseEther('0.01') })).wait()
  const balance = () => c.services.store.balanceOf(`client:${client.id.nodeId}`)
  await c.chain!.tick()
  expect(await balance()).toBe(0n)
  await chain.provider.request({ method: 'hardhat_mine', params: ['0x2'] })
  await waitFor(async () => (await balance()) === parseEther('0.01'), 'deposit credited')
  await c.chain!.tick()
  expect(await balance()).toBe(parseEther('0.01')) // a rescan never credits twice

  // Serve for 5 minutes of corroborated time.
  await client.conn.call('vipnode_requestHosts', { count: 1 })
  for (let i = 0; i < 31; i++) {
    clock.advance(10_000)
    const who = i % 2 === 0 ? host : client
    const other = who === host ? client : host
    await who.conn.call('vipnode_update', { peers: [{ id: other.id.nodeId, enode: other.id.enode }], block: { number: 1, hash: `0x${'ab'.repeat(32)}` } })
  }
  const epoch = c.services.epochs.epochOf(clock.now())
  clock.set(c.services.epochs.bounds(epoch).endMs)
  // A thief holding the proposer key gets in first: a root paying itself everything deposited.
  const thief = new Wallet(chain.accounts[0]!.privateKey, rpc)
  const junk = StandardMerkleTree.of([[thief.address, parseEther('0.01')]], ['address', 'uint256'])
  await (await vipnodePoolAt(chain.contractAddress, thief).getFunction('proposeRoot')(1n, junk.root, parseEther('0.01'))).wait()
  await c.services.settlement.settleDue()
  await c.chain!.tick()
  // The coordinator cannot propose over a pending root: it waits, and records nothing.
  expect((await c.services.store.getEpoch(epoch))!.txHash).toBeNull()
  expect(((await pool.getFunction('pendingRoot')()) as [bigint, string])[1]).toBe(junk.root)
  // The guardian (a cold key) revokes the junk; the next poll sees the revocation and proposes the real root.
  await (await vipnodePoolAt(chain.contractAddress, new Wallet(chain.accounts[9]!.privateKey, rpc)).getFunction('revokeRoot')(junk.root)).wait()
  await c.chain!.tick()
  expect(await (await fetch(`${c.url}/metrics`)).text()).toMatch(/^vipnode_chain_roots_revoked_total 1$/m)
  const settled = (await c.services.store.getEpoch(epoch))!
  expect(settled.txHash).toMatch(/^0x[0-9a-f]{64}$/)
  // Proposed, not claimable: the root waits out the delay (the guardian could revoke it meanwhile).
  const [, pendingRoot, pendingTotal, claimableAt] = (await pool.getFunction('pendingRoot')()) as [bigint, string, bigint, bigint]
  expect(pendingRoot).toBe(settled.root)
  expect(pendingTotal).toBe(settled.totalEntitledWei)
  expect(await pool.getFunction('root')()).not.toBe(settled.root)
  const early = (await (await fetch(`${c.url}/v1/payouts/${payout}`)).json()) as { status: string; proof: unknown; pending: { claimableAtMs: number } }
  expect(early).toMatchObject({ status: 'pending', proof: null, pending: { claimableAtMs: Number(claimableAt) * 1000 } })
  await c.chain!.tick() // nothing new: no second proposal
  expect((await pool.queryFilter(pool.filters.RootProposed!())) as EventLog[]).toHaveLength(2) // the thief's and ours

  // The dev chain's clock jumps past the delay: the root is active, and the coordinator says so.
  await chain.provider.request({ method: 'evm_increaseTime', params: [chain.rootDelaySeconds] })
  await chain.provider.request({ method: 'evm_mine', params: [] })
  await c.chain!.tick()
  expect(await pool.getFunction('root')()).toBe(settled.root)
  expect(await pool.getFunction('totalEntitled')()).toBe(settled.totalEntitledWei)
  expect(c.chain!.rootStatus()).toMatchObject({ activeRoot: settled.root, pending: undefined })

  // The host's payout address claims through a third party, with the proof the coordinator serves.
  // The service may straddle an hour boundary: the claim pays the cumulative entitlement over all epochs.
  const share = (await c.services.store.epochPayouts(epoch)).find((p) => p.payee === payout.toLowerCase())!
  expect(share.cumulativeWei).toBeGreaterThan(0n)
  const proof = (await (await fetch(`${c.url}/v1/payouts/${payout}`)).json()) as { status: string; cumulativeWei: string; proof: string[] }
  expect(proof.status).toBe('claimable')
  await (await vipnodePoolAt(chain.contractAddress, claimer).getFunction('claim')(payout, proof.cumulativeWei, proof.proof)).wait()
  expect(await rpc.getBalance(payout)).toBe(share.cumulativeWei)
  expect(await pool.getFunction('claimed')(thief.address)).toBe(0n)
  expect(await pool.getFunction('totalClaimed')()).toBe(share.cumulativeWei)
  expect(await c.services.store.sumAll()).toBe(0n)
}, 60_000)
