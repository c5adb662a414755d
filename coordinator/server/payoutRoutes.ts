/**
 * Payout reads: public proofs for claimants and every settled epoch's tree
 * (rate-limited per address, cost independent of the pool's history), and
 * admin views of usage and epochs behind a bearer token. Amounts are decimal wei strings.
 */
import { Router, type Request, type Response, type NextFunction } from 'express'
import { AddressRateLimiter } from './rateLimiter.ts'
import { adminAttempts, judgeBearer } from '../dashboard/auth.ts'
import type { CoordinatorServices } from '../rpc/context.ts'
import type { EpochHeader } from '../store/store.ts'
import { qualityAdminRoutes } from './qualityRoutes.ts'

const ADDRESS = /^0x[0-9a-fA-F]{40}$/
/** Per address, for the public payout and tree lookups: a claimant or a verifier needs a few, a crawler gets few. */
const RATE_PER_SECOND = 3
const RATE_BURST = 30
const MAX_TRACKED_IPS = 10_000

export function epochJson(e: EpochHeader) {
  return {
    epoch: e.epoch,
    startMs: e.startMs,
    endMs: e.endMs,
    revenueWei: e.revenueWei.toString(),
    carriedInWei: e.carriedInWei.toString(),
    feeWei: e.feeWei.toString(),
    carriedOutWei: e.carriedOutWei.toString(),
    totalEntitledWei: e.totalEntitledWei.toString(),
    root: e.root,
    settledAtMs: e.settledAtMs,
    txHash: e.txHash,
    postedAtMs: e.postedAtMs,
  }
}

function requireAdmin(services: CoordinatorServices) {
  const token = services.config.adminToken
  return (req: Request, res: Response, next: NextFunction) => {
    const address = services.clientAddress(req)
    const verdict = judgeBearer(req, token, address, adminAttempts(services, services.clock))
    if (verdict?.ok) return next()
    if (verdict?.status === 429) {
      services.log.warn('admin bearer attempts rate limited', { remote: address })
      res.set('Retry-After', String(verdict.retryAfterS))
      res.status(429).json({ error: { code: 'RATE_LIMITED', message: verdict.message } })
      return
    }
    if (verdict) services.log.warn('admin bearer token refused', { remote: address })
    res.status(401).json({ error: { code: 'UNAUTHORIZED', message: token ? 'admin token required: Authorization: Bearer <token>' : 'the admin API is off: start the coordinator with --admin-token' } })
  }
}

export function payoutRoutes(services: CoordinatorServices): Router {
  const { epochs: epochReads, usage } = services.reads
  const r = Router()

  const trees = services.reads.payoutTrees
  const limited = new AddressRateLimiter(RATE_PER_SECOND, RATE_BURST, () => Date.now(), MAX_TRACKED_IPS).middleware(services.clientAddress)

  /**
   * The payee's proof. Off chain: against the latest settled epoch. On chain: against the epoch whose
   * root is *active* on chain (status `claimable`), with the epoch whose root is pending beside it
   * (`pending`: its cumulative and when it becomes claimable). A payee found only in a pending root
   * gets status `pending` and no proof yet. Cost: a few indexed reads and map lookups (services/payoutTrees.ts).
   */
  r.get('/v1/payouts/:address', limited, async (req, res) => {
    res.set('Cache-Control', 'no-store')
    const address = req.params.address
    if (!ADDRESS.test(address)) {
      res.status(400).json({ error: { code: 'INVALID_PARAMS', message: 'address must be a 0x-prefixed 20-byte hex address' } })
      return
    }
    const latest = await epochReads.latestPayoutEpoch()
    if (!latest) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no epoch with payouts has been settled yet' } })
      return
    }
    const roots = services.chainRoots?.()
    const claimableEpoch = roots ? await trees.epochOfRoot(roots.activeRoot) : latest.epoch
    const pendingEpoch = roots?.pending ? await trees.epochOfRoot(roots.pending.root) : undefined
    const claimable = claimableEpoch !== undefined ? await trees.leafIn(claimableEpoch, address) : undefined
    const pendingLeaf = pendingEpoch !== undefined ? await trees.leafIn(pendingEpoch, address) : undefined
    const pending = pendingLeaf && roots?.pending
      ? { epoch: pendingLeaf.epoch, root: pendingLeaf.root, cumulativeWei: pendingLeaf.cumulativeWei, claimableAtMs: roots.pending.claimableAtMs, txHash: pendingLeaf.txHash }
      : null
    if (claimable) {
      res.json({ ...claimable, status: 'claimable', pending })
      return
    }
    if (pending) {
      res.json({ address: pendingLeaf!.address, status: 'pending', epoch: pending.epoch, root: pending.root, cumulativeWei: pending.cumulativeWei, proof: null, txHash: pending.txHash, pending })
      return
    }
    const inLatest = await trees.leafIn(latest.epoch, address)
    const message = inLatest ? `${address} has an entitlement as of epoch ${latest.epoch}, whose root is not proposed on chain yet` : `${address} has no entitlement as of epoch ${latest.epoch}`
    res.status(404).json({ error: { code: 'NOT_FOUND', message } })
  })

  // The newest tree whose root is on chain: where `vipnode verify-root` starts without --epoch.
  r.get('/v1/epochs/latest/tree', limited, async (_req, res) => {
    res.set('Cache-Control', 'no-store')
    const latest = await epochReads.latestPayoutEpoch({ posted: true })
    if (!latest) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no payout root has been posted on chain yet' } })
      return
    }
    res.redirect(302, `/v1/epochs/${latest.epoch}/tree`)
  })

  // Every settled epoch's full leaf set (StandardMerkleTree dump), so anyone can rebuild and check its root.
  r.get('/v1/epochs/:epoch/tree', limited, async (req, res) => {
    const n = Number(req.params.epoch)
    if (!/^[1-9][0-9]{0,15}$/.test(req.params.epoch) || !Number.isSafeInteger(n)) {
      res.set('Cache-Control', 'no-store').status(400).json({ error: { code: 'INVALID_PARAMS', message: 'epoch must be a positive integer (or "latest")' } })
      return
    }
    const t = await trees.treeBody(n)
    if (!t.ok) {
      res.set('Cache-Control', 'no-store').status(404).json({ error: { code: t.code, message: t.message } })
      return
    }
    // Immutable once settled: caches and mirrors may keep it forever.
    res.set({ 'Cache-Control': 'public, max-age=31536000, immutable', ETag: `"${t.root}"`, 'X-Vipnode-Epoch': String(t.epoch), 'X-Vipnode-Root': t.root })
    res.type('application/json').send(t.body)
  })

  const admin = Router()
  admin.use(requireAdmin(services))
  admin.get('/epochs', async (_req, res) => {
    res.json({ epochs: (await epochReads.epochHeaders()).map(epochJson) })
  })
  admin.get('/epochs/:epoch', async (req, res) => {
    const n = Number(req.params.epoch)
    const e = Number.isSafeInteger(n) ? await epochReads.getEpoch(n) : undefined
    if (!e) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: `epoch ${req.params.epoch} is not settled` } })
      return
    }
    const payouts = (await epochReads.epochPayouts(n)).map((p) => ({ ...p, amountWei: p.amountWei.toString(), cumulativeWei: p.cumulativeWei.toString() }))
    res.json({ ...epochJson(e), payouts })
  })
  admin.get('/usage', async (req, res) => {
    const epoch = req.query.epoch === undefined ? services.epochs.epochOf(services.clock.now()) : Number(req.query.epoch)
    if (!Number.isSafeInteger(epoch) || epoch < 1) {
      res.status(400).json({ error: { code: 'INVALID_PARAMS', message: 'epoch must be a positive integer' } })
      return
    }
    const rows = await usage.usage({ epoch })
    res.json({ epoch, pairs: rows.map((u) => ({ clientId: u.clientId, hostId: u.hostId, serviceMs: u.serviceMs, chargedWei: u.chargedWei.toString(), computeUnits: u.computeUnits })) })
  })
  // rpc hosts' service quality: /v1/admin/quality, /v1/admin/hosts/:nodeId/quality.
  admin.use(qualityAdminRoutes(services))
  r.use('/v1/admin', admin)
  return r
}
