/**
 * Session authentication. When an agent socket opens the coordinator sends a
 * random single-use challenge; the agent answers with vipnode_connect signed by
 * its node key over the exact bytes of a canonical encoding of
 * {method, poolId, chainId, challenge, body}. The coordinator recovers the
 * public key from the signature, so the node ID is proven, not declared.
 * One signature per session: secp256k1 recovery costs 60 µs with libsecp256k1
 * and 1.6 ms without (lib/secp256k1.ts).
 */
import { keccak256, toUtf8Bytes, hexlify, randomBytes, concat, getBytes } from 'ethers'
import { recoverPublicKey, signDigest } from '../lib/secp256k1.ts'
import { parseNodeId, type NodeId } from './enode.ts'
import type { NodeKey } from './nodeKey.ts'

/** Domain tag: a signature made for this protocol is useless anywhere else. */
export const SIGNING_DOMAIN = 'vipnode-pool/v1'

export interface SignedEnvelope {
  method: string
  poolId: string
  chainId: number
  /** Session challenge (hex) or, for stand-alone HTTP calls, a decimal nonce. */
  challenge: string
  body: unknown
}

/**
 * Deterministic JSON: object keys sorted by UTF-16 code unit, no whitespace,
 * undefined members dropped. Numbers must be safe integers and bigints are
 * written as decimal strings, so every implementation produces the same bytes.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isSafeInteger(value)) throw new TypeError(`canonical JSON allows only safe integers, got ${value}`)
      return String(value)
    case 'bigint':
      return JSON.stringify(value.toString())
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
    }
    default:
      throw new TypeError(`canonical JSON cannot encode ${typeof value}`)
  }
}

export function signingBytes(envelope: SignedEnvelope): Uint8Array {
  const { method, poolId, chainId, challenge, body } = envelope
  return getBytes(concat([toUtf8Bytes(`${SIGNING_DOMAIN}\n`), toUtf8Bytes(canonicalJson({ method, poolId, chainId, challenge, body }))]))
}

export function signingDigest(envelope: SignedEnvelope): string {
  return keccak256(signingBytes(envelope))
}

/** 65-byte signature (r ‖ s ‖ v) as 0x-prefixed hex. */
export function signEnvelope(key: NodeKey, envelope: SignedEnvelope): string {
  return signDigest(`0x${key}`, signingDigest(envelope))
}

/** The node ID whose key made `signature` over `envelope`; throws on a malformed signature. */
export function recoverSigner(envelope: SignedEnvelope, signature: string): NodeId {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new Error('signature must be 65 bytes of 0x-prefixed hex')
  const pub = recoverPublicKey(signingDigest(envelope), signature)
  return parseNodeId(pub.slice(4))
}

export function verifyEnvelope(envelope: SignedEnvelope, signature: string, nodeId: NodeId): boolean {
  try {
    return recoverSigner(envelope, signature) === nodeId
  } catch {
    return false
  }
}

/** 32 random bytes as hex: one per socket, single use. */
export function newChallenge(): string {
  return hexlify(randomBytes(32)).slice(2)
}
