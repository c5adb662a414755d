/**
 * A reported block number counts for health only if it is plausible: not
 * further ahead of what the other agents on the same chain report than
 * `maxAheadBlocks`. A node cannot make itself look healthy, or the rest look
 * lagging, by claiming a far-future head. Pure.
 */

/** The median of the known (> 0) heads, or undefined when there are none. */
export function medianHead(heads: readonly number[]): number | undefined {
  const known = heads.filter((n) => n > 0).sort((a, b) => a - b)
  return known.length === 0 ? undefined : known[Math.floor(known.length / 2)]
}

/** `median` is the agents' median head on the chain (undefined: nobody to compare with). */
export function plausibleHead(reported: number, median: number | undefined, maxAheadBlocks: number): boolean {
  return median === undefined || reported <= median + maxAheadBlocks
}
