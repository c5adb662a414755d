import { keccak256 } from 'ethers'

/** The `bytes32 account` a client deposits for: keccak256 of its 64-byte node ID (the public key). */
export function depositAccountOf(nodeId: string): string {
  if (!/^[0-9a-f]{128}$/.test(nodeId)) throw new Error('nodeId must be 128 lowercase hex characters')
  return keccak256(`0x${nodeId}`)
}
