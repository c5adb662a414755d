/**
 * The tracker's login: a hello with the right secret names the socket; a
 * second login for a connected name with the right secret wins, and the
 * older socket is closed with 4000. A wrong secret, a bad hello or an address
 * at its cap of logged-in sockets gets primus's end frame and 1008.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { shortNodeId } from '../../protocol/enode.ts'
import { setFrameLimit } from '../server/socketGate.ts'
import { READY_FRAME, SERVER_CLOSE_FRAME, parseHello } from './frames.ts'
import { TrackerCloseCode, closeConn, drop, send, type Conn, type SecretCheck, type TrackerCore } from './trackerCore.ts'

export function onHello(core: TrackerCore, conn: Conn, payload: unknown, now: number): void {
  if (conn.name !== undefined) return drop(core, conn, 'duplicate_hello')
  const r = parseHello(payload)
  const by = r.ok ? core.checkSecret(r.value.id, r.value.secret) : undefined
  if (!r.ok || !by) {
    core.metrics.login(false)
    conn.log.warn('tracker login refused', { node: r.ok ? r.value.id.slice(0, 64) : undefined, reason: r.ok ? 'wrong secret' : r.reason })
    // What primus sends when the server ends a spark; the classic reporters stop retrying on it.
    send(core, conn, SERVER_CLOSE_FRAME)
    closeConn(core, conn, 1008, 'unauthorized', 'bad_secret')
    return
  }
  const hello = r.value
  if (addressAtCap(core, conn, hello.id)) return
  // A node ID claimed under a node's own secret is not taken over by a login with the shared secret.
  const { replaced } = core.state.login(hello, conn, conn.remoteAddress, now, by === 'own')
  if (core.state.size() > core.settings.maxNodes) core.state.prune(now, core.settings.forgetAfterMs, core.settings.maxNodes)
  conn.name = hello.id
  conn.lastPingSentMs = now
  if (!conn.ticket.authenticate()) {
    // A replacement login from the same address at the cap: the socket it replaces gives its slot back on close.
    conn.log.debug('tracker login over the address cap while replacing its own socket', { node: hello.id })
  }
  setFrameLimit(conn.ws, core.settings.maxFrameBytes)
  // Nothing may go out between hello and this frame: geth reads exactly one frame and expects exactly this.
  send(core, conn, READY_FRAME)
  takeName(core, conn, hello.id, replaced !== null)
  core.metrics.login(true)
  core.metrics.nodes(core.state.connectedCount())
  conn.log.info('tracker node logged in', {
    node: hello.id,
    software: hello.info.node,
    nodeId: hello.nodeId ? shortNodeId(hello.nodeId) : undefined,
    replaced: replaced !== null,
  })
  core.emitUpdate(hello.id, 'login')
}

/** Refuses (true) a login from an address at its cap, unless it replaces that address's own socket for the name. */
function addressAtCap(core: TrackerCore, conn: Conn, name: string): boolean {
  const limit = core.settings.maxLoggedInPerAddress
  if (conn.ticket.authenticatedCount() < limit || core.connsByName.get(name)?.ticket.key === conn.ticket.key) return false
  core.metrics.login(false)
  conn.log.warn('tracker logins per address at the cap: refused', { node: name.slice(0, 64), limit })
  send(core, conn, SERVER_CLOSE_FRAME)
  closeConn(core, conn, 1008, 'too many nodes from this address', 'bad_secret')
  return true
}

/** The socket now owns the name; the one that held it before, if the state replaced it, is closed with 4000. */
function takeName(core: TrackerCore, conn: Conn, name: string, replaced: boolean): void {
  const previous = core.connsByName.get(name)
  core.connsByName.set(name, conn)
  if (replaced && previous && previous !== conn) {
    previous.name = undefined
    previous.log.info('tracker login replaced by a newer one', { node: name })
    closeConn(core, previous, TrackerCloseCode.REPLACED, 'replaced by a newer login', 'replaced')
  }
}

/**
 * A name listed in `secrets` must use its own secret; any other name the pool
 * secret. Compared in constant time over digests so neither length nor
 * content leaks through timing.
 */
export function secretChecker(opts: { secret?: string; secrets?: Record<string, string> }): SecretCheck {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()
  const perNode = new Map<string, Buffer>(Object.entries(opts.secrets ?? {}).map(([name, s]) => [name, digest(s)]))
  const pool = opts.secret === undefined ? undefined : digest(opts.secret)
  return (name, secret) => {
    const own = perNode.get(name)
    const expected = own ?? pool
    if (expected === undefined || !timingSafeEqual(expected, digest(secret))) return undefined
    return own ? 'own' : 'shared'
  }
}
