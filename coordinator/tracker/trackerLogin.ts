/**
 * The tracker's login: a hello with the right secret names the socket; a
 * second login for a connected name with the right secret wins, and the
 * older socket is closed with 4000. A wrong secret, a bad hello, a hello
 * claiming a node ID other than the one bound to its name, or an address at
 * its cap of logged-in sockets gets primus's end frame and 1008.
 *
 * A node ID is proven only by a login with a name's own secret where the
 * secrets file binds that name to the node ID; the hello may then carry the
 * same ID or none (geth's reporter sends none). Shared-secret logins and unbound
 * names keep their claims, shown as claimed, and never witness for a host.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { parseNodeId, shortNodeId, type NodeId } from '../../protocol/enode.ts'
import { setFrameLimit } from '../server/socketGate.ts'
import { READY_FRAME, SERVER_CLOSE_FRAME, parseHello } from './frames.ts'
import { TrackerCloseCode, closeConn, drop, send, type Conn, type LoginGrant, type OwnSecret, type SecretEntry, type SecretCheck, type TrackerCore } from './trackerCore.ts'

export function onHello(core: TrackerCore, conn: Conn, payload: unknown, now: number): void {
  if (conn.name !== undefined) return drop(core, conn, 'duplicate_hello')
  const r = parseHello(payload)
  const grant = r.ok ? core.checkSecret.check(r.value.id, r.value.secret) : undefined
  if (!r.ok || !grant) {
    core.metrics.login(false)
    conn.log.warn('tracker login refused', { node: r.ok ? r.value.id.slice(0, 64) : undefined, reason: r.ok ? 'wrong secret' : r.reason })
    // What primus sends when the server ends a spark; the classic reporters stop retrying on it.
    send(core, conn, SERVER_CLOSE_FRAME)
    closeConn(core, conn, 1008, 'unauthorized', 'bad_secret')
    return
  }
  const hello = r.value
  if (claimsAnotherNodeId(core, conn, hello.id, grant, hello.nodeId)) return
  if (addressAtCap(core, conn, hello.id)) return
  const provenNodeId = provenBy(grant, hello.nodeId)
  const { replaced } = core.state.login(hello, conn, conn.remoteAddress, now, provenNodeId)
  if (core.state.size() > core.settings.maxNodes) core.state.prune(now, core.settings.forgetAfterMs, core.settings.maxNodes)
  conn.name = hello.id
  conn.grant = grant
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
    nodeId: provenNodeId ? shortNodeId(provenNodeId) : hello.nodeId ? shortNodeId(hello.nodeId) : undefined,
    nodeIdProven: provenNodeId !== null,
    replaced: replaced !== null,
  })
  core.emitUpdate(hello.id, 'login')
}

/**
 * Refuses (true) a login with a name's own secret whose hello claims a node ID other than the one bound to the name:
 * the node is misconfigured or the secret is in the wrong hands, and either way its reports must not be taken as that
 * name's. A hello that claims no node ID is fine: the bound one is the node's.
 */
function claimsAnotherNodeId(core: TrackerCore, conn: Conn, name: string, grant: LoginGrant, claimed: NodeId | null): boolean {
  if (grant.by !== 'own' || grant.nodeId === null || claimed === null || claimed === grant.nodeId) return false
  core.metrics.login(false)
  conn.log.warn('tracker login refused', {
    node: name,
    reason: 'the hello claims another node ID than the one bound to this name',
    claimedNodeId: shortNodeId(claimed),
    boundNodeId: shortNodeId(grant.nodeId),
  })
  send(core, conn, SERVER_CLOSE_FRAME)
  closeConn(core, conn, 1008, 'node ID does not match the one bound to this name', 'wrong_node_id')
  return true
}

/** The node ID a login proves: the one bound to the name, for a login with the name's own secret that claims no other. */
function provenBy(grant: LoginGrant, claimed: NodeId | null): NodeId | null {
  if (grant.by !== 'own' || grant.nodeId === null) return null
  return claimed === null || claimed === grant.nodeId ? grant.nodeId : null
}

/**
 * The secrets were reloaded: every connected node's proof is judged again against the new table. A socket keeps
 * its proof only if its name still has the same own secret it logged in with and is still bound to a node ID its
 * hello does not contradict; sockets stay connected either way (as before for revoked names), and one whose name
 * is newly bound gains the proof without logging in again. Disconnected nodes lose theirs until they log in.
 */
export function reproveAll(core: TrackerCore): void {
  const changed = core.state.reprove((name, claimed) => {
    const grant = core.connsByName.get(name)?.grant
    const own = core.checkSecret.ownOf(name)
    if (grant?.by !== 'own' || !own || !own.digest.equals(grant.digest)) return null
    return provenBy({ by: 'own', ...own }, claimed)
  })
  for (const { name, provenNodeId } of changed) {
    core.log.info('tracker node ID proof changed by the secrets reload', { node: name, nodeId: provenNodeId ? shortNodeId(provenNodeId) : undefined, nodeIdProven: provenNodeId !== null })
  }
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
 * content leaks through timing. A listed name's entry is its secret, or its
 * secret with the node ID bound to it (any form `parseNodeId` reads).
 */
export function secretChecker(opts: { secret?: string; secrets?: Record<string, SecretEntry> }): SecretCheck {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()
  const perNode = new Map<string, OwnSecret>(
    Object.entries(opts.secrets ?? {}).map(([name, s]) => {
      const { secret, nodeId = null } = typeof s === 'string' ? { secret: s } : s
      return [name, { digest: digest(secret), nodeId: nodeId === null ? null : parseNodeId(nodeId) }]
    }),
  )
  const pool = opts.secret === undefined ? undefined : digest(opts.secret)
  return {
    check(name, secret) {
      const own = perNode.get(name)
      const expected = own?.digest ?? pool
      if (expected === undefined || !timingSafeEqual(expected, digest(secret))) return undefined
      return own ? { by: 'own', ...own } : { by: 'shared' }
    },
    ownOf: (name) => perNode.get(name),
  }
}
