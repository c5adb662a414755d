/** Start an in-process coordinator on a fresh SQLite file and a free loopback port, for development (private addresses allowed: every test agent is on 127.0.0.1). */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCoordinator, type CoordinatorOverrides, type RunningCoordinator } from '../../coordinator/coordinator.ts'
import type { CoordinatorConfigInput } from '../../coordinator/config.ts'
import { silentLogger } from '../../lib/logger.ts'

export function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'vipnode-test-')), 'pool.db')
}

/**
 * Login pacing is off unless a test asks for it (`loginRate`/`loginBurst`; its own tests do): attack tests open
 * thousands of raw sockets that do not come back at a slot, often on a manual clock that would never reach one.
 */
const UNPACED = { loginRate: 1_000_000, loginBurst: 1_000_000 }

export async function testCoordinator(config: CoordinatorConfigInput = {}, overrides: CoordinatorOverrides = {}): Promise<RunningCoordinator> {
  return startCoordinator({ port: 0, db: tempDb(), poolId: 'test-pool', logLevel: 'silent', allowPrivateAddresses: true, ...UNPACED, ...config }, { logger: silentLogger, ...overrides })
}
