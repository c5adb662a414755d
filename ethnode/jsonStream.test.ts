import { describe, expect, it } from 'vitest'
import { createJsonStream, JsonStreamError } from './jsonStream.ts'

const values = [
  { jsonrpc: '2.0', id: 1, result: 'a } tricky { "string" \\ with [brackets]' },
  [{ id: 2, result: null }, { id: 3, error: { code: -1, message: 'x' } }],
  { id: 4, result: { nested: [1, { deep: 'é✓😀' }] } },
]

describe('createJsonStream', () => {
  it('splits concatenated values however the chunks fall', () => {
    for (const sep of ['', '\n', ' \r\n\t']) {
      const text = values.map((v) => JSON.stringify(v)).join(sep) + sep
      for (let cut = 0; cut <= text.length; cut++) {
        const out: unknown[] = []
        const s = createJsonStream((v) => out.push(v))
        s.push(text.slice(0, cut))
        s.push(text.slice(cut))
        expect(out).toEqual(values)
      }
      const out: unknown[] = []
      const s = createJsonStream((v) => out.push(v))
      for (const ch of text) s.push(ch) // one character at a time
      expect(out).toEqual(values)
    }
  })

  it('rejects bytes that cannot start a JSON object', () => {
    const s = createJsonStream(() => {})
    expect(() => s.push('<html>')).toThrow(JsonStreamError)
  })

  it('rejects a value that is not valid JSON', () => {
    const s = createJsonStream(() => {})
    expect(() => s.push('{"a": nope}')).toThrow(/invalid JSON/)
  })
})
