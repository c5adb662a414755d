import { describe, expect, it } from 'vitest'
import type { NodeId } from '../../protocol/enode.ts'
import { RelayTargets, relayWsUrl, type RpcTarget } from './targets.ts'

const t = (c: string): RpcTarget => ({ hostNodeId: c.repeat(128) as NodeId, relayUrl: `http://${c}.example/`, token: c.repeat(64) })
const ids = (list: RpcTarget[]) => list.map((x) => x.hostNodeId[0])

describe('RelayTargets', () => {
  it('default: the pool order, sticky to the last host that answered', () => {
    const ts = new RelayTargets(1000)
    ts.set([t('a'), t('b'), t('c')])
    expect(ids(ts.order(0))).toEqual(['a', 'b', 'c'])
    ts.succeeded(t('b').hostNodeId)
    expect(ids(ts.order(0))).toEqual(['b', 'a', 'c'])
  })

  it('behavior: a failed host goes last until its cool-down ends, the oldest failure first', () => {
    const ts = new RelayTargets(1000)
    ts.set([t('a'), t('b'), t('c')])
    ts.succeeded(t('a').hostNodeId)
    ts.failed(t('a').hostNodeId, 0)
    ts.failed(t('b').hostNodeId, 10)
    expect(ids(ts.order(500))).toEqual(['c', 'a', 'b'])
    expect(ids(ts.order(1005))).toEqual(['a', 'c', 'b']) // a cooled down; it lost stickiness
  })

  it('behavior: set() drops hosts at once, keeps the latest token, reports what was removed', () => {
    const ts = new RelayTargets(1000)
    ts.set([t('a'), t('b')])
    ts.succeeded(t('a').hostNodeId)
    expect(ts.set([{ ...t('b'), token: 'f'.repeat(64) }])).toEqual([t('a').hostNodeId])
    expect(ts.current(t('a').hostNodeId)).toBeUndefined()
    expect(ts.current(t('b').hostNodeId)?.token).toBe('f'.repeat(64))
    expect(ids(ts.order(0))).toEqual(['b'])
    ts.succeeded(t('a').hostNodeId) // a late answer from a dropped host changes nothing
    expect(ids(ts.order(0))).toEqual(['b'])
  })

  it('relayWsUrl', () => {
    expect(relayWsUrl('https://h.example:8443/relay')).toBe('wss://h.example:8443/relay')
    expect(relayWsUrl('http://127.0.0.1:1/')).toBe('ws://127.0.0.1:1/')
  })
})
