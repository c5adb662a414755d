/**
 * Per-node tracker secrets (`--ethstats-secrets-file`): one `name:secret` per
 * line, split at the first colon (a name never holds one: geth parses its flag
 * as `name:secret@host`). Blank lines and lines starting with `#` are skipped.
 * Anything else that does not parse refuses the whole file, with its line
 * number, so a typo never silently locks a node out or lets it in.
 */
import { readFileSync } from 'node:fs'

export function parseTrackerSecrets(text: string, source = 'secrets file'): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '' || line.startsWith('#')) continue
    const colon = line.indexOf(':')
    const where = `${source} line ${i + 1}`
    if (colon < 0) throw new Error(`${where}: expected name:secret`)
    const name = line.slice(0, colon).trim()
    const secret = line.slice(colon + 1).trim()
    if (name === '' || name.length > 256) throw new Error(`${where}: the name must be 1 to 256 characters`)
    if (secret === '') throw new Error(`${where}: empty secret for ${name}`)
    if (Object.hasOwn(out, name)) throw new Error(`${where}: ${name} is listed twice`)
    out[name] = secret
  }
  return out
}

export function readTrackerSecretsFile(path: string): Record<string, string> {
  return parseTrackerSecrets(readFileSync(path, 'utf8'), path)
}
