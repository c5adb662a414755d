import { test, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { ErrorCode, agentToCoordinator, coordinatorToHost, coordinatorNotifications } from './index.ts'

test('default: the public method names are pinned', () => {
  expect(Object.keys(agentToCoordinator)).toMatchInlineSnapshot(`
    [
      "vipnode_connect",
      "vipnode_update",
      "vipnode_requestHosts",
      "vipnode_reportBadAnswer",
    ]
  `)
  expect(Object.keys(coordinatorToHost)).toEqual(['vipnode_admit', 'vipnode_evict'])
  expect(Object.keys(coordinatorNotifications)).toEqual(['vipnode_challenge', 'vipnode_notice'])
})

test('behavior: docs/protocol.md lists exactly the error codes in protocol/errors.ts', () => {
  const doc = readFileSync(new URL('../docs/protocol.md', import.meta.url), 'utf8')
  const rows = [...doc.matchAll(/^\| (-\d+) \| ([A-Z_]+) \|/gm)].map((m) => [m[2], Number(m[1])])
  expect(Object.fromEntries(rows)).toEqual(ErrorCode)
  expect(new Set(Object.values(ErrorCode)).size).toBe(Object.keys(ErrorCode).length)
})
