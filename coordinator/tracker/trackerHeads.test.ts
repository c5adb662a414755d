import { test, expect } from 'vitest'
import { trackerHeads } from './trackerHeads.ts'

const node = (net: string, number: number, connected = true) => ({ connected, info: { net }, block: { number } }) as never

test('default: the best connected head on the chain, guarded by the agents', () => {
  const view = trackerHeads({ nodes: () => [node('1', 1_005), node('1', 1_003), node('5', 9_000)] }, (c) => (c === 1 ? 1_000 : undefined), 64)
  expect(view.bestHead(1)).toBe(1_005)
  expect(view.bestHead(5)).toBe(9_000) // no agents on chain 5 to compare with
})

test('error: far-future heads and disconnected reporters do not count', () => {
  const view = trackerHeads({ nodes: () => [node('1', 9_999_999), node('1', 1_200, false), node('1', 1_010)] }, () => 1_000, 64)
  expect(view.bestHead(1)).toBe(1_010)
})
