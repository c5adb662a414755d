import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import { SigningKey, keccak256, toBeHex } from 'ethers'
import { recoverPublicKey, secp256k1Implementation, signDigest } from './secp256k1.ts'

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const key = fc.bigInt({ min: 1n, max: N - 1n }).map((k) => toBeHex(k, 32))
const digest = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => keccak256(b))

describe('secp256k1', () => {
  test('this platform (linux-x64) loads libsecp256k1, not the JavaScript fallback', () => {
    expect(secp256k1Implementation).toBe('libsecp256k1')
  })

  test('property: signatures are byte for byte those of ethers, and recovery gives the signer', () => {
    fc.assert(
      fc.property(key, digest, (priv, d) => {
        const signer = new SigningKey(priv)
        const sig = signDigest(priv, d)
        expect(sig).toBe(signer.sign(d).serialized)
        expect(recoverPublicKey(d, sig)).toBe(signer.publicKey)
      }),
      { numRuns: 200 },
    )
  })

  test('behavior: malformed signatures are refused as ethers refuses them', () => {
    const d = keccak256('0x01')
    const good = signDigest(toBeHex(7n, 32), d)
    const bad = [
      `0x${'00'.repeat(64)}1b`, // r = s = 0
      `${good.slice(0, 66)}${'ff'.repeat(32)}1b`, // s ≥ n
      `${good.slice(0, 130)}05`, // v neither 27/28 nor 0/1
      good.slice(0, 100), // short
    ]
    for (const sig of bad) {
      let ours: unknown
      let theirs: unknown
      try {
        recoverPublicKey(d, sig)
      } catch (err) {
        ours = err
      }
      try {
        SigningKey.recoverPublicKey(d, sig)
      } catch (err) {
        theirs = err
      }
      expect(ours, sig).toBeInstanceOf(Error)
      expect(theirs, sig).toBeInstanceOf(Error)
    }
  })
})
