/**
 * A DNS responder on loopback UDP for tests that need a real DNS answer for a
 * name, and to change it (DNS rebinding: a relay name that is public when the
 * coordinator checks it and 127.0.0.1 when the shim connects).
 *
 * Hand-written and minimal (RFC 1035 wire format): one question per query, A
 * and AAAA records from a table the test sets, TTL 0 so nothing caches them;
 * a name not in the table is NXDOMAIN, a name without records of the asked
 * type is NOERROR with no answer (NODATA), any other type is NODATA too.
 * Additional records in the query (EDNS OPT) are ignored and not echoed.
 * `resolveName` asks it through Node's own DNS client (c-ares, the
 * `dns.Resolver` class), so every answer crosses a real UDP socket.
 */
import { createSocket, type Socket } from 'node:dgram'
import { Resolver } from 'node:dns/promises'
import { isIP } from 'node:net'
import { ipv6Groups } from '../../protocol/addressScope.ts'
import type { ResolveName, ResolvedAddress } from '../../lib/resolveName.ts'

const TYPE_A = 1
const TYPE_AAAA = 28
const CLASS_IN = 1

export interface DnsQuery {
  name: string
  type: 'A' | 'AAAA' | number
}

export interface DnsResponder {
  /** `127.0.0.1:port`, as `Resolver.setServers` takes it. */
  readonly server: string
  /** Set what `name` resolves to (IPv4 and IPv6 literals, any mix); `[]`: the name exists with no address. Replaces earlier answers. */
  answer(name: string, addresses: readonly string[]): void
  /** Every question asked so far, in order. */
  readonly queries: readonly DnsQuery[]
  /** Every address of a name, asked of this responder (A and AAAA), as the system resolver would give them. */
  resolveName: ResolveName
  close(): Promise<void>
}

const norm = (name: string) => name.toLowerCase().replace(/\.$/, '')

/** The question's name and where it ends; undefined for a malformed or compressed one (queries never compress). */
function readName(msg: Buffer, offset: number): { name: string; end: number } | undefined {
  const labels: string[] = []
  let i = offset
  for (;;) {
    if (i >= msg.length) return undefined
    const len = msg[i]!
    if (len === 0) return { name: labels.join('.'), end: i + 1 }
    if (len > 63 || i + 1 + len > msg.length) return undefined
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'))
    i += 1 + len
  }
}

function record(type: number, address: string): Buffer {
  const rdata = type === TYPE_A ? Buffer.from(address.split('.').map(Number)) : Buffer.from(ipv6Groups(address)!.flatMap((g) => [g >> 8, g & 255]))
  const head = Buffer.alloc(12)
  head.writeUInt16BE(0xc00c, 0) // a pointer to the question's name (offset 12)
  head.writeUInt16BE(type, 2)
  head.writeUInt16BE(CLASS_IN, 4)
  head.writeUInt32BE(0, 6) // TTL 0: never cached
  head.writeUInt16BE(rdata.length, 10)
  return Buffer.concat([head, rdata])
}

export async function startDnsResponder(): Promise<DnsResponder> {
  const table = new Map<string, string[]>()
  const queries: DnsQuery[] = []
  const socket: Socket = createSocket('udp4')

  socket.on('message', (msg, from) => {
    if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return
    const q = readName(msg, 12)
    if (!q || q.end + 4 > msg.length) return
    const type = msg.readUInt16BE(q.end)
    queries.push({ name: q.name, type: type === TYPE_A ? 'A' : type === TYPE_AAAA ? 'AAAA' : type })
    const known = table.get(norm(q.name))
    const family = type === TYPE_A ? 4 : type === TYPE_AAAA ? 6 : 0
    const answers = (known ?? []).filter((a) => isIP(a) === family).map((a) => record(type, a))
    const header = Buffer.alloc(12)
    header.writeUInt16BE(msg.readUInt16BE(0), 0) // id
    const opcode = msg.readUInt16BE(2) & 0x7800
    const rd = msg.readUInt16BE(2) & 0x0100
    const rcode = known ? 0 : 3 // NOERROR / NXDOMAIN
    header.writeUInt16BE(0x8000 | opcode | 0x0400 | rd | 0x0080 | rcode, 2) // QR, AA, RA
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(answers.length, 6)
    socket.send(Buffer.concat([header, msg.subarray(12, q.end + 4), ...answers]), from.port, from.address)
  })

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject)
      resolve()
    })
  })
  const server = `127.0.0.1:${socket.address().port}`
  const resolver = new Resolver({ timeout: 2_000, tries: 1 })
  resolver.setServers([server])

  const resolveName: ResolveName = async (name) => {
    const ask = (family: 4 | 6) =>
      (family === 4 ? resolver.resolve4(name) : resolver.resolve6(name)).then(
        (list) => list.map((address): ResolvedAddress => ({ address, family })),
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENODATA') return [] as ResolvedAddress[]
          throw err
        },
      )
    const [v4, v6] = await Promise.all([ask(4), ask(6)])
    const all = [...v4, ...v6]
    if (all.length === 0) throw Object.assign(new Error(`queryA ENODATA ${name}`), { code: 'ENODATA', hostname: name })
    return all
  }

  return {
    server,
    answer(name, addresses) {
      for (const a of addresses) if (isIP(a) === 0) throw new Error(`not an IP address: ${a}`)
      table.set(norm(name), [...addresses])
    },
    queries,
    resolveName,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  }
}
