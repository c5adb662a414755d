/** Display formatting (shared by browser and server), login bookkeeping and the sample ring. */
import { describe, test, expect } from 'vitest'
import { formatWei, formatUnits, exactWei, formatDuration, shortId, toUnitNumber, networkName, explainUnitCosts } from './assets/format.js'
import { computeUnitCosts, DEFAULT_COST_TABLE } from '../../protocol/costTable.ts'
import { AdminSessions, LoginLimiter, tokenMatches } from './auth.ts'
import { SampleRing, recentSkip } from './snapshot.ts'
import { html, raw } from './html.ts'
import { manualClock } from '../../lib/clock.ts'

describe('format', () => {
  test('default: wei in the unit that reads best, truncated, never through floating point', () => {
    expect(formatWei('0')).toBe('0')
    expect(formatWei('999999')).toBe('999,999 wei')
    expect(formatWei('1000000')).toBe('0.001 gwei')
    expect(formatWei('20000000000')).toBe('20 gwei')
    expect(formatWei(10n ** 15n)).toBe('0.001 ETH')
    expect(formatWei('123456789012345678901234567890')).toBe('123,456,789,012.345678 ETH')
    // 0.1 + 0.2 in floating point is 0.30000000000000004; here it is exact.
    expect(formatWei((10n ** 17n + 2n * 10n ** 17n).toString())).toBe('0.3 ETH')
    expect(formatWei('-2500000000')).toBe('-2.5 gwei')
    expect(formatUnits('1999999999', 9, 3)).toBe('1.999')
    expect(exactWei('1234567')).toBe('1,234,567 wei')
    expect(toUnitNumber('1500000000', 9)).toBe(1.5)
  })

  test('default: durations, ids, networks', () => {
    expect(formatDuration(0)).toBe('0')
    expect(formatDuration(45_000)).toBe('45 s')
    expect(formatDuration(5_400_000)).toBe('1 h 30 min')
    expect(formatDuration(90_000_000)).toBe('1 d 1 h')
    expect(shortId('a'.repeat(128))).toBe(`${'a'.repeat(10)}…aaaa`)
    expect(networkName(1)).toBe('Ethereum mainnet')
    expect(networkName(42)).toBe('chain 42')
  })

  test('default: what a compute unit buys, from the default cost table, with and without a price', () => {
    const m = DEFAULT_COST_TABLE.methods
    // Equal costs are listed together, cheapest first; the sentence is built from the table, not copied from it.
    const intro = "Each call relayed for a light client costs compute units, by the work it asks of the host's node: "
    expect(explainUnitCosts(computeUnitCosts())).toBe(
      `${intro}eth_blockNumber costs ${m.eth_blockNumber} units; eth_getBalance, eth_call and eth_getProof ${m.eth_call}; eth_getBlockReceipts ${m.eth_getBlockReceipts}; ` +
        `eth_sendRawTransaction ${m.eth_sendRawTransaction}; eth_estimateGas ${m.eth_estimateGas}; eth_getLogs ${m.eth_getLogs} plus ${DEFAULT_COST_TABLE.getLogsPerBlock} per block of its range; ` +
        `a subscription notification ${DEFAULT_COST_TABLE.notification}.`,
    )
    expect(m.eth_getBalance).toBe(m.eth_call)
    expect(m.eth_getProof).toBe(m.eth_call)
    // With a price each figure says what it costs (1 gwei per unit here).
    const priced = explainUnitCosts(computeUnitCosts(), '1000000000')
    expect(priced).toContain(`eth_blockNumber costs ${m.eth_blockNumber} units (${m.eth_blockNumber} gwei)`)
    expect(priced).toContain(`eth_getLogs ${m.eth_getLogs} plus 1 per block of its range (${m.eth_getLogs} gwei plus 1 gwei per block)`)
    expect(explainUnitCosts(computeUnitCosts(), '0')).toBe(explainUnitCosts(computeUnitCosts()))
    // Another table reads the same way: one method at one unit, no range cost.
    const other = { methods: { eth_call: 1, eth_getLogs: 3 }, getLogsPerBlock: 0, notification: 2 }
    expect(explainUnitCosts(other, 7n)).toBe(`${intro}eth_call costs 1 unit (7 wei); eth_getLogs 3 (21 wei); a subscription notification 2 (14 wei).`)
  })
})

describe('html', () => {
  test('error: interpolated values are escaped unless they are markup', () => {
    const evil = `<img src=x onerror="alert('x')">&`
    expect(html`<p title="${evil}">${evil}</p>`.text).toBe('<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</p>')
    expect(html`<ul>${['<a>', html`<li>${'<b>'}</li>`, raw('<hr>')]}</ul>`.text).toBe('<ul>&lt;a&gt;<li>&lt;b&gt;</li><hr></ul>')
  })
})

describe('auth', () => {
  test('default: sessions are random, expire after the TTL and can be deleted', () => {
    const clock = manualClock(1_000)
    const sessions = new AdminSessions(clock, 60_000)
    const a = sessions.create()
    const b = sessions.create()
    expect(a.id).not.toBe(b.id)
    expect(a.id).toMatch(/^[\w-]{43}$/)
    expect(sessions.valid(a.id)).toBe(true)
    expect(sessions.valid('nope')).toBe(false)
    expect(sessions.valid(undefined)).toBe(false)
    sessions.delete(b.id)
    expect(sessions.valid(b.id)).toBe(false)
    clock.advance(60_000)
    expect(sessions.valid(a.id)).toBe(false)
  })

  test('behavior: at most `max` sessions; the oldest makes room', () => {
    const sessions = new AdminSessions(manualClock(), 60_000, 2)
    const [a, b, c] = [sessions.create(), sessions.create(), sessions.create()]
    expect([sessions.valid(a.id), sessions.valid(b.id), sessions.valid(c.id)]).toEqual([false, true, true])
  })

  test('behavior: the login limiter allows `limit` attempts at once per address, then `limit` per window', () => {
    const clock = manualClock(0)
    const limiter = new LoginLimiter(clock, 3, 60_000)
    for (let i = 0; i < 3; i++) expect(limiter.attempt('1.2.3.4')).toEqual({ ok: true })
    expect(limiter.attempt('1.2.3.4')).toEqual({ ok: false, retryAfterS: 20 }) // 3 per minute: one every 20 s
    expect(limiter.check('1.2.3.4')).toEqual({ ok: false, retryAfterS: 20 })
    expect(limiter.attempt('5.6.7.8')).toEqual({ ok: true })
    clock.advance(19_000)
    expect(limiter.attempt('1.2.3.4')).toEqual({ ok: false, retryAfterS: 1 })
    clock.advance(1_000)
    expect(limiter.check('1.2.3.4')).toEqual({ ok: true })
    expect(limiter.attempt('1.2.3.4')).toEqual({ ok: true })
    expect(limiter.attempt('1.2.3.4')).toEqual({ ok: false, retryAfterS: 20 })
  })

  test('default: token comparison', () => {
    expect(tokenMatches('a-token-of-sixteen', 'a-token-of-sixteen')).toBe(true)
    expect(tokenMatches('a-token-of-sixteeN', 'a-token-of-sixteen')).toBe(false)
    expect(tokenMatches(undefined, 'a-token-of-sixteen')).toBe(false)
    expect(tokenMatches('x', undefined)).toBe(false)
  })
})

describe('snapshot helpers', () => {
  test('default: the sample ring keeps the newest `capacity` samples in order, one per instant', () => {
    const ring = new SampleRing(3)
    for (let t = 1; t <= 5; t++) ring.push({ t, hosts: t, clients: 0, freeSlots: 0 })
    ring.push({ t: 5, hosts: 50, clients: 0, freeSlots: 0 })
    expect(ring.toArray().map((s) => [s.t, s.hosts])).toEqual([
      [3, 3],
      [4, 4],
      [5, 50],
    ])
  })

  test('default: skip reasons are read from whatever the assignment service offers, or not at all', () => {
    expect(recentSkip({}, 'h')).toBeNull()
    expect(recentSkip({ skipReasons: () => undefined }, 'h')).toBeNull()
    expect(recentSkip({ skipReasons: (id: string) => (id === 'h' ? { reason: 'full', atMs: 5, clientId: 'c' } : undefined) }, 'h')).toEqual({ reason: 'full', atMs: 5 })
    expect(recentSkip({ skipReasons: new Map([['h', 'lagging']]) }, 'h')).toEqual({ reason: 'lagging', atMs: null })
    expect(
      recentSkip(
        {
          skipReasons: () => {
            throw new Error('boom')
          },
        },
        'h',
      ),
    ).toBeNull()
  })
})
