/**
 * Per-node tracker secrets (`--ethstats-secrets-file`): one `name:secret` or
 * `name:secret:nodeId` per line. The name ends at the first colon (a name never
 * holds one: geth parses its flag as `name:secret@host`). The optional third
 * field binds the name to a devp2p node ID (128 hex, with or without 0x, as
 * `parseNodeId` reads it everywhere else): only a node ID bound here is proven
 * (a reporter's hello merely claims one), and only a proven node ID lets the
 * tracker confirm a host's head (trackerHeads.ts).
 *
 * A secret may contain colons, as before the third field existed, so the text
 * after the last colon is read as a node ID only when it looks like one: a run
 * of 64 or more letters and digits, optionally after 0x. Such a run must then
 * be a valid node ID; no secret of the old format ends that way by accident
 * short of being 64 random characters after a colon.
 *
 * Blank lines and lines starting with `#` are skipped. Anything else that does
 * not parse (and a name listed twice, or a node ID bound to two names) refuses
 * the whole file, with its line number, so a typo never silently locks a node
 * out, lets it in, or lets two names witness for one node.
 */
import { readFileSync } from 'node:fs'
import { parseNodeId, shortNodeId, type NodeId } from '../../protocol/enode.ts'
import type { NodeSecret } from './trackerCore.ts'

export type TrackerSecrets = Record<string, NodeSecret>

/** What the text after a line's last colon must look like to be read as a node ID rather than the end of a secret. */
const NODE_ID_SHAPED = /^(0x)?[0-9a-z]{64,}$/i

export function parseTrackerSecrets(text: string, source = 'secrets file'): TrackerSecrets {
  const out: TrackerSecrets = Object.create(null) as TrackerSecrets
  const boundAt = new Map<NodeId, { name: string; line: number }>()
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    const where = `${source} line ${i + 1}`
    if (colon < 0) throw new Error(`${where}: expected name:secret or name:secret:nodeId`)
    const name = line.slice(0, colon).trim()
    let secret = line.slice(colon + 1).trim()
    if (name === '' || name.length > 256) throw new Error(`${where}: the name must be 1 to 256 characters`)
    let nodeId: NodeId | null = null
    const last = secret.lastIndexOf(':')
    const tail = last < 0 ? '' : secret.slice(last + 1).trim()
    if (NODE_ID_SHAPED.test(tail)) {
      try {
        nodeId = parseNodeId(tail)
      } catch (err) {
        throw new Error(`${where}: the node ID bound to ${name} must be 128 hex characters, with or without 0x: ${(err as Error).message}`)
      }
      secret = secret.slice(0, last).trim()
    }
    if (secret === '') throw new Error(`${where}: empty secret for ${name}`)
    if (Object.hasOwn(out, name)) throw new Error(`${where}: ${name} is listed twice`)
    if (nodeId !== null) {
      const other = boundAt.get(nodeId)
      if (other) throw new Error(`${where}: node ID ${shortNodeId(nodeId)} is already bound to ${other.name} (line ${other.line})`)
      boundAt.set(nodeId, { name, line: i + 1 })
    }
    out[name] = { secret, nodeId }
  }
  return out
}

export function readTrackerSecretsFile(path: string): TrackerSecrets {
  return parseTrackerSecrets(readFileSync(path, 'utf8'), path)
}

/** How many listed names are bound to a node ID (for the load and reload log lines). */
export function boundCount(secrets: TrackerSecrets): number {
  return Object.values(secrets).filter((s) => s.nodeId !== null).length
}
