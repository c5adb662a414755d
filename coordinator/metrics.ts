/**
 * Prometheus metrics, on a private registry per coordinator so that two
 * coordinators can run in one test process. Names follow
 * vipnode_<subsystem>_<noun>_<unit|total>; labels never carry node IDs.
 */
import { Registry, Counter, Gauge, Histogram } from 'prom-client'
import { registerProcessMetrics } from '../lib/metricsServer.ts'

export function createCoordinatorMetrics(registry: Registry) {
  let stateSizes: () => Record<string, number> = () => ({})
  let onProbation: () => number = () => 0
  registerProcessMetrics(registry)
  return {
    storeSeconds: new Histogram({
      name: 'vipnode_store_seconds',
      help: 'Time spent in store calls, by Store method.',
      labelNames: ['method'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    agentSockets: new Gauge({ name: 'vipnode_agent_sockets', help: 'Authenticated agent WebSockets by role.', labelNames: ['role'] as const, registers: [registry] }),
    previousRunAgents: new Gauge({
      name: 'vipnode_agents_previous_run',
      help: 'Agents the previous run had (online at its graceful stop, or sessions a crash left open): the level vipnode_agent_sockets returns to after a restart. 0 when there was none to wait for (also on replicas).',
      registers: [registry],
    }),
    pendingSockets: new Gauge({ name: 'vipnode_agent_unauthenticated_sockets', help: 'Agent WebSockets that have not authenticated yet.', registers: [registry] }),
    reports: new Counter({ name: 'vipnode_agent_reports_total', help: 'Peer reports (vipnode_update) ingested.', registers: [registry] }),
    disputes: new Counter({
      name: 'vipnode_disputes_total',
      help: 'Assigned pairs released because they did not corroborate in time, by kind and by the side blamed.',
      labelNames: ['kind', 'blamed'] as const,
      registers: [registry],
    }),
    reportsUnmetered: new Counter({
      name: 'vipnode_agent_reports_unmetered_total',
      help: 'Reports answered without metering: less than half an update interval after the same agent\'s last metered report.',
      registers: [registry],
    }),
    relayRequests: new Counter({ name: 'vipnode_relay_requests_total', help: 'Relayed JSON-RPC requests (rpc service) as reported by each side.', labelNames: ['role'] as const, registers: [registry] }),
    reportAck: new Histogram({
      name: 'vipnode_report_ack_seconds',
      help: 'Time from receiving a peer report to acknowledging it.',
      // Up to 2.5 s: a database server falling behind shows here first (PostgreSQL tails reached 0.5 s in bench:load).
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    rpcRequests: new Counter({ name: 'vipnode_rpc_requests_total', help: 'Agent RPC requests by method and outcome code (0 = success).', labelNames: ['method', 'code'] as const, registers: [registry] }),
    frames: new Counter({ name: 'vipnode_ws_frames_total', help: 'Agent WebSocket frames by direction.', labelNames: ['direction'] as const, registers: [registry] }),
    assignmentSeconds: new Histogram({
      name: 'vipnode_assignment_seconds',
      help: 'Time to choose and admit hosts for one vipnode_requestHosts.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    busRequests: new Counter({
      name: 'vipnode_cluster_requests_total',
      help: 'Requests to sibling replicas over the cluster bus (--nats), by topic and result: ok, timeout, no-responders, error.',
      labelNames: ['topic', 'result'] as const,
      registers: [registry],
    }),
    busMessages: new Counter({
      name: 'vipnode_cluster_messages_total',
      help: 'Cluster bus messages (--nats) by topic and direction (in, out): host directory, forwarded reports, releases, requests.',
      labelNames: ['topic', 'direction'] as const,
      registers: [registry],
    }),
    remoteHosts: new Gauge({ name: 'vipnode_cluster_remote_hosts', help: 'Hosts online on sibling replicas, as this replica\'s directory mirror holds them.', registers: [registry] }),
    admissionsFailed: new Counter({ name: 'vipnode_admissions_failed_total', help: 'vipnode_admit calls that a host refused or did not answer in time.', registers: [registry] }),
    serviceSeconds: new Counter({ name: 'vipnode_service_seconds_total', help: 'Corroborated, paid-for service time accrued across all client-host pairs.', registers: [registry] }),
    epochsSettled: new Counter({ name: 'vipnode_epochs_settled_total', help: 'Epochs settled.', registers: [registry] }),
    lastEpochRevenue: new Gauge({ name: 'vipnode_epoch_revenue_wei', help: 'Revenue of the last settled epoch, in wei.', registers: [registry] }),
    ledgerImbalance: new Gauge({ name: 'vipnode_ledger_imbalance_wei', help: 'Sum over all ledger accounts; anything but 0 is a bug.', registers: [registry] }),
    refunds: new Counter({ name: 'vipnode_refunds_total', help: 'Client refund requests (POST /v1/refunds), by result: accepted or the error code.', labelNames: ['result'] as const, registers: [registry] }),
    assignmentsReleased: new Counter({ name: 'vipnode_assignments_released_total', help: 'Client-host assignments released, by reason.', labelNames: ['reason'] as const, registers: [registry] }),
    assignmentSkipped: new Counter({
      name: 'vipnode_assignment_skipped_total',
      help: 'Hosts passed over when choosing hosts for a client (vipnode_requestHosts and GET /v1/bootstrap), by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    implausibleHeads: new Counter({
      name: 'vipnode_implausible_heads_total',
      help: 'Head reports more than --max-block-lag blocks above the head a quorum of hosts has reached, by role of the reporter.',
      labelNames: ['role'] as const,
      registers: [registry],
    }),
    stateEntries: new Gauge({
      name: 'vipnode_state_entries',
      help: 'Entries in the coordinator\'s in-memory maps keyed by node or pair, by map: each is pruned when its node is gone and holds nothing (docs/security.md, limits).',
      labelNames: ['map'] as const,
      registers: [registry],
      collect() {
        for (const [map, n] of Object.entries(stateSizes())) this.set({ map }, n)
      },
    }),
    /** Where vipnode_state_entries reads its sizes (set by the composition root). */
    setStateSizes(source: () => Record<string, number>) {
      stateSizes = source
    },
    singletonDuties: new Gauge({
      name: 'vipnode_singleton_duties',
      help: '1 while this coordinator holds the duties lease (settlement, the chain, retention); 0 while another coordinator sharing the database does.',
      registers: [registry],
    }),
    retention: new Counter({
      name: 'vipnode_retention_rows_total',
      help: 'Rows the retention pass removed, by kind: reports, sessions, assignments (history past --report-retention), nodes (keys that held nothing), charges (charge transfers folded into an earlier one).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    qualityEntries: new Counter({
      name: 'vipnode_quality_entries_total',
      help: 'Per-host quality entries in rpc clients\' reports, by result: accepted, not-assigned (the host is not this client\'s: ignored), not-a-client (sent by a host: ignored).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    hostExclusions: new Counter({ name: 'vipnode_host_exclusions_total', help: 'Times an rpc host was taken out of rotation because its clients found its answers to checked calls in the minority.', registers: [registry] }),
    badAnswerReports: new Counter({
      name: 'vipnode_bad_answer_reports_total',
      help: 'vipnode_reportBadAnswer reports by result: accepted, not-assigned (the host or a witness is not this client\'s rpc host: ignored), not-a-client (sent by a host: ignored).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    hostProbations: new Counter({ name: 'vipnode_host_probations_total', help: 'Times an rpc host went on probation (its clients\' reports put its score below the threshold).', registers: [registry] }),
    hostsOnProbation: new Gauge({
      name: 'vipnode_hosts_on_probation',
      help: 'rpc hosts on probation now: they get at most one new client per trial period until their score recovers.',
      registers: [registry],
      collect() {
        this.set(onProbation())
      },
    }),
    /** Where vipnode_hosts_on_probation reads its count (set by the composition root). */
    setProbationCount(source: () => number) {
      onProbation = source
    },
    trials: new Counter({
      name: 'vipnode_trials_total',
      help: 'Trial credits asked for on client connect, by result (granted, repeat, budget-spent).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
  }
}

export type CoordinatorMetrics = ReturnType<typeof createCoordinatorMetrics>

/**
 * Time every method call on the store into vipnode_store_seconds (label: the
 * method name, a fixed set). The store is otherwise untouched: same methods,
 * same results, same errors.
 */
export function instrumentStore<S extends object>(store: S, metrics: Pick<CoordinatorMetrics, 'storeSeconds'>): S {
  // Keyed by the function itself, so a method replaced on the store later is wrapped afresh.
  const wrapped = new WeakMap<object, unknown>()
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function' || typeof prop !== 'string') return value
      let fn = wrapped.get(value)
      if (!fn) {
        const method = value as (...args: unknown[]) => unknown
        fn = (...args: unknown[]) => {
          const end = metrics.storeSeconds.startTimer({ method: prop })
          let result: unknown
          try {
            result = method.apply(target, args)
          } catch (err) {
            end()
            throw err
          }
          if (result instanceof Promise) return result.finally(() => end())
          end()
          return result
        }
        wrapped.set(value, fn)
      }
      return fn
    },
  })
}
