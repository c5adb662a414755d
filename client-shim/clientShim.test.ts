/** The client shim in-process against a stand-in node, a real coordinator and a scripted host. */
import { test, expect, afterEach } from 'vitest'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startFakeNode } from '../test/fakenode/fakeNode.ts'
import { testCoordinator } from '../test/harness/coordinator.ts'
import { recordingLogger, testAgent } from '../test/harness/agents.ts'
import { waitFor } from '../test/harness/waitFor.ts'
import { identity } from '../test/harness/rawAgent.ts'
import { startClientShim } from './clientShim.ts'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

test('default: asks for hosts, dials them, shows notices, and replaces a host that goes away', async () => {
  const c = await testCoordinator({ updateIntervalMs: 300 })
  cleanup.push(() => c.close())
  const node = await startFakeNode({ kind: 'geth', chainId: 1337 })
  cleanup.push(() => node.close())
  const hostA = await testAgent(c.url, { role: 'host' }, {}, identity(30301))
  cleanup.push(() => hostA.close())
  const keyFile = join(mkdtempSync(join(tmpdir(), 'vipnode-shim-')), 'nodekey')
  writeFileSync(keyFile, node.nodeKey)
  const log = recordingLogger()
  const shim = await startClientShim({ bootstrap: c.url, nodeRpc: node.url, nodekey: keyFile, hosts: 1, updateIntervalMs: 100 }, { log })
  cleanup.push(() => shim.close())

  await waitFor(() => node.calls.some((x) => x.method === 'admin_addPeer' && JSON.stringify(x.params).includes(hostA.id.nodeId)), 'dial host A')
  expect(log.lines.some((l) => l.message.startsWith('*** POOL: welcome to vipnode pool test-pool'))).toBe(true)

  c.services.sessions.get(node.nodeId)!.notify('vipnode_notice', { level: 'warn', code: 'low-balance', message: 'balance low', url: 'https://pool.example/join' })
  await waitFor(() => log.lines.find((l) => l.level === 'warn' && l.message === '*** POOL NOTICE: balance low -> https://pool.example/join ***'), 'notice shown')

  // Host A vanishes; host B is online: the shim drops A and dials B.
  const hostB = await testAgent(c.url, { role: 'host' }, {}, identity(30302))
  cleanup.push(() => hostB.close())
  await hostA.close()
  await waitFor(() => node.calls.some((x) => x.method === 'admin_addPeer' && JSON.stringify(x.params).includes(hostB.id.nodeId)), 'dial host B')
  expect(node.calls.some((x) => x.method === 'admin_removePeer' && JSON.stringify(x.params).includes(hostA.id.nodeId))).toBe(true)
  // The node records admin_addPeer when the call arrives; the shim records the host when the reply comes back.
  await waitFor(() => shim.hosts.size === 1 && shim.hosts.has(hostB.id.nodeId), 'the shim to hold host B only')
})
