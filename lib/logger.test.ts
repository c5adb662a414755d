import { describe, expect, test } from 'vitest'
import { Writable } from 'node:stream'
import { createLogger } from './logger.ts'
import { duplicateKeys, topLevelKeys } from '../test/harness/logLines.ts'

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean))
      done()
    },
  })
  return { lines, stream }
}

describe('logger', () => {
  test('topLevelKeys sees a repeated key that JSON.parse would hide', () => {
    expect(topLevelKeys('{"a":1,"b":{"a":2,"c":"x\\"y"},"a":3}')).toEqual(['a', 'b', 'a'])
  })

  test('behavior: a child rebinding a key, and a line repeating a bound key, write it once, innermost value winning', () => {
    const { lines, stream } = capture()
    const root = createLogger({ level: 'debug', destination: stream })
    const settlement = root.child({ module: 'coordinator' }).child({ module: 'settlement', epoch: 1 })
    settlement.info('settled', { payees: 3 })
    settlement.warn('odd', { epoch: 2 }, new Error('boom'))
    settlement.debug('quiet')
    expect(lines).toHaveLength(3)
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([])
    const [settled, odd] = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(settled).toMatchObject({ module: 'settlement', epoch: 1, payees: 3, msg: 'settled', level: 'info' })
    expect(odd).toMatchObject({ module: 'settlement', epoch: 2, msg: 'odd', err: { message: 'boom' } })
  })

  test('lines below the level are not written', () => {
    const { lines, stream } = capture()
    createLogger({ level: 'warn', destination: stream }).child({ module: 'x' }).info('hidden', { module: 'y' })
    expect(lines).toEqual([])
  })
})
