/** Reading a request body with a size limit, and writing a JSON reply, for the relay's and the client proxy's endpoints. */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** Whatever a body of this size is, reading it to the end is cheaper than a client that sees a reset instead of our 413. */
const DISCARD_LIMIT = 16 << 20

/** The body as text, or undefined when it is over `max` bytes (then read to the end and discarded, or cut off beyond DISCARD_LIMIT). */
export function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > DISCARD_LIMIT) {
      resolve(undefined)
      req.destroy()
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= max) chunks.push(chunk)
      else if (size > DISCARD_LIMIT) req.destroy()
    })
    req.on('end', () => resolve(size > max ? undefined : Buffer.concat(chunks).toString('utf8')))
    req.on('error', () => resolve(undefined))
    req.on('close', () => {
      if (!req.complete) resolve(undefined) // the client went away mid-body
    })
  })
}

/** A JSON reply, unless one was already sent or the client went away. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}
