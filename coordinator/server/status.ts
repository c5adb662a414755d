/** The pool's public summary: GET /v1/status, the status page and the join page show it. */
import type { CoordinatorServices } from '../rpc/context.ts'
import { PROTOCOL_VERSION } from '../../protocol/index.ts'
import { VERSION } from '../../lib/packageVersion.ts'
import { computeUnitCosts, type ComputeUnitCosts } from '../../protocol/costTable.ts'

export interface StatusBody {
  poolId: string
  version: string
  protocolVersion: number
  chainId: number | null
  hostsOnline: number
  clientsOnline: number
  freeSlots: number
  networks: { chainId: number; hostsOnline: number; freeSlots: number }[]
  priceWeiPerHostMinute: string
  /** rpc service: wei per compute unit (--price-per-cu); '0' when only time is priced. */
  priceWeiPerComputeUnit: string
  /** When units are priced: what a unit buys (the default cost table's common calls). */
  computeUnitCosts?: ComputeUnitCosts
}

export function status(services: CoordinatorServices): StatusBody {
  const byChain = new Map<number, { hostsOnline: number; freeSlots: number }>()
  const now = services.clock.now()
  for (const h of services.sessions.sessions('host')) {
    const entry = byChain.get(h.chainId) ?? { hostsOnline: 0, freeSlots: 0 }
    entry.hostsOnline++
    entry.freeSlots += services.assignments.freeSlotsOf(h, now)
    byChain.set(h.chainId, entry)
  }
  const networks = [...byChain].map(([chainId, v]) => ({ chainId, ...v })).sort((a, b) => a.chainId - b.chainId)
  return {
    poolId: services.poolId,
    version: VERSION,
    protocolVersion: PROTOCOL_VERSION,
    chainId: services.config.chainId ?? null,
    hostsOnline: services.sessions.count('host'),
    clientsOnline: services.sessions.count('client'),
    freeSlots: networks.reduce((n, x) => n + x.freeSlots, 0),
    networks,
    priceWeiPerHostMinute: services.config.priceWeiPerMinute.toString(),
    ...pricePerComputeUnit(services.config.pricePerCuWei),
  }
}

/** The per-unit price fields of /v1/status, /v1/join/config and the dashboard: the costs only when units are priced. */
export function pricePerComputeUnit(pricePerCuWei: bigint): { priceWeiPerComputeUnit: string; computeUnitCosts?: ComputeUnitCosts } {
  return pricePerCuWei > 0n ? { priceWeiPerComputeUnit: pricePerCuWei.toString(), computeUnitCosts: computeUnitCosts() } : { priceWeiPerComputeUnit: '0' }
}
