import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { AbiCoder, Contract, ContractFactory, Interface, ZeroAddress, ZeroHash, concat, getBytes, id, keccak256, parseEther } from 'ethers'
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

/**
 * A fresh chain and pool. `deployer` is the owner, `operator` the proposer (the coordinator's hot
 * key), `guardian` the guardian. `rootDelay` 0 (allowed on the dev chain id only) makes every
 * proposal active at once, for the tests that are about claims rather than the delay.
 */
async function fixture(rootDelay = 0, hardfork?: string) {
  const chain = await startEdrProvider(hardfork === undefined ? {} : { hardfork })
  const { provider, signers } = ethersOn(chain)
  const [deployer, operator, feeRecipient, alice, bob, carol, outsider, depositor, relayer, guardian] = signers
  if (guardian === undefined) throw new Error('the dev chain has fewer than 10 accounts')
  const pool = await deployVipnodePool(deployer, { owner: deployer.address, proposer: operator.address, guardian: guardian.address, feeRecipient: feeRecipient.address, rootDelaySeconds: rootDelay })
  const address = await pool.getAddress()
  const as = (signer: JsonRpcSigner): Contract => pool.connect(signer) as Contract
  const owner = deployer
  /** Moves the chain's clock forward by `seconds` and mines a block. */
  const wait = async (seconds: number): Promise<void> => {
    await chain.request({ method: 'evm_increaseTime', params: [seconds] })
    await chain.request({ method: 'evm_mine', params: [] })
  }
  return { chain, provider, pool, address, as, wait, deployer, owner, operator, feeRecipient, alice, bob, carol, outsider, depositor, relayer, guardian }
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
  const receipt = await mined(f.as(f.operator).proposeRoot(epoch, t.root, total))
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
    it('default: sets the roles, fee recipient and delay, starts empty and unpaused', async () => {
      const f = await fixture(3600)
      expect(await f.pool.owner()).toBe(f.owner.address)
      expect(await f.pool.proposer()).toBe(f.operator.address)
      expect(await f.pool.guardian()).toBe(f.guardian.address)
      expect(await f.pool.pendingOwner()).toBe(ZeroAddress)
      expect(await f.pool.feeRecipient()).toBe(f.feeRecipient.address)
      expect(await f.pool.rootDelay()).toBe(3600n)
      expect(await f.pool.paused()).toBe(false)
      expect(await f.pool.root()).toBe(ZeroHash)
      expect(await f.pool.lastEpoch()).toBe(0n)
      expect([...await f.pool.pendingRoot()]).toEqual([0n, ZeroHash, 0n, 0n])
      for (const view of ['totalEntitled', 'totalReceived', 'totalClaimed'] as const) expect(await f.pool[view]!()).toBe(0n)
      const receipt = await f.pool.deploymentTransaction()!.wait()
      expectEvent(receipt!, f.address, 'OwnershipTransferred', [ZeroAddress, f.owner.address])
      expectEvent(receipt!, f.address, 'ProposerSet', [ZeroAddress, f.operator.address])
      expectEvent(receipt!, f.address, 'GuardianSet', [ZeroAddress, f.guardian.address])
      expectEvent(receipt!, f.address, 'FeeRecipientDeclared', [f.feeRecipient.address])
      expectEvent(receipt!, f.address, 'RootDelayDeclared', [3600n])
    })

    it('error: rejects a zero role or fee recipient, and a delay above 7 days', async () => {
      const f = await fixture()
      const factory = new ContractFactory(artifacts.VipnodePool.abi, artifacts.VipnodePool.bytecode, f.deployer)
      const [o, p, g, r] = [f.owner.address, f.operator.address, f.guardian.address, f.feeRecipient.address]
      await expectRevert(factory.deploy(ZeroAddress, p, g, r, 3600), 'VipnodePoolInvalidRole', [ZeroAddress])
      await expectRevert(factory.deploy(o, ZeroAddress, g, r, 3600), 'VipnodePoolInvalidRole', [ZeroAddress])
      await expectRevert(factory.deploy(o, p, ZeroAddress, r, 3600), 'VipnodePoolInvalidRole', [ZeroAddress])
      await expectRevert(factory.deploy(o, p, g, ZeroAddress, 3600), 'VipnodePoolInvalidFeeRecipient', [ZeroAddress])
      await expectRevert(factory.deploy(o, p, g, r, 7 * 86400 + 1), 'VipnodePoolInvalidRootDelay', [7n * 86400n + 1n, 0n, 7n * 86400n])
    })

    it('error: outside the dev chain ids, the delay is at least one hour', async () => {
      const chain = await startEdrProvider({ chainId: 1 })
      const { signers } = ethersOn(chain)
      const [d, p, g] = signers as [JsonRpcSigner, JsonRpcSigner, JsonRpcSigner]
      const factory = new ContractFactory(artifacts.VipnodePool.abi, artifacts.VipnodePool.bytecode, d)
      await expectRevert(factory.deploy(d.address, p.address, g.address, d.address, 3599), 'VipnodePoolInvalidRootDelay', [3599n, 3600n, 7n * 86400n])
      await expectRevert(factory.deploy(d.address, p.address, g.address, d.address, 0), 'VipnodePoolInvalidRootDelay', [0n, 3600n, 7n * 86400n])
      const ok = await deployVipnodePool(d, { owner: d.address, proposer: p.address, guardian: g.address, feeRecipient: d.address, rootDelaySeconds: 3600 })
      expect(await ok.rootDelay()).toBe(3600n)
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

  describe('proposeRoot (no delay)', () => {
    it('default: stores the root, epoch and total, emits RootProposed', async () => {
      const f = await fixture()
      const { tree: t, receipt } = await fundAndPost(f, [[f.alice.address, 600n], [f.bob.address, 400n]], 1000n)
      const at = BigInt((await f.provider.getBlock(receipt.blockNumber))!.timestamp)
      expectEvent(receipt, f.address, 'RootProposed', [1n, t.root, 1000n, at])
      expect(await f.pool.root()).toBe(t.root)
      expect(await f.pool.lastEpoch()).toBe(1n)
      expect(await f.pool.totalEntitled()).toBe(1000n)
    })

    it('behavior: an epoch without new revenue may repeat the total', async () => {
      const f = await fixture()
      await fundAndPost(f, [[f.alice.address, 100n]], 100n)
      const { receipt } = await fundAndPost(f, [[f.alice.address, 100n]])
      // The proposal first activates epoch 1's root, whose (zero) delay has passed.
      expectEvent(receipt, f.address, 'RootActivated', [1n, tree([[f.alice.address, 100n]]).root, 100n])
      expect(await f.pool.lastEpoch()).toBe(2n)
    })

    it('error: only the proposer may propose, not even the owner or the guardian', async () => {
      const f = await fixture()
      for (const who of [f.outsider, f.owner, f.guardian]) {
        await expectRevert(f.as(who).proposeRoot(1n, id('r'), 0n), 'VipnodePoolUnauthorizedProposer', [who.address])
      }
    })

    it('error: epochs must be consecutive from 1', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.operator).proposeRoot(0n, id('r'), 0n), 'VipnodePoolInvalidEpoch', [0n, 1n])
      await expectRevert(f.as(f.operator).proposeRoot(2n, id('r'), 0n), 'VipnodePoolInvalidEpoch', [2n, 1n])
      await mined(f.as(f.operator).proposeRoot(1n, id('r1'), 0n))
      await expectRevert(f.as(f.operator).proposeRoot(1n, id('r'), 0n), 'VipnodePoolInvalidEpoch', [1n, 2n])
      await expectRevert(f.as(f.operator).proposeRoot(3n, id('r'), 0n), 'VipnodePoolInvalidEpoch', [3n, 2n])
    })

    it('error: a zero root', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.operator).proposeRoot(1n, ZeroHash, 0n), 'VipnodePoolEmptyRoot', [1n])
    })

    it('error: the total entitlement never decreases', async () => {
      const f = await fixture()
      await fundAndPost(f, [[f.alice.address, 500n]], 500n)
      await expectRevert(f.as(f.operator).proposeRoot(2n, id('r'), 499n), 'VipnodePoolEntitlementDecreased', [499n, 500n])
    })

    it('error: a root that promises more than was ever received', async () => {
      const f = await fixture()
      await mined(f.as(f.depositor).deposit(id('c'), { value: 1000n }))
      await expectRevert(f.as(f.operator).proposeRoot(1n, id('r'), 1001n), 'VipnodePoolRootExceedsBalance', [1001n, 1000n])
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
      await mined(f.as(f.outsider).activateRoot()) // written in (a due root not yet written in still accepts the older proofs)
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
      await mined(f.as(f.operator).proposeRoot(1n, t.root, 1000n))
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
      expect(poolInterface.parseError(await attacker.reentryError())?.name).toBe('VipnodePoolReentrantCall')
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
      await mined(f.as(f.operator).proposeRoot(1n, payout.root, payout.totalWei))
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
    it('behavior: stops proposals and deposits, never claims against the active root', async () => {
      const f = await fixture()
      const { tree: t } = await fundAndPost(f, [[f.alice.address, 100n]], 100n)
      const receipt = await mined(f.as(f.owner).pause())
      expectEvent(receipt, f.address, 'Paused', [f.owner.address])
      expect(await f.pool.paused()).toBe(true)
      await expectRevert(f.as(f.operator).proposeRoot(2n, id('r'), 100n), 'VipnodePoolEnforcedPause', [])
      await expectRevert(f.as(f.depositor).deposit(id('c'), { value: 1n }), 'VipnodePoolEnforcedPause', [])
      const { cumulative, proof } = proofOf(t, f.alice.address)
      await mined(f.as(f.relayer).claim(f.alice.address, cumulative, proof))
      expect(await f.pool.totalClaimed()).toBe(100n)
      const unpaused = await mined(f.as(f.owner).unpause())
      expectEvent(unpaused, f.address, 'Unpaused', [f.owner.address])
      await fundAndPost(f, [[f.alice.address, 150n]], 50n)
    })

    it('behavior: a pending root does not activate while paused, and stays revocable', async () => {
      const f = await fixture(3600)
      await mined(f.as(f.depositor).deposit(id('c'), { value: 100n }))
      const t = tree([[f.alice.address, 100n]])
      await mined(f.as(f.operator).proposeRoot(1n, t.root, 100n))
      await mined(f.as(f.guardian).pause())
      await f.wait(3600)
      expect(await f.pool.root()).toBe(ZeroHash)
      const { cumulative, proof } = proofOf(t, f.alice.address)
      await expectRevert(f.as(f.alice).claim(f.alice.address, cumulative, proof), 'VipnodePoolInvalidProof', [f.alice.address, 100n])
      await expectRevert(f.as(f.alice).activateRoot(), 'VipnodePoolEnforcedPause', [])
      await mined(f.as(f.guardian).revokeRoot(t.root))
      await mined(f.as(f.owner).unpause())
      expect(await f.pool.root()).toBe(ZeroHash)
      await expectRevert(f.as(f.alice).claim(f.alice.address, cumulative, proof), 'VipnodePoolInvalidProof', [f.alice.address, 100n])
    })

    it('error: owner or guardian pause, only the owner unpauses, no double pause or unpause', async () => {
      const f = await fixture()
      await expectRevert(f.as(f.outsider).pause(), 'VipnodePoolUnauthorizedPauser', [f.outsider.address])
      await expectRevert(f.as(f.operator).pause(), 'VipnodePoolUnauthorizedPauser', [f.operator.address])
      await expectRevert(f.as(f.owner).unpause(), 'VipnodePoolExpectedPause', [])
      await mined(f.as(f.guardian).pause())
      await expectRevert(f.as(f.owner).pause(), 'VipnodePoolEnforcedPause', [])
      await expectRevert(f.as(f.guardian).unpause(), 'VipnodePoolUnauthorizedOwner', [f.guardian.address])
      await expectRevert(f.as(f.outsider).unpause(), 'VipnodePoolUnauthorizedOwner', [f.outsider.address])
      await mined(f.as(f.owner).unpause())
    })
  })

  describe('roles', () => {
    it('default: ownership moves in two steps, and the old owner loses its rights', async () => {
      const f = await fixture()
      const next = f.relayer
      const started = await mined(f.as(f.owner).transferOwnership(next.address))
      expectEvent(started, f.address, 'OwnershipTransferStarted', [f.owner.address, next.address])
      expect(await f.pool.pendingOwner()).toBe(next.address)
      expect(await f.pool.owner()).toBe(f.owner.address) // nothing changes hands until accepted
      await expectRevert(f.as(f.outsider).acceptOwnership(), 'VipnodePoolUnauthorizedPendingOwner', [f.outsider.address])
      const accepted = await mined(f.as(next).acceptOwnership())
      expectEvent(accepted, f.address, 'OwnershipTransferred', [f.owner.address, next.address])
      expect(await f.pool.owner()).toBe(next.address)
      expect(await f.pool.pendingOwner()).toBe(ZeroAddress)
      await expectRevert(f.as(f.owner).setProposer(f.outsider.address), 'VipnodePoolUnauthorizedOwner', [f.owner.address])
      await expectRevert(f.as(f.owner).transferOwnership(f.owner.address), 'VipnodePoolUnauthorizedOwner', [f.owner.address])
      await mined(f.as(next).setGuardian(f.outsider.address))
    })

    it('behavior: nominating the zero address cancels a pending handover', async () => {
      const f = await fixture()
      await mined(f.as(f.owner).transferOwnership(f.relayer.address))
      await mined(f.as(f.owner).transferOwnership(ZeroAddress))
      await expectRevert(f.as(f.relayer).acceptOwnership(), 'VipnodePoolUnauthorizedPendingOwner', [f.relayer.address])
      expect(await f.pool.owner()).toBe(f.owner.address)
    })

    it('default: the owner replaces proposer and guardian at once; the old ones lose their rights', async () => {
      const f = await fixture(3600)
      const setP = await mined(f.as(f.owner).setProposer(f.carol.address))
      expectEvent(setP, f.address, 'ProposerSet', [f.operator.address, f.carol.address])
      const setG = await mined(f.as(f.owner).setGuardian(f.bob.address))
      expectEvent(setG, f.address, 'GuardianSet', [f.guardian.address, f.bob.address])
      await expectRevert(f.as(f.operator).proposeRoot(1n, id('r'), 0n), 'VipnodePoolUnauthorizedProposer', [f.operator.address])
      await mined(f.as(f.carol).proposeRoot(1n, id('r'), 0n))
      await expectRevert(f.as(f.guardian).revokeRoot(id('r')), 'VipnodePoolUnauthorizedGuardian', [f.guardian.address])
      await expectRevert(f.as(f.guardian).pause(), 'VipnodePoolUnauthorizedPauser', [f.guardian.address])
      await mined(f.as(f.bob).revokeRoot(id('r')))
    })

    it('error: only the owner sets roles, never to the zero address', async () => {
      const f = await fixture()
      for (const who of [f.operator, f.guardian, f.outsider]) {
        await expectRevert(f.as(who).setProposer(who.address), 'VipnodePoolUnauthorizedOwner', [who.address])
        await expectRevert(f.as(who).setGuardian(who.address), 'VipnodePoolUnauthorizedOwner', [who.address])
        await expectRevert(f.as(who).transferOwnership(who.address), 'VipnodePoolUnauthorizedOwner', [who.address])
      }
      await expectRevert(f.as(f.owner).setProposer(ZeroAddress), 'VipnodePoolInvalidRole', [ZeroAddress])
      await expectRevert(f.as(f.owner).setGuardian(ZeroAddress), 'VipnodePoolInvalidRole', [ZeroAddress])
    })
  })

  describe('root delay and revocation', () => {
    const DELAY = 3600

    /** Deposits, then proposes `leaves` as the next epoch; returns the tree and the claimable time. */
    async function propose(f: Fixture, leaves: Leaf[], deposit = 0n) {
      if (deposit > 0n) await mined(f.as(f.depositor).deposit(id('client'), { value: deposit }))
      const t = tree(leaves)
      const total = leaves.reduce((s, [, v]) => s + v, 0n)
      const epoch = (await f.pool.lastEpoch() as bigint) + 1n
      const receipt = await mined(f.as(f.operator).proposeRoot(epoch, t.root, total))
      const claimableAt = BigInt((await f.provider.getBlock(receipt.blockNumber))!.timestamp) + BigInt(DELAY)
      return { tree: t, total, epoch, receipt, claimableAt }
    }

    it('behavior: a proposed root is pending for the delay; claims use the active root meanwhile; then it is active', async () => {
      const f = await fixture(DELAY)
      const first = await propose(f, [[f.alice.address, 300n], [f.bob.address, 100n]], 400n)
      expectEvent(first.receipt, f.address, 'RootProposed', [1n, first.tree.root, 400n, first.claimableAt])
      expect([...await f.pool.pendingRoot()]).toEqual([1n, first.tree.root, 400n, first.claimableAt])
      expect(await f.pool.root()).toBe(ZeroHash)
      expect(await f.pool.totalEntitled()).toBe(0n)
      const a1 = proofOf(first.tree, f.alice.address)
      await expectRevert(f.as(f.alice).claim(f.alice.address, a1.cumulative, a1.proof), 'VipnodePoolInvalidProof', [f.alice.address, 300n])
      await expectRevert(f.as(f.alice).activateRoot(), 'VipnodePoolRootNotYetActive', [first.tree.root, first.claimableAt])
      await f.wait(DELAY)
      // Due: every view already treats it as active, before any transaction writes it in.
      expect(await f.pool.root()).toBe(first.tree.root)
      expect(await f.pool.lastEpoch()).toBe(1n)
      expect(await f.pool.totalEntitled()).toBe(400n)
      expect([...await f.pool.pendingRoot()]).toEqual([0n, ZeroHash, 0n, 0n])
      // The first claim that needs it activates it.
      const claimed = await mined(f.as(f.relayer).claim(f.alice.address, a1.cumulative, a1.proof))
      expectEvent(claimed, f.address, 'RootActivated', [1n, first.tree.root, 400n])
      expectEvent(claimed, f.address, 'Claimed', [f.alice.address, 300n, 300n])

      // Epoch 2 pending: bob still claims against epoch 1, and nothing more.
      const second = await propose(f, [[f.alice.address, 500n], [f.bob.address, 900n]], 1000n)
      const b2 = proofOf(second.tree, f.bob.address)
      await expectRevert(f.as(f.bob).claim(f.bob.address, b2.cumulative, b2.proof), 'VipnodePoolInvalidProof', [f.bob.address, 900n])
      const b1 = proofOf(first.tree, f.bob.address)
      await mined(f.as(f.relayer).claim(f.bob.address, b1.cumulative, b1.proof))
      expect(await f.pool.claimed(f.bob.address)).toBe(100n)
      await f.wait(DELAY)
      const activated = await mined(f.as(f.outsider).activateRoot())
      expectEvent(activated, f.address, 'RootActivated', [2n, second.tree.root, 1400n])
      await expectRevert(f.as(f.outsider).activateRoot(), 'VipnodePoolNoPendingRoot', [ZeroHash])
      await mined(f.as(f.relayer).claim(f.bob.address, b2.cumulative, b2.proof))
      expect(await f.pool.claimed(f.bob.address)).toBe(900n)
    })

    it('error: a proposal while another is pending is refused; once due, a proposal activates it first', async () => {
      const f = await fixture(DELAY)
      const first = await propose(f, [[f.alice.address, 100n]], 100n)
      await expectRevert(f.as(f.operator).proposeRoot(2n, id('r2'), 100n), 'VipnodePoolRootPending', [1n, first.claimableAt])
      await expectRevert(f.as(f.operator).proposeRoot(1n, id('r2'), 100n), 'VipnodePoolRootPending', [1n, first.claimableAt])
      expect([...await f.pool.pendingRoot()]).toEqual([1n, first.tree.root, 100n, first.claimableAt])
      await f.wait(DELAY)
      const receipt = await mined(f.as(f.operator).proposeRoot(2n, id('r2'), 100n))
      expectEvent(receipt, f.address, 'RootActivated', [1n, first.tree.root, 100n])
      expect(await f.pool.root()).toBe(first.tree.root)
      expect((await f.pool.pendingRoot())[1]).toBe(id('r2'))
    })

    it('behavior: the guardian revokes a pending root; the active root is untouched; the proposer proposes again', async () => {
      const f = await fixture(DELAY)
      const first = await propose(f, [[f.alice.address, 100n]], 100n)
      await f.wait(DELAY)
      const junk = await propose(f, [[f.outsider.address, 150n]], 50n)
      const revoked = await mined(f.as(f.guardian).revokeRoot(junk.tree.root))
      expectEvent(revoked, f.address, 'RootRevoked', [2n, junk.tree.root, f.guardian.address])
      expect([...await f.pool.pendingRoot()]).toEqual([0n, ZeroHash, 0n, 0n])
      expect(await f.pool.root()).toBe(first.tree.root)
      expect(await f.pool.lastEpoch()).toBe(1n)
      await expectRevert(f.as(f.guardian).revokeRoot(junk.tree.root), 'VipnodePoolNoPendingRoot', [junk.tree.root])
      const honest = await propose(f, [[f.alice.address, 150n]])
      expect(honest.epoch).toBe(2n)
      await expectRevert(f.as(f.guardian).revokeRoot(id('not-the-pending-one')), 'VipnodePoolNoPendingRoot', [id('not-the-pending-one')])
      await f.wait(DELAY)
      await expectRevert(f.as(f.guardian).revokeRoot(honest.tree.root), 'VipnodePoolRootAlreadyActive', [honest.tree.root, honest.claimableAt])
      expect(await f.pool.root()).toBe(honest.tree.root)
    })

    it('attack: a thief holding the proposer key cannot get paid, before or after the guardian revokes', async () => {
      const f = await fixture(DELAY)
      const thief = f.operator // holds the proposer key and spends its own gas
      const honest = await propose(f, [[f.alice.address, 600n], [f.bob.address, 400n]], 1000n)
      await f.wait(DELAY)
      await mined(f.as(f.outsider).activateRoot())
      await mined(f.as(f.depositor).deposit(id('client-2'), { value: 4000n })) // client money not yet earned by anyone
      const balanceBefore = await f.provider.getBalance(f.address)

      // Everything the contract would accept: the whole of totalReceived, to the thief.
      const received = await f.pool.totalReceived() as bigint
      const loot = tree([[thief.address, received], [f.alice.address, 0n]])
      const proposed = await mined(f.as(thief).proposeRoot(2n, loot.root, received))
      const claimableAt = BigInt((await f.provider.getBlock(proposed.blockNumber))!.timestamp) + BigInt(DELAY)
      // Cannot replace its own pending root, cannot activate it early, cannot claim it.
      await expectRevert(f.as(thief).proposeRoot(2n, id('more'), received), 'VipnodePoolRootPending', [2n, claimableAt])
      const stolen = proofOf(loot, thief.address)
      await expectRevert(f.as(thief).claim(thief.address, stolen.cumulative, stolen.proof), 'VipnodePoolInvalidProof', [thief.address, received])
      await expectRevert(f.as(thief).activateRoot(), 'VipnodePoolRootNotYetActive', [loot.root, claimableAt])
      await f.wait(DELAY - 60)
      await expectRevert(f.as(thief).claim(thief.address, stolen.cumulative, stolen.proof), 'VipnodePoolInvalidProof', [thief.address, received])
      // The thief cannot stop the guardian: no pause, no role change.
      await expectRevert(f.as(thief).pause(), 'VipnodePoolUnauthorizedPauser', [thief.address])
      await expectRevert(f.as(thief).setGuardian(thief.address), 'VipnodePoolUnauthorizedOwner', [thief.address])
      await mined(f.as(f.guardian).revokeRoot(loot.root))
      await f.wait(2 * DELAY)
      await expectRevert(f.as(thief).claim(thief.address, stolen.cumulative, stolen.proof), 'VipnodePoolInvalidProof', [thief.address, received])
      await expectRevert(f.as(thief).activateRoot(), 'VipnodePoolNoPendingRoot', [ZeroHash])
      expect(await f.provider.getBalance(f.address)).toBe(balanceBefore)
      expect(await f.pool.claimed(thief.address)).toBe(0n)
      // Honest payees kept claiming against the active root throughout; the owner retires the key.
      const a = proofOf(honest.tree, f.alice.address)
      await mined(f.as(f.relayer).claim(f.alice.address, a.cumulative, a.proof))
      await mined(f.as(f.owner).setProposer(f.carol.address))
      await expectRevert(f.as(thief).proposeRoot(2n, loot.root, received), 'VipnodePoolUnauthorizedProposer', [thief.address])
      expect(await f.provider.getBalance(f.address)).toBe(balanceBefore - 600n)
    })

    it('attack: a stolen guardian key blocks but never moves money', async () => {
      const f = await fixture(DELAY)
      const thief = f.guardian
      const honest = await propose(f, [[f.alice.address, 600n], [thief.address, 0n]], 1000n)
      await f.wait(DELAY)
      const balanceBefore = await f.provider.getBalance(f.address)
      const thiefBefore = await f.provider.getBalance(thief.address)
      // Every money- or root-moving call it could try, refused.
      await expectRevert(f.as(thief).proposeRoot(2n, tree([[thief.address, 1000n]]).root, 1000n), 'VipnodePoolUnauthorizedProposer', [thief.address])
      await expectRevert(f.as(thief).revokeRoot(honest.tree.root), 'VipnodePoolRootAlreadyActive', [honest.tree.root, honest.claimableAt])
      await expectRevert(f.as(thief).setProposer(thief.address), 'VipnodePoolUnauthorizedOwner', [thief.address])
      await expectRevert(f.as(thief).transferOwnership(thief.address), 'VipnodePoolUnauthorizedOwner', [thief.address])
      await expectRevert(f.as(thief).unpause(), 'VipnodePoolUnauthorizedOwner', [thief.address])
      const z = proofOf(honest.tree, thief.address)
      await expectRevert(f.as(thief).claim(thief.address, z.cumulative, z.proof), 'VipnodePoolNothingToClaim', [thief.address, 0n, 0n])
      // What it can do: pause (block deposits and proposals). Claims still pay the rightful payee.
      const paused = await mined(f.as(thief).pause())
      const next = tree([[f.alice.address, 900n]])
      await expectRevert(f.as(f.operator).proposeRoot(2n, next.root, 900n), 'VipnodePoolEnforcedPause', [])
      const a = proofOf(honest.tree, f.alice.address)
      await mined(f.as(f.relayer).claim(f.alice.address, a.cumulative, a.proof))
      expect(await f.provider.getBalance(f.address)).toBe(balanceBefore - 600n)
      const gasSpent = (paused.gasUsed * paused.gasPrice)
      expect(await f.provider.getBalance(thief.address)).toBeLessThanOrEqual(thiefBefore - gasSpent)
      // The owner replaces it and lifts the pause.
      await mined(f.as(f.owner).setGuardian(f.bob.address))
      await mined(f.as(f.owner).unpause())
      await mined(f.as(f.operator).proposeRoot(2n, next.root, 900n))
    })

    it('error: revoke and activate need the right role and state', async () => {
      const f = await fixture(DELAY)
      await expectRevert(f.as(f.guardian).revokeRoot(ZeroHash), 'VipnodePoolNoPendingRoot', [ZeroHash])
      await expectRevert(f.as(f.outsider).activateRoot(), 'VipnodePoolNoPendingRoot', [ZeroHash])
      const p = await propose(f, [[f.alice.address, 1n]], 1n)
      for (const who of [f.outsider, f.operator, f.owner]) {
        await expectRevert(f.as(who).revokeRoot(p.tree.root), 'VipnodePoolUnauthorizedGuardian', [who.address])
      }
    })
  })

  describe('portability', () => {
    it('behavior: the bytecode has no opcode newer than Paris (no PUSH0, MCOPY, TLOAD, TSTORE)', () => {
      const code = getBytes(artifacts.VipnodePool.deployedBytecode)
      const found = new Set<number>()
      for (let i = 0; i < code.length; i++) {
        const op = code[i]!
        if (op >= 0x60 && op <= 0x7f) { i += op - 0x5f; continue } // PUSH1..PUSH32 data
        if (op === 0xfe) break // INVALID: the metadata follows
        if ([0x5c, 0x5d, 0x5e, 0x5f].includes(op)) found.add(op)
      }
      expect([...found]).toEqual([])
    })

    for (const hardfork of ['merge', 'shanghai']) {
      it(`behavior: on a pre-Cancun chain (${hardfork}) claims pay and the reentrancy guard holds`, async () => {
        const f = await fixture(0, hardfork)
        const attacker = await deployMock(f, 'ReentrantPayee', f.address)
        const payee = await attacker.getAddress()
        const { tree: t } = await fundAndPost(f, [[payee, 1_000n], [f.alice.address, 4_000n]], 5_000n)
        const a = proofOf(t, f.alice.address)
        await mined(f.as(f.relayer).claim(f.alice.address, a.cumulative, a.proof))
        expect(await f.pool.claimed(f.alice.address)).toBe(4_000n)
        const { cumulative, proof } = proofOf(t, payee)
        await mined((attacker.connect(f.relayer) as Contract).attack(cumulative, proof))
        expect(poolInterface.parseError(await attacker.reentryError())?.name).toBe('VipnodePoolReentrantCall')
        expect(await attacker.paymentsReceived()).toBe(1n)
        expect(await f.provider.getBalance(f.address)).toBe(0n)
      })
    }
  })

  it('gas: deposit, proposeRoot, first and second claim', async () => {
    const f = await fixture()
    const dep = await mined(f.as(f.depositor).deposit(id('client'), { value: parseEther('3') }))
    const leaves1: Leaf[] = [[f.alice.address, parseEther('1')], [f.bob.address, parseEther('0.5')], [f.feeRecipient.address, parseEther('0.1')]]
    const t1 = tree(leaves1)
    const post1 = await mined(f.as(f.operator).proposeRoot(1n, t1.root, parseEther('1.6')))
    const act1 = await mined(f.as(f.relayer).activateRoot())
    const p1 = proofOf(t1, f.alice.address)
    const claim1 = await mined(f.as(f.relayer).claim(f.alice.address, p1.cumulative, p1.proof))
    const t2 = tree([[f.alice.address, parseEther('2')], [f.bob.address, parseEther('0.7')], [f.feeRecipient.address, parseEther('0.2')]])
    const post2 = await mined(f.as(f.operator).proposeRoot(2n, t2.root, parseEther('2.9')))
    const act2 = await mined(f.as(f.relayer).activateRoot())
    const p2 = proofOf(t2, f.alice.address)
    const claim2 = await mined(f.as(f.relayer).claim(f.alice.address, p2.cumulative, p2.proof))
    gasTable.push(
      { step: 'deposit (first)', gas: dep.gasUsed },
      { step: 'proposeRoot (epoch 1)', gas: post1.gasUsed },
      { step: 'proposeRoot (epoch 2)', gas: post2.gasUsed },
      { step: 'activateRoot', gas: (act1.gasUsed + act2.gasUsed) / 2n },
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
// A pool with a real delay: proposals wait, the guardian revokes some, time passes in `wait` steps.

const HISTORY_DELAY = 1_000

type Step =
  | { kind: 'deposit', from: number, amount: bigint }
  | { kind: 'post', flavor: 'fair' | 'overPromise' | 'decrease' | 'badEpoch' | 'leavesExceedTotal' | 'theft', fraction: number, weights: number[] }
  | { kind: 'claim', payee: number, inflate: boolean, fromPending: boolean }
  | { kind: 'revoke' }
  | { kind: 'wait' }
  | { kind: 'togglePause' }

const PAYEES = 4
type PostFlavor = Extract<Step, { kind: 'post' }>['flavor']
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('deposit' as const), from: fc.nat(3), amount: fc.bigInt(1n, 10n ** 18n) }), weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('post' as const),
      flavor: fc.constantFrom('fair', 'fair', 'fair', 'overPromise', 'decrease', 'badEpoch', 'leavesExceedTotal', 'theft') as fc.Arbitrary<PostFlavor>,
      fraction: fc.integer({ min: 0, max: 100 }),
      weights: fc.array(fc.nat(10), { minLength: PAYEES, maxLength: PAYEES }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('claim' as const), payee: fc.nat(PAYEES - 1), inflate: fc.nat(4).map((n) => n === 0), fromPending: fc.nat(3).map((n) => n === 0) }), weight: 5 },
  { arbitrary: fc.constant({ kind: 'revoke' as const }), weight: 2 },
  { arbitrary: fc.constant({ kind: 'wait' as const }), weight: 3 },
  { arbitrary: fc.constant({ kind: 'togglePause' as const }), weight: 1 },
)

// Every history opens with money in and a fair root that becomes active, so most later claims have something to prove.
const openingArb: fc.Arbitrary<Step[]> = fc.tuple(
  fc.record({ kind: fc.constant('deposit' as const), from: fc.nat(3), amount: fc.bigInt(10n ** 15n, 10n ** 18n) }),
  fc.record({
    kind: fc.constant('post' as const),
    flavor: fc.constant('fair' as const),
    fraction: fc.integer({ min: 50, max: 100 }),
    weights: fc.array(fc.integer({ min: 1, max: 10 }), { minLength: PAYEES, maxLength: PAYEES }),
  }),
  fc.constant({ kind: 'wait' as const }),
)
const historyArb: fc.Arbitrary<Step[]> = fc
  .tuple(openingArb, fc.array(stepArb, { minLength: 8, maxLength: 14 }))
  .map(([opening, rest]) => [...opening, ...rest])

interface RootState { epoch: bigint, entitled: bigint, leaves: Map<string, bigint>, tree: StandardMerkleTree<Leaf> | undefined }

/** What the contract should hold, tracked independently of it. */
interface Model {
  received: bigint
  claimedTotal: bigint
  claimed: Map<string, bigint>
  active: RootState
  pending: RootState | undefined
  /** The pending root's delay has passed. */
  due: boolean
  paused: boolean
  thief: string
}

/** The root claims prove against: a pending root whose delay passed counts, unless paused. */
const effective = (m: Model): RootState => (m.pending && m.due && !m.paused ? m.pending : m.active)

async function runHistory(steps: Step[]): Promise<void> {
  const f = await fixture(HISTORY_DELAY)
  const payees = [f.alice.address, f.bob.address, f.carol.address, f.feeRecipient.address]
  const depositors = [f.depositor, f.alice, f.outsider, f.relayer]
  const m: Model = {
    received: 0n, claimedTotal: 0n, claimed: new Map(),
    active: { epoch: 0n, entitled: 0n, leaves: new Map(), tree: undefined }, pending: undefined, due: false, paused: false,
    thief: f.operator.address,
  }

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
  const activate = () => {
    if (m.pending && m.due && !m.paused) {
      m.active = m.pending
      m.pending = undefined
      m.due = false
    }
  }
  switch (step.kind) {
    case 'deposit':
      return m.paused ? fail('VipnodePoolEnforcedPause') : ok(() => { m.received += step.amount })
    case 'togglePause':
      return ok(() => {
        if (!m.paused) activate()
        m.paused = !m.paused
      })
    case 'wait':
      return ok(() => { if (m.pending) m.due = true })
    case 'revoke':
      if (!m.pending) return fail('VipnodePoolNoPendingRoot')
      if (m.due && !m.paused) return fail('VipnodePoolRootAlreadyActive')
      return ok(() => { m.pending = undefined; m.due = false })
    case 'post': {
      if (plan === undefined) throw new Error('a post step needs its plan')
      if (m.paused) return fail('VipnodePoolEnforcedPause')
      if (m.pending && !m.due) return fail('VipnodePoolRootPending')
      const base = effective(m)
      if (plan.root.epoch !== base.epoch + 1n) return fail('VipnodePoolInvalidEpoch')
      if (plan.root.entitled < base.entitled) return fail('VipnodePoolEntitlementDecreased')
      if (plan.root.entitled > m.received) return fail('VipnodePoolRootExceedsBalance')
      return ok(() => {
        activate()
        m.pending = plan.root
        m.due = false
      })
    }
    case 'claim': {
      const payee = payees[step.payee]!
      const source = step.fromPending ? m.pending : effective(m)
      const cumulative = (source?.leaves.get(payee) ?? 0n) + (step.inflate ? 1n : 0n)
      const against = effective(m)
      if (source?.tree === undefined || step.inflate || against.tree?.root !== source.tree.root) return fail('VipnodePoolInvalidProof')
      const already = m.claimed.get(payee) ?? 0n
      if (cumulative <= already) return fail('VipnodePoolNothingToClaim')
      const amount = cumulative - already
      if (amount > against.entitled - m.claimedTotal) return fail('VipnodePoolClaimExceedsEntitled')
      return ok(() => {
        activate()
        m.claimed.set(payee, cumulative)
        m.claimedTotal += amount
      })
    }
  }
}

interface PostPlan { root: RootState & { tree: StandardMerkleTree<Leaf> } }

function planPost(m: Model, step: Extract<Step, { kind: 'post' }>, payees: string[]): PostPlan {
  // A fair root hands out `fraction`% of the unallocated deposits by weight, on top of the latest leaves.
  const base = m.pending ?? effective(m)
  const available = m.received > base.entitled ? m.received - base.entitled : 0n
  const handOut = (available * BigInt(step.fraction)) / 100n
  const weightSum = BigInt(step.weights.reduce((s, w) => s + w, 0))
  const leaves = new Map<string, bigint>()
  let added = 0n
  payees.forEach((p, i) => {
    const share = weightSum === 0n ? 0n : (handOut * BigInt(step.weights[i]!)) / weightSum
    added += share
    leaves.set(p, (base.leaves.get(p) ?? 0n) + share)
  })
  let total = base.entitled + added // rounding dust stays unallocated
  let epoch = effective(m).epoch + 1n
  if (m.pending && m.due && !m.paused) epoch += 1n // the pending root activates first
  switch (step.flavor) {
    case 'overPromise': total = m.received + 1n + BigInt(step.fraction); break
    case 'decrease': total = base.entitled > 0n ? base.entitled - 1n : m.received + 1n; break // nothing to decrease yet: over-promise instead
    case 'badEpoch': epoch = step.fraction % 2 === 0 ? epoch - 1n : epoch + 1n; break
    case 'leavesExceedTotal': leaves.set(payees[0]!, (leaves.get(payees[0]!) ?? 0n) + m.received + 1n); break
    // The proposer key's holder pays itself everything the cap allows, on top of honest leaves.
    case 'theft': leaves.set(m.thief, m.received); total = m.received; break
    case 'fair': break
  }
  return { root: { epoch, entitled: total, leaves, tree: tree([...leaves].map(([p, v]): Leaf => [p, v])) } }
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
      return attempt(() => m.paused ? f.as(f.owner).unpause() : f.as(f.guardian).pause())
    case 'wait':
      await f.wait(HISTORY_DELAY)
      return { error: undefined }
    case 'revoke':
      return attempt(() => f.as(f.guardian).revokeRoot(m.pending?.tree?.root ?? ZeroHash))
    case 'post': {
      if (plan === undefined) throw new Error('a post step needs its plan')
      return attempt(() => f.as(f.operator).proposeRoot(plan.root.epoch, plan.root.tree.root, plan.root.entitled))
    }
    case 'claim': {
      const payee = payees[step.payee]!
      const source = step.fromPending ? m.pending : effective(m)
      if (source?.tree === undefined) return attempt(() => f.as(f.relayer).claim(payee, step.inflate ? 1n : 0n, []))
      const { cumulative, proof } = proofOf(source.tree, payee)
      return attempt(() => f.as(f.relayer).claim(payee, cumulative + (step.inflate ? 1n : 0n), proof))
    }
  }
}

async function checkInvariants(f: Fixture, m: Model, payees: string[]): Promise<void> {
  const [balance, received, entitled, claimedTotal, root, pending] = await Promise.all([
    f.provider.getBalance(f.address),
    f.pool.totalReceived() as Promise<bigint>,
    f.pool.totalEntitled() as Promise<bigint>,
    f.pool.totalClaimed() as Promise<bigint>,
    f.pool.root() as Promise<string>,
    f.pool.pendingRoot() as Promise<[bigint, string, bigint, bigint]>,
  ])
  // Solvency: every wei paid was deposited and promised by an active root.
  expect(balance).toBe(received - claimedTotal)
  expect(claimedTotal <= entitled && entitled <= received).toBe(true)
  const active = effective(m)
  expect({ received, entitled, claimedTotal }).toEqual({ received: m.received, entitled: active.entitled, claimedTotal: m.claimedTotal })
  expect(root).toBe(active.tree?.root ?? ZeroHash)
  const shownPending = m.pending && !(m.due && !m.paused) ? m.pending.tree!.root : ZeroHash
  expect(pending[1]).toBe(shownPending)
  for (const p of payees) expect(await f.pool.claimed(p)).toBe(m.claimed.get(p) ?? 0n)
}
