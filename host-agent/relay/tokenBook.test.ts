import { describe, expect, it } from 'vitest'
import type { NodeId } from '../../protocol/enode.ts'
import { hashRelayToken, RelayTokenBook } from './tokenBook.ts'

const A = 'a'.repeat(128) as NodeId
const B = 'b'.repeat(128) as NodeId
const tok = (c: string) => c.repeat(64)

describe('RelayTokenBook', () => {
  it('default: looks tokens up by client, refuses unknown, malformed and expired ones', () => {
    const book = new RelayTokenBook()
    book.add({ token: tok('1'), clientNodeId: A, expiresAtMs: 1000 })
    expect(book.lookup(tok('1'), 999)).toBe(A)
    book.add({ token: tok('c'), clientNodeId: B, expiresAtMs: 1000 })
    expect(book.lookup(tok('C'), 999)).toBe(B) // hex case does not matter
    expect(book.lookup(tok('1'), 1000)).toBeUndefined() // expiry is exclusive
    expect(book.lookup(tok('2'), 0)).toBeUndefined()
    expect(book.lookup('not a token', 0)).toBeUndefined()
    expect(book.lookupHash(hashRelayToken(tok('1')), 0)).toBe(A)
    expect(() => book.add({ token: 'short', clientNodeId: A, expiresAtMs: 1 })).toThrow(/64 hex/)
  })

  it('behavior: replace installs the full set and revokes what is gone; remove revokes a client', () => {
    const book = new RelayTokenBook()
    const revoked: [string, string][] = []
    book.onRevoke((id, h) => revoked.push([id, h]))
    book.replace([
      { token: tok('1'), clientNodeId: A, expiresAtMs: 10 },
      { token: tok('2'), clientNodeId: B, expiresAtMs: 10 },
      { token: tok('3'), clientNodeId: A, expiresAtMs: 10 },
    ])
    expect(book.size).toBe(3)
    book.replace([
      { token: tok('2'), clientNodeId: B, expiresAtMs: 20 },
      { token: tok('3'), clientNodeId: A, expiresAtMs: 20 },
    ])
    expect(revoked).toEqual([[A, hashRelayToken(tok('1'))]])
    expect(book.lookup(tok('2'), 15)).toBe(B) // renewed
    book.remove(A)
    expect(revoked.at(-1)).toEqual([A, hashRelayToken(tok('3'))])
    expect(book.lookup(tok('3'), 0)).toBeUndefined()
    book.prune(25)
    expect(book.size).toBe(0)
    expect(revoked.at(-1)).toEqual([B, hashRelayToken(tok('2'))])
  })
})
