import { HDNodeWallet, Mnemonic, computeAddress, parseEther } from 'ethers'
import { describe, expect, it } from 'vitest'
import { DEV_MNEMONIC, DEV_PRIVATE_KEYS, EdrRpcError, ethersOn, startEdrProvider } from './edr.ts'

// Init code that reverts with the 4 bytes 0x60aabbcc: PUSH4 60aabbcc, PUSH1 0xe0, SHL, PUSH0, MSTORE, PUSH1 4, PUSH0, REVERT.
const REVERTING_INIT_CODE = '0x6360aabbcc60e01b5f5260045ffd'

describe('startEdrProvider', () => {
  it('default: ten funded dev accounts on chain 31337', async () => {
    const chain = await startEdrProvider()
    expect(await chain.request({ method: 'eth_chainId' })).toBe('0x7a69')
    const { provider, signers } = ethersOn(chain)
    expect(signers).toHaveLength(10)
    expect(await provider.getBalance(signers[9]!.address)).toBe(parseEther('10000'))
    const tx = await signers[0]!.sendTransaction({ to: signers[1]!.address, value: 1n })
    expect((await tx.wait())?.status).toBe(1) // automine: mined before wait() polls
  })

  it('default: DEV_PRIVATE_KEYS are the first keys of DEV_MNEMONIC', () => {
    const root = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), "m/44'/60'/0'/0")
    expect(DEV_PRIVATE_KEYS).toEqual(DEV_PRIVATE_KEYS.map((_, i) => root.deriveChild(i).privateKey))
  })

  it('behavior: custom chain id and accounts', async () => {
    const privateKey = DEV_PRIVATE_KEYS[3]!
    const chain = await startEdrProvider({ chainId: 1337, accounts: [{ privateKey, balance: 5n }] })
    expect(chain.accounts.map((a) => a.address)).toEqual([computeAddress(privateKey)])
    expect(await chain.request({ method: 'eth_getBalance', params: [computeAddress(privateKey), 'latest'] })).toBe('0x5')
    expect(await ethersOn(chain).provider.getNetwork().then((n) => n.chainId)).toBe(1337n)
  })

  it('error: revert data is unwrapped to error.data, where ethers looks for it', async () => {
    const chain = await startEdrProvider()
    const from = chain.accounts[0]!.address
    const err = await chain.request({ method: 'eth_call', params: [{ from, data: REVERTING_INIT_CODE }, 'latest'] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EdrRpcError)
    expect((err as EdrRpcError).data).toBe('0x60aabbcc')
    const { provider } = ethersOn(chain)
    await expect(provider.call({ from, data: REVERTING_INIT_CODE })).rejects.toMatchObject({ code: 'CALL_EXCEPTION', data: '0x60aabbcc' })
  })

  it('behavior: handleJsonRpc answers with the request id', async () => {
    const chain = await startEdrProvider()
    expect(await chain.handleJsonRpc({ jsonrpc: '2.0', id: 7, method: 'eth_blockNumber', params: [] })).toEqual({ jsonrpc: '2.0', id: 7, result: '0x0' })
    const unknown = await chain.handleJsonRpc({ jsonrpc: '2.0', id: 'x', method: 'no_such_method', params: [] })
    expect(unknown).toMatchObject({ jsonrpc: '2.0', id: 'x', error: { code: expect.any(Number) } })
  })
})
