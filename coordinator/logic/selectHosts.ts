/**
 * Which hosts may serve a client, and in what order. Pure: no I/O, no clock.
 * This is the basic policy (filter, then least load relative to capacity);
 * every host not chosen gets a reason so the choice can be explained.
 */
import type { NodeId, ServiceKind } from '../../protocol/index.ts'

export interface HostCandidate {
  nodeId: NodeId
  chainId: number
  kind: ServiceKind
  capacity: number
  /** Active assignments plus admissions in flight. */
  load: number
}

export interface SelectionRequest {
  clientId: NodeId
  chainId: number
  kind: ServiceKind
  count: number
  /** Hosts this client already has. */
  exclude: ReadonlySet<NodeId>
}

export type RejectReason = 'self' | 'already-assigned' | 'wrong-network' | 'wrong-kind' | 'full'

export interface Selection {
  chosen: NodeId[]
  rejected: { nodeId: NodeId; reason: RejectReason }[]
}

export function selectHosts(candidates: readonly HostCandidate[], req: SelectionRequest): Selection {
  const eligible: HostCandidate[] = []
  const rejected: Selection['rejected'] = []
  for (const h of candidates) {
    const reason: RejectReason | undefined =
      h.nodeId === req.clientId
        ? 'self'
        : req.exclude.has(h.nodeId)
          ? 'already-assigned'
          : h.chainId !== req.chainId
            ? 'wrong-network'
            : h.kind !== req.kind
              ? 'wrong-kind'
              : h.load >= h.capacity
                ? 'full'
                : undefined
    if (reason) rejected.push({ nodeId: h.nodeId, reason })
    else eligible.push(h)
  }
  // Least loaded relative to capacity first; ties broken by absolute free slots, then node ID for determinism.
  eligible.sort((a, b) => a.load / a.capacity - b.load / b.capacity || b.capacity - b.load - (a.capacity - a.load) || (a.nodeId < b.nodeId ? -1 : 1))
  return { chosen: eligible.slice(0, req.count).map((h) => h.nodeId), rejected }
}

/** "no hosts with free slots on chain 1: 4 full, 1 wrong-network" */
export function explainNoHosts(selection: Selection, chainId: number, onlineHosts: number): string {
  if (onlineHosts === 0) return `no hosts online on chain ${chainId}`
  const counts = new Map<RejectReason, number>()
  for (const r of selection.rejected) counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1)
  const parts = [...counts].map(([reason, n]) => `${n} ${reason}`)
  return `no hosts with free slots on chain ${chainId}: ${parts.join(', ')}`
}
