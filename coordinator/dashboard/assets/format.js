// Display formatting shared by the dashboard (browser) and the server-rendered pages.
// Amounts arrive as decimal wei strings; all arithmetic is BigInt so no float ever touches money.

const TEN = 10n

/** '1234567' -> '1,234,567' */
export function groupDigits(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/**
 * An integer amount in base units as a decimal with `decimals` places, truncated (never rounded up)
 * to at most `maxFraction` fraction digits, trailing zeros dropped: (1500000000n, 9, 3) -> '1.5'.
 */
export function formatUnits(amount, decimals, maxFraction = decimals) {
  let v = BigInt(amount)
  const neg = v < 0n
  if (neg) v = -v
  const scale = TEN ** BigInt(decimals)
  const whole = v / scale
  let frac = decimals > 0 ? (v % scale).toString().padStart(decimals, '0').slice(0, maxFraction) : ''
  frac = frac.replace(/0+$/, '')
  return `${neg ? '-' : ''}${groupDigits(whole.toString())}${frac ? `.${frac}` : ''}`
}

/** The unit an amount reads best in: ETH from 0.001 ETH, gwei from 0.001 gwei, else wei. */
export function unitFor(wei) {
  let v = BigInt(wei)
  if (v < 0n) v = -v
  if (v >= 10n ** 15n) return { name: 'ETH', decimals: 18 }
  if (v >= 10n ** 6n) return { name: 'gwei', decimals: 9 }
  return { name: 'wei', decimals: 0 }
}

/** '1500000000' -> '1.5 gwei'; '0' -> '0'; at most 6 fraction digits (truncated; the exact value goes in a tooltip). */
export function formatWei(wei) {
  const v = BigInt(wei)
  if (v === 0n) return '0'
  const unit = unitFor(v)
  return `${formatUnits(v, unit.decimals, 6)} ${unit.name}`
}

/** The exact amount, for tooltips: '1,500,000,000 wei'. */
export function exactWei(wei) {
  return `${groupDigits(BigInt(wei).toString())} wei`
}

/** An amount as a plain number in a unit, for chart axes only (charts are approximate by nature). */
export function toUnitNumber(wei, decimals) {
  return Number(formatUnits(wei, decimals, 9).replace(/,/g, ''))
}

/** 5400000 -> '1 h 30 min'; 45000 -> '45 s'; 0 -> '0'. */
export function formatDuration(ms) {
  const s = Math.floor(Number(ms) / 1000)
  if (s <= 0) return '0'
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (d > 0) return h > 0 ? `${d} d ${h} h` : `${d} d`
  if (h > 0) return m > 0 ? `${h} h ${m} min` : `${h} h`
  if (m > 0) return `${m} min`
  return `${s} s`
}

/** Service time in hours with two decimals: 5400000 -> '1.50'. */
export function formatHours(ms) {
  return (Number(ms) / 3_600_000).toFixed(2)
}

/** 'abcdef0123…89ab' */
export function shortId(id) {
  const s = String(id)
  return s.length > 16 ? `${s.slice(0, 10)}…${s.slice(-4)}` : s
}

const NETWORKS = { 1: 'Ethereum mainnet', 5: 'Goerli', 17000: 'Holesky', 560048: 'Hoodi', 11155111: 'Sepolia', 1337: 'dev chain (1337)', 31337: 'dev chain (31337)' }

/** 1 -> 'Ethereum mainnet'; unknown ids -> 'chain 42'. */
export function networkName(chainId) {
  return NETWORKS[chainId] ?? `chain ${chainId}`
}

/** ['a'] -> 'a'; ['a', 'b', 'c'] -> 'a, b and c' */
function listOf(items) {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}

/**
 * What a compute unit buys, as one sentence for the pages, from the pool's `computeUnitCosts`
 * (protocol/costTable.ts): methods of one cost together, cheapest first, then eth_getLogs with its range and
 * subscription notifications. With `priceWei` (per unit, a price above zero) each figure also says what it costs.
 */
export function explainUnitCosts(costs, priceWei) {
  const price = priceWei === undefined ? 0n : BigInt(priceWei)
  const at = (units) => (price > 0n ? ` (${formatWei(BigInt(units) * price)})` : '')
  const byCost = new Map()
  for (const [method, units] of Object.entries(costs.methods)) {
    if (method !== 'eth_getLogs') byCost.set(units, [...(byCost.get(units) ?? []), method])
  }
  const parts = [...byCost]
    .sort((a, b) => a[0] - b[0])
    .map(([units, methods], i) => (i === 0 ? `${listOf(methods)} ${methods.length === 1 ? 'costs' : 'cost'} ${units} ${units === 1 ? 'unit' : 'units'}${at(units)}` : `${listOf(methods)} ${units}${at(units)}`))
  const logs = costs.methods.eth_getLogs
  if (logs !== undefined) {
    const perBlock = costs.getLogsPerBlock
    const range = perBlock > 0 ? ` plus ${perBlock} per block of its range` : ''
    const wei = price > 0n ? ` (${formatWei(BigInt(logs) * price)}${perBlock > 0 ? ` plus ${formatWei(BigInt(perBlock) * price)} per block` : ''})` : ''
    parts.push(`eth_getLogs ${logs}${range}${wei}`)
  }
  parts.push(`a subscription notification ${costs.notification}${at(costs.notification)}`)
  return `Each call relayed for a light client costs compute units, by the work it asks of the host's node: ${parts.join('; ')}.`
}
