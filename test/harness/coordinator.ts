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

export async function testCoordinator(config: CoordinatorConfigInput = {}, overrides: CoordinatorOverrides = {}): Promise<RunningCoordinator> {
  return startCoordinator({ port: 0, db: tempDb(), poolId: 'test-pool', logLevel: 'silent', allowPrivateAddresses: true, ...config }, { logger: silentLogger, ...overrides })
}
