import { describe, expect, it } from 'vitest'
import { deployRoles } from './commands.ts'

const DEPLOYER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'
const COLD = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC'
const MULTISIG = '0x90F79bf6EB2c4f870365E785982E1f101E93b906'
const base = { chainRpc: 'http://127.0.0.1:8545', operatorKey: 'k' }

describe('deployRoles (vipnode contract deploy)', () => {
  it('default: on a dev chain every role defaults to the deployer, with a 30 s delay', () => {
    expect(deployRoles(base, DEPLOYER, 31337)).toEqual({ owner: DEPLOYER, proposer: DEPLOYER, guardian: DEPLOYER, feeRecipient: DEPLOYER, rootDelaySeconds: 30 })
  })

  it('default: on a real chain the delay defaults to one hour and the fee goes to the proposer', () => {
    expect(deployRoles({ ...base, guardian: COLD, owner: MULTISIG }, DEPLOYER, 1)).toEqual({ owner: MULTISIG, proposer: DEPLOYER, guardian: COLD, feeRecipient: DEPLOYER, rootDelaySeconds: 3600 })
  })

  it('error: a real chain needs a guardian and an owner that are not the hot proposer key', () => {
    expect(() => deployRoles(base, DEPLOYER, 1)).toThrow('--guardian is required on chain 1')
    expect(() => deployRoles({ ...base, guardian: COLD }, DEPLOYER, 1)).toThrow('--owner is required on chain 1')
    expect(() => deployRoles({ ...base, guardian: DEPLOYER.toLowerCase(), owner: MULTISIG }, DEPLOYER, 1)).toThrow(`--guardian ${DEPLOYER} is the proposer`)
    expect(() => deployRoles({ ...base, guardian: COLD, owner: DEPLOYER }, DEPLOYER, 1)).toThrow(`--owner ${DEPLOYER} is the proposer`)
  })

  it('error: the delay must be whole seconds within the bounds the contract enforces', () => {
    const roles = { ...base, guardian: COLD, owner: MULTISIG }
    expect(() => deployRoles({ ...roles, rootDelay: 59 * 60_000 }, DEPLOYER, 1)).toThrow('--root-delay must be between 3600s and 7 days on chain 1, got 3540s')
    expect(() => deployRoles({ ...roles, rootDelay: 8 * 86_400_000 }, DEPLOYER, 1)).toThrow('got 691200s')
    expect(() => deployRoles({ ...roles, rootDelay: 1_500 }, DEPLOYER, 31337)).toThrow('--root-delay must be whole seconds, got 1500 ms')
    expect(deployRoles({ ...roles, rootDelay: 0 }, DEPLOYER, 1337).rootDelaySeconds).toBe(0)
  })
})
