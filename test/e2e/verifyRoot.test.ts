/**
 * `vipnode verify-root` as a real process against a coordinator that posted its root to the EDR dev
 * chain: the honest root verifies (exit 0); an epoch whose root never reached the chain, whose payee's
 * cumulative went down and whose leaves promise more than was deposited fails (exit 1) with each reason.
 */
import { test, expect, afterAll } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { JsonRpcProvider, Wallet, parseEther, keccak256, toUtf8Bytes } from 'ethers'
import { startDevchain } from '../../contracts/devchain.ts'
import { vipnodePoolAt } from '../../contracts/artifacts.ts'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { VIPNODE_BIN } from '../harness/processes.ts'
import { seedPayoutEpoch } from '../harness/payoutEpochs.ts'

const run = promisify(execFile)
const cleanup: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined)
})

async function verify(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [VIPNODE_BIN, 'verify-root', ...args], { timeout: 60_000 })
    return { code: 0, out: stdout }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

test('behavior: a posted root verifies; a root off chain, a payee going down and a total above deposits fail', { timeout: 180_000 }, async () => {
  const chain = await startDevchain({ port: 0 })
  cleanup.push(() => chain.close())
  const keyFile = join(mkdtempSync(join(tmpdir(), 'vipnode-verify-')), 'operator.key')
  writeFileSync(keyFile, chain.accounts[0]!.privateKey)
  const rpc = new JsonRpcProvider(chain.url, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
  cleanup.push(async () => rpc.destroy())
  const c = await testCoordinator(
    { chainRpc: chain.url, contract: chain.contractAddress, operatorKey: keyFile, confirmations: 0, chainPollMs: 3_600_000, epochMs: 3_600_000 },
    { clock: manualClock(100 * 3_600_000) },
  )
  cleanup.push(() => c.close())
  const store = c.services.store
  const [a, b] = [Wallet.createRandom().address, Wallet.createRandom().address]

  // 1 ether deposited; epochs 1 and 2 owe 0.3 then 0.5 ether in total; the chain service posts epoch 2's root.
  const pool = vipnodePoolAt(chain.contractAddress, new Wallet(chain.accounts[2]!.privateKey, rpc))
  await (await pool.getFunction('deposit')(keccak256(toUtf8Bytes('someone')), { value: parseEther('1') })).wait()
  await seedPayoutEpoch(store, 1, [{ payee: a, cumulativeWei: parseEther('0.1') }, { payee: b, cumulativeWei: parseEther('0.2') }])
  const e2 = await seedPayoutEpoch(store, 2, [{ payee: a, cumulativeWei: parseEther('0.2') }, { payee: b, cumulativeWei: parseEther('0.3') }])
  await c.chain!.tick()
  expect((await store.getEpoch(2))?.txHash).toMatch(/^0x/)

  const base = ['--coordinator', c.url, '--chain-rpc', chain.url, '--contract', chain.contractAddress]
  const good = await verify(base)
  expect(good.out).toContain(`verified: epoch 2 root ${e2.root}`)
  expect(good.out).toContain('; pending, claimable from ')
  expect(good.out).toMatch(/ok {4}cumulative: no payee's cumulative went down from epoch 1 \(2 payees\) to epoch 2 \(2 payees\)/)
  expect(good.code).toBe(0)

  // Epoch 3: b's cumulative drops and the total (2 ether) is above the 1 ether deposited; never posted.
  const e3 = await seedPayoutEpoch(store, 3, [{ payee: a, cumulativeWei: parseEther('1.9') }, { payee: b, cumulativeWei: parseEther('0.1') }])
  const bad = await verify([...base, '--epoch', '3'])
  expect(bad.code).toBe(1)
  expect(bad.out).toContain(`FAIL  on chain: the root of epoch 3 (${e3.root}) was never proposed to the contract; its active root is none yet, pending ${e2.root}`)
  expect(bad.out).toContain(`FAIL  cumulative: ${b} cumulative went down: 300000000000000000 wei in epoch 2, 100000000000000000 wei in epoch 3`)
  expect(bad.out).toContain('FAIL  total: epoch 3 promises 2000000000000000000 wei, more than the 1000000000000000000 wei the contract ever received')
  expect(bad.out).toContain('NOT verified: 3 of 4 checks failed for epoch 3')

  // An epoch the coordinator never settled, and a wrong contract address.
  const missing = await verify([...base, '--epoch', '9'])
  expect(missing.code).toBe(1)
  expect(missing.out).toContain('FAIL  tree file: coordinator: epoch 9 is not settled')
  const wrong = await verify(['--coordinator', c.url, '--chain-rpc', chain.url, '--contract', a])
  expect(wrong.code).toBe(1)
  expect(wrong.out).toContain(`FAIL  on chain: no contract at ${a}`)

  // The guardian (accounts[9]) revokes epoch 2's pending root: it no longer verifies, and says why.
  const guardian = vipnodePoolAt(chain.contractAddress, new Wallet(chain.accounts[9]!.privateKey, rpc))
  await (await guardian.getFunction('revokeRoot')(e2.root)).wait()
  const revoked = await verify([...base, '--epoch', '2'])
  expect(revoked.code).toBe(1)
  expect(revoked.out).toMatch(new RegExp(`FAIL  on chain: root ${e2.root} proposed as contract epoch 1 \\(tx 0x[0-9a-f]{64}\\) was revoked by the guardian ${chain.accounts[9]!.address} \\(tx 0x[0-9a-f]{64}\\); its active root is none yet`))
})

test('behavior: verify-root --help names every flag and its environment variable', { timeout: 60_000 }, async () => {
  const { stdout } = await run(process.execPath, [VIPNODE_BIN, 'verify-root', '--help'])
  for (const flag of ['--coordinator', '--chain-rpc', '--contract', '--epoch', '--from-block']) expect(stdout).toContain(flag)
  expect(stdout).toContain('VIPNODE_CHAIN_RPC')
})
