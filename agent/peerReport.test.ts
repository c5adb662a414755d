import { describe, expect, test } from 'vitest'
import { MAX_SAME_PEERS, type NodeId } from '../protocol/index.ts'
import { PeerReportMemo } from './peerReport.ts'

const id = (n: number) => n.toString(16).padStart(128, '0') as NodeId

describe('PeerReportMemo', () => {
  test('behavior: the same peers (in any order) in the same session are sent as samePeers once a report with them was accepted', () => {
    const memo = new PeerReportMemo()
    expect(memo.params('s1', [id(1), id(2)])).toEqual({ peerIds: [id(1), id(2)] })
    // Not accepted yet: the IDs again.
    expect(memo.params('s1', [id(1), id(2)])).toEqual({ peerIds: [id(1), id(2)] })
    memo.sent()
    expect(memo.params('s1', [id(2), id(1)])).toEqual({ samePeers: true })
    memo.sent()
    expect(memo.params('s1', [id(2)])).toEqual({ peerIds: [id(2)] })
    memo.sent()
    // A new session (reconnect): the IDs, even unchanged.
    expect(memo.params('s2', [id(2)])).toEqual({ peerIds: [id(2)] })
  })

  test('behavior: a failed report is forgotten, so the next one names the peers', () => {
    const memo = new PeerReportMemo()
    memo.params('s', [id(1)])
    memo.sent()
    expect(memo.params('s', [id(1)])).toEqual({ samePeers: true })
    memo.forget()
    expect(memo.params('s', [id(1)])).toEqual({ peerIds: [id(1)] })
  })

  test('boundary: more peers than a coordinator keeps are always sent, and without a session nothing is remembered', () => {
    const memo = new PeerReportMemo()
    const many = Array.from({ length: MAX_SAME_PEERS + 1 }, (_, i) => id(i))
    memo.params('s', many)
    memo.sent()
    expect(memo.params('s', many)).toHaveProperty('peerIds')
    memo.params(undefined, [id(1)])
    memo.sent()
    expect(memo.params(undefined, [id(1)])).toHaveProperty('peerIds')
  })
})
