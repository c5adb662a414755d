/**
 * A reported block number counts for health only if it is plausible: not
 * further ahead of what the other agents on the same chain report than
 * `maxAheadBlocks`. A node cannot make itself look healthy, or the rest look
 * lagging, by claiming a far-future head. Pure.
 */
export function plausibleHead(reported: number, othersOnChain: readonly number[], maxAheadBlocks: number): boolean {
  const known = othersOnChain.filter((n) => n > 0)
  if (known.length === 0) return true
  const sorted = [...known].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]!
  return reported <= median + maxAheadBlocks
}
