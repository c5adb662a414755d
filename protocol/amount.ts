/**
 * Amounts are integer wei as bigint in code and decimal strings on the wire
 * (JSON numbers lose precision above 2^53).
 */
export function weiToWire(wei: bigint): string {
  return wei.toString(10)
}

export function weiFromWire(text: string): bigint {
  if (!/^-?\d{1,78}$/.test(text)) throw new RangeError(`invalid wei amount "${text.slice(0, 40)}": expected a decimal integer string`)
  return BigInt(text)
}

/** Operator input (`100 gwei`) is parsed in lib/, where the CLI options parse it too. */
export { parseAmount } from '../lib/amount.ts'
