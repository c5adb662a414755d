/**
 * One HTTP exchange with a host's relay, shared by the JSON-RPC posts
 * (relayClient.ts) and the beacon GETs (beaconClient.ts): on the proxy's
 * relay agents (relayAddresses.ts: a relay name is resolved and checked for
 * every new connection), the whole reply read up to a size limit, a deadline
 * (one timer per attempt, cleared on the reply), and no redirects followed.
 *
 * A keep-alive socket the relay closed while idle fails the request on it
 * with ECONNRESET: that request is sent again once, on a new connection (the
 * `reusedSocket` retry Node's docs describe). Sending a request twice is safe
 * here, as after any failover (the proxy retries every method elsewhere).
 */
import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'

/** The deadline passed: whatever the socket said after that, the exchange timed out. */
export class RelayTimeout extends Error {}

export interface RelayExchange {
  method: 'GET' | 'POST'
  headers: Record<string, string>
  /** POST only. */
  body?: string
  agent: Agent
  /** Date.now() by which the whole reply must be in. */
  deadline: number
  /** A reply larger than this fails the exchange (the host has failed). */
  maxBytes: number
}

export interface RelayReply {
  status: number
  body: Buffer
  headers: IncomingHttpHeaders
}

export async function relayExchange(url: URL, x: RelayExchange): Promise<RelayReply> {
  try {
    return await once(url, x)
  } catch (err) {
    if (!(err as { reusedSocket?: boolean }).reusedSocket || (err as { code?: unknown }).code !== 'ECONNRESET' || Date.now() >= x.deadline) throw err
    return once(url, x)
  }
}

function once(url: URL, x: RelayExchange): Promise<RelayReply> {
  return new Promise<RelayReply>((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      req.destroy(new RelayTimeout())
    }, Math.max(0, x.deadline - Date.now()))
    const succeed = (reply: RelayReply) => {
      clearTimeout(timer)
      resolve(reply)
    }
    const fail = (err: unknown) => {
      clearTimeout(timer)
      reject(timedOut ? new RelayTimeout() : err)
    }
    const headers = x.body === undefined ? x.headers : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(x.body)), ...x.headers }
    const req = send(url, { method: x.method, agent: x.agent, headers }, (res) => {
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (bytes > x.maxBytes) {
          req.destroy(new Error(`relay reply is over ${x.maxBytes} bytes`))
          return
        }
        chunks.push(chunk)
      })
      res.on('end', () => succeed({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }))
      res.on('error', fail)
    })
    req.on('error', (err) => fail(Object.assign(err, { reusedSocket: req.reusedSocket })))
    req.end(x.body)
  })
}
