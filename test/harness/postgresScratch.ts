/**
 * Scratch PostgreSQL databases, without the test runner: created empty on a
 * server and dropped afterwards (test/harness/postgres.ts wires them into
 * vitest's hooks; benches call them directly).
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** Any database on the test server: scratch databases are created and dropped from a connection to it. */
export const TEST_POSTGRES_URL = process.env.VIPNODE_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface ScratchDatabase {
  name: string
  /** postgres://… of the new, empty database. */
  url: string
  /** DROP it, cutting any connection still open (WITH (FORCE)). */
  drop(): Promise<void>
}

async function admin<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** A new empty database named <prefix>_<random> on the server of `serverUrl` (any database there). */
export async function createScratchDatabase(serverUrl = TEST_POSTGRES_URL, prefix = 'vipnode_test'): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE ${name}`))
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return { name, url: url.toString(), drop: () => admin(serverUrl, async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))) }
}
