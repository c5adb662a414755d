/**
 * Scratch PostgreSQL databases for tests: each one created empty on the
 * server every test run uses (PostgreSQL is always running in development and
 * CI, trust auth on loopback) and dropped afterwards, so no run ever sees
 * another's rows. `VIPNODE_TEST_POSTGRES` points elsewhere.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, afterEach } from 'vitest'

/** Any database on the test server: scratch databases are created and dropped from a connection to it. */
export const TEST_POSTGRES_URL = process.env.VIPNODE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface ScratchDatabase {
  name: string
  /** postgres://… of the new, empty database. */
  url: string
  /** DROP it, cutting any connection still open (WITH (FORCE)). */
  drop(): Promise<void>
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** A new empty database named vipnode_test_<random>. */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const name = `vipnode_test_${randomBytes(6).toString('hex')}`
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
  const url = new URL(TEST_POSTGRES_URL)
  url.pathname = `/${name}`
  return { name, url: url.toString(), drop: () => admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))) }
}

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
