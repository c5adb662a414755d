import { describe, expect, it, vi } from 'vitest'
import { ConnectionClosedError, PendingCalls } from './pendingCalls.ts'

describe('PendingCalls', () => {
  it('default: a reply settles its own call once; unknown and late ids are refused', async () => {
    const calls = new PendingCalls<string>()
    const a = calls.open(10_000, () => new Error('timeout'))
    const b = calls.open(10_000, () => new Error('timeout'))
    expect(b.id).toBe(a.id + 1)
    calls.take(b.id)!.resolve('b')
    expect(calls.take(b.id)).toBeUndefined() // answered once
    expect(calls.take('1')).toBeUndefined() // ids are numbers on this side
    expect(calls.size).toBe(1)
    calls.take(a.id)!.resolve('a')
    expect(await Promise.all([a.reply, b.reply])).toEqual(['a', 'b'])
    expect(calls.size).toBe(0)
  })

  it('behavior: a call times out with its own error and is forgotten', async () => {
    vi.useFakeTimers()
    try {
      const calls = new PendingCalls()
      const { id, reply } = calls.open(50, () => new Error('eth_call timed out after 50 ms'))
      const settled = reply.catch((e: Error) => e.message)
      vi.advanceTimersByTime(50)
      expect(await settled).toBe('eth_call timed out after 50 ms')
      expect(calls.take(id)).toBeUndefined()
    } finally {
      vi.useRealTimers()
    }
  })

  it('behavior: a closed connection fails the calls it carried, and only those', async () => {
    const calls = new PendingCalls<unknown, 'old' | 'new'>()
    const old = calls.open(10_000, () => new Error('timeout'), 'old')
    const fresh = calls.open(10_000, () => new Error('timeout'), 'new')
    calls.failAll(new ConnectionClosedError('old socket closed'), (tag) => tag === 'old')
    await expect(old.reply).rejects.toBeInstanceOf(ConnectionClosedError)
    expect(calls.size).toBe(1)
    calls.failAll(new ConnectionClosedError('client closed'))
    await expect(fresh.reply).rejects.toThrow('client closed')
    expect(calls.size).toBe(0)
  })
})
