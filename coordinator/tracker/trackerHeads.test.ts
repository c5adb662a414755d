import { test, expect } from 'vitest'
import { trackerHeadOf } from './trackerHeads.ts'

const HOST = 'ab'.repeat(64)
const node = (net: string, number: number, connected = true, nodeIdProven = true) => ({ connected, nodeIdProven, info: { net }, block: { number } }) as never

test('default: the head of the tracker node with the host\'s proven node ID, on the host\'s chain', () => {
  const headOf = trackerHeadOf({ nodeByNodeId: (id) => (id === HOST ? node('1', 1_005) : undefined) })
  expect(headOf(HOST, 1)).toBe(1_005)
  expect(headOf('cd'.repeat(64), 1)).toBeUndefined() // a reporter that is no host confirms nothing
})

test('error: another chain, a disconnected reporter or no block yet confirm nothing', () => {
  expect(trackerHeadOf({ nodeByNodeId: () => node('5', 1_005) })(HOST, 1)).toBeUndefined()
  expect(trackerHeadOf({ nodeByNodeId: () => node('1', 1_005, false) })(HOST, 1)).toBeUndefined()
  expect(trackerHeadOf({ nodeByNodeId: () => ({ connected: true, nodeIdProven: true, info: { net: '1' }, block: null }) as never })(HOST, 1)).toBeUndefined()
})

test('error: a node whose node ID is only claimed confirms nothing, even if a lookup hands it over', () => {
  expect(trackerHeadOf({ nodeByNodeId: () => node('1', 1_005, true, false) })(HOST, 1)).toBeUndefined()
})
