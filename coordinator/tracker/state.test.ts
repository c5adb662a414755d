/** TrackerState without sockets: ownership, the cached best head against a brute-force oracle, pruning. */
import { describe, test, expect } from 'vitest'
import fc from 'fast-check'
import { TrackerState } from './state.ts'
import type { BlockReport, Hello } from './frames.ts'
import type { NodeId } from '../../protocol/enode.ts'

const hello = (id: string, nodeId: string | null = null): Hello => ({
  id,
  secret: '',
  nodeId: nodeId as Hello['nodeId'],
  enode: null,
  info: { name: id, node: '', client: '', os: '', osVersion: '', protocol: '', port: null, api: '', net: '', contact: '', canUpdateHistory: false },
})
const block = (number: number): BlockReport => ({
  number,
  hash: `0x${number}`,
  parentHash: '',
  timestamp: null,
  miner: '',
  gasUsed: null,
  gasLimit: null,
  difficulty: null,
  totalDifficulty: null,
  transactionCount: 0,
  uncleCount: 0,
})

describe('TrackerState', () => {
  test('a name belongs to its latest login; an old owner can no longer disconnect it', () => {
    const s = new TrackerState()
    const a = {}
    const b = {}
    expect(s.login(hello('n'), a, '1.1.1.1', 1).replaced).toBeNull()
    expect(s.login(hello('n'), b, '2.2.2.2', 2).replaced).toBe(a)
    expect(s.isOwner('n', a)).toBe(false)
    expect(s.disconnect('n', a, 3)).toBe(false)
    expect(s.node('n')).toMatchObject({ connected: true, remoteAddress: '2.2.2.2', connectedAtMs: 2 })
    expect(s.disconnect('n', b, 4)).toBe(true)
    expect(s.node('n')).toMatchObject({ connected: false, disconnectedAtMs: 4 })
  })

  test('only proven node IDs are indexed; a claimed one is shown as claimed and found by nobody', () => {
    const s = new TrackerState()
    const k1 = '1'.repeat(128) as NodeId
    const k2 = '2'.repeat(128) as NodeId
    s.login(hello('claimer', k1), {}, '', 1)
    expect(s.node('claimer')).toMatchObject({ nodeId: k1, nodeIdProven: false })
    expect(s.nodeByNodeId(k1)).toBeUndefined()
    s.login(hello('n', null), {}, '', 2, k1) // a bound name whose hello names no key: the bound one is its
    expect(s.node('n')).toMatchObject({ nodeId: k1, nodeIdProven: true })
    expect(s.nodeByNodeId(k1)?.name).toBe('n')
    s.login(hello('claimer2', k1), {}, '', 3)
    expect(s.nodeByNodeId(k1)?.name).toBe('n')
    s.login(hello('n', k2), {}, '', 4, k2) // bound to another key now: the index follows
    expect(s.nodeByNodeId(k1)).toBeUndefined()
    expect(s.nodeByNodeId(k2)?.name).toBe('n')
    s.login(hello('n', k2), {}, '', 5) // logged in again without proof (say, unbound): no longer found
    expect(s.nodeByNodeId(k2)).toBeUndefined()
    expect(s.node('n')).toMatchObject({ nodeId: k2, nodeIdProven: false })
  })

  test('reprove: connected nodes judged again by the caller, disconnected ones lose their proof', () => {
    const s = new TrackerState()
    const [k1, k2, k3, k4] = ['1', '2', '3', '4'].map((c) => c.repeat(128) as NodeId) as [NodeId, NodeId, NodeId, NodeId]
    const gone = {}
    s.login(hello('kept', null), {}, '', 1, k1)
    s.login(hello('revoked', k2), {}, '', 1, k2)
    s.login(hello('newly-bound', null), {}, '', 1)
    s.login(hello('gone', null), gone, '', 1, k3)
    s.disconnect('gone', gone, 2)
    const decided: [string, string | null][] = []
    const changed = s.reprove((name, claimed) => {
      decided.push([name, claimed])
      return name === 'kept' ? k1 : name === 'newly-bound' ? k4 : null
    })
    expect(decided.map(([n]) => n).sort()).toEqual(['kept', 'newly-bound', 'revoked'])
    expect(decided.find(([n]) => n === 'revoked')?.[1]).toBe(k2)
    expect(changed).toEqual(expect.arrayContaining([{ name: 'revoked', provenNodeId: null }, { name: 'newly-bound', provenNodeId: k4 }, { name: 'gone', provenNodeId: null }]))
    expect(changed).toHaveLength(3)
    expect(s.nodeByNodeId(k1)?.name).toBe('kept')
    expect(s.nodeByNodeId(k2)).toBeUndefined()
    expect(s.node('revoked')).toMatchObject({ nodeId: k2, nodeIdProven: false })
    expect(s.nodeByNodeId(k4)?.name).toBe('newly-bound')
    expect(s.nodeByNodeId(k3)).toBeUndefined()
    expect(s.node('gone')).toMatchObject({ nodeId: null, nodeIdProven: false })
  })

  test('reprove: a node ID the reload moved from one name to another ends with the new one, whatever the order', () => {
    const k = '5'.repeat(128) as NodeId
    for (const names of [['a', 'b'], ['b', 'a']]) {
      const s = new TrackerState()
      for (const n of names) s.login(hello(n, null), {}, '', 1, n === names[0] ? k : null)
      const to = names[1]!
      s.reprove((name) => (name === to ? k : null))
      expect(s.nodeByNodeId(k)?.name).toBe(to)
      expect(s.node(names[0]!)?.nodeIdProven).toBe(false)
    }
  })

  test('property: bestHead always equals the highest block among connected nodes', () => {
    type Op = { kind: 'login' | 'block' | 'disconnect'; node: number; number: number }
    const op = fc.record({ kind: fc.constantFrom('login' as const, 'block' as const, 'disconnect' as const), node: fc.integer({ min: 0, max: 4 }), number: fc.integer({ min: 0, max: 50 }) })
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops: Op[]) => {
        const s = new TrackerState()
        const owners = new Map<number, object>()
        const heads = new Map<number, number>()
        ops.forEach((o, t) => {
          const name = `n${o.node}`
          if (o.kind === 'login') {
            const owner = {}
            owners.set(o.node, owner)
            s.login(hello(name), owner, '', t)
          } else if (o.kind === 'block' && owners.has(o.node)) {
            s.applyBlock(name, block(o.number), t)
            heads.set(o.node, o.number)
          } else if (o.kind === 'disconnect' && owners.has(o.node)) {
            s.disconnect(name, owners.get(o.node)!, t)
            owners.delete(o.node)
          }
          const expected = Math.max(-1, ...[...owners.keys()].filter((n) => heads.has(n)).map((n) => heads.get(n)!))
          expect(s.bestHead()?.number ?? -1).toBe(expected)
        })
      }),
      { numRuns: 300 },
    )
  })

  test('stats carrying pending and a block (old reporters) update both', () => {
    const s = new TrackerState()
    s.login(hello('old'), {}, '', 1)
    s.applyStats('old', { active: true, syncing: false, syncProgress: null, mining: false, hashrate: 0, peers: 3, gasPrice: null, uptime: null, pending: 7, block: block(9) }, 2)
    expect(s.node('old')).toMatchObject({ pending: 7, block: { number: 9, receivedAtMs: 2 }, stats: { peers: 3, receivedAtMs: 2 } })
    expect(s.node('old')?.stats).not.toHaveProperty('block')
    expect(s.bestHead()?.number).toBe(9)
  })

  test('prune forgets long-disconnected nodes, and the oldest-disconnected beyond the cap; never connected ones', () => {
    const s = new TrackerState()
    const owners = ['a', 'b', 'c', 'd'].map((name, i) => {
      const owner = {}
      s.login(hello(name, null), owner, '', 0, String(i).repeat(128) as NodeId)
      return owner
    })
    s.disconnect('a', owners[0]!, 10)
    s.disconnect('b', owners[1]!, 20)
    s.disconnect('c', owners[2]!, 30)
    expect(s.nodeByNodeId('0'.repeat(128))?.name).toBe('a')
    expect(s.prune(1_000, 985)).toBe(1)
    expect(s.node('a')).toBeUndefined()
    expect(s.nodeByNodeId('0'.repeat(128))).toBeUndefined()
    expect(s.prune(1_000, 10_000, 2)).toBe(1)
    expect(s.nodes().map((n) => n.name)).toEqual(['c', 'd'])
    expect(s.prune(1_000, 10_000, 0)).toBe(1)
    expect(s.nodes().map((n) => n.name)).toEqual(['d'])
  })
})
