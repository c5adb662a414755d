/**
 * secp256k1 signing and public-key recovery: libsecp256k1 through the
 * `secp256k1` package's N-API binding (prebuilt for linux-x64, darwin-arm64,
 * win32-x64), or ethers' JavaScript implementation where no binding loads.
 *
 * Why: a reconnect storm is one recovery per agent. ethers (noble) recovers a
 * key in about 1.6 ms on this project's machine, libsecp256k1 in 60 µs
 * (issue 20: 20,000 agents back within 60 s of a restart). Signatures are
 * parsed and checked by ethers' `Signature.from` either way, so both paths
 * accept and refuse exactly the same inputs; both sign by RFC 6979 with a
 * low s, so they produce the same bytes.
 */
import { createRequire } from 'node:module'
import { Signature, SigningKey, getBytes, hexlify } from 'ethers'

interface NativeBinding {
  ecdsaRecover(sig64: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean, output?: Uint8Array): Uint8Array
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number }
}

function loadNative(): NativeBinding | undefined {
  if (process.env.VIPNODE_SECP256K1 === 'js') return undefined
  try {
    // The binding itself: the package's main entry falls back to the pure-JS `elliptic` silently, which is slower still.
    return createRequire(import.meta.url)('secp256k1/bindings') as NativeBinding
  } catch {
    return undefined
  }
}

const native = loadNative()

/** Which implementation this process uses (logged at start, so an operator sees a missing binding). */
export const secp256k1Implementation: 'libsecp256k1' | 'javascript' = native ? 'libsecp256k1' : 'javascript'

/** The uncompressed public key (0x04 ‖ x ‖ y, 0x-prefixed hex) that made `signature` (65 bytes, r ‖ s ‖ v) over `digest` (32 bytes). */
export function recoverPublicKey(digest: string, signature: string): string {
  if (!native) return SigningKey.recoverPublicKey(digest, signature)
  const sig = Signature.from(signature)
  const compact = new Uint8Array(64)
  compact.set(getBytes(sig.r), 0)
  compact.set(getBytes(sig.s), 32)
  return hexlify(native.ecdsaRecover(compact, sig.yParity, getBytes(digest), false))
}

/** Sign a 32-byte digest with a private key (0x-prefixed hex); returns r ‖ s ‖ v (v = 27 + parity) as 0x-prefixed hex. */
export function signDigest(privateKey: string, digest: string): string {
  if (!native) return new SigningKey(privateKey).sign(digest).serialized
  const { signature, recid } = native.ecdsaSign(getBytes(digest), getBytes(privateKey))
  const out = new Uint8Array(65)
  out.set(signature, 0)
  out[64] = 27 + recid
  return hexlify(out)
}
