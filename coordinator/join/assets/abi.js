// The join page's chain helpers: amount parsing, the few ABI encodings the page sends, and decoding
// the pool contract's custom errors. Plain JS for the browser (no bundler, no ethers there); the
// server imports it too (abi.d.ts), and abi.test.ts checks every encoding against ethers.
// All money is BigInt wei: no floating point ever touches an amount.

const WORD = 64 // hex characters in one 32-byte ABI word

/** An amount typed by a person, in a unit with `decimals` decimals, as base units (wei for 18). */
export function parseAmount(text, decimals = 18) {
  const s = String(text ?? '').trim().replace(/_/g, '')
  if (s === '') return { ok: false, reason: 'empty', message: 'Enter an amount.' }
  const m = /^(\d*)(?:\.(\d*))?$/.exec(s)
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return { ok: false, reason: 'format', message: 'Not an amount: use digits and at most one dot, e.g. 0.05.' }
  const whole = m[1] || '0'
  const frac = m[2] ?? ''
  if (frac.length > decimals) return { ok: false, reason: 'decimals', message: `At most ${decimals} decimals (1 wei is 0.${'0'.repeat(decimals - 1)}1).` }
  if (whole.length > 40) return { ok: false, reason: 'format', message: 'That amount is far too large.' }
  const wei = BigInt(whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0')
  return { ok: true, wei }
}

/** 255n -> '0xff' (a JSON-RPC quantity). */
export function toQuantity(v) {
  return `0x${BigInt(v).toString(16)}`
}

function word(hexNoPrefix) {
  if (hexNoPrefix.length > WORD) throw new Error('value does not fit in one ABI word')
  return hexNoPrefix.padStart(WORD, '0')
}

function strip(hex) {
  return String(hex).replace(/^0x/i, '').toLowerCase()
}

export function encodeUint(v) {
  const n = BigInt(v)
  if (n < 0n) throw new Error('uint must not be negative')
  return word(n.toString(16))
}

export function encodeAddress(address) {
  const h = strip(address)
  if (!/^[0-9a-f]{40}$/.test(h)) throw new Error(`not an address: ${address}`)
  return word(h)
}

export function encodeBytes32(value) {
  const h = strip(value)
  if (!/^[0-9a-f]{64}$/.test(h)) throw new Error(`not 32 bytes: ${value}`)
  return h
}

/** deposit(bytes32 account) */
export function encodeDeposit(selector, account) {
  return `${selector}${encodeBytes32(account)}`
}

/** claim(address payee, uint256 cumulative, bytes32[] proof): three head words, the array after them. */
export function encodeClaim(selector, payee, cumulative, proof) {
  const head = encodeAddress(payee) + encodeUint(cumulative) + encodeUint(3 * 32)
  return `${selector}${head}${encodeUint(proof.length)}${proof.map(encodeBytes32).join('')}`
}

/** A call with one address argument, e.g. claimed(address). */
export function encodeAddressCall(selector, address) {
  return `${selector}${encodeAddress(address)}`
}

/** The first word of eth_call output as a BigInt (uint256, bool). */
export function decodeUint(hex) {
  const h = strip(hex)
  if (h.length < WORD) throw new Error('short return data')
  return BigInt(`0x${h.slice(0, WORD)}`)
}

function decodeStatic(type, w) {
  if (type === 'address') return `0x${w.slice(24)}`
  if (type === 'bool') return BigInt(`0x${w}`) !== 0n
  if (/^uint\d*$/.test(type)) return BigInt(`0x${w}`)
  if (/^int\d*$/.test(type)) {
    const bits = Number(type.slice(3) || 256)
    let v = BigInt(`0x${w}`) & ((1n << BigInt(bits)) - 1n)
    if (v >= 1n << BigInt(bits - 1)) v -= 1n << BigInt(bits)
    return v
  }
  if (/^bytes\d+$/.test(type)) return `0x${w.slice(0, 2 * Number(type.slice(5)))}`
  return undefined
}

const ERROR_STRING = '0x08c379a0' // Error(string)
const PANIC = '0x4e487b71' // Panic(uint256)

/**
 * Revert data (0x…) as {name, args: [{name, type, value}]}, using `errors`, a map from selector
 * (0x + 8 hex) to {name, inputs: [{name, type}]} made from the contract's ABI. Error(string) and
 * Panic(uint256) are known too. Undefined for data that matches none of them.
 */
export function decodeRevert(data, errors) {
  const h = strip(data)
  if (!/^[0-9a-f]*$/.test(h) || h.length < 8) return undefined
  const selector = `0x${h.slice(0, 8)}`
  const body = h.slice(8)
  const words = []
  for (let i = 0; i + WORD <= body.length; i += WORD) words.push(body.slice(i, i + WORD))
  if (selector === ERROR_STRING && words.length >= 2) {
    const len = Number(BigInt(`0x${words[1]}`))
    const bytes = body.slice(2 * WORD, 2 * WORD + 2 * len)
    const text = new TextDecoder().decode(Uint8Array.from(bytes.match(/../g) ?? [], (b) => parseInt(b, 16)))
    return { name: 'Error', args: [{ name: 'reason', type: 'string', value: text }] }
  }
  if (selector === PANIC && words.length >= 1) return { name: 'Panic', args: [{ name: 'code', type: 'uint256', value: BigInt(`0x${words[0]}`) }] }
  const def = errors?.[selector]
  if (!def || words.length < def.inputs.length) return undefined
  const args = []
  for (let i = 0; i < def.inputs.length; i++) {
    const input = def.inputs[i]
    const value = decodeStatic(input.type, words[i])
    if (value === undefined) return { name: def.name, args: [] } // a dynamic type: the name alone still says what happened
    args.push({ name: input.name, type: input.type, value })
  }
  return { name: def.name, args }
}

/**
 * Wallets report reverts in many shapes (error.data, error.data.data, error.data.originalError.data,
 * error.info.error.data, or only inside the message). Find the first hex string whose selector is
 * a known error, searching the error object breadth-first.
 */
export function findRevertData(err, errors) {
  const known = (hex) => {
    const sel = hex.slice(0, 10).toLowerCase()
    return sel === ERROR_STRING || sel === PANIC || Boolean(errors?.[sel])
  }
  const seen = new Set()
  const queue = [err]
  while (queue.length > 0) {
    const v = queue.shift()
    if (typeof v === 'string') {
      if (/^0x[0-9a-fA-F]{8}(?:[0-9a-fA-F]{2})*$/.test(v) && known(v)) return v
      for (const m of v.matchAll(/0x[0-9a-fA-F]{8}(?:[0-9a-fA-F]{64})*/g)) if (known(m[0])) return m[0]
      continue
    }
    if (v === null || typeof v !== 'object' || seen.has(v)) continue
    seen.add(v)
    for (const key of ['data', 'error', 'originalError', 'info', 'cause', 'message', 'reason', 'body']) {
      if (key in v) queue.push(v[key])
    }
    if (typeof v.body === 'string') {
      try {
        queue.push(JSON.parse(v.body))
      } catch {
        // not JSON
      }
    }
  }
  return undefined
}

/**
 * The EIP-1193 error code, where wallets put it. Some wrap the wallet's own error in -32603 and
 * keep the real code (4902 for an unknown chain on MetaMask mobile) in data.originalError.
 */
export function errorCode(err) {
  for (const e of [err?.data?.originalError, err, err?.error, err?.cause, err?.info?.error]) {
    if (e && typeof e.code === 'number') return e.code
  }
  return undefined
}

/** An enode URL or a bare node ID (128 hex, optional 0x) as the lowercase node ID, or undefined. */
export function nodeIdFrom(text) {
  const s = String(text ?? '').trim()
  const m = /^enode:\/\/([0-9a-fA-F]{128})@/.exec(s) ?? /^(?:0x)?([0-9a-fA-F]{128})$/.exec(s)
  return m ? m[1].toLowerCase() : undefined
}

/** A 0x-prefixed 20-byte address, or undefined. */
export function addressFrom(text) {
  const s = String(text ?? '').trim()
  return /^0x[0-9a-fA-F]{40}$/.test(s) ? s : undefined
}
