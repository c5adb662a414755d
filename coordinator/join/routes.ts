/**
 * The join page (GET /join) and its public JSON API:
 *
 * - GET /v1/join/config: what the page needs to show the pool and to build
 *   transactions (chain, contract, confirmations, price, free slots, the
 *   contract's selectors and custom errors).
 * - GET /v1/nodes/:nodeId: anonymously only what anyone can compute from the
 *   node ID (its deposit account) and the epoch; with `?auth=` signed by the
 *   node's key (protocol/nodeQuery.ts, printed by `vipnode client status`)
 *   also its balance, deposits waiting for it, service this epoch and assigned
 *   peers. Node IDs are public on devp2p: a balance or a host list must not be.
 *
 * Read-only: the page signs nothing on the server and holds no secret; the
 * wallet in the browser signs transactions, the node key signs queries. Both
 * JSON endpoints are rate-limited per socket address, like /v1/bootstrap.
 */
import express, { Router, type Request, type Response, type NextFunction } from 'express'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { normaliseOrigin, originFromHostHeader, parseNodeId, verifyNodeQuery, type NodeId } from '../../protocol/index.ts'
import { depositAccountOf } from '../../contracts/depositAccount.ts'
import type { CoordinatorServices } from '../rpc/context.ts'
import { Accounts } from '../logic/accounts.ts'
import { AddressRateLimiter } from '../server/rateLimiter.ts'
import { stoppedByRefund } from '../logic/refunds.ts'
import { status } from '../server/status.ts'
import type { ComputeUnitCosts } from '../../protocol/costTable.ts'
import { pageAbi, type PageAbi } from './contractAbi.ts'
import { joinPage, JOIN_ASSETS, JOIN_PATH } from './page.ts'

export { JOIN_PATH, JOIN_ASSETS } from './page.ts'
export const JOIN_CONFIG_PATH = '/v1/join/config'
export const NODES_PATH = '/v1/nodes'

const ASSETS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'assets')

/** The dashboard's policy: own scripts and styles only, nothing inline, no framing. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/**
 * Per socket address: the page polls a node about once a second while a
 * deposit is being credited, so 3/s with a burst of 30 leaves room for a
 * person and little for a crawler walking node IDs. Wall time on purpose:
 * the services' clock is the metering clock (tests drive it by hand).
 */
const RATE_PER_SECOND = 3
const RATE_BURST = 30
const MAX_TRACKED_IPS = 10_000
/** How long the chain's id is trusted after a failed lookup before asking again. */
const CHAIN_ID_RETRY_MS = 10_000

export interface JoinConfigBody {
  poolId: string
  version: string
  /** The chain the pool's nodes are on, when the pool is restricted to one. */
  nodeChainId: number | null
  networks: { chainId: number; hostsOnline: number; freeSlots: number }[]
  hostsOnline: number
  clientsOnline: number
  freeSlots: number
  priceWeiPerHostMinute: string
  /** rpc service: wei per compute unit; '0' when only time is priced. */
  priceWeiPerComputeUnit: string
  /** When units are priced: what a unit buys. */
  computeUnitCosts?: ComputeUnitCosts
  /**
   * When units are priced: the least balance a light client holds one rpc host with (one update interval of its
   * time and of relay service at --hold-cu-rate; coordinator/logic/affordableHosts.ts).
   */
  holdWeiPerRpcHost?: string
  /** A paying client below this balance is not served. */
  minBalanceWei: string
  epochMs: number
  /** Null when the pool takes no deposits on chain (no --chain-rpc). */
  deposits: null | {
    /** The settlement chain's id as its RPC reports it; null (with chainError) when it did not answer. */
    chainId: number | null
    chainError?: string
    contract: string
    /** Blocks on top of a deposit's block before the coordinator credits it. */
    confirmations: number
    /** How often the coordinator reads the chain. */
    chainPollMs: number
    /** The contract refuses zero deposits. */
    minDepositWei: string
    /** For the wallet's wallet_addEthereumChain; only an RPC URL that can carry no credential is shared (see publicRpcUrl). */
    rpcUrl: string | null
    abi: PageAbi
  }
}

/** What anyone may see of a node: nothing the node ID does not already say, and the pool's epoch. */
export interface PublicNodeBody {
  nodeId: NodeId
  /** bytes32 the contract's deposit(account) takes for this node: keccak256(nodeId). */
  depositAccount: string
  /** False: no valid `auth` was given, so balance, service and peers are left out. */
  authorised: false
  epoch: number
  epochEndsAtMs: number
}

/** What the node's key holder sees (a query signed by its node key). */
export interface NodeBody {
  nodeId: NodeId
  /** bytes32 the contract's deposit(account) takes for this node: keccak256(nodeId). */
  depositAccount: string
  authorised: true
  /** Whether the coordinator has ever seen this node connect. */
  known: boolean
  role: 'client' | 'host' | null
  online: boolean
  lastSeenMs: number | null
  /** Credited to the node's ledger account. */
  balanceWei: string
  /** Deposits on chain for this node while the coordinator had not seen it yet; moved to the balance when it connects. */
  pendingDepositWei: string
  /** The part of the balance a refund pays now: deposits not yet spent (trial and credit money is spent first and never refunded). */
  refundableWei: string
  /** The node asked for a refund and has not deposited since: it is not served until it deposits again. */
  stoppedByRefund: boolean
  /** Whether a client with this balance is served now (a free pool serves everyone). */
  canBeServed: boolean
  epoch: number
  epochEndsAtMs: number
  /** Corroborated service this epoch: received for a client, given for a host. */
  serviceMsThisEpoch: number
  /** For a client, its assigned hosts; for a host, the clients assigned to it. */
  peers: { nodeId: NodeId; online: boolean }[]
}

/**
 * The chain RPC URL, if it is safe to hand to every visitor: only a bare
 * origin (no path, query, fragment or user info), because providers put API
 * keys in exactly those places (https://mainnet.infura.io/v3/<key>).
 */
export function publicRpcUrl(url: string | undefined): string | null {
  if (!url) return null
  try {
    const u = new URL(url)
    if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) return null
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null
    return u.origin
  } catch {
    return null
  }
}

/** eth_chainId of the settlement chain, asked once and kept; a failure is retried after a while. */
class ChainIdLookup {
  private value: number | undefined
  private inflight: Promise<number> | undefined
  private failed: { atMs: number; message: string } | undefined

  constructor(private readonly url: string) {}

  async get(): Promise<{ chainId: number } | { error: string }> {
    if (this.value !== undefined) return { chainId: this.value }
    if (this.failed && Date.now() - this.failed.atMs < CHAIN_ID_RETRY_MS) return { error: this.failed.message }
    this.inflight ??= this.ask().finally(() => {
      this.inflight = undefined
    })
    try {
      this.value = await this.inflight
      return { chainId: this.value }
    } catch (err) {
      this.failed = { atMs: Date.now(), message: `the chain's RPC did not answer eth_chainId: ${(err as Error).message}` }
      return { error: this.failed.message }
    }
  }

  private async ask(): Promise<number> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(5_000),
    })
    const body = (await res.json()) as { result?: unknown; error?: { message?: string } }
    if (typeof body.result !== 'string' || !/^0x[0-9a-f]+$/i.test(body.result)) throw new Error(body.error?.message ?? `unexpected answer (HTTP ${res.status})`)
    const id = Number(BigInt(body.result))
    if (!Number.isSafeInteger(id) || id < 1) throw new Error(`unusable chain id ${body.result}`)
    return id
  }
}

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({ 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' })
  next()
}

function badRequest(res: Response, message: string): void {
  res.status(400).json({ error: { code: 'INVALID_PARAMS', message } })
}

export function joinRoutes(services: CoordinatorServices): Router {
  const { config, sessions, assignments, metering, epochs, clock, poolId } = services
  const { nodes, ledger, usage: usageReads } = services.reads
  const chainId = config.chainRpc ? new ChainIdLookup(config.chainRpc) : undefined

  const limiter = new AddressRateLimiter(RATE_PER_SECOND, RATE_BURST, () => Date.now(), MAX_TRACKED_IPS).middleware(services.clientAddress)
  const limited = (req: Request, res: Response, next: NextFunction): void => {
    res.set('Cache-Control', 'no-store')
    limiter(req, res, next)
  }

  const r = Router()

  r.get(JOIN_PATH, securityHeaders, (_req, res) => {
    res.status(200).set('Cache-Control', 'no-store').type('html').send(joinPage(poolId))
  })
  r.use(
    JOIN_ASSETS,
    (_req, res, next) => {
      res.set({ 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' })
      next()
    },
    express.static(ASSETS_DIR, { index: false, redirect: false, dotfiles: 'ignore', extensions: false }),
  )

  r.get(JOIN_CONFIG_PATH, limited, async (_req, res) => {
    const s = status(services)
    let deposits: JoinConfigBody['deposits'] = null
    if (chainId && config.contract) {
      const chain = await chainId.get()
      deposits = {
        chainId: 'chainId' in chain ? chain.chainId : null,
        ...('error' in chain ? { chainError: chain.error } : {}),
        contract: config.contract,
        confirmations: config.confirmations,
        chainPollMs: config.chainPollMs,
        minDepositWei: '1',
        rpcUrl: publicRpcUrl(config.chainRpc),
        abi: pageAbi(),
      }
    }
    const body: JoinConfigBody = {
      poolId,
      version: s.version,
      nodeChainId: s.chainId,
      networks: s.networks,
      hostsOnline: s.hostsOnline,
      clientsOnline: s.clientsOnline,
      freeSlots: s.freeSlots,
      priceWeiPerHostMinute: s.priceWeiPerHostMinute,
      priceWeiPerComputeUnit: s.priceWeiPerComputeUnit,
      ...(s.computeUnitCosts ? { computeUnitCosts: s.computeUnitCosts, holdWeiPerRpcHost: metering.holdCost(config.updateIntervalMs, 'rpc').totalWei.toString() } : {}),
      minBalanceWei: config.minBalanceWei.toString(),
      epochMs: epochs.epochMs,
      deposits,
    }
    res.json(body)
  })

  r.get(`${NODES_PATH}/:nodeId`, limited, async (req, res) => {
    let nodeId: NodeId
    try {
      nodeId = parseNodeId(req.params.nodeId as string)
    } catch {
      badRequest(res, 'nodeId must be a node ID: 128 hex characters (the 64-byte public key; from an enode://<node ID>@host:port URL)')
      return
    }
    const account = depositAccountOf(nodeId)
    const epoch = epochs.epochOf(clock.now())
    const auth = req.query.auth
    if (auth === undefined) {
      const anonymous: PublicNodeBody = { nodeId, depositAccount: account, authorised: false, epoch, epochEndsAtMs: epochs.bounds(epoch).endMs }
      res.json(anonymous)
      return
    }
    if (typeof auth !== 'string') {
      badRequest(res, 'auth must be given once')
      return
    }
    const origins = config.publicUrls?.length ? config.publicUrls.map(normaliseOrigin) : [originFromHostHeader(req.headers.host, req.secure)].filter((o): o is string => o !== undefined)
    const verdict = verifyNodeQuery(auth, { poolId, origins, nodeId, path: `${NODES_PATH}/${nodeId}`, nowMs: Date.now() })
    if (!verdict.ok) {
      res.status(verdict.code === 'MALFORMED' ? 400 : 401).json({ error: { code: verdict.code === 'MALFORMED' ? 'INVALID_PARAMS' : verdict.code === 'EXPIRED' ? 'AUTH_EXPIRED' : 'UNAUTHORISED', message: verdict.message } })
      return
    }
    const [node, balance, pending, served, money] = await Promise.all([
      nodes.getNode(nodeId),
      ledger.balanceOf(Accounts.client(nodeId)),
      ledger.balanceOf(Accounts.unclaimedDeposit(account)),
      metering.canBeServed(nodeId),
      services.refunds.moneyOf(nodeId),
    ])
    const stopped = stoppedByRefund(money)
    const role = node?.role ?? null
    // Only this node's pairs: the cost stays that of one node, however many pairs the epoch has.
    const usage = await usageReads.usage(role === 'host' ? { epoch, hostId: nodeId } : { epoch, clientId: nodeId })
    let serviceMs = 0
    for (const u of usage) serviceMs += u.serviceMs
    const peers = role === 'host' ? assignments.clientsOf(nodeId) : assignments.hostsOf(nodeId)
    const body: NodeBody = {
      nodeId,
      depositAccount: account,
      authorised: true,
      known: node !== undefined,
      role,
      online: sessions.isOnline(nodeId),
      lastSeenMs: node?.lastSeenMs ?? null,
      balanceWei: balance.toString(),
      pendingDepositWei: pending.toString(),
      refundableWei: money.depositWei.toString(),
      stoppedByRefund: stopped,
      canBeServed: served.ok && !stopped,
      epoch,
      epochEndsAtMs: epochs.bounds(epoch).endMs,
      serviceMsThisEpoch: serviceMs,
      peers: peers.map((id) => ({ nodeId: id, online: sessions.isOnline(id) })),
    }
    res.json(body)
  })
  r.get(NODES_PATH, limited, (_req, res) => badRequest(res, `give the node ID in the path: ${NODES_PATH}/<128 hex characters>`))

  return r
}
