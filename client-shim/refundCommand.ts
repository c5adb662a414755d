/**
 * `vipnode client refund`: ask the pool for the client node's unspent
 * deposits back. Signs a refund request with the node key (protocol/refund.ts)
 * after checking the pool id the way logins do (`<nodekey>.pools.json`, or
 * --pool-id), prints what will be refunded, sends it to POST /v1/refunds and
 * prints the result. One JSON object per line on stdout.
 */
import { Command } from 'commander'
import { z } from 'zod'
import { defineOptions, flag, text } from '../lib/cliOptions.ts'
import { DEFAULT_DATADIR, DEFAULT_DATADIR_TEXT, findNodeKeyFile } from '../agent/nodeIdentity.ts'
import { KnownPools } from '../agent/knownPools.ts'
import { assertSecureCoordinatorUrl, DEFAULT_NODE_QUERY_TTL_MS, loadNodeKey, nodeKeyAddress, normaliseOrigin, REFUNDS_PATH, signRefundRequest } from '../protocol/index.ts'
import { httpBase, signedNodeLinks } from './statusCommand.ts'

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`)

async function getJson(url: URL): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) })
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } }
  if (!res.ok) throw new Error(`${url.pathname}: ${body.error?.message ?? `HTTP ${res.status}`}`)
  return body
}

export const refundOptions = defineOptions(
  z
    .object({
      bootstrap: z.string().min(1),
      to: z.string().regex(/^0x[0-9a-fA-F]{40}$/, { message: 'must be a 0x-prefixed 20-byte address' }).optional(),
      nodekey: z.string().min(1).optional(),
      datadir: z.string().min(1).default(DEFAULT_DATADIR),
      poolId: z.string().min(1).optional(),
      insecureCoordinator: z.boolean().default(false),
    })
    .strict(),
  {
    bootstrap: { flags: '--bootstrap <url>', description: 'the coordinator base URL (as for vipnode client) (required)', parser: text },
    to: { flags: '--to <address>', description: "the address that will claim the refund (default: the node key's own Ethereum address)", parser: text },
    nodekey: { flags: '--nodekey <file>', description: "the client node's key file (default: found under --datadir)", parser: text },
    datadir: { flags: '--datadir <dir>', description: "the node's data directory, to find its key", parser: text, defaultText: DEFAULT_DATADIR_TEXT },
    poolId: { flags: '--pool-id <id>', description: 'the pool id the coordinator must announce (default: the one remembered in <nodekey>.pools.json)', parser: text },
    insecureCoordinator: { flags: '--insecure-coordinator', description: 'allow plain http:// to a coordinator off loopback (lab networks only)', parser: flag },
  },
)

export function refundCommand(): Command {
  // Its flags follow `refund` (vipnode client takes positional options): `vipnode client refund --bootstrap URL`.
  const command = new Command('refund').description("ask the pool for this client node's unspent deposits back (trial and credit money is not refunded); the node is not served again until it deposits again")
  return refundOptions.addTo(command).action(async () => {
    const o = refundOptions.read(command)
    if (refundOptions.printConfig(command, o)) return
    assertSecureCoordinatorUrl(o.bootstrap, o.insecureCoordinator)
    const keyFile = findNodeKeyFile(o.nodekey, o.datadir)
    const key = loadNodeKey(keyFile)
    const base = httpBase(o.bootstrap)
    const config = await getJson(new URL('/v1/join/config', base))
    // Never sign for a pool this key does not recognise (a changed pool id at a known origin).
    new KnownPools({ file: KnownPools.fileFor(keyFile), ...(o.poolId ? { expectedPoolId: o.poolId } : {}) }).accept(normaliseOrigin(o.bootstrap), config.poolId)
    // The node's balance is only shown to a query signed by its key.
    const { nodeId, api } = await signedNodeLinks(o.bootstrap, keyFile, DEFAULT_NODE_QUERY_TTL_MS)
    const node = await getJson(new URL(api))
    if (node.refundableWei === undefined) throw new Error(`${base}/v1/nodes/${nodeId} did not show this node's balance (is the pool id right?)`)
    const to = (o.to ?? nodeKeyAddress(key)).toLowerCase()
    const keepWei = BigInt(node.balanceWei) - BigInt(node.refundableWei)
    print({ nodeId, to, refundableWei: node.refundableWei, balanceWei: node.balanceWei, notRefundedWei: keepWei.toString(), message: `refunding ${node.refundableWei} wei to ${to}${keepWei > 0n ? ` (${keepWei} wei of trial or credit money stays with the pool)` : ''}; the node will not be served until it deposits again` })
    if (BigInt(node.refundableWei) <= 0n) throw new Error('nothing to refund: this node has no deposited money left')
    const request = signRefundRequest(key, { coordinatorUrl: o.bootstrap, poolId: config.poolId, contract: config.deposits?.contract ?? null, to, nowMs: Date.now() })
    const res = await fetch(new URL(REFUNDS_PATH, base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request), signal: AbortSignal.timeout(30_000) })
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string }; refundedWei?: string; settlesWithEpoch?: number }
    if (!res.ok) throw new Error(`refund refused (${body.error?.code ?? res.status}): ${body.error?.message ?? res.statusText}`)
    print({ ...body, message: `refunded ${body.refundedWei} wei to ${to}: claimable after epoch ${body.settlesWithEpoch} settles and its root is on chain (vipnode host claim --payout ${to}, or /join?payout=${to})` })
  })
}
