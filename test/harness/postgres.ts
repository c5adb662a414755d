/**
 * Scratch PostgreSQL databases for tests: each one created empty on the
 * server every test run uses (PostgreSQL is always running in development and
 * CI, trust auth on loopback) and dropped afterwards, so no run ever sees
 * another's rows. `VIPNODE_TEST_POSTGRES` points elsewhere.
 */
import { afterAll, afterEach } from 'vitest'
import { createScratchDatabase, type ScratchDatabase } from './postgresScratch.ts'

export { TEST_POSTGRES_URL, createScratchDatabase, type ScratchDatabase } from './postgresScratch.ts'

/**
 * For a test file: returns a creator of scratch databases, each dropped after
 * the test that created it (one at a time: a drop takes a checkpoint, and a
 * file's worth at the end would outlast a hook's timeout), whatever the test
 * left connected. Call it at the top level of the file.
 */
export function scratchDatabases(): () => Promise<string> {
  const created: ScratchDatabase[] = []
  const dropAll = async () => {
    for (const db of created.splice(0)) await db.drop()
  }
  afterEach(dropAll)
  afterAll(dropAll)
  return async () => {
    const db = await createScratchDatabase()
    created.push(db)
    return db.url
  }
}
