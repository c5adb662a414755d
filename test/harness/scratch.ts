/**
 * Scratch space for tests that start agents: node key files in a temporary
 * folder, and resources closed after each test in reverse order of opening.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'

/** A fresh temporary folder named after the test file's purpose. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `vipnode-${prefix}-`))
}

/** Writes node keys as the agents read them (`--nodekey FILE`, owner-only); returns each file's path. */
export function keyFileWriter(dir: string): (key: string, name?: string) => string {
  return (key, name = Math.random().toString(16).slice(2)) => {
    const path = join(dir, `${name}.key`)
    writeFileSync(path, key, { mode: 0o600 })
    return path
  }
}

/** Closers pushed during a test run after it, newest first; one that fails does not stop the others. */
export function closeAfterEach(): (() => Promise<unknown>)[] {
  const closers: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => undefined)
  })
  return closers
}
