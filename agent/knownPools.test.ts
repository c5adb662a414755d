import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { KnownPoolError, KnownPools } from './knownPools.ts'

const keyFile = () => join(mkdtempSync(join(tmpdir(), 'vipnode-known-')), 'nodekey')
const ORIGIN = 'wss://pool.example:443'

describe('KnownPools', () => {
  test('default: the first pool id at an origin is remembered beside the key', () => {
    const file = KnownPools.fileFor(keyFile())
    expect(file).toMatch(/nodekey\.pools\.json$/)
    const known = new KnownPools({ file })
    known.accept(ORIGIN, 'pool-a')
    known.accept(ORIGIN, 'pool-a')
    known.accept('wss://other.example:443', 'pool-b')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ [ORIGIN]: 'pool-a', 'wss://other.example:443': 'pool-b' })
  })

  test('error: a changed pool id at the same origin is refused and the file keeps the first', () => {
    const file = KnownPools.fileFor(keyFile())
    new KnownPools({ file }).accept(ORIGIN, 'pool-a')
    expect(() => new KnownPools({ file }).accept(ORIGIN, 'pool-evil')).toThrow(KnownPoolError)
    expect(() => new KnownPools({ file }).accept(ORIGIN, 'pool-evil')).toThrow(
      `the coordinator at ${ORIGIN} announced pool id "pool-evil", but this key first logged in there to pool "pool-a" (${file}): someone else may be answering at that address. If the operator really changed the pool id, start with --pool-id pool-evil`,
    )
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ [ORIGIN]: 'pool-a' })
  })

  test('behavior: --pool-id accepts a changed id and is remembered; any other id is refused even on first use', () => {
    const file = KnownPools.fileFor(keyFile())
    new KnownPools({ file }).accept(ORIGIN, 'pool-a')
    new KnownPools({ file, expectedPoolId: 'pool-b' }).accept(ORIGIN, 'pool-b')
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ [ORIGIN]: 'pool-b' })
    const fresh = KnownPools.fileFor(keyFile())
    expect(() => new KnownPools({ file: fresh, expectedPoolId: 'pool-b' }).accept(ORIGIN, 'pool-a')).toThrow(
      `the coordinator at ${ORIGIN} announced pool id "pool-a", but --pool-id expects "pool-b": not logging in`,
    )
    expect(new KnownPools({ file: fresh }).read()).toEqual({})
  })

  test('error: a corrupt file is refused with its name, not overwritten', () => {
    const file = KnownPools.fileFor(keyFile())
    writeFileSync(file, '{"wss://pool.example:443": 7}')
    expect(() => new KnownPools({ file }).accept(ORIGIN, 'pool-a')).toThrow(`${file} must be a JSON object of origin -> pool id: fix or delete it`)
    writeFileSync(file, 'not json')
    expect(() => new KnownPools({ file }).accept(ORIGIN, 'pool-a')).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON`))
    expect(readFileSync(file, 'utf8')).toBe('not json')
  })

  test('behavior: replicas of one pool share its id: a new replica is trusted with the id its siblings were first seen with, never on its own first use', () => {
    const file = KnownPools.fileFor(keyFile())
    const replicas = [ORIGIN, 'wss://b.pool.example:443', 'wss://c.pool.example:443']
    new KnownPools({ file }).accept(ORIGIN, 'pool-a', { replicas })
    new KnownPools({ file }).accept(replicas[1]!, 'pool-a', { replicas })
    expect(() => new KnownPools({ file }).accept(replicas[2]!, 'pool-evil', { replicas })).toThrow(
      `the coordinator at ${replicas[2]} announced pool id "pool-evil", but this key first logged in at its replica ${ORIGIN} to pool "pool-a" (${file})`,
    )
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ [ORIGIN]: 'pool-a', [replicas[1]!]: 'pool-a' })
  })
})
