/**
 * Payout reads: public proofs for claimants, and admin views of usage and
 * epochs behind a bearer token. Amounts are decimal wei strings.
 */
import { Router, type Request, type Response, type NextFunction } from 'express'
import { timingSafeEqual, createHash } from 'node:crypto'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import type { CoordinatorServices } from '../rpc/context.ts'
import type { EpochRecord } from '../store/store.ts'

const ADDRESS = /^0x[0-9a-fA-F]{40}$/

export function epochJson(e: EpochRecord) {
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

function requireAdmin(token: string | undefined) {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return (req: Request, res: Response, next: NextFunction) => {
    const given = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1]
    // Hash both sides so the comparison is constant-time whatever the lengths.
    if (!token || !given || !timingSafeEqual(digest(given), digest(token))) {
      res.status(401).json({ error: { code: 'UNAUTHORIZED', message: token ? 'admin token required: Authorization: Bearer <token>' : 'the admin API is off: start the coordinator with --admin-token' } })
      return
    }
    next()
  }
}

export function payoutRoutes(services: CoordinatorServices): Router {
  const { store } = services
  const r = Router()

  r.get('/v1/payouts/:address', async (req, res) => {
    const address = req.params.address
    if (!ADDRESS.test(address)) {
      res.status(400).json({ error: { code: 'INVALID_PARAMS', message: 'address must be a 0x-prefixed 20-byte hex address' } })
      return
    }
    const latest = (await store.listEpochs()).at(-1)
    if (!latest || latest.tree === '{}') {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'no epoch with payouts has been settled yet' } })
      return
    }
    const tree = StandardMerkleTree.load<[string, string]>(JSON.parse(latest.tree))
    for (const [i, [payee, cumulative]] of tree.entries()) {
      if (payee.toLowerCase() === address.toLowerCase()) {
        res.json({ address: payee, epoch: latest.epoch, root: latest.root, cumulativeWei: cumulative, proof: tree.getProof(i), txHash: latest.txHash })
        return
      }
    }
    res.status(404).json({ error: { code: 'NOT_FOUND', message: `${address} has no entitlement as of epoch ${latest.epoch}` } })
  })

  const admin = Router()
  admin.use(requireAdmin(services.config.adminToken))
  admin.get('/epochs', async (_req, res) => {
    res.json({ epochs: (await store.listEpochs()).map(epochJson) })
  })
  admin.get('/epochs/:epoch', async (req, res) => {
    const n = Number(req.params.epoch)
    const e = Number.isSafeInteger(n) ? await store.getEpoch(n) : undefined
    if (!e) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: `epoch ${req.params.epoch} is not settled` } })
      return
    }
    const payouts = (await store.epochPayouts(n)).map((p) => ({ ...p, amountWei: p.amountWei.toString(), cumulativeWei: p.cumulativeWei.toString() }))
    res.json({ ...epochJson(e), payouts })
  })
  admin.get('/usage', async (req, res) => {
    const epoch = req.query.epoch === undefined ? services.epochs.epochOf(services.clock.now()) : Number(req.query.epoch)
    if (!Number.isSafeInteger(epoch) || epoch < 1) {
      res.status(400).json({ error: { code: 'INVALID_PARAMS', message: 'epoch must be a positive integer' } })
      return
    }
    const rows = await store.usage({ epoch })
    res.json({ epoch, pairs: rows.map((u) => ({ clientId: u.clientId, hostId: u.hostId, serviceMs: u.serviceMs, chargedWei: u.chargedWei.toString() })) })
  })
  r.use('/v1/admin', admin)
  return r
}
