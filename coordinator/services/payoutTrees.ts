/**
 * Public payout reads whose cost does not grow with the pool's history: the latest payout tree is kept
 * loaded (its JSON parsed once per settled epoch, with an index by payee; no re-hashing), and the serialized tree bodies served
 * at /v1/epochs/:n/tree are cached (immutable once settled). A lookup is one indexed query for the
 * latest epoch's number plus a map lookup and an O(log payees) proof.
 */
import type { PayoutLeaf, PayoutTreeDump } from '../../contracts/merkle.ts'
import type { EpochStore } from '../store/store.ts'

export interface PayoutLookup {
  address: string
  epoch: number
  root: string
  cumulativeWei: string
  proof: string[]
  txHash: string | null
}

interface LoadedTree {
  epoch: number
  root: string
  /** Set once the root's proposal is sent. */
  txHash: string | null
  /** The dump's node hashes, root first. */
  hashes: string[]
  /** Lowercase payee → its leaf value and position in `hashes`. */
  byPayee: Map<string, { value: PayoutLeaf; treeIndex: number }>
}

/**
 * The proof of the leaf at `treeIndex` read straight from a stored dump's node array (siblings up to
 * the root), as StandardMerkleTree#getProof computes it but without re-hashing and validating the
 * whole tree on load (which costs more than a second at 1,000 payees). The dump was built and stored
 * by our own settlement, so it needs no validation here; `vipnode verify-root` validates what it fetches.
 */
export function proofFromDump(hashes: readonly string[], treeIndex: number): string[] {
  const proof: string[] = []
  for (let i = treeIndex; i > 0; i = Math.floor((i - 1) / 2)) proof.push(hashes[i % 2 === 1 ? i + 1 : i - 1]!)
  return proof
}

/** Tree bodies kept; a verifier reads the latest two, so a handful covers honest use. */
const MAX_CACHED_BODIES = 16

export type TreeBody = { ok: true; epoch: number; root: string; body: string } | { ok: false; code: 'NOT_FOUND' | 'NO_PAYOUTS'; message: string }

/** Loaded trees kept: the latest, and on chain the active and the pending one. */
const MAX_LOADED_TREES = 3
/** How far back from the latest payout epoch a root is looked for (the active root is normally the latest or the one before). */
const MAX_ROOT_LOOKBACK = 64

export class PayoutTrees {
  private readonly loaded = new Map<number, LoadedTree>()
  private readonly epochByRoot = new Map<string, number>()
  private readonly bodies = new Map<number, { root: string; body: string }>()

  constructor(private readonly store: EpochStore) {}

  /** The claim arguments for `address` as of the latest payout tree; undefined epoch when nothing is settled yet. */
  async lookup(address: string): Promise<{ epoch: number | undefined; found: PayoutLookup | undefined }> {
    const summary = await this.store.latestPayoutEpoch()
    if (!summary) return { epoch: undefined, found: undefined }
    return { epoch: summary.epoch, found: await this.leafIn(summary.epoch, address) }
  }

  /**
   * The settled epoch whose root is `root` (the root active or pending on chain), looked for from the
   * latest payout epoch back at most MAX_ROOT_LOOKBACK epochs, and remembered.
   */
  async epochOfRoot(root: string): Promise<number | undefined> {
    const known = this.epochByRoot.get(root)
    if (known !== undefined) return known
    const latest = await this.store.latestPayoutEpoch()
    if (!latest) return undefined
    for (let n = latest.epoch; n > 0 && n > latest.epoch - MAX_ROOT_LOOKBACK; n--) {
      const record = n === latest.epoch ? latest : await this.store.getEpoch(n)
      if (record?.root === root) {
        this.epochByRoot.set(root, n)
        if (this.epochByRoot.size > MAX_CACHED_BODIES) this.epochByRoot.delete(this.epochByRoot.keys().next().value!)
        return n
      }
    }
    return undefined
  }

  /** `address`'s leaf and proof in a settled epoch's tree; undefined when it has none there. */
  async leafIn(epoch: number, address: string): Promise<PayoutLookup | undefined> {
    let tree = this.loaded.get(epoch)
    if (!tree) {
      // A settled epoch's tree never changes; its transaction hash is re-read below while unset.
      const record = await this.store.getEpoch(epoch)
      if (!record || record.tree === '{}') return undefined
      const dump = JSON.parse(record.tree) as PayoutTreeDump
      const byPayee = new Map<string, { value: PayoutLeaf; treeIndex: number }>()
      for (const { value, treeIndex } of dump.values) byPayee.set(value[0].toLowerCase(), { value, treeIndex })
      tree = { epoch, root: record.root, txHash: record.txHash, hashes: dump.tree, byPayee }
      this.loaded.set(epoch, tree)
      if (this.loaded.size > MAX_LOADED_TREES) this.loaded.delete(this.loaded.keys().next().value!)
    }
    const leaf = tree.byPayee.get(address.toLowerCase())
    if (!leaf) return undefined
    if (tree.txHash === null) {
      // Cheap (no tree read): only the latest epoch's root can still be waiting for its proposal.
      const latest = await this.store.latestPayoutEpoch()
      if (latest?.epoch === epoch) tree.txHash = latest.txHash
    }
    const [payee, cumulative] = leaf.value
    return { address: payee, epoch, root: tree.root, cumulativeWei: cumulative, proof: proofFromDump(tree.hashes, leaf.treeIndex), txHash: tree.txHash }
  }

  /** The StandardMerkleTree dump of a settled epoch, serialized once. */
  async treeBody(epoch: number): Promise<TreeBody> {
    const cached = this.bodies.get(epoch)
    if (cached) return { ok: true, epoch, ...cached }
    const record = await this.store.getEpoch(epoch)
    if (!record) return { ok: false, code: 'NOT_FOUND', message: `epoch ${epoch} is not settled (yet, or ever): trees are published once an epoch settles` }
    if (record.tree === '{}') return { ok: false, code: 'NO_PAYOUTS', message: `epoch ${epoch} settled with no payouts: it has no tree and no root` }
    const entry = { root: record.root, body: record.tree }
    this.bodies.set(epoch, entry)
    if (this.bodies.size > MAX_CACHED_BODIES) this.bodies.delete(this.bodies.keys().next().value!)
    return { ok: true, epoch, ...entry }
  }
}
