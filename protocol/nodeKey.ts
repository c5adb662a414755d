/**
 * Node keys in geth's `nodekey` file format: the 32-byte secp256k1 private key
 * as 64 hex characters, no 0x prefix, no newline (surrounding whitespace is
 * tolerated on read, as geth does).
 */
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { SigningKey, randomBytes, hexlify } from 'ethers'
import { parseNodeId, type NodeId } from './enode.ts'

declare const nodeKeyBrand: unique symbol
/** 64 lowercase hex chars, no prefix. Never log it. */
export type NodeKey = string & { readonly [nodeKeyBrand]: true }

export class NodeKeyError extends Error {
  override name = 'NodeKeyError'
}

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

export function parseNodeKey(text: string): NodeKey {
  const hex = text.trim().replace(/^0x/i, '').toLowerCase()
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new NodeKeyError('invalid node key: expected 64 hex characters (a 32-byte secp256k1 private key)')
  }
  const k = BigInt(`0x${hex}`)
  if (k === 0n || k >= SECP256K1_N) throw new NodeKeyError('invalid node key: not a valid secp256k1 private key')
  return hex as NodeKey
}

export function generateNodeKey(): NodeKey {
  for (;;) {
    try {
      return parseNodeKey(hexlify(randomBytes(32)))
    } catch {
      // Astronomically unlikely (k = 0 or k >= n); draw again.
    }
  }
}

/** The node ID (public key without the 04 prefix) that belongs to a node key. */
export function nodeIdOf(key: NodeKey): NodeId {
  const pub = SigningKey.computePublicKey(`0x${key}`, false) // 0x04 + 128 hex
  return parseNodeId(pub.slice(4))
}

export function loadNodeKey(path: string): NodeKey {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new NodeKeyError(`cannot read node key file ${path}: ${(err as Error).message}`)
  }
  try {
    return parseNodeKey(text)
  } catch (err) {
    throw new NodeKeyError(`${path}: ${(err as Error).message}`)
  }
}

/** Write a key file readable only by its owner. Refuses to overwrite unless `force`. */
export function saveNodeKey(path: string, key: NodeKey, options: { force?: boolean } = {}): void {
  if (!options.force && existsSync(path)) {
    throw new NodeKeyError(`${path} already exists; refusing to overwrite a node key (pass --force to replace it)`)
  }
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, key, { mode: 0o600 })
}
