import { test, expect } from 'vitest'
import { parseDuration, formatDuration } from './duration.ts'

test.each([
  ['500ms', 500],
  ['5s', 5_000],
  ['2m', 120_000],
  ['24h', 86_400_000],
  ['1d', 86_400_000],
  ['1h30m', 5_400_000],
])('default: %s', (text, ms) => {
  expect(parseDuration(text)).toBe(ms)
  expect(parseDuration(formatDuration(ms))).toBe(ms)
})

test.each(['', '5', 's', '-5s', '1.5s', '5 sec', '5x'])('error: "%s"', (text) => {
  expect(() => parseDuration(text)).toThrow(/write it like/)
})
