import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { AbiCoder, Contract, ContractFactory, Interface, ZeroAddress, ZeroHash, concat, id, keccak256, parseEther } from 'ethers'
import type { ContractTransactionReceipt, ContractTransactionResponse, JsonRpcSigner, Log } from 'ethers'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { deployVipnodePool } from './artifacts.ts'
import { compileContracts } from './compile.ts'
import { ethersOn, startEdrProvider } from './edr.ts'
import { buildPayoutTree } from './merkle.ts'

// Proofs in these tests come straight from @openzeppelin/merkle-tree (not from ./merkle.ts), so a
// bug in our helper cannot hide a matching bug in the contract.
const ENCODING = ['address', 'uint256']
type Leaf = [string, bigint]

const artifacts = compileContracts()
const poolInterface = new Interface(artifacts.VipnodePool.abi)

async function fixture() {
  const chain = await startEdrProvider()
  const { provider, signers } = ethersOn(chain)
  const [deployer, operator, feeRecipient, alice, bob, carol, outsider, depositor, relayer, nextOperator] = signers
  if (nextOperator === undefined) throw new Error('the dev chain has fewer than 10 accounts')
  const pool = await deployVipnodePool(deployer, operator.address, feeRecipient.address)
  const address = await pool.getAddress()
  const as = (signer: JsonRpcSigner): Contract => pool.connect(signer) as Contract
  return { provider, pool, address, as, deployer, operator, feeRecipient, alice, bob, carol, outsider, depositor, relayer, nextOperator }
}
type Fixture = Awaited<ReturnType<typeof fixture>>

async function deployMock(f: Fixture, name: 'ReentrantPayee' | 'RejectingPayee', ...args: unknown[]): Promise<Contract> {
  const { abi, bytecode } = artifacts[name]
  const deployed = await new ContractFactory(abi, bytecode, f.deployer).deploy(...args)
  await deployed.waitForDeployment()
  return new Contract(await deployed.getAddress(), abi, f.deployer)
}

const mined = async (tx: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> => {
  const receipt = await (await tx).wait()
  if (receipt === null) throw new Error('transaction was not mined')
  return receipt
}

/** Awaits a rejected call and asserts the custom error's name and arguments. */
async function expectRevert(call: Promise<unknown>, name: string, args: unknown[]): Promise<void> {
  const outcome = await call.then(() => 'resolved', (err: unknown) => err)
  expect(outcome, `expected ${name}`).not.toBe('resolved')
  const data = (outcome as { data?: unknown }).data
  expect(typeof data, `no revert data in ${String(outcome)}`).toBe('string')
  const parsed = poolInterface.parseError(data as string)
  expect(parsed?.name).toBe(name)
  expect([...parsed!.args]).toEqual(args)
}

/** Asserts the receipt has exactly one `name` event from `emitter` with `args`. */
function expectEvent(receipt: ContractTransactionReceipt, emitter: string, name: string, args: unknown[]): void {
  const matches = receipt.logs
    .filter((log: Log) => log.address.toLowerCase() === emitter.toLowerCase())
    .map((log) => poolInterface.parseLog(log))
    .filter((parsed) => parsed?.name === name)
  expect(matches, `${name} events`).toHaveLength(1)
  expect([...matches[0]!.args]).toEqual(args)
}

function tree(leaves: Leaf[]) {
  return StandardMerkleTree.of<Leaf>(leaves, ENCODING)
}

/** Optionally deposits `deposit`, then posts a root over `leaves` (declaring their sum) as the next epoch. */
async function fundAndPost(f: Fixture, leaves: Leaf[], deposit?: bigint) {
  const t = tree(leaves)
  const total = leaves.reduce((s, [, v]) => s + v, 0n)
  if (deposit !== undefined) await mined(f.as(f.depositor).deposit(id('client'), { value: deposit }))
  const epoch = (await f.pool.lastEpoch() as bigint) + 1n
  const receipt = await mined(f.as(f.operator).postRoot(epoch, t.root, total))
  return { tree: t, total, epoch, receipt }
}

const proofOf = (t: StandardMerkleTree<Leaf>, payee: string): { cumulative: bigint, proof: string[] } => {
  for (const [i, [p, v]] of t.entries()) if (p === payee) return { cumulative: v, proof: t.getProof(i) }
  throw new Error(`no leaf for ${payee}`)
}

const gasTable: { step: string, gas: bigint }[] = []

afterAll(() => {
  if (gasTable.length === 0) return
  console.log(['VipnodePool gas (tx gasUsed, incl. 21,000 intrinsic):', ...gasTable.map((r) => `  ${r.step.padEnd(44)} ${r.gas.toLocaleString('en-US').padStart(8)}`)].join('\n'))
})

describe('VipnodePool', () => {
  describe('deployment', () => {
    it('default: sets operator and fee recipient, starts empty and unpaused', async () => {
      const f = await fixture()
      expect(await f.pool.operator()).toBe(f.operator.address)
      expect(await f.pool.pendingOperator()).toBe(ZeroAddress)
      expect(await f.pool.feeRecipient()).toBe(f.feeRecipient.address)
      expect(await f.pool.paused()).toBe(false)
      expect(await f.pool.root()).toBe(ZeroHash)
      expect(await f.pool.lastEpoch()).toBe(0n)
      for (const view of ['totalEntitled', 'totalReceived', 'totalClaimed'] as const) expect(await f.pool[view]!()).toBe(0n)
      const receipt = await f.pool.deploymentTransaction()!.wait()
      expectEvent(receipt!, f.address, 'OperatorTransferred', [ZeroAddress, f.operator.address])
      expectEvent(receipt!, f.address, 'FeeRecipientDeclared', [f.feeRecipient.address])
    })

    it('error: rejects a zero operator or fee recipient', async () => {
      const f = await fixture()
      const factory = new ContractFactory(artifacts.VipnodePool.abi, artifacts.VipnodePool.bytecode, f.deployer)
      await expectRevert(factory.deploy(ZeroAddress, f.feeRecipient.address), 'VipnodePoolInvalidOperator', [ZeroAddress])
      await expectRevert(factory.deploy(f.operator.address, ZeroAddress), 'VipnodePoolInvalidFeeRecipient', [ZeroAddress])
    })
  })

  describe('deposit', () => {
    it('default: credits totalReceived and emits Deposited', async () => {
      const f = await fixture()
      const account = id('enode-of-some-client')
      const receipt = await mined(f.as(f.depositor).deposit(account, { value: 700n }))
      expectEvent(receipt, f.address, 'Deposited', [account, f.depositor.address, 700n])
      await mined(f.as(f.alice).deposit(account, { value: 300n }))
      expect(await f.pool.totalReceived()).toBe(1000n)
      expect(await f.provider.getBalance(f.address)).toBe(1000n)
    })

    it('error: zero value, zero account, plain transfer', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.depositor).deposit(id('a'), { value: 0n }), 'VipnodePoolZeroDeposit', [id('a')])
      await expectRevert(f.as(f.depositor).deposit(ZeroHash, { value: 1n }), 'VipnodePoolInvalidAccount', [ZeroHash])
      // No receive(): ETH that bypasses deposit() would be unaccounted, so it is refused.
      await expect(f.depositor.sendTransaction({ to: f.address, value: 1n })).rejects.toThrow()
      expect(await f.pool.totalReceived()).toBe(0n)
    })
  })

  describe('postRoot', () => {
    it('default: stores the root, epoch and total, emits RootPosted', async () => {
      const f = await fixture()
      const { tree: t, receipt } = await fundAndPost(f, [[f.alice.address, 600n], [f.bob.address, 400n]], 1000n)
      expectEvent(receipt, f.address, 'RootPosted', [1n, t.root, 1000n])
      expect(await f.pool.root()).toBe(t.root)
      expect(await f.pool.lastEpoch()).toBe(1n)
      expect(await f.pool.totalEntitled()).toBe(1000n)
    })

    it('behavior: an epoch without new revenue may repeat the total', async () => {
      const f = await fixture()
      await fundAndPost(f, [[f.alice.address, 100n]], 100n)
      const { receipt } = await fundAndPost(f, [[f.alice.address, 100n]])
      expectEvent(receipt, f.address, 'RootPosted', [2n, tree([[f.alice.address, 100n]]).root, 100n])
    })

    it('error: only the operator may post', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.outsider).postRoot(1n, id('r'), 0n), 'VipnodePoolUnauthorizedOperator', [f.outsider.address])
    })

    it('error: epochs must be consecutive from 1', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.operator).postRoot(0n, id('r'), 0n), 'VipnodePoolInvalidEpoch', [0n, 1n])
      await expectRevert(f.as(f.operator).postRoot(2n, id('r'), 0n), 'VipnodePoolInvalidEpoch', [2n, 1n])
      await mined(f.as(f.operator).postRoot(1n, id('r1'), 0n))
      await expectRevert(f.as(f.operator).postRoot(1n, id('r'), 0n), 'VipnodePoolInvalidEpoch', [1n, 2n])
      await expectRevert(f.as(f.operator).postRoot(3n, id('r'), 0n), 'VipnodePoolInvalidEpoch', [3n, 2n])
    })

    it('error: a zero root', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.operator).postRoot(1n, ZeroHash, 0n), 'VipnodePoolEmptyRoot', [1n])
    })

    it('error: the total entitlement never decreases', async () => {
      const f = await fixture()
      await fundAndPost(f, [[f.alice.address, 500n]], 500n)
      await expectRevert(f.as(f.operator).postRoot(2n, id('r'), 499n), 'VipnodePoolEntitlementDecreased', [499n, 500n])
    })

    it('error: a root that promises more than was ever received', async () => {
      const f = await fixture()
      await mined(f.as(f.depositor).deposit(id('c'), { value: 1000n }))
      await expectRevert(f.as(f.operator).postRoot(1n, id('r'), 1001n), 'VipnodePoolRootExceedsBalance', [1001n, 1000n])
      expect(await f.pool.lastEpoch()).toBe(0n)
    })
  })

  describe('claim', () => {
    it('default: pays cumulative minus claimed to the payee, whoever sends it', async () => {
      const f = await fixture()
      const { tree: t } = await fundAndPost(f, [[f.alice.address, parseEther('1.5')], [f.bob.address, parseEther('0.5')]], parseEther('2'))
      const { cumulative, proof } = proofOf(t, f.alice.address)
      const before = await f.provider.getBalance(f.alice.address)
      const receipt = await mined(f.as(f.relayer).claim(f.alice.address, cumulative, proof))
      expectEvent(receipt, f.address, 'Claimed', [f.alice.address, parseEther('1.5'), parseEther('1.5')])
      expect(await f.provider.getBalance(f.alice.address) - before).toBe(parseEther('1.5'))
      expect(await f.pool.claimed(f.alice.address)).toBe(parseEther('1.5'))
      expect(await f.pool.totalClaimed()).toBe(parseEther('1.5'))
      expect(await f.provider.getBalance(f.address)).toBe(parseEther('0.5'))
    })

    it('default: a payee claiming for itself receives the amount minus its gas', async () => {
      const f = await fixture()
      const { tree: t } = await fundAndPost(f, [[f.alice.address, 12_345n]], 12_345n)
      const { cumulative, proof } = proofOf(t, f.alice.address)
      const before = await f.provider.getBalance(f.alice.address)
      const receipt = await mined(f.as(f.alice).claim(f.alice.address, cumulative, proof))
      const gasCost = receipt.gasUsed * receipt.gasPrice
      expect(await f.provider.getBalance(f.alice.address)).toBe(before + 12_345n - gasCost)
    })

    it('behavior: the same leaf twice pays nothing the second time', async () => {
      const f = await fixture()
      const { tree: t } = await fundAndPost(f, [[f.alice.address, 800n], [f.bob.address, 200n]], 1000n)
      const { cumulative, proof } = proofOf(t, f.alice.address)
      await mined(f.as(f.relayer).claim(f.alice.address, cumulative, proof))
      const before = await f.provider.getBalance(f.alice.address)
      await expectRevert(f.as(f.relayer).claim(f.alice.address, cumulative, proof), 'VipnodePoolNothingToClaim', [f.alice.address, 800n, 800n])
      expect(await f.provider.getBalance(f.alice.address)).toBe(before)
      expect(await f.pool.totalClaimed()).toBe(800n)
    })

    it('behavior: a later cumulative pays only the difference', async () => {
      const f = await fixture()
      const first = await fundAndPost(f, [[f.alice.address, 300n], [f.bob.address, 100n]], 400n)
      const p1 = proofOf(first.tree, f.alice.address)
      await mined(f.as(f.relayer).claim(f.alice.address, p1.cumulative, p1.proof))
      const second = await fundAndPost(f, [[f.alice.address, 1_000n], [f.bob.address, 400n]], 1_000n)
      const p2 = proofOf(second.tree, f.alice.address)
      const before = await f.provider.getBalance(f.alice.address)
      const receipt = await mined(f.as(f.relayer).claim(f.alice.address, p2.cumulative, p2.proof))
      expectEvent(receipt, f.address, 'Claimed', [f.alice.address, 700n, 1_000n])
      expect(await f.provider.getBalance(f.alice.address) - before).toBe(700n)
    })

    it('behavior: only the latest root counts; a payee who skipped epochs claims once', async () => {
      const f = await fixture()
      const first = await fundAndPost(f, [[f.alice.address, 300n], [f.bob.address, 100n]], 400n)
      const second = await fundAndPost(f, [[f.alice.address, 900n], [f.bob.address, 300n]], 800n)
      const stale = proofOf(first.tree, f.bob.address)
      await expectRevert(f.as(f.relayer).claim(f.bob.address, stale.cumulative, stale.proof), 'VipnodePoolInvalidProof', [f.bob.address, 100n])
      const fresh = proofOf(second.tree, f.bob.address)
      const receipt = await mined(f.as(f.relayer).claim(f.bob.address, fresh.cumulative, fresh.proof))
      expectEvent(receipt, f.address, 'Claimed', [f.bob.address, 300n, 300n])
    })

    it('error: a forged proof or inflated amount', async () => {
      const f = await fixture()
      const { tree: t } = await fundAndPost(f, [[f.alice.address, 500n], [f.bob.address, 300n], [f.carol.address, 200n]], 1000n)
      const { proof } = proofOf(t, f.alice.address)
      await expectRevert(f.as(f.alice).claim(f.alice.address, 501n, proof), 'VipnodePoolInvalidProof', [f.alice.address, 501n])
      const tampered = [id('forged'), ...proof.slice(1)]
      await expectRevert(f.as(f.alice).claim(f.alice.address, 500n, tampered), 'VipnodePoolInvalidProof', [f.alice.address, 500n])
      await expectRevert(f.as(f.alice).claim(f.alice.address, 500n, []), 'VipnodePoolInvalidProof', [f.alice.address, 500n])
      // The internal-node attack: an inner node is a valid "leaf" for a shorter proof, but the
      // contract hashes (payee, cumulative) itself, so no argument can make it check that node.
      const innerLeafProof = proof.slice(1)
      await expectRevert(f.as(f.alice).claim(f.alice.address, 500n, innerLeafProof), 'VipnodePoolInvalidProof', [f.alice.address, 500n])
    })

    it('error: before any root, nothing verifies', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.alice).claim(f.alice.address, 0n, []), 'VipnodePoolInvalidProof', [f.alice.address, 0n])
    })

    it("error: another payee's valid leaf cannot be claimed as mine", async () => {
      const f = await fixture()
      const { tree: t } = await fundAndPost(f, [[f.alice.address, 500n], [f.bob.address, 300n]], 800n)
      const { cumulative, proof } = proofOf(t, f.alice.address)
      await expectRevert(f.as(f.bob).claim(f.bob.address, cumulative, proof), 'VipnodePoolInvalidProof', [f.bob.address, 500n])
      expect(await f.pool.totalClaimed()).toBe(0n)
    })

    it('error: a tree that over-promises its declared total pays out no more than the total', async () => {
      const f = await fixture()
      // The operator declares 1000 but the leaves sum to 1500: the contract cannot see the leaves,
      // so the claim check is what keeps totalClaimed <= totalEntitled.
      await mined(f.as(f.depositor).deposit(id('c'), { value: 1500n }))
      const t = tree([[f.alice.address, 800n], [f.bob.address, 700n]])
      await mined(f.as(f.operator).postRoot(1n, t.root, 1000n))
      const a = proofOf(t, f.alice.address)
      await mined(f.as(f.relayer).claim(f.alice.address, a.cumulative, a.proof))
      const b = proofOf(t, f.bob.address)
      await expectRevert(f.as(f.relayer).claim(f.bob.address, b.cumulative, b.proof), 'VipnodePoolClaimExceedsEntitled', [700n, 200n])
      expect(await f.pool.totalClaimed()).toBe(800n)
    })

    it('error: a payee that refuses ETH fails the whole claim', async () => {
      const f = await fixture()
      const payee = await (await deployMock(f, 'RejectingPayee')).getAddress()
      const { tree: t } = await fundAndPost(f, [[payee, 100n]], 100n)
      const { cumulative, proof } = proofOf(t, payee)
      await expectRevert(f.as(f.relayer).claim(payee, cumulative, proof), 'VipnodePoolPaymentFailed', [payee, 100n])
      expect(await f.pool.claimed(payee)).toBe(0n)
    })

    it('error: a reentrant payee is paid once', async () => {
      const f = await fixture()
      const attacker = await deployMock(f, 'ReentrantPayee', f.address)
      const payee = await attacker.getAddress()
      const { tree: t } = await fundAndPost(f, [[payee, 1_000n], [f.alice.address, 4_000n]], 5_000n)
      const { cumulative, proof } = proofOf(t, payee)
      const receipt = await mined((attacker.connect(f.relayer) as Contract).attack(cumulative, proof))
      expectEvent(receipt, f.address, 'Claimed', [payee, 1_000n, 1_000n])
      expect(await attacker.reentryAttempted()).toBe(true)
      expect(await attacker.reentrySucceeded()).toBe(false)
      expect(poolInterface.parseError(await attacker.reentryError())?.name).toBe('ReentrancyGuardReentrantCall')
      expect(await attacker.paymentsReceived()).toBe(1n)
      expect(await f.provider.getBalance(payee)).toBe(1_000n)
      expect(await f.pool.totalClaimed()).toBe(1_000n)
      // And once the guard is released, a replay of the same leaf still pays nothing.
      await expectRevert((attacker.connect(f.relayer) as Contract).attack(cumulative, proof), 'VipnodePoolNothingToClaim', [payee, 1_000n, 1_000n])
    })

    it('behavior: the fee recipient is paid through an ordinary leaf', async () => {
      const f = await fixture()
      // Built with our helper here (the other tests use the library directly); the root must agree.
      const payout = buildPayoutTree([
        { payee: f.alice.address, cumulativeWei: 900n },
        { payee: f.feeRecipient.address, cumulativeWei: 100n },
      ])
      expect(payout.root).toBe(tree([[f.feeRecipient.address, 100n], [f.alice.address, 900n]]).root)
      await mined(f.as(f.depositor).deposit(id('c'), { value: 1000n }))
      await mined(f.as(f.operator).postRoot(1n, payout.root, payout.totalWei))
      const fee = payout.proofFor(f.feeRecipient.address)
      const before = await f.provider.getBalance(f.feeRecipient.address)
      await mined(f.as(f.relayer).claim(fee.payee, fee.cumulativeWei, fee.proof))
      expect(await f.provider.getBalance(f.feeRecipient.address) - before).toBe(100n)
    })

    it('default: the leaf is the StandardMerkleTree leaf for (address, uint256)', () => {
      const payee = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
      const leaf = keccak256(concat([keccak256(AbiCoder.defaultAbiCoder().encode(ENCODING, [payee, 42n]))]))
      expect(leaf).toBe(tree([[payee, 42n]]).leafHash([payee, 42n]))
    })
  })

  describe('pause', () => {
    it('behavior: stops postRoot and deposits, never claims', async () => {
      const f = await fixture()
      const { tree: t } = await fundAndPost(f, [[f.alice.address, 100n]], 100n)
      const receipt = await mined(f.as(f.operator).pause())
      expectEvent(receipt, f.address, 'Paused', [f.operator.address])
      expect(await f.pool.paused()).toBe(true)
      await expectRevert(f.as(f.operator).postRoot(2n, id('r'), 100n), 'VipnodePoolEnforcedPause', [])
      await expectRevert(f.as(f.depositor).deposit(id('c'), { value: 1n }), 'VipnodePoolEnforcedPause', [])
      const { cumulative, proof } = proofOf(t, f.alice.address)
      await mined(f.as(f.relayer).claim(f.alice.address, cumulative, proof))
      expect(await f.pool.totalClaimed()).toBe(100n)
      const unpaused = await mined(f.as(f.operator).unpause())
      expectEvent(unpaused, f.address, 'Unpaused', [f.operator.address])
      await fundAndPost(f, [[f.alice.address, 150n]], 50n)
    })

    it('error: operator only, and no double pause or unpause', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.outsider).pause(), 'VipnodePoolUnauthorizedOperator', [f.outsider.address])
      await expectRevert(f.as(f.operator).unpause(), 'VipnodePoolExpectedPause', [])
      await mined(f.as(f.operator).pause())
      await expectRevert(f.as(f.operator).pause(), 'VipnodePoolEnforcedPause', [])
      await expectRevert(f.as(f.outsider).unpause(), 'VipnodePoolUnauthorizedOperator', [f.outsider.address])
    })
  })

  describe('operator handover', () => {
    it('default: two steps, and the old operator loses its rights', async () => {
      const f = await fixture()
      const started = await mined(f.as(f.operator).transferOperator(f.nextOperator.address))
      expectEvent(started, f.address, 'OperatorTransferStarted', [f.operator.address, f.nextOperator.address])
      expect(await f.pool.pendingOperator()).toBe(f.nextOperator.address)
      // Until accepted, nothing changes hands.
      expect(await f.pool.operator()).toBe(f.operator.address)
      await mined(f.as(f.operator).postRoot(1n, id('r1'), 0n))
      const accepted = await mined(f.as(f.nextOperator).acceptOperator())
      expectEvent(accepted, f.address, 'OperatorTransferred', [f.operator.address, f.nextOperator.address])
      expect(await f.pool.operator()).toBe(f.nextOperator.address)
      expect(await f.pool.pendingOperator()).toBe(ZeroAddress)
      await expectRevert(f.as(f.operator).postRoot(2n, id('r2'), 0n), 'VipnodePoolUnauthorizedOperator', [f.operator.address])
      await expectRevert(f.as(f.operator).pause(), 'VipnodePoolUnauthorizedOperator', [f.operator.address])
      await expectRevert(f.as(f.operator).transferOperator(f.operator.address), 'VipnodePoolUnauthorizedOperator', [f.operator.address])
      await mined(f.as(f.nextOperator).postRoot(2n, id('r2'), 0n))
    })

    it('error: only the pending operator may accept; only the operator may nominate', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.outsider).transferOperator(f.outsider.address), 'VipnodePoolUnauthorizedOperator', [f.outsider.address])
      await expectRevert(f.as(f.nextOperator).acceptOperator(), 'VipnodePoolUnauthorizedPendingOperator', [f.nextOperator.address])
      await mined(f.as(f.operator).transferOperator(f.nextOperator.address))
      await expectRevert(f.as(f.outsider).acceptOperator(), 'VipnodePoolUnauthorizedPendingOperator', [f.outsider.address])
      await expectRevert(f.as(f.operator).acceptOperator(), 'VipnodePoolUnauthorizedPendingOperator', [f.operator.address])
    })

    it('behavior: nominating the zero address cancels a pending handover', async () => {
      const f = await fixture()
      await mined(f.as(f.operator).transferOperator(f.nextOperator.address))
      await mined(f.as(f.operator).transferOperator(ZeroAddress))
      await expectRevert(f.as(f.nextOperator).acceptOperator(), 'VipnodePoolUnauthorizedPendingOperator', [f.nextOperator.address])
      expect(await f.pool.operator()).toBe(f.operator.address)
    })
  })

  it('gas: deposit, postRoot, first and second claim', async () => {
    const f = await fixture()
    const dep = await mined(f.as(f.depositor).deposit(id('client'), { value: parseEther('3') }))
    const leaves1: Leaf[] = [[f.alice.address, parseEther('1')], [f.bob.address, parseEther('0.5')], [f.feeRecipient.address, parseEther('0.1')]]
    const t1 = tree(leaves1)
    const post1 = await mined(f.as(f.operator).postRoot(1n, t1.root, parseEther('1.6')))
    const p1 = proofOf(t1, f.alice.address)
    const claim1 = await mined(f.as(f.relayer).claim(f.alice.address, p1.cumulative, p1.proof))
    const t2 = tree([[f.alice.address, parseEther('2')], [f.bob.address, parseEther('0.7')], [f.feeRecipient.address, parseEther('0.2')]])
    const post2 = await mined(f.as(f.operator).postRoot(2n, t2.root, parseEther('2.9')))
    const p2 = proofOf(t2, f.alice.address)
    const claim2 = await mined(f.as(f.relayer).claim(f.alice.address, p2.cumulative, p2.proof))
    gasTable.push(
      { step: 'deposit (first)', gas: dep.gasUsed },
      { step: 'postRoot (epoch 1)', gas: post1.gasUsed },
      { step: 'postRoot (epoch 2)', gas: post2.gasUsed },
      { step: 'claim, first for payee (3-leaf tree)', gas: claim1.gasUsed },
      { step: 'claim, second for payee (later cumulative)', gas: claim2.gasUsed },
    )
    expect(claim1.gasUsed).toBeLessThan(91_650n)
  })

  it('property: accounting invariants hold after every step of random histories', async () => {
    await fc.assert(fc.asyncProperty(historyArb, runHistory), { numRuns: 30 })
  }, 60_000)
})

// ─── Random histories ────────────────────────────────────────────────────────────────────────

type Step =
  | { kind: 'deposit', from: number, amount: bigint }
  | { kind: 'post', flavor: 'fair' | 'overPromise' | 'decrease' | 'badEpoch' | 'leavesExceedTotal', fraction: number, weights: number[] }
  | { kind: 'claim', payee: number, inflate: boolean }
  | { kind: 'togglePause' }

const PAYEES = 4
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('deposit' as const), from: fc.nat(3), amount: fc.bigInt(1n, 10n ** 18n) }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('post' as const),
      flavor: fc.constantFrom('fair', 'fair', 'fair', 'overPromise', 'decrease', 'badEpoch', 'leavesExceedTotal') as fc.Arbitrary<'fair' | 'overPromise' | 'decrease' | 'badEpoch' | 'leavesExceedTotal'>,
      fraction: fc.integer({ min: 0, max: 100 }),
      weights: fc.array(fc.nat(10), { minLength: PAYEES, maxLength: PAYEES }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('claim' as const), payee: fc.nat(PAYEES - 1), inflate: fc.nat(4).map((n) => n === 0) }), weight: 5 },
  { arbitrary: fc.constant({ kind: 'togglePause' as const }), weight: 1 },
)

// Every history opens with money in and a fair root, so most later claims have something to prove.
const openingArb: fc.Arbitrary<Step[]> = fc.tuple(
  fc.record({ kind: fc.constant('deposit' as const), from: fc.nat(3), amount: fc.bigInt(10n ** 15n, 10n ** 18n) }),
  fc.record({
    kind: fc.constant('post' as const),
    flavor: fc.constant('fair' as const),
    fraction: fc.integer({ min: 50, max: 100 }),
    weights: fc.array(fc.integer({ min: 1, max: 10 }), { minLength: PAYEES, maxLength: PAYEES }),
  }),
)
const historyArb: fc.Arbitrary<Step[]> = fc
  .tuple(openingArb, fc.array(stepArb, { minLength: 8, maxLength: 13 }))
  .map(([opening, rest]) => [...opening, ...rest])

/** What the contract should hold, tracked independently of it. */
interface Model {
  received: bigint
  entitled: bigint
  claimedTotal: bigint
  claimed: Map<string, bigint>
  leaves: Map<string, bigint>
  tree: StandardMerkleTree<Leaf> | undefined
  epoch: bigint
  paused: boolean
}

async function runHistory(steps: Step[]): Promise<void> {
  const f = await fixture()
  const payees = [f.alice.address, f.bob.address, f.carol.address, f.feeRecipient.address]
  const depositors = [f.depositor, f.alice, f.outsider, f.relayer]
  const m: Model = { received: 0n, entitled: 0n, claimedTotal: 0n, claimed: new Map(), leaves: new Map(), tree: undefined, epoch: 0n, paused: false }

  for (const step of steps) {
    const plan = step.kind === 'post' ? planPost(m, step, payees) : undefined
    const expected = predict(m, step, payees, plan)
    const outcome = await execute(f, m, step, payees, depositors, plan)
    expect(outcome.error ?? 'ok', JSON.stringify(step, (_, v: unknown) => typeof v === 'bigint' ? v.toString() : v)).toBe(expected.error ?? 'ok')
    if (outcome.error === undefined) expected.apply()
    await checkInvariants(f, m, payees)
  }
}

interface Planned { error: string | undefined, apply: () => void }

/** Predicts the contract's answer to `step` from the model alone (the contract's rules, restated). */
function predict(m: Model, step: Step, payees: string[], plan: PostPlan | undefined): Planned {
  const ok = (apply: () => void): Planned => ({ error: undefined, apply })
  const fail = (error: string): Planned => ({ error, apply: () => {} })
  switch (step.kind) {
    case 'deposit':
      return m.paused ? fail('VipnodePoolEnforcedPause') : ok(() => { m.received += step.amount })
    case 'togglePause':
      return ok(() => { m.paused = !m.paused })
    case 'post': {
      if (plan === undefined) throw new Error('a post step needs its plan')
      if (m.paused) return fail('VipnodePoolEnforcedPause')
      if (plan.epoch !== m.epoch + 1n) return fail('VipnodePoolInvalidEpoch')
      if (plan.total < m.entitled) return fail('VipnodePoolEntitlementDecreased')
      if (plan.total > m.received) return fail('VipnodePoolRootExceedsBalance')
      return ok(() => {
        m.epoch = plan.epoch
        m.entitled = plan.total
        m.leaves = plan.leaves
        m.tree = plan.tree
      })
    }
    case 'claim': {
      const payee = payees[step.payee]!
      const cumulative = (m.leaves.get(payee) ?? 0n) + (step.inflate ? 1n : 0n)
      if (m.tree === undefined || step.inflate) return fail('VipnodePoolInvalidProof')
      const already = m.claimed.get(payee) ?? 0n
      if (cumulative <= already) return fail('VipnodePoolNothingToClaim')
      const amount = cumulative - already
      if (amount > m.entitled - m.claimedTotal) return fail('VipnodePoolClaimExceedsEntitled')
      return ok(() => {
        m.claimed.set(payee, cumulative)
        m.claimedTotal += amount
      })
    }
  }
}

interface PostPlan { epoch: bigint, total: bigint, leaves: Map<string, bigint>, tree: StandardMerkleTree<Leaf> }

function planPost(m: Model, step: Extract<Step, { kind: 'post' }>, payees: string[]): PostPlan {
  // A fair root hands out `fraction`% of the unallocated deposits by weight, on top of the last leaves.
  const available = m.received > m.entitled ? m.received - m.entitled : 0n
  const handOut = (available * BigInt(step.fraction)) / 100n
  const weightSum = BigInt(step.weights.reduce((s, w) => s + w, 0))
  const leaves = new Map<string, bigint>()
  let added = 0n
  payees.forEach((p, i) => {
    const share = weightSum === 0n ? 0n : (handOut * BigInt(step.weights[i]!)) / weightSum
    added += share
    leaves.set(p, (m.leaves.get(p) ?? 0n) + share)
  })
  let total = m.entitled + added // rounding dust stays unallocated
  let epoch = m.epoch + 1n
  switch (step.flavor) {
    case 'overPromise': total = m.received + 1n + BigInt(step.fraction); break
    case 'decrease': total = m.entitled > 0n ? m.entitled - 1n : m.received + 1n; break // nothing to decrease yet: over-promise instead
    case 'badEpoch': epoch = step.fraction % 2 === 0 ? m.epoch : m.epoch + 2n; break
    case 'leavesExceedTotal': leaves.set(payees[0]!, (leaves.get(payees[0]!) ?? 0n) + m.received + 1n); break
    case 'fair': break
  }
  return { epoch, total, leaves, tree: tree([...leaves].map(([p, v]): Leaf => [p, v])) }
}

async function execute(f: Fixture, m: Model, step: Step, payees: string[], depositors: JsonRpcSigner[], plan: PostPlan | undefined): Promise<{ error: string | undefined }> {
  const attempt = async (call: () => Promise<ContractTransactionResponse>): Promise<{ error: string | undefined }> => {
    try {
      await mined(call())
      return { error: undefined }
    } catch (err) {
      const data = (err as { data?: unknown }).data
      if (typeof data !== 'string') throw err
      return { error: poolInterface.parseError(data)?.name ?? data }
    }
  }
  switch (step.kind) {
    case 'deposit':
      return attempt(() => f.as(depositors[step.from]!).deposit(id(`client-${step.from}`), { value: step.amount }))
    case 'togglePause':
      return attempt(() => f.as(f.operator)[m.paused ? 'unpause' : 'pause']!())
    case 'post': {
      if (plan === undefined) throw new Error('a post step needs its plan')
      return attempt(() => f.as(f.operator).postRoot(plan.epoch, plan.tree.root, plan.total))
    }
    case 'claim': {
      const payee = payees[step.payee]!
      if (m.tree === undefined) return attempt(() => f.as(f.relayer).claim(payee, step.inflate ? 1n : 0n, []))
      const { cumulative, proof } = proofOf(m.tree, payee)
      return attempt(() => f.as(f.relayer).claim(payee, cumulative + (step.inflate ? 1n : 0n), proof))
    }
  }
}

async function checkInvariants(f: Fixture, m: Model, payees: string[]): Promise<void> {
  const [balance, received, entitled, claimedTotal] = await Promise.all([
    f.provider.getBalance(f.address),
    f.pool.totalReceived() as Promise<bigint>,
    f.pool.totalEntitled() as Promise<bigint>,
    f.pool.totalClaimed() as Promise<bigint>,
  ])
  expect(balance).toBe(received - claimedTotal)
  expect(claimedTotal <= entitled && entitled <= received).toBe(true)
  expect({ received, entitled, claimedTotal }).toEqual({ received: m.received, entitled: m.entitled, claimedTotal: m.claimedTotal })
  for (const p of payees) expect(await f.pool.claimed(p)).toBe(m.claimed.get(p) ?? 0n)
}
