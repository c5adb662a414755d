/**
 * Trust on first use for pool ids: the first time a key logs in to a
 * coordinator origin, the pool id it announced is written beside the key
 * (`<keyfile>.pools.json`, origin -> poolId). A later, different pool id at the
 * same origin is refused: someone else answers at that address (a hijacked
 * DNS name, a proxy relaying to another pool), and signing its challenge would
 * hand them this node's login. `--pool-id` names the expected id instead, for a
 * first connection that must not be trusted blindly or a pool that really
 * changed its id.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'

export class KnownPoolError extends Error {
  override name = 'KnownPoolError'
}

export interface KnownPoolsOptions {
  /** The file holding origin -> poolId (JSON); created on first use. */
  file: string
  /** --pool-id: the only pool id accepted, whatever the file remembers. */
  expectedPoolId?: string
}

export class KnownPools {
  constructor(private readonly opts: KnownPoolsOptions) {}

  /** Path beside a node key file: `<keyfile>.pools.json`. */
  static fileFor(keyFile: string): string {
    return `${keyFile}.pools.json`
  }

  /** The pools remembered so far, origin -> poolId. */
  read(): Record<string, string> {
    const { file } = this.opts
    if (!existsSync(file)) return {}
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      throw new KnownPoolError(`${file} is not valid JSON (${(err as Error).message}): fix or delete it`)
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw new KnownPoolError(`${file} must be a JSON object of origin -> pool id: fix or delete it`)
    }
    return parsed as Record<string, string>
  }

  /**
   * Accept `poolId` announced at `origin`, or throw KnownPoolError. Called before the agent signs anything, so a
   * refused pool never gets a signature.
   */
  accept(origin: string, poolId: string, opts: { replicas?: readonly string[] } = {}): void {
    const { file, expectedPoolId } = this.opts
    const known = this.read()
    // Replicas of one pool (an agent given several URLs) share its id: a new replica is trusted with the id its
    // siblings were first seen with, not on its own first use.
    const sibling = (opts.replicas ?? []).find((r) => r !== origin && Object.hasOwn(known, r))
    const remembered = Object.hasOwn(known, origin) ? known[origin] : sibling !== undefined ? known[sibling] : undefined
    if (expectedPoolId !== undefined) {
      if (poolId !== expectedPoolId) {
        throw new KnownPoolError(`the coordinator at ${origin} announced pool id ${JSON.stringify(poolId)}, but --pool-id expects ${JSON.stringify(expectedPoolId)}: not logging in`)
      }
    } else if (remembered !== undefined && remembered !== poolId) {
      throw new KnownPoolError(
        `the coordinator at ${origin} announced pool id ${JSON.stringify(poolId)}, but this key first logged in ${Object.hasOwn(known, origin) ? 'there' : `at its replica ${sibling}`} to pool ${JSON.stringify(remembered)} (${file}): ` +
          `someone else may be answering at that address. If the operator really changed the pool id, start with --pool-id ${poolId}`,
      )
    }
    if (Object.hasOwn(known, origin) && remembered === poolId) return
    // Write-then-rename: a crash mid-write must not leave a file that refuses every later start.
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, `${JSON.stringify({ ...known, [origin]: poolId }, null, 2)}\n`, { mode: 0o600 })
    renameSync(tmp, file)
  }
}
