/**
 * The join page's hand-written ABI helpers against ethers (the reference
 * encoder) and the compiled contract, plus amount parsing without floats.
 */
import { describe, test, expect } from 'vitest'
import { AbiCoder, Interface, Wallet, keccak256, parseEther, parseUnits, randomBytes, hexlify } from 'ethers'
import fc from 'fast-check'
import { parseAmount, encodeDeposit, encodeClaim, encodeAddressCall, decodeUint, decodeRevert, findRevertData, errorCode, nodeIdFrom, addressFrom, toQuantity } from './assets/abi.js'
import { pageAbi } from './contractAbi.ts'
import { loadVipnodePoolArtifact } from '../../contracts/artifacts.ts'
import { publicRpcUrl } from './routes.ts'

const iface = new Interface(loadVipnodePoolArtifact().abi)
const abi = pageAbi()

describe('parseAmount', () => {
  test('behavior: ETH text becomes exact wei, like ethers.parseEther', () => {
    for (const s of ['1', '0.05', '.5', '5.', '0.000000000000000001', '123456789.123456789123456789', '0', '00.10', '1_000']) {
      const r = parseAmount(s)
      expect(r.ok, s).toBe(true)
      if (r.ok) expect(r.wei, s).toBe(parseEther(s.replace(/_/g, '').replace(/^\./, '0.').replace(/\.$/, '')))
    }
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), (wei) => {
        const s = `${wei / 10n ** 18n}.${(wei % 10n ** 18n).toString().padStart(18, '0')}`
        const r = parseAmount(s)
        return r.ok && r.wei === wei
      }),
    )
    expect(parseAmount('1.5', 9)).toEqual({ ok: true, wei: parseUnits('1.5', 9) })
  })

  test('behavior: refuses what is not a plain decimal, and more than 18 decimals', () => {
    for (const [s, reason] of [
      ['', 'empty'],
      ['  ', 'empty'],
      ['.', 'format'],
      ['abc', 'format'],
      ['1e18', 'format'],
      ['-1', 'format'],
      ['1.2.3', 'format'],
      ['1,5', 'format'],
      ['0x10', 'format'],
      ['Infinity', 'format'],
      ['0.0000000000000000001', 'decimals'],
    ] as const) {
      const r = parseAmount(s)
      expect(r.ok, s).toBe(false)
      if (!r.ok) expect(r.reason, s).toBe(reason)
    }
  })
})

describe('encoding', () => {
  test('behavior: deposit, claim and claimed calldata equal ethers encodeFunctionData', () => {
    const account = keccak256(randomBytes(64))
    expect(encodeDeposit(abi.functions.deposit.selector, account)).toBe(iface.encodeFunctionData('deposit', [account]))
    for (const n of [0, 1, 2, 7]) {
      const payee = Wallet.createRandom().address
      const proof = Array.from({ length: n }, () => hexlify(randomBytes(32)))
      const cumulative = 123456789012345678901234n
      expect(encodeClaim(abi.functions.claim.selector, payee, cumulative, proof)).toBe(iface.encodeFunctionData('claim', [payee, cumulative, proof]))
      expect(encodeAddressCall(abi.functions.claimed.selector, payee)).toBe(iface.encodeFunctionData('claimed', [payee]))
    }
    expect(abi.functions.root.selector).toBe(iface.encodeFunctionData('root', []))
    expect(decodeUint(AbiCoder.defaultAbiCoder().encode(['uint256'], [2n ** 200n + 5n]))).toBe(2n ** 200n + 5n)
    expect(toQuantity(255n)).toBe('0xff')
    expect(toQuantity(0n)).toBe('0x0')
  })

  test('behavior: every custom error of the contract decodes with its arguments', () => {
    const payee = Wallet.createRandom().address.toLowerCase()
    const nothing = iface.encodeErrorResult('VipnodePoolNothingToClaim', [payee, 5n, 7n])
    expect(decodeRevert(nothing, abi.errors)).toEqual({
      name: 'VipnodePoolNothingToClaim',
      args: [
        { name: 'payee', type: 'address', value: payee },
        { name: 'cumulative', type: 'uint256', value: 5n },
        { name: 'claimed', type: 'uint256', value: 7n },
      ],
    })
    expect(decodeRevert(iface.encodeErrorResult('VipnodePoolEnforcedPause', []), abi.errors)).toEqual({ name: 'VipnodePoolEnforcedPause', args: [] })
    expect(decodeRevert(iface.encodeErrorResult('VipnodePoolInvalidEpoch', [3n, 2n]), abi.errors)?.args.map((a) => a.value)).toEqual([3n, 2n])
    let count = 0
    iface.forEachError((e) => {
      count++
      const args = e.inputs.map((p) => (p.type === 'address' ? payee : p.type === 'bytes32' ? keccak256('0x01') : 42n))
      const decoded = decodeRevert(iface.encodeErrorResult(e, args), abi.errors)
      expect(decoded?.name).toBe(e.name)
      expect(decoded?.args.map((a) => a.value)).toEqual(args)
    })
    expect(count).toBeGreaterThanOrEqual(16)
    expect(Object.keys(abi.errors)).toHaveLength(count)
    const reason = AbiCoder.defaultAbiCoder().encode(['string'], ['nope: ünïcode'])
    expect(decodeRevert(`0x08c379a0${reason.slice(2)}`, abi.errors)).toEqual({ name: 'Error', args: [{ name: 'reason', type: 'string', value: 'nope: ünïcode' }] })
    expect(decodeRevert('0xdeadbeef', abi.errors)).toBeUndefined()
  })

  test('behavior: revert data is found wherever wallets put it; codes too', () => {
    const data = iface.encodeErrorResult('VipnodePoolEnforcedPause', [])
    const shapes = [
      { code: 3, message: 'execution reverted', data },
      { code: -32603, message: 'Internal JSON-RPC error.', data: { code: 3, data } },
      { code: -32603, data: { originalError: { code: 3, data, message: 'execution reverted' } } },
      { info: { error: { code: 3, data: { message: 'x', data } } } },
      { message: `execution reverted: custom error ${data}` },
      { body: JSON.stringify({ error: { code: 3, data } }) },
    ]
    for (const s of shapes) expect(findRevertData(s, abi.errors)).toBe(data)
    expect(findRevertData({ message: 'insufficient funds', data: keccak256('0x02') }, abi.errors)).toBeUndefined()
    expect(errorCode({ code: 4001 })).toBe(4001)
    expect(errorCode({ code: -32603, data: { originalError: { code: 4902 } } })).toBe(4902)
    expect(errorCode({ message: 'x', data: { originalError: { code: 4902 } } })).toBe(4902)
  })

  test('behavior: node IDs from enodes or bare hex; addresses', () => {
    const id = 'ab'.repeat(64)
    expect(nodeIdFrom(`enode://${id.toUpperCase()}@1.2.3.4:30303`)).toBe(id)
    expect(nodeIdFrom(`  0x${id} `)).toBe(id)
    expect(nodeIdFrom(id.slice(2))).toBeUndefined()
    expect(nodeIdFrom('enode://zz@1.2.3.4:30303')).toBeUndefined()
    expect(addressFrom(` 0x${'a1'.repeat(20)} `)).toBe(`0x${'a1'.repeat(20)}`)
    expect(addressFrom('0x1234')).toBeUndefined()
  })

  test('behavior: only a bare-origin chain RPC URL is published (API keys live in paths and queries)', () => {
    expect(publicRpcUrl('http://127.0.0.1:8545')).toBe('http://127.0.0.1:8545')
    expect(publicRpcUrl('https://rpc.example.org/')).toBe('https://rpc.example.org')
    expect(publicRpcUrl('https://mainnet.infura.io/v3/0123456789abcdef')).toBeNull()
    expect(publicRpcUrl('https://rpc.example.org/?key=s3cret')).toBeNull()
    expect(publicRpcUrl('https://user:pass@rpc.example.org')).toBeNull()
    expect(publicRpcUrl('ws://rpc.example.org')).toBeNull()
    expect(publicRpcUrl(undefined)).toBeNull()
  })
})
