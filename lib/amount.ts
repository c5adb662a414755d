/** Amounts as operators write them: `12345` (wei), `100 gwei`, `0.01 ether`; always exact bigint wei. */
const UNITS: Record<string, number> = { wei: 0, gwei: 9, ether: 18, eth: 18 }

/** Parse operator input such as `100 gwei`, `0.01 ether` or `12345` (wei). */
export function parseAmount(text: string): bigint {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (!m) throw new RangeError(`invalid amount "${text}": write it like 12345, 100 gwei or 0.01 ether`)
  const unit = (m[2] || 'wei').toLowerCase()
  const decimals = UNITS[unit]
  if (decimals === undefined) throw new RangeError(`unknown unit "${m[2]}" in "${text}": use wei, gwei or ether`)
  const [whole, frac = ''] = m[1]!.split('.')
  if (frac.length > decimals) throw new RangeError(`"${text}" is not a whole number of wei`)
  return BigInt(whole!) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0')
}
