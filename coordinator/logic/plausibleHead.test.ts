import { test, expect } from 'vitest'
import { plausibleHead } from './plausibleHead.ts'

test('default: heads near the others are accepted', () => {
  expect(plausibleHead(1_000, [998, 1_000, 1_001], 64)).toBe(true)
  expect(plausibleHead(5, [], 64)).toBe(true) // the first reporter has nobody to compare with
})

test('error: a head far ahead of the network is ignored, even if one accomplice agrees', () => {
  expect(plausibleHead(1_000_000, [1_000, 1_001, 1_000_000], 64)).toBe(false)
  expect(plausibleHead(1_065, [1_000], 64)).toBe(false)
})
