/**
 * Issue 21 item 3: checked answers (docs/rpcService.md#checked-answers), over
 * real sockets: a coordinator, three rpc hosts (host agents with relays in
 * front of stand-in nodes) and client shims that check their hosts' answers
 * once per report.
 *
 * (a) A host whose node lies (a forged state root in finalized block headers,
 *     or a forged account proof) is found in the minority by each shim's
 *     check, reported with vipnode_reportBadAnswer, and taken out of rotation
 *     by the second client's word: its clients are released (bad-answers) and
 *     new clients pass it over. The honest hosts stay in.
 * (b) Slander. A client not assigned to a host is not heard. One hostile
 *     client assigned to an honest host, reporting as often as it likes,
 *     cannot remove it; neither can two against two honest shims that checked
 *     it. Bound: hostile clients must be assigned to the host and outnumber
 *     the clients whose checks of it agreed (a third one does remove it: the
 *     bound is tight).
 *
 * (c) A light client's report of a failed verification to its shim
 *     (vipnode_reportBadAnswer on the local endpoint) is checked by the shim
 *     on its hosts: the minority is reported, nobody when all agree.
 *
 * Figures: time from the lie to the exclusion; accusers and vouchers.
 */
import { describe, test, expect } from 'vitest'
import { createFakeNetwork } from '../fakenode/fakeNetwork.ts'
import { testCoordinator } from '../harness/coordinator.ts'
import { waitFor } from '../harness/waitFor.ts'
import { generateNodeKey, type NodeId } from '../../protocol/index.ts'
import { silentLogger } from '../../lib/logger.ts'
import { startRpcClientShim, type RunningRpcClientShim } from '../../client-shim/rpcClientShim.ts'
import { postRpc, rpcCall } from '../harness/jsonRpcClient.ts'
import { closeAfterEach, keyFileWriter, scratchDir } from '../harness/scratch.ts'
import { startRpcHost } from '../harness/rpcHosts.ts'
import { poolAgent } from '../harness/attackers.ts'
import type { RunningCoordinator } from '../../coordinator/coordinator.ts'

const INTERVAL = 400
const dir = scratchDir('checked')
const cleanup = closeAfterEach()
const net = createFakeNetwork()
const keyFile = keyFileWriter(dir)

async function pool() {
  const c = await testCoordinator({ updateIntervalMs: INTERVAL, slowStartSlots: 0, relayTokenWindowMs: 60_000 })
  cleanup.push(() => c.close())
  const hosts = [await startRpcHost(c.url, { net, keyFile, cleanup }), await startRpcHost(c.url, { net, keyFile, cleanup }), await startRpcHost(c.url, { net, keyFile, cleanup })]
  return { c, hosts }
}

async function shim(c: RunningCoordinator, opts: { checkAnswers?: boolean } = {}): Promise<RunningRpcClientShim> {
  const s = await startRpcClientShim({ bootstrap: c.url, nodekey: keyFile(generateNodeKey()), chainId: 1337, hosts: 3, listenHost: '127.0.0.1', listenPort: 0, updateIntervalMs: 100, ...opts }, { log: silentLogger })
  cleanup.push(() => s.close())
  await waitFor(() => s.proxy.targets().length === 3, 'three rpc hosts assigned to the shim')
  return s
}

const idOf = (h: { agent: { identity: { nodeId: NodeId } } }) => h.agent.identity.nodeId
const standing = (c: RunningCoordinator, id: NodeId) => c.services.quality.standingOf(id, c.services.clock.now())
const answers = (c: RunningCoordinator, id: NodeId) => c.services.quality.report(id, c.services.clock.now())?.answers

async function skipped(c: RunningCoordinator, reason: string): Promise<number> {
  const m = await c.registry.getSingleMetric('vipnode_assignment_skipped_total')!.get()
  return m.values.find((v) => v.labels.reason === reason)?.value ?? 0
}

describe('adversary: checked answers', () => {
  test.each(['state-root', 'proof'] as const)('bound: a host lying (%s) is out of rotation within one interval; the honest hosts stay in', async (lie) => {
    const { c, hosts } = await pool()
    const [liar, ...honest] = hosts as [(typeof hosts)[0], ...typeof hosts]
    const shims = [await shim(c), await shim(c)]
    // Honest hosts are checked and agree: the shims vouch for every host.
    await waitFor(() => hosts.every((h) => answers(c, idOf(h))?.vouchers === 2), 'both shims vouch for every host')

    liar.node.setLie(lie)
    const liedAt = Date.now()
    await waitFor(() => standing(c, idOf(liar)).excluded, 'the liar out of rotation', { timeoutMs: 5_000, intervalMs: 5 })
    const excludedAfterMs = Date.now() - liedAt
    expect(excludedAfterMs, 'lie to exclusion (ms)').toBeLessThanOrEqual(INTERVAL)
    expect(answers(c, idOf(liar))).toMatchObject({ accusers: 2, exclusion: { untilMs: expect.any(Number) } })

    // Its clients are released and the shims drop it; the honest hosts are in good standing and keep their clients.
    await waitFor(() => c.services.assignments.clientsOf(idOf(liar)).length === 0, "the liar's clients released")
    for (const s of shims) await waitFor(() => !s.proxy.targets().some((t) => t.hostNodeId === idOf(liar)), 'the shim dropped the liar')
    for (const h of honest) {
      expect(standing(c, idOf(h)).excluded).toBe(false)
      expect(answers(c, idOf(h))?.accusers).toBe(0)
      for (const s of shims) expect(c.services.assignments.hostsOf(s.nodeId)).toContain(idOf(h))
    }
    // New clients pass it over (skip reason bad-answers), and a light client through a shim reads the truth.
    const before = await skipped(c, 'bad-answers')
    const newcomer = await poolAgent(c, { role: 'client', kind: 'rpc' })
    cleanup.push(async () => newcomer.close())
    const reply = await newcomer.request('vipnode_requestHosts', { count: 3, kind: 'rpc' })
    expect(reply.result.hosts.map((h: { nodeId: NodeId }) => h.nodeId).sort()).toEqual(honest.map(idOf).sort())
    expect(reply.result.message).toMatch(/bad-answers/)
    expect(await skipped(c, 'bad-answers')).toBeGreaterThan(before)
    const read = await postRpc(shims[0]!.proxy.url, rpcCall('eth_getBlockByNumber', ['finalized', false]))
    const truth = await postRpc(honest[0]!.node.url, rpcCall('eth_getBlockByNumber', ['finalized', false]))
    expect(read.json.result.stateRoot).toBe(truth.json.result.stateRoot)
    console.log(`figures: checked answers: a host lying (${lie}) was out of rotation ${excludedAfterMs} ms after the lie (pool interval ${INTERVAL} ms, shims report every 100 ms); accusers 2; honest hosts 0 accusers`)
  })

  test('behavior: a light client reports a failed verification to its shim; the shim checks the call on its hosts and reports the minority', async () => {
    const { c, hosts } = await pool()
    const [liar, ...honest] = hosts as [(typeof hosts)[0], ...typeof hosts]
    // Shims that do not check by themselves: only their light clients' reports move anything.
    const shims = [await shim(c, { checkAnswers: false }), await shim(c, { checkAnswers: false })]
    liar.node.setLie('proof')
    const call = { method: 'eth_getProof', params: ['0x0000000000000000000000000000000000000000', [], '0x20'] }
    // A report about a call at a tag cannot be checked (honest hosts may differ) and is refused precisely.
    const tagged = await postRpc(shims[0]!.proxy.url, rpcCall('vipnode_reportBadAnswer', [{ ...call, params: ['0x0000000000000000000000000000000000000000', [], 'latest'] }]))
    expect(tagged.json.error).toMatchObject({ code: -32602, message: expect.stringMatching(/by number/) })
    // The shim asks its three hosts the call: the liar is in the minority and reported, one word: not out yet.
    const first = await postRpc(shims[0]!.proxy.url, rpcCall('vipnode_reportBadAnswer', [call, { accountProof: [] }]))
    expect(first.json.result).toEqual({ asked: 3, answered: 3, minority: idOf(liar) })
    expect(standing(c, idOf(liar)).excluded).toBe(false)
    const second = await postRpc(shims[1]!.proxy.url, rpcCall('vipnode_reportBadAnswer', [call]))
    expect(second.json.result.minority).toBe(idOf(liar))
    await waitFor(() => standing(c, idOf(liar)).excluded, 'the liar out of rotation')
    for (const h of honest) expect(answers(c, idOf(h))?.accusers).toBe(0)
    // Nothing lies now: a light client's report finds every host agreeing and blames nobody.
    liar.node.setLie(undefined)
    const clean = await postRpc(shims[0]!.proxy.url, rpcCall('vipnode_reportBadAnswer', [call]))
    expect(clean.json.result.minority).toBeNull()
  })

  test('bound: one hostile client cannot remove an honest host, nor two against two honest checkers; a client not assigned is not heard', async () => {
    const { c, hosts } = await pool()
    const [victim, w1, w2] = hosts.map(idOf) as [NodeId, NodeId, NodeId]
    // The outsider holds no host: its word about the victim is refused.
    const outsider = await poolAgent(c, { role: 'client', kind: 'rpc' })
    cleanup.push(async () => outsider.close())
    const slander = { host: victim, call: { method: 'eth_getBlockByNumber', params: ['0x20', false] }, answerDigest: `0x${'11'.repeat(32)}`, majorityDigest: `0x${'22'.repeat(32)}`, witnesses: [w1, w2] }
    expect((await outsider.request('vipnode_reportBadAnswer', slander)).result).toMatchObject({ accepted: false, excluded: false, reason: expect.stringMatching(/not assigned/) })
    // Malformed reports are refused precisely.
    const self = await outsider.request('vipnode_reportBadAnswer', { ...slander, witnesses: [victim, w1] })
    expect(self.error).toMatchObject({ code: -32602, message: expect.stringMatching(/witnesses.*reported host itself/) })
    const other = await outsider.request('vipnode_reportBadAnswer', { ...slander, call: { method: 'eth_call', params: [] } })
    expect(other.error?.code).toBe(-32602)

    const shims = [await shim(c), await shim(c)]
    await waitFor(() => answers(c, victim)?.vouchers === 2, 'both honest shims vouch for the victim')
    const hostile = async () => {
      const a = await poolAgent(c, { role: 'client', kind: 'rpc' })
      cleanup.push(async () => a.close())
      const r = await a.request('vipnode_requestHosts', { count: 3, kind: 'rpc' })
      expect(r.result.hosts.map((h: { nodeId: NodeId }) => h.nodeId)).toContain(victim)
      return a
    }
    // One hostile client, reporting 50 times: one word.
    const h1 = await hostile()
    for (let i = 0; i < 50; i++) expect((await h1.request('vipnode_reportBadAnswer', slander)).result).toMatchObject({ accepted: true, excluded: false })
    expect(answers(c, victim)).toMatchObject({ accusers: 1, vouchers: 2, exclusion: null })
    // Two hostile clients against two honest checkers: still in.
    const h2 = await hostile()
    expect((await h2.request('vipnode_reportBadAnswer', slander)).result).toMatchObject({ accepted: true, excluded: false })
    expect(standing(c, victim).excluded).toBe(false)
    for (const s of shims) expect(c.services.assignments.hostsOf(s.nodeId)).toContain(victim)
    const words = answers(c, victim)!
    // The bound is tight: a third hostile client outnumbers the honest checkers.
    const h3 = await hostile()
    expect((await h3.request('vipnode_reportBadAnswer', slander)).result).toMatchObject({ accepted: true, excluded: true })
    console.log(
      `figures: checked-answer slander: an unassigned client refused; 1 hostile client x 50 reports: 1 accuser, not excluded; 2 hostile vs ${words.vouchers} honest checkers: not excluded; 3 hostile vs 2: excluded (the bound is tight)`,
    )
  })
})
