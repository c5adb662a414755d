import { describe, expect, it } from 'vitest'
import { createRelayPolicy, DENIED_NAMESPACES } from './relayPolicy.ts'

const policy = createRelayPolicy()
const allowed = (method: string, transport: 'http' | 'ws' = 'http') => policy.check(method, transport).allowed

describe('relayPolicy', () => {
  it('default: relays what a light client or wallet needs', () => {
    for (const m of ['eth_chainId', 'eth_getProof', 'eth_getBlockReceipts', 'eth_createAccessList', 'eth_getLogs', 'eth_call', 'eth_sendRawTransaction', 'net_version', 'net_listening', 'web3_clientVersion']) {
      expect(allowed(m), m).toBe(true)
    }
  })

  it('behavior: refuses every dangerous namespace, whatever the case', () => {
    for (const ns of DENIED_NAMESPACES) {
      const d = policy.check(`${ns}_anything`, 'ws')
      expect(d).toEqual({ allowed: false, code: -32601, message: `method ${ns}_anything is not relayed by this pool host (the ${ns} namespace is never relayed)` })
    }
    expect(allowed('ADMIN_peers')).toBe(false)
    expect(allowed('Debug_traceTransaction')).toBe(false)
  })

  it("behavior: refuses eth methods that act with the host's accounts, in any case", () => {
    for (const m of ['eth_sendTransaction', 'eth_sendtransaction', 'eth_sign', 'eth_signTransaction', 'eth_signTypedData_v4', 'eth_accounts', 'eth_submitWork']) expect(allowed(m), m).toBe(false)
  })

  it('behavior: subscriptions only over a WebSocket', () => {
    expect(allowed('eth_subscribe', 'http')).toBe(false)
    expect(allowed('eth_subscribe', 'ws')).toBe(true)
    expect(allowed('eth_unsubscribe', 'ws')).toBe(true)
  })

  it('behavior: anything not on the allowlist is refused, odd names are not echoed raw', () => {
    expect(allowed('net_peerCount')).toBe(false)
    expect(allowed('ETH_chainId')).toBe(false) // the allowlist wants the conventional spelling
    expect(allowed('rpc_modules')).toBe(false)
    expect(policy.check('x'.repeat(500), 'http')).toMatchObject({ allowed: false, message: expect.stringMatching(/^method "x{64}" is not relayed/) })
    expect(allowed('eth_chainId\nadmin_peers')).toBe(false)
  })

  it('args: extra allowed and denied methods', () => {
    const p = createRelayPolicy({ extraAllowed: ['net_peerCount', 'admin_peers'], extraDenied: ['eth_getLogs'] })
    expect(p.check('net_peerCount', 'http').allowed).toBe(true)
    expect(p.check('admin_peers', 'http').allowed).toBe(false) // a denied namespace cannot be re-allowed
    expect(p.check('eth_getLogs', 'http').allowed).toBe(false)
  })
})
