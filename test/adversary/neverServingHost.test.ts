/**
 * Attack 1, the client shim's half (issue 16): a host that admits a client
 * but never serves it kept that client forever, because the shim re-dialled
 * it every report and nothing released the pair. Now a vouched host that
 * never appears among the client node's peers within the grace is handed
 * back with `replace` in the next vipnode_requestHosts; the pool releases the
 * pair as client-replaced, does not offer it to this client again, and gives
 * another host.
 *
 * Real parts: an in-process coordinator on loopback, the real peer client
 * shim beside a stand-in node, an honest host agent beside another stand-in
 * node (the two peer over the fakes' simulated devp2p). The attacker is a host
 * on a real pool socket whose enode points at a port nobody listens on, and
 * whose reports claim the client as a peer, as a greedy host would.
 *
 * The coordinator's own dispute grace is set long here, so what releases the
 * pair is the shim's `replace` (the coordinator's dispute rule is tested on
 * its own).
 *
 * Bound: the attacker is handed back after the grace (and within ten report
 * intervals of it), is credited 0 ms with the client, is admitted for it once and
 * never again, and the client ends up peered with the honest host, which is
 * kept (a serving host is not handed back).
 */
import { describe, test, expect } from 'vitest'
import { createServer } from 'node:net'
import { startFakeNode } from '../fakenode/fakeNode.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { recordingLogger, testAgent } from '../harness/agents.ts'
import { waitFor } from '../harness/waitFor.ts'
import { identity } from '../harness/rawAgent.ts'
import { silentLogger } from '../../lib/logger.ts'
import { startHostAgent } from '../../host-agent/hostAgent.ts'
import { startClientShim } from '../../client-shim/clientShim.ts'
import type { NodeId } from '../../protocol/index.ts'
import { closeAfterEach, keyFileWriter, scratchDir } from '../harness/scratch.ts'

const INTERVAL_MS = 300
const SHIM_INTERVAL_MS = 100
const GRACE_MS = 1_000
const HEAD = 50
const dir = scratchDir('adv1')
const cleanup = closeAfterEach()

const keyFile = keyFileWriter(dir)

/** A loopback port with nothing listening on it: dials to it are refused. */
async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((r) => server.close(r))
  return port
}

describe('adversary: a host that never serves its client (attack 1, shim side)', () => {
  test('bound: the shim hands back a host never seen among its peers (client-replaced, 0 ms credited, never reassigned) and ends up with a host that serves', async () => {
    const log = recordingLogger()
    const c = await testCoordinator({ updateIntervalMs: INTERVAL_MS, connectGraceMs: 60_000 }, { logger: log })
    cleanup.push(() => c.close())

    // The attacker: admits (the harness answers vipnode_admit), claims the client in every report, never peers.
    const attacker = await testAgent(c.url, { role: 'host', capacity: 5 }, {}, identity(await deadPort()))
    cleanup.push(() => attacker.close())
    let clientId: NodeId | undefined
    const claiming = setInterval(() => {
      attacker.conn.call('vipnode_update', { peerIds: clientId ? [clientId] : [], block: { number: HEAD, hash: `0x${'ab'.repeat(32)}` } }).catch(() => undefined)
    }, INTERVAL_MS / 2)
    cleanup.push(async () => clearInterval(claiming))

    const clientNode = await startFakeNode({ kind: 'geth', chainId: 1337 })
    clientNode.setHead(HEAD)
    cleanup.push(() => clientNode.close())
    const shim = await startClientShim(
      { bootstrap: c.url, nodeRpc: clientNode.url, nodekey: keyFile(clientNode.nodeKey), hosts: 1, updateIntervalMs: SHIM_INTERVAL_MS, unservedGraceMs: GRACE_MS },
      { log: silentLogger },
    )
    cleanup.push(() => shim.close())
    clientId = shim.identity.nodeId
    await waitFor(() => shim.hosts.has(attacker.id.nodeId), 'the attacker assigned to the client')
    const assignedAt = Date.now()

    // The honest host comes online while the client is stuck with the attacker.
    const hostNode = await startFakeNode({ kind: 'geth', chainId: 1337 })
    hostNode.setHead(HEAD)
    cleanup.push(() => hostNode.close())
    const honest = await startHostAgent({ coordinator: c.url, nodeRpc: hostNode.url, nodekey: keyFile(hostNode.nodeKey), capacity: 3, updateIntervalMs: SHIM_INTERVAL_MS }, { log: silentLogger })
    cleanup.push(() => honest.close())
    await honest.pool.ready()

    const released = await waitFor(
      () => log.lines.find((l) => l.message === 'assignment released' && l.context?.host === attacker.id.nodeId),
      'the attacker handed back',
      { timeoutMs: GRACE_MS + 10 * INTERVAL_MS },
    )
    const handedBackMs = Date.now() - assignedAt
    expect(released!.context).toMatchObject({ client: shim.identity.nodeId, reason: 'client-replaced' })
    expect(handedBackMs).toBeGreaterThanOrEqual(GRACE_MS)

    // The client is peered with the honest host instead.
    await waitFor(() => clientNode.peers().includes(honest.identity.nodeId), 'the client node peered with the honest host', { timeoutMs: 10_000 })
    await waitFor(() => shim.hosts.size === 1 && shim.hosts.has(honest.identity.nodeId), 'the shim to hold the honest host only')

    // Past the grace again: the serving host is kept, the attacker is not offered again.
    await new Promise((r) => setTimeout(r, GRACE_MS + 2 * INTERVAL_MS))
    expect([...shim.hosts.keys()]).toEqual([honest.identity.nodeId])
    expect(c.services.assignments.hostsOf(shim.identity.nodeId)).toEqual([honest.identity.nodeId])
    expect(attacker.calls.filter((x) => x.method === 'vipnode_admit')).toHaveLength(1)
    expect(log.lines.filter((l) => l.message === 'assignment released' && l.context?.host === honest.identity.nodeId)).toEqual([])

    // The attacker's claims never corroborated.
    const credited = (await c.services.store.usage()).find((u) => u.hostId === attacker.id.nodeId && u.clientId === shim.identity.nodeId)?.serviceMs ?? 0
    expect(credited).toBe(0)
    console.log(`[attack 1, shim] never-serving host handed back ${handedBackMs} ms after assignment (grace ${GRACE_MS} ms, shim reports every ${SHIM_INTERVAL_MS} ms); credited ${credited} ms; admitted for this client once`)
  })
})
