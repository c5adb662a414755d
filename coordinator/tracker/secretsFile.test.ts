import { describe, test, expect } from 'vitest'
import { parseTrackerSecrets } from './secretsFile.ts'

describe('parseTrackerSecrets', () => {
  test('name:secret lines, split at the first colon; comments and blank lines skipped', () => {
    const s = parseTrackerSecrets('# pool hosts\n\nhost-a:secret-a\n  host-b : s:with:colons  \r\n# end\n')
    expect({ ...s }).toEqual({ 'host-a': 'secret-a', 'host-b': 's:with:colons' })
  })
  test('a bad line refuses the whole file, naming the line', () => {
    expect(() => parseTrackerSecrets('host-a:a\nno-colon\n', 'f')).toThrow('f line 2: expected name:secret')
    expect(() => parseTrackerSecrets(':secret')).toThrow(/line 1: the name must be/)
    expect(() => parseTrackerSecrets('host-a:')).toThrow(/line 1: empty secret for host-a/)
    expect(() => parseTrackerSecrets('host-a:x\nhost-a:y')).toThrow(/line 2: host-a is listed twice/)
  })
  test('names such as __proto__ are plain names', () => {
    expect(parseTrackerSecrets('__proto__:x')['__proto__']).toBe('x')
  })
})
