/**
 * `vipnode verify-root`: check a payout root without trusting the coordinator. Fetches the epoch's
 * published tree (GET /v1/epochs/:n/tree) and the previous one, rebuilds the root from the leaves,
 * and checks it against the contract: posted, with the same total, no payee's cumulative down, and
 * no more promised than the contract ever received. Prints one line per check; exits 1 on any failure.
 */
import { Command } from 'commander'
import { Contract, JsonRpcProvider, type EventLog } from 'ethers'
import { z } from 'zod'
import { defineOptions, integer, text } from '../lib/cliOptions.ts'
import { parseTreeFile, checkOnChain, checkMonotonic, checkSolvent, type ChainRootView, type CheckResult, type ParsedTree } from '../coordinator/logic/verifyRoot.ts'

/** The part of IVipnodePool that verify-root reads (no compiler needed to check a root). */
export const CHAIN_ROOT_ABI = [
  'function root() view returns (bytes32)',
  'function totalReceived() view returns (uint256)',
  'function pendingRoot() view returns (uint64 epoch, bytes32 root, uint256 totalEntitled, uint256 claimableAt)',
  'event RootProposed(uint64 indexed epoch, bytes32 root, uint256 totalEntitled, uint256 claimableAt)',
  'event RootRevoked(uint64 indexed epoch, bytes32 root, address guardian)',
]

/**
 * Everything verify-root reads from the chain, in one place: the root claims are checked against now
 * (`root()`: the active one, or a pending one whose delay has passed), the proposal still waiting
 * out its delay, and the root's own proposal and revocation.
 */
export async function readChainRoot(pool: Contract, root: string, fromBlock: number): Promise<ChainRootView> {
  // One call at a time: some JSON-RPC servers (the dev chain among them) drop concurrent requests.
  const activeRoot = (await pool.getFunction('root')()) as string
  const totalReceivedWei = (await pool.getFunction('totalReceived')()) as bigint
  const [, pendingRoot, , claimableAt] = (await pool.getFunction('pendingRoot')()) as [bigint, string, bigint, bigint]
  const same = (e: EventLog) => (e.args[1] as string).toLowerCase() === root.toLowerCase()
  const post = ((await pool.queryFilter(pool.filters.RootProposed!(), fromBlock)) as EventLog[]).reverse().find(same)
  const revocation = post ? ((await pool.queryFilter(pool.filters.RootRevoked!(), post.blockNumber)) as EventLog[]).find(same) : undefined
  return {
    activeRoot,
    totalReceivedWei,
    pending: BigInt(pendingRoot) === 0n ? undefined : { root: pendingRoot, claimableAtMs: Number(claimableAt) * 1000 },
    revoked: revocation ? { txHash: revocation.transactionHash, guardian: revocation.args[2] as string } : undefined,
    posted: post ? { chainEpoch: post.args[0] as bigint, totalEntitledWei: post.args[2] as bigint, txHash: post.transactionHash } : undefined,
  }
}

type Fetched = { ok: true; epoch: number; text: string } | { ok: false; status: number; code: string | undefined; message: string }

async function fetchTree(coordinator: string, which: number | 'latest'): Promise<Fetched> {
  const res = await fetch(new URL(`/v1/epochs/${which}/tree`, coordinator))
  const text = await res.text()
  if (!res.ok) {
    let err: { code?: string; message?: string } | undefined
    try {
      err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error
    } catch {
      err = undefined
    }
    return { ok: false, status: res.status, code: err?.code, message: err?.message ?? `HTTP ${res.status}` }
  }
  const epoch = Number(res.headers.get('x-vipnode-epoch') ?? /\/v1\/epochs\/(\d+)\/tree$/.exec(new URL(res.url).pathname)?.[1])
  return { ok: true, epoch, text }
}

export const verifyRootOptions = defineOptions(
  z
    .object({
      coordinator: z.string().min(1),
      chainRpc: z.string().min(1),
      contract: z.string().min(1),
      epoch: z.number().int().min(1).optional(),
      fromBlock: z.number().int().min(0).default(0),
    })
    .strict(),
  {
    coordinator: { flags: '--coordinator <url>', description: 'the coordinator base URL (serves /v1/epochs/:n/tree) (required)', parser: text },
    chainRpc: { flags: '--chain-rpc <url>', description: 'JSON-RPC URL of the chain (required)', parser: text },
    contract: { flags: '--contract <0x…>', description: 'the VipnodePool address (required)', parser: text },
    epoch: { flags: '--epoch <n>', description: "the coordinator's epoch to check (default: the newest whose root is on chain)", parser: integer(1, Number.MAX_SAFE_INTEGER) },
    fromBlock: { flags: '--from-block <n>', description: 'first block to search for RootProposed events (the contract deployment block; lowers the log range on public RPCs)', parser: integer(0, Number.MAX_SAFE_INTEGER) },
  },
)

export type VerifyRootOptions = z.output<typeof verifyRootOptions.schema>

/** Runs every check it can; a check that cannot run is a failure with its reason. */
export async function verifyRoot(o: VerifyRootOptions): Promise<{ epoch: number | undefined; root: string | undefined; results: CheckResult[] }> {
  const results: CheckResult[] = []
  const fail = (check: string, message: string) => results.push({ ok: false, check, message })
  const got = await fetchTree(o.coordinator, o.epoch ?? 'latest')
  if (!got.ok) {
    fail('tree file', `coordinator: ${got.message}`)
    return { epoch: o.epoch, root: undefined, results }
  }
  const epoch = got.epoch
  let tree: ParsedTree
  try {
    tree = parseTreeFile(got.text, `tree of epoch ${epoch}`)
  } catch (err) {
    fail('tree file', (err as Error).message)
    return { epoch, root: undefined, results }
  }
  results.push({ ok: true, check: 'tree file', message: `epoch ${epoch}: ${tree.leaves.size} leaves, root ${tree.root} rebuilt from the leaves` })

  const provider = new JsonRpcProvider(o.chainRpc, undefined, { staticNetwork: true, batchMaxCount: 1 })
  try {
    const code = await provider.getCode(o.contract)
    if (code === '0x') {
      fail('on chain', `no contract at ${o.contract} on ${o.chainRpc}`)
    } else {
      const pool = new Contract(o.contract, CHAIN_ROOT_ABI, provider)
      const chain = await readChainRoot(pool, tree.root, o.fromBlock)
      results.push(...checkOnChain(epoch, tree, chain))
      results.push(checkSolvent(epoch, tree, chain.totalReceivedWei))
    }
  } catch (err) {
    fail('on chain', `could not read the contract: ${(err as Error).message}`)
  } finally {
    provider.destroy()
  }

  if (epoch > 1) {
    const prev = await fetchTree(o.coordinator, epoch - 1)
    if (prev.ok) {
      try {
        results.push(checkMonotonic(epoch - 1, parseTreeFile(prev.text, `tree of epoch ${epoch - 1}`), epoch, tree))
      } catch (err) {
        fail('cumulative', (err as Error).message)
      }
    } else if (prev.code === 'NO_PAYOUTS') {
      results.push(checkMonotonic(epoch - 1, undefined, epoch, tree))
    } else {
      fail('cumulative', `the tree of epoch ${epoch - 1} is not available: ${prev.message}`)
    }
  } else {
    results.push(checkMonotonic(0, undefined, epoch, tree))
  }
  return { epoch, root: tree.root, results }
}

export function verifyRootCommand(): Command {
  const command = new Command('verify-root').description(
    "check a payout root without trusting the coordinator: rebuild it from the published tree, compare it with the contract's, check that no payee's cumulative went down since the previous epoch and that the leaves promise no more than the contract received; exit code 1 on any failure",
  )
  return verifyRootOptions.addTo(command).action(async () => {
    const o = verifyRootOptions.read(command)
    if (verifyRootOptions.printConfig(command, o)) return
    const { epoch, root, results } = await verifyRoot(o)
    for (const r of results) process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.check}: ${r.message}\n`)
    const failed = results.filter((r) => !r.ok).length
    if (failed === 0) {
      process.stdout.write(`verified: epoch ${epoch} root ${root}\n`)
    } else {
      process.stdout.write(`NOT verified: ${failed} of ${results.length} checks failed${epoch ? ` for epoch ${epoch}` : ''}\n`)
      process.exitCode = 1
    }
  })
}
