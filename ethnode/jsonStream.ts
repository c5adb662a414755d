/**
 * Splits a byte stream of concatenated JSON values (geth's IPC framing: one
 * value after another, newline-separated or not) into parsed values. Chunks
 * may end anywhere, even inside a string.
 */
export class JsonStreamError extends Error {
  override name = 'JsonStreamError'
}

export interface JsonStream {
  /** Feed the next chunk (already decoded to text). Throws JsonStreamError on garbage. */
  push(chunk: string): void
}

/** A value larger than this is not a reply we want to buffer. */
const MAX_VALUE_CHARS = 64 * 1024 * 1024

export function createJsonStream(onValue: (value: unknown) => void): JsonStream {
  // Scan state survives across chunks so each character is looked at once.
  let buf = ''
  let pos = 0
  let depth = 0
  let inString = false
  let escaped = false

  return {
    push(chunk) {
      buf += chunk
      while (pos < buf.length) {
        const c = buf[pos]!
        if (depth === 0) {
          if (c === '{' || c === '[') {
            buf = buf.slice(pos) // drop whitespace and values already emitted
            pos = 0
            depth = 1
          } else if (!/\s/.test(c)) {
            throw new JsonStreamError(`expected a JSON object, got ${JSON.stringify(buf.slice(pos, pos + 20))}`)
          }
          pos++
          continue
        }
        if (inString) {
          if (escaped) escaped = false
          else if (c === '\\') escaped = true
          else if (c === '"') inString = false
        } else if (c === '"') inString = true
        else if (c === '{' || c === '[') depth++
        else if (c === '}' || c === ']') {
          depth--
          if (depth === 0) {
            const text = buf.slice(0, pos + 1)
            buf = buf.slice(pos + 1)
            pos = 0
            let value: unknown
            try {
              value = JSON.parse(text)
            } catch (err) {
              throw new JsonStreamError(`invalid JSON: ${(err as Error).message}`)
            }
            onValue(value)
            continue
          }
        }
        pos++
      }
      if (depth === 0) {
        buf = ''
        pos = 0
      } else if (buf.length > MAX_VALUE_CHARS) {
        throw new JsonStreamError(`JSON value exceeds ${MAX_VALUE_CHARS} characters`)
      }
    },
  }
}
