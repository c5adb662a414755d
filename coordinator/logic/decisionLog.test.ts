import { describe, test, expect } from 'vitest'
import type { NodeId } from '../../protocol/index.ts'
import { DecisionLog, type Decision } from './decisionLog.ts'

const id = (n: number) => n.toString(16).padStart(128, '0') as NodeId

function decision(atMs: number, o: Partial<Decision> = {}): Decision {
  return { atMs, source: 'rpc', clientId: id(1), chainId: 1, kind: 'peer', requested: 1, kept: [], added: [], failed: [], skipped: [], rounds: 1, ...o }
}

describe('decision log', () => {
  test('default: keeps the last N decisions, newest first', () => {
    const log = new DecisionLog(3)
    for (let t = 1; t <= 5; t++) log.record(decision(t))
    expect(log.recent().map((d) => d.atMs)).toEqual([5, 4, 3])
    expect(log.recent(2).map((d) => d.atMs)).toEqual([5, 4])
  })
  test('behavior: each host keeps its last skip reason until it is chosen; a failed admission is admit-failed', () => {
    const log = new DecisionLog(10)
    log.record(decision(1, { skipped: [{ nodeId: id(100), reason: 'full' }, { nodeId: id(101), reason: 'lagging' }] }))
    expect(log.skipOf(id(100))).toEqual({ reason: 'full', atMs: 1, clientId: id(1) })
    log.record(decision(2, { clientId: null, source: 'http', skipped: [{ nodeId: id(100), reason: 'cooling-down' }], added: [id(101)] }))
    expect(log.skipOf(id(100))).toEqual({ reason: 'cooling-down', atMs: 2, clientId: null })
    expect(log.skipOf(id(101))).toBeUndefined()
    log.record(decision(3, { failed: [id(101)] }))
    expect(log.skipOf(id(101))).toMatchObject({ reason: 'admit-failed', atMs: 3 })
  })
  test('behavior: prune forgets per-host reasons older than the cut-off', () => {
    const log = new DecisionLog(10)
    log.record(decision(1, { skipped: [{ nodeId: id(100), reason: 'full' }] }))
    log.record(decision(5, { skipped: [{ nodeId: id(101), reason: 'full' }] }))
    log.prune(3)
    expect(log.skipOf(id(100))).toBeUndefined()
    expect(log.skipOf(id(101))).toBeDefined()
  })
})
