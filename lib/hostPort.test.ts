import { describe, test, expect } from 'vitest'
import { parseHostPort } from './hostPort.ts'

describe('parseHostPort', () => {
  test('default: host and port, IPv6 in brackets, an empty host takes the default', () => {
    expect(parseHostPort('127.0.0.1:8545')).toEqual({ host: '127.0.0.1', port: 8545 })
    expect(parseHostPort('[::1]:8546')).toEqual({ host: '::1', port: 8546 })
    expect(parseHostPort(':9000', '0.0.0.0')).toEqual({ host: '0.0.0.0', port: 9000 })
  })
  test.each(['8545', 'host:', 'a:b', 'h:70000', '::1:8545'])('error: %s is refused', (text) => {
    expect(() => parseHostPort(text)).toThrow()
  })
})
