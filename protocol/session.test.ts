import { describe, test, expect } from 'vitest'
import { canonicalJson, signEnvelope, recoverSigner, verifyEnvelope, signingBytes, newChallenge, type SignedEnvelope } from './session.ts'
import { parseNodeKey, nodeIdOf, generateNodeKey, loadNodeKey, saveNodeKey, NodeKeyError } from './nodeKey.ts'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// A fixed key (geth's test key) with its well-known node ID.
const KEY = parseNodeKey('45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8')
const NODE_ID = '3a514176466fa815ed481ffad09110a2d344f6c9b78c1d14afc351c3a51be33d8072e77939dc03ba44790779b7a1025baf3003f6732430e20cd9b76d953391b3'
const ENVELOPE: SignedEnvelope = { method: 'vipnode_connect', poolId: 'pool-a', chainId: 1, challenge: 'ab'.repeat(32), body: { role: 'host', capacity: 3, b: [1, 'x'] } }

describe('canonical encoding', () => {
  test('default: sorted keys, no whitespace, undefined dropped, bigint as string', () => {
    expect(canonicalJson({ b: 1, a: { d: [true, null], c: 'x' }, u: undefined, n: 10n ** 30n })).toBe('{"a":{"c":"x","d":[true,null]},"b":1,"n":"1000000000000000000000000000000"}')
  })

  test('error: floats and non-JSON values are refused', () => {
    expect(() => canonicalJson({ x: 1.5 })).toThrow(/safe integers/)
    expect(() => canonicalJson({ x: () => 1 })).toThrow(/cannot encode/)
  })

  test('default: the signed bytes carry the domain, pool, chain, challenge and method', () => {
    expect(Buffer.from(signingBytes(ENVELOPE)).toString()).toBe(
      'vipnode-pool/v1\n{"body":{"b":[1,"x"],"capacity":3,"role":"host"},"chainId":1,"challenge":"' + 'ab'.repeat(32) + '","method":"vipnode_connect","poolId":"pool-a"}',
    )
  })
})

describe('signatures', () => {
  test('default: fixed key, fixed envelope, fixed signature (RFC 6979), recovers the node ID', () => {
    expect(nodeIdOf(KEY)).toBe(NODE_ID)
    const sig = signEnvelope(KEY, ENVELOPE)
    expect(sig).toBe('0x1e0d4e610a37cbc5b5eb17d8eb613e155ee7843ab587bcf90c49626ddfc37fc2276743b0f0868ed82128e01d2448ea777146a1258ebeca8dd06e42a3ffb956041b')
    expect(recoverSigner(ENVELOPE, sig)).toBe(NODE_ID)
    expect(verifyEnvelope(ENVELOPE, sig, nodeIdOf(KEY))).toBe(true)
  })

  test('behavior: round trip with random keys', () => {
    for (let i = 0; i < 5; i++) {
      const key = generateNodeKey()
      const env = { ...ENVELOPE, challenge: newChallenge() }
      expect(recoverSigner(env, signEnvelope(key, env))).toBe(nodeIdOf(key))
    }
  })

  test.each([
    ['pool', { poolId: 'pool-b' }],
    ['chain', { chainId: 5 }],
    ['method', { method: 'vipnode_update' }],
    ['challenge', { challenge: 'cd'.repeat(32) }],
    ['body', { body: { role: 'host', capacity: 4, b: [1, 'x'] } }],
  ])('error: a signature does not verify once the %s changes', (_what, change) => {
    const sig = signEnvelope(KEY, ENVELOPE)
    expect(verifyEnvelope({ ...ENVELOPE, ...change }, sig, nodeIdOf(KEY))).toBe(false)
  })

  test('error: malformed signatures are refused', () => {
    expect(() => recoverSigner(ENVELOPE, '0x1234')).toThrow(/65 bytes/)
    expect(verifyEnvelope(ENVELOPE, `0x${'00'.repeat(65)}`, nodeIdOf(KEY))).toBe(false)
  })
})

describe('node key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vipnode-key-'))

  test("default: geth's format, owner-only, round trip", () => {
    const path = join(dir, 'nodekey')
    const key = generateNodeKey()
    saveNodeKey(path, key)
    expect(readFileSync(path, 'utf8')).toMatch(/^[0-9a-f]{64}$/)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(loadNodeKey(path)).toBe(key)
  })

  test('behavior: tolerates a trailing newline, as geth does', () => {
    const path = join(dir, 'nl')
    writeFileSync(path, `${KEY}\n`)
    expect(loadNodeKey(path)).toBe(KEY)
  })

  test('error: refuses to overwrite, bad contents, zero key, missing file', () => {
    const path = join(dir, 'keep')
    saveNodeKey(path, KEY)
    expect(() => saveNodeKey(path, generateNodeKey())).toThrow(/refusing to overwrite/)
    writeFileSync(join(dir, 'bad'), 'not a key')
    expect(() => loadNodeKey(join(dir, 'bad'))).toThrow(NodeKeyError)
    expect(() => parseNodeKey('00'.repeat(32))).toThrow(/not a valid secp256k1/)
    expect(() => loadNodeKey(join(dir, 'missing'))).toThrow(/cannot read node key file/)
  })
})
