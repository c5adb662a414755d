import { describe, test, expect, afterEach } from 'vitest'
import { createServer, Agent, type Server } from 'node:http'
import { ExchangeTimeout, httpExchange, httpTarget, ReplyTooLarge } from './httpExchange.ts'

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve())))
})

async function serve(handler: Parameters<typeof createServer>[1]): Promise<URL> {
  const s = createServer(handler)
  servers.push(s)
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  return new URL(`http://127.0.0.1:${(s.address() as { port: number }).port}/`)
}

describe('httpExchange', () => {
  test('behavior: the deadline covers the whole reply: a server that keeps sending bytes slowly still times out', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200)
      const drip = setInterval(() => res.write('x'), 10)
      res.on('close', () => clearInterval(drip))
    })
    const started = Date.now()
    await expect(httpExchange(url, { method: 'GET', headers: {}, agent: new Agent(), deadline: started + 150, maxBytes: 1 << 20 })).rejects.toBeInstanceOf(ExchangeTimeout)
  })

  // The whole over-size reply arrives in one chunk with its end: the limit must still hold (it did not before).
  test('error: a reply over the limit fails with ReplyTooLarge; a reply within it is read whole with its status', async () => {
    const url = await serve((req, res) => res.writeHead(req.method === 'POST' ? 201 : 200).end('y'.repeat(1000)))
    const x = { headers: {}, agent: new Agent(), deadline: Date.now() + 5_000 }
    const tooLarge = httpExchange(url, { ...x, method: 'GET', maxBytes: 999 })
    await expect(tooLarge).rejects.toBeInstanceOf(ReplyTooLarge)
    await expect(tooLarge).rejects.toThrow('reply over 999 bytes')
    const reply = await httpExchange(url, { ...x, method: 'POST', body: '{}', maxBytes: 1000 })
    expect(reply.status).toBe(201)
    expect(reply.body.toString()).toBe('y'.repeat(1000))
  })

  test('default: httpTarget moves credentials into a Basic header and refuses other schemes with the caller\'s words', () => {
    const t = httpTarget('http://user:p%40ss@127.0.0.1:8545/', 'the relay needs the node\'s HTTP endpoint')
    expect(t.headers.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`)
    expect(t.url.href).toBe('http://127.0.0.1:8545/')
    expect(t.where).not.toContain('p%40ss')
    expect(() => httpTarget('ws://127.0.0.1:8546', 'the relay needs the node\'s HTTP endpoint')).toThrow(/^the relay needs the node's HTTP endpoint, got ws:\/\/127\.0\.0\.1:8546/)
  })
})
