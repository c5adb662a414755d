import { describe, expect, it } from 'vitest'
import { callCost, logsBlockSpan, parseCostTable } from './computeUnits.ts'
import { DEFAULT_COST_TABLE } from '../../protocol/costTable.ts'
import { ALLOWED_OTHER_METHODS, WS_ONLY_METHODS } from '../../host-agent/relay/relayPolicy.ts'
import { RPC_REQUIRED_METHODS } from '../../protocol/methods.ts'

const ctx = { head: 1_000, maxRangeBlocks: 10_000 }
const noHead = { maxRangeBlocks: 10_000 }

describe('default cost table', () => {
  it('prices the methods named in issue 21', () => {
    const m = DEFAULT_COST_TABLE.methods
    expect([m.eth_blockNumber, m.eth_getBalance, m.eth_getProof, m.eth_call, m.eth_getLogs, m.eth_estimateGas]).toEqual([10, 20, 20, 20, 80, 100])
  })

  it('has a cost for every method the policy names and a default for any other eth_ method', () => {
    for (const method of [...ALLOWED_OTHER_METHODS, ...WS_ONLY_METHODS, ...RPC_REQUIRED_METHODS]) expect(DEFAULT_COST_TABLE.methods[method], method).toBeGreaterThan(0)
    expect(callCost(DEFAULT_COST_TABLE, 'eth_somethingNew', [], ctx)).toBe(DEFAULT_COST_TABLE.defaultCost)
    // Not an own property of the table: Object.prototype names are not methods.
    expect(callCost(DEFAULT_COST_TABLE, 'toString', [], ctx)).toBe(DEFAULT_COST_TABLE.defaultCost)
  })
})

describe('eth_getLogs range', () => {
  const span = (filter: unknown, c = ctx) => logsBlockSpan([filter], c)

  it('counts numeric ranges inclusively; a reversed range spans nothing', () => {
    expect(span({ fromBlock: '0x1', toBlock: '0xa' })).toEqual({ ok: true, blocks: 10 })
    expect(span({ fromBlock: '0xa', toBlock: '0xa' })).toEqual({ ok: true, blocks: 1 })
    expect(span({ fromBlock: '0xb', toBlock: '0xa' })).toEqual({ ok: true, blocks: 0 })
  })

  it('resolves tags against the known head; defaults are latest', () => {
    expect(span({ fromBlock: '0x0', toBlock: 'latest' })).toEqual({ ok: true, blocks: 1001 })
    expect(span({ fromBlock: 'earliest' })).toEqual({ ok: true, blocks: 1001 })
    expect(span({})).toEqual({ ok: true, blocks: 1 })
    expect(span({ fromBlock: 'finalized', toBlock: 'latest' })).toEqual({ ok: true, blocks: 65 })
    expect(span({ fromBlock: 'safe', toBlock: 'pending' })).toEqual({ ok: true, blocks: 33 })
    expect(logsBlockSpan([], ctx)).toEqual({ ok: true, blocks: 1 })
  })

  it('without a head, tag-to-tag distances are still known and a tag against a number counts as the cap', () => {
    expect(span({ fromBlock: 'finalized', toBlock: 'latest' }, noHead)).toEqual({ ok: true, blocks: 65 })
    expect(span({ fromBlock: '0x10', toBlock: 'latest' }, noHead)).toEqual({ ok: true, blocks: 10_000 })
    expect(span({ fromBlock: 'earliest', toBlock: 'latest' }, noHead)).toEqual({ ok: true, blocks: 10_000 })
  })

  it('counts a blockHash filter as one block', () => {
    expect(span({ blockHash: '0x' + 'ab'.repeat(32) })).toEqual({ ok: true, blocks: 1 })
  })

  it('names what is wrong with a malformed filter', () => {
    expect(span({ fromBlock: 'yesterday' })).toEqual({ ok: false, message: 'fromBlock must be a block tag or a hex quantity, got "yesterday"' })
    expect(span({ toBlock: 12 })).toEqual({ ok: false, message: 'toBlock must be a block tag or a hex quantity' })
    expect(span({ blockHash: '0x01', fromBlock: '0x1' })).toEqual({ ok: false, message: 'a filter with blockHash cannot have fromBlock or toBlock' })
    expect(span('nope')).toEqual({ ok: false, message: 'the filter must be an object' })
  })

  it('costs base plus per block, never more than the widest range relayed (a host lying about its head cannot inflate it further)', () => {
    expect(callCost(DEFAULT_COST_TABLE, 'eth_getLogs', [{ fromBlock: '0x1', toBlock: '0x64' }], ctx)).toBe(80 + 100)
    expect(callCost(DEFAULT_COST_TABLE, 'eth_getLogs', [{ fromBlock: '0x1', toBlock: 'latest' }], { head: 2 ** 40, maxRangeBlocks: 10_000 })).toBe(80 + 10_000)
    expect(callCost(DEFAULT_COST_TABLE, 'eth_getLogs', [{ fromBlock: 'nope' }], ctx)).toBe(80)
  })
})

describe('override file', () => {
  it('replaces listed entries and keeps the rest', () => {
    const t = parseCostTable('{"eth_call": 50, "getLogsPerBlock": 2, "notification": 1, "default": 7, "eth_newThing": 3}', 'costs.json')
    expect(t.methods.eth_call).toBe(50)
    expect(t.methods.eth_getBalance).toBe(20)
    expect(t.methods.eth_newThing).toBe(3)
    expect([t.getLogsPerBlock, t.notification, t.defaultCost]).toEqual([2, 1, 7])
    expect(DEFAULT_COST_TABLE.methods.eth_call).toBe(20) // the default is not changed
  })

  it('refuses bad files with the file and entry named', () => {
    expect(() => parseCostTable('{"eth_call": ', 'costs.json')).toThrow(/^costs\.json: not valid JSON/)
    expect(() => parseCostTable('[1,2]', 'costs.json')).toThrow('costs.json: expected a JSON object of method names to costs, e.g. {"eth_call": 20}')
    expect(() => parseCostTable('{"eth_call": -1}', 'costs.json')).toThrow('costs.json: "eth_call" must be a whole number of compute units from 0 to 1000000, got -1')
    expect(() => parseCostTable('{"eth_call": 1.5}', 'costs.json')).toThrow('"eth_call" must be a whole number')
    expect(() => parseCostTable('{"eth_call": "20"}', 'costs.json')).toThrow('got "20"')
    expect(() => parseCostTable('{"eth_call": 1e9}', 'costs.json')).toThrow('got 1000000000')
    expect(() => parseCostTable('{"getLogs": 5}', 'costs.json')).toThrow('costs.json: "getLogs" is not a JSON-RPC method name (nor getLogsPerBlock, notification or default)')
  })
})
