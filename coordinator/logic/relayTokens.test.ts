import { describe, test, expect } from 'vitest'
import { RelayTokens } from './relayTokens.ts'
import { generateNodeKey, nodeIdOf } from '../../protocol/index.ts'

const [host, otherHost, client, otherClient] = Array.from({ length: 4 }, () => nodeIdOf(generateNodeKey()))
const secret = new Uint8Array(32).fill(7)

describe('relay tokens', () => {
  test('behavior: bound to the pair, the window and the secret', () => {
    const t = new RelayTokens(secret, 60_000)
    const now = 1_000_000
    const a = t.current(host, client, now)
    expect(a.token).toMatch(/^[0-9a-f]{64}$/)
    expect(t.current(host, client, now + 1)).toEqual(a) // same window: same token
    expect(t.current(otherHost, client, now).token).not.toBe(a.token)
    expect(t.current(host, otherClient, now).token).not.toBe(a.token)
    expect(t.current(client, host, now).token).not.toBe(a.token) // roles are not interchangeable
    expect(new RelayTokens(new Uint8Array(32).fill(8), 60_000).current(host, client, now).token).not.toBe(a.token)
  })

  test('behavior: a client token stays accepted by the host until it expires, one to two windows after issue', () => {
    const t = new RelayTokens(secret, 60_000)
    const issuedAt = 120_000 + 59_000 // late in window 2
    const issued = t.current(host, client, issuedAt)
    expect(issued.expiresAtMs).toBe(240_000)
    for (const at of [issuedAt, 180_000, 239_999]) expect(t.accepted(host, client, at).map((x) => x.token)).toContain(issued.token)
    expect(t.accepted(host, client, 240_000).map((x) => x.token)).not.toContain(issued.token)
    expect(t.accepted(host, client, 240_000).every((x) => x.expiresAtMs > 240_000)).toBe(true)
  })

  test('error: a short secret or a bad window is refused', () => {
    expect(() => new RelayTokens(new Uint8Array(8), 60_000)).toThrow(/16 bytes/)
    expect(() => new RelayTokens(secret, 0)).toThrow(/window/)
  })
})
