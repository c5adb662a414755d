import { test, expect } from 'vitest'
import { medianHead, plausibleHead } from './plausibleHead.ts'

test('default: heads near the others are accepted', () => {
  expect(plausibleHead(1_000, medianHead([998, 1_000, 1_001]), 64)).toBe(true)
  expect(plausibleHead(5, medianHead([]), 64)).toBe(true) // the first reporter has nobody to compare with
  expect(medianHead([0, 0])).toBeUndefined() // heads not reported yet do not count
})

test('error: a head far ahead of the network is ignored, even if one accomplice agrees', () => {
  expect(plausibleHead(1_000_000, medianHead([1_000, 1_001, 1_000_000]), 64)).toBe(false)
  expect(plausibleHead(1_065, medianHead([1_000]), 64)).toBe(false)
})
