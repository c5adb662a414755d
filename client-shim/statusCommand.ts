/**
 * `vipnode client status`: sign a short-lived query with the node key
 * (protocol/nodeQuery.ts) and show the node's balance, service and peers, or
 * print the signed join-page link (or only the token) to open in a browser.
 */
import { Command } from 'commander'
import { z } from 'zod'
import { defineOptions, duration, flag, text } from '../lib/cliOptions.ts'
import { findNodeKeyFile, DEFAULT_DATADIR, DEFAULT_DATADIR_TEXT } from '../agent/nodeIdentity.ts'
import { DEFAULT_NODE_QUERY_TTL_MS, loadNodeKey, MAX_NODE_QUERY_TTL_MS, coordinatorUrls, nodeIdOf, normaliseOrigin, signNodeQuery } from '../protocol/index.ts'

/** The coordinator's HTTP base for a bootstrap URL given as http(s):// or ws(s)://. */
export function httpBase(bootstrap: string): string {
  // Several replicas (vipnode client's comma-separated --bootstrap): any one answers; the first is asked.
  const u = new URL(coordinatorUrls(bootstrap)[0]!)
  u.protocol = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol
  return u.origin
}

/** A signed join-page link and /v1/nodes URL for `keyFile`'s node at the pool `bootstrap`, valid for `ttlMs`. */
export async function signedNodeLinks(bootstrap: string, keyFile: string, ttlMs: number, nowMs = Date.now()) {
  const key = loadNodeKey(keyFile)
  const nodeId = nodeIdOf(key)
  const base = httpBase(bootstrap)
  const health = (await (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) })).json()) as { poolId?: unknown }
  if (typeof health.poolId !== 'string') throw new Error(`${base}/healthz did not say the pool id`)
  const path = `/v1/nodes/${nodeId}`
  const auth = signNodeQuery(key, { poolId: health.poolId, origin: normaliseOrigin(base), nodeId, path, expiresAtMs: nowMs + ttlMs })
  return { nodeId, auth, api: `${base}${path}?auth=${auth}`, page: `${base}/join?node=${nodeId}&auth=${auth}` }
}

export const statusOptions = defineOptions(
  z
    .object({
      bootstrap: z.string().min(1),
      nodekey: z.string().min(1).optional(),
      datadir: z.string().min(1).default(DEFAULT_DATADIR),
      ttl: z.number().int().positive().max(MAX_NODE_QUERY_TTL_MS, { message: `at most ${MAX_NODE_QUERY_TTL_MS / 60_000}m` }).default(DEFAULT_NODE_QUERY_TTL_MS),
      link: z.boolean().default(false),
      token: z.boolean().default(false),
    })
    .strict(),
  {
    bootstrap: { flags: '--bootstrap <url>', description: 'the coordinator base URL (http(s):// or ws(s)://) (required)', parser: text },
    nodekey: { flags: '--nodekey <file>', description: "the node's key file (default: found under --datadir)", parser: text },
    datadir: { flags: '--datadir <dir>', description: "the node's data directory, to find its key", parser: text, defaultText: DEFAULT_DATADIR_TEXT },
    ttl: { flags: '--ttl <duration>', description: `how long the signed query or link stays valid (at most ${MAX_NODE_QUERY_TTL_MS / 60_000}m)`, parser: duration },
    link: { flags: '--link', description: 'print a signed join-page link instead (balance and deposits in a browser)', parser: flag },
    token: { flags: '--token', description: 'print only the signed token, for ?auth= on /v1/nodes/<node id>', parser: flag },
  },
)

export function clientStatusCommand(): Command {
  const command = new Command('status').description("show this node's balance, service this epoch and hosts (a query signed by the node key: nobody else can see them)")
  return statusOptions.addTo(command).action(async () => {
    const o = statusOptions.read(command)
    if (statusOptions.printConfig(command, o)) return
    const links = await signedNodeLinks(o.bootstrap, findNodeKeyFile(o.nodekey, o.datadir), o.ttl)
    if (o.token) return void process.stdout.write(`${links.auth}\n`)
    if (o.link) return void process.stdout.write(`${links.page}\n`)
    const res = await fetch(links.api, { signal: AbortSignal.timeout(10_000) })
    const body = (await res.json()) as unknown
    if (!res.ok) throw new Error(`the pool refused the signed query (HTTP ${res.status}): ${JSON.stringify(body)}`)
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`)
  })
}
