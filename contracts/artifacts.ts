// The one entry point other code (a deploy command, the coordinator) uses to get at VipnodePool.
// Artifacts are compiled on demand (~0.5–1 s once per process) rather than committed, so they can
// never drift from the source.
import { Contract, ContractFactory, Interface } from 'ethers'
import type { ContractRunner, Signer } from 'ethers'
import { compileContracts } from './compile.ts'
import type { ContractArtifact } from './compile.ts'

export type { ContractArtifact } from './compile.ts'

export function loadVipnodePoolArtifact(): ContractArtifact {
  return compileContracts().VipnodePool
}

/** The pool's ABI as an ethers Interface, e.g. to decode `Claimed` logs or custom errors. */
export function vipnodePoolInterface(): Interface {
  return new Interface(loadVipnodePoolArtifact().abi)
}

/** Attaches to an already deployed pool. */
export function vipnodePoolAt(address: string, runner: ContractRunner): Contract {
  return new Contract(address, loadVipnodePoolArtifact().abi, runner)
}

/** Who holds each role in a new pool, and its root delay (seconds, fixed for life). */
export interface PoolRoles {
  /** Cold: appoints proposer and guardian, pauses and unpauses. */
  owner: string
  /** Hot, the coordinator's key: proposes roots, nothing else. */
  proposer: string
  /** Cold key or multisig: revokes pending roots, pauses. */
  guardian: string
  /** Receives the pool fee through an ordinary leaf (no power). */
  feeRecipient: string
  /** 3,600 to 604,800 on real chains; 0 to 604,800 on chain ids 1337 and 31337. */
  rootDelaySeconds: number | bigint
}

/** Bounds the contract enforces on the root delay (seconds). */
export const MIN_ROOT_DELAY_S = 3_600
export const MAX_ROOT_DELAY_S = 7 * 24 * 3_600
/** Chain ids on which the contract accepts a root delay below MIN_ROOT_DELAY_S. */
export const DEV_CHAIN_IDS: readonly number[] = [1337, 31337]

/**
 * Deploys a pool from `signer` and resolves once the deployment is mined. The returned contract
 * still answers `deploymentTransaction()` (e.g. to read the constructor's events).
 */
export async function deployVipnodePool(signer: Signer, roles: PoolRoles): Promise<Contract> {
  const { abi, bytecode } = loadVipnodePoolArtifact()
  const deployed = await new ContractFactory(abi, bytecode, signer).deploy(roles.owner, roles.proposer, roles.guardian, roles.feeRecipient, BigInt(roles.rootDelaySeconds))
  await deployed.waitForDeployment()
  // ContractFactory returns a BaseContract proxy typed without the ABI's methods; at runtime it
  // resolves them exactly like a Contract.
  return deployed as unknown as Contract
}
