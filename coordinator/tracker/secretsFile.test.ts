import { describe, test, expect } from 'vitest'
import { parseTrackerSecrets } from './secretsFile.ts'

const KEY_A = 'ab'.repeat(64)
const KEY_B = 'cd'.repeat(64)

describe('parseTrackerSecrets', () => {
  test('name:secret lines, split at the first colon; comments and blank lines skipped', () => {
    const s = parseTrackerSecrets('# pool hosts\n\nhost-a:secret-a\n  host-b : s:with:colons  \r\n# end\n')
    expect({ ...s }).toEqual({ 'host-a': { secret: 'secret-a', nodeId: null }, 'host-b': { secret: 's:with:colons', nodeId: null } })
  })
  test('a bad line refuses the whole file, naming the line', () => {
    expect(() => parseTrackerSecrets('host-a:a\nno-colon\n', 'f')).toThrow('f line 2: expected name:secret or name:secret:nodeId')
    expect(() => parseTrackerSecrets(':secret')).toThrow(/line 1: the name must be/)
    expect(() => parseTrackerSecrets('host-a:')).toThrow(/line 1: empty secret for host-a/)
    expect(() => parseTrackerSecrets('host-a:x\nhost-a:y')).toThrow(/line 2: host-a is listed twice/)
  })
  test('names such as __proto__ are plain names', () => {
    expect(parseTrackerSecrets('__proto__:x')['__proto__']).toEqual({ secret: 'x', nodeId: null })
  })

  test('behavior: name:secret:nodeId binds the name to a node ID, with or without 0x, any case, normalised', () => {
    const s = parseTrackerSecrets(`host-a:secret-a:${KEY_A}\nhost-b : s:with:colons : 0X${KEY_B.toUpperCase()}\nhost-c:secret-c\n`)
    expect({ ...s }).toEqual({
      'host-a': { secret: 'secret-a', nodeId: KEY_A },
      'host-b': { secret: 's:with:colons', nodeId: KEY_B },
      'host-c': { secret: 'secret-c', nodeId: null },
    })
    // Besu reports its node key as its name: the key is then both.
    expect(parseTrackerSecrets(`${KEY_A}:s:${KEY_A}`)[KEY_A]).toEqual({ secret: 's', nodeId: KEY_A })
  })

  test('behavior: a secret may still end in a colon and a short word; only a run of 64+ letters and digits is a node ID', () => {
    expect(parseTrackerSecrets('host-a:pass:word')['host-a']).toEqual({ secret: 'pass:word', nodeId: null })
    expect(parseTrackerSecrets(`host-a:pass:${'f'.repeat(63)}`)['host-a']).toEqual({ secret: `pass:${'f'.repeat(63)}`, nodeId: null })
  })

  test('error: a malformed node ID refuses the file, naming the line and the name', () => {
    expect(() => parseTrackerSecrets(`host-a:a\nhost-b:b:${KEY_B.slice(1)}\n`, 'f')).toThrow(
      'f line 2: the node ID bound to host-b must be 128 hex characters, with or without 0x: invalid node ID: expected 128 hex characters (64-byte public key)',
    )
    expect(() => parseTrackerSecrets(`host-a:a:${KEY_A}ff`)).toThrow(/line 1: the node ID bound to host-a must be 128 hex.*\(130 chars\)/)
    expect(() => parseTrackerSecrets(`host-a:a:${'zz'.repeat(64)}`)).toThrow(/line 1: the node ID bound to host-a/)
    expect(() => parseTrackerSecrets(`host-a:a:0x${'g'.repeat(64)}`)).toThrow(/line 1: the node ID bound to host-a/)
  })

  test('error: an empty secret before a node ID, and one node ID bound to two names, refuse the file', () => {
    expect(() => parseTrackerSecrets(`host-a::${KEY_A}`)).toThrow(/line 1: empty secret for host-a/)
    expect(() => parseTrackerSecrets(`host-a:a:${KEY_A}\n# b\nhost-b:b:0x${KEY_A}\n`)).toThrow(/line 3: node ID abababab…abab is already bound to host-a \(line 1\)/)
  })
})
