/**
 * One HTTP exchange across a relay hop, for every hop both agents make: the
 * shim's JSON-RPC posts and beacon GETs to a host's relay (on the proxy's
 * checked agents, client-shim/rpcProxy/relayAddresses.ts), and the relay's
 * posts to its node and GETs to its beacon node (host-agent/relay/). The
 * whole reply is read up to a size limit, against a deadline (one timer per
 * attempt, cleared on the reply), and redirects are never followed (a 3xx is
 * the caller's to judge).
 *
 * A keep-alive socket the other side closed while idle fails the request on
 * it with ECONNRESET: that request is sent again once, on a new connection
 * (the `reusedSocket` retry Node's docs describe). Sending a request twice is
 * safe here, as after any failover (the proxy retries every method on
 * another host).
 */
import { Agent as HttpAgent, request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { scrubUrl } from '../../lib/logger.ts'

/** The deadline passed: whatever the socket said after that, the exchange timed out. */
export class ExchangeTimeout extends Error {}

/** The reply was larger than the exchange's limit (the other side has failed). */
export class ReplyTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`reply over ${maxBytes} bytes`)
  }
}

export interface Exchange {
  method: 'GET' | 'POST'
  headers: Record<string, string>
  /** POST only: sent as application/json. */
  body?: string
  agent: Agent
  /** Date.now() by which the whole reply must be in. */
  deadline: number
  /** A reply larger than this fails the exchange with ReplyTooLarge. */
  maxBytes: number
}

export interface ExchangeReply {
  status: number
  body: Buffer
  headers: IncomingHttpHeaders
}

export async function httpExchange(url: URL, x: Exchange): Promise<ExchangeReply> {
  try {
    return await once(url, x)
  } catch (err) {
    if (!(err as { reusedSocket?: boolean }).reusedSocket || (err as { code?: unknown }).code !== 'ECONNRESET' || Date.now() >= x.deadline) throw err
    return once(url, x)
  }
}

function once(url: URL, x: Exchange): Promise<ExchangeReply> {
  return new Promise<ExchangeReply>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    // Why this side gave up (the deadline, the size limit): it wins over whatever the socket says afterwards, and
    // over an `end` that arrives in the same turn as the chunk that crossed the limit.
    let gaveUp: Error | undefined
    const giveUp = (err: Error) => {
      gaveUp ??= err
      req.destroy(err)
    }
    const timer = setTimeout(() => giveUp(new ExchangeTimeout()), Math.max(0, x.deadline - Date.now()))
    const succeed = (reply: ExchangeReply) => {
      clearTimeout(timer)
      if (gaveUp) reject(gaveUp)
      else resolve(reply)
    }
    const fail = (err: unknown) => {
      clearTimeout(timer)
      reject(gaveUp ?? err)
    }
    const headers = x.body === undefined ? x.headers : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(x.body)), ...x.headers }
    const req = send(url, { method: x.method, agent: x.agent, headers }, (res) => {
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes > x.maxBytes) giveUp(new ReplyTooLarge(x.maxBytes))
        else chunks.push(chunk)
      })
      res.on('end', () => succeed({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }))
      res.on('error', fail)
    })
    req.on('error', (err) => fail(Object.assign(err, { reusedSocket: req.reusedSocket })))
    req.end(x.body)
  })
}

/** A backend a relay talks to (its node, its beacon node): credentials moved from the URL into a Basic auth header, one keep-alive agent. */
export interface HttpTarget {
  url: URL
  headers: Record<string, string>
  /** The URL without credentials, for logs. */
  where: string
  agent: Agent
}

/** Throws `${needs}, got <url>` for anything but http(s). */
export function httpTarget(raw: string, needs: string): HttpTarget {
  const url = new URL(raw)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${needs}, got ${scrubUrl(raw)}`)
  const headers: Record<string, string> = {}
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
    url.username = ''
    url.password = ''
  }
  const agent = url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
  return { url, headers, where: scrubUrl(raw), agent }
}
