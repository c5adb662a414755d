import { describe, expect, test } from 'vitest'
import { computeUnitCosts, DEFAULT_COST_TABLE, PRICE_EXAMPLE_METHODS } from './costTable.ts'

describe('compute unit costs shown with a price', () => {
  test('default: the examples are read from the default table', () => {
    const costs = computeUnitCosts()
    expect(Object.keys(costs.methods)).toEqual([...PRICE_EXAMPLE_METHODS])
    for (const m of PRICE_EXAMPLE_METHODS) expect(costs.methods[m], m).toBe(DEFAULT_COST_TABLE.methods[m])
    expect(costs).toMatchObject({ getLogsPerBlock: DEFAULT_COST_TABLE.getLogsPerBlock, notification: DEFAULT_COST_TABLE.notification })
  })

  test('behavior: an example the table does not list costs the table’s default', () => {
    const costs = computeUnitCosts({ methods: { eth_call: 7 }, defaultCost: 3, getLogsPerBlock: 0, notification: 1 })
    expect(costs.methods.eth_call).toBe(7)
    expect(costs.methods.eth_blockNumber).toBe(3)
    expect(costs).toMatchObject({ getLogsPerBlock: 0, notification: 1 })
  })
})
