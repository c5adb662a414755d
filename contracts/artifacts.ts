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

/**
 * Deploys a pool from `signer` and resolves once the deployment is mined. The returned contract
 * still answers `deploymentTransaction()` (e.g. to read the constructor's events).
 */
export async function deployVipnodePool(signer: Signer, operator: string, feeRecipient: string): Promise<Contract> {
  const { abi, bytecode } = loadVipnodePoolArtifact()
  const deployed = await new ContractFactory(abi, bytecode, signer).deploy(operator, feeRecipient)
  await deployed.waitForDeployment()
  // ContractFactory returns a BaseContract proxy typed without the ABI's methods; at runtime it
  // resolves them exactly like a Contract.
  return deployed as unknown as Contract
}
