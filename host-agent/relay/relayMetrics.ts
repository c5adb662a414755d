/**
 * The relay's Prometheus metrics (`vipnode host --service rpc --metrics-listen`),
 * on the agent's own registry. Labels are bounded: `method` is one of
 * protocol/quality.ts QUALITY_METHODS or `other`, never a client or a node ID.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { LATENCY_BUCKETS_MS } from '../../protocol/quality.ts'

/** What the relay made of one call: a verdict on the node's reply (agent/relay/replyVerdict.ts), or its own refusal. */
export type RelayCallOutcome = 'served' | 'client-error' | 'host-error' | 'not-relayed' | 'over-cap' | 'rate-limited'

export function createRelayMetrics(registry: Registry = new Registry(), sessionCount: () => number = () => 0) {
  return {
    calls: new Counter({
      name: 'vipnode_relay_calls_total',
      help: 'Relayed JSON-RPC calls by method and outcome: served, client-error, host-error (verdicts on the reply), or refused by the relay: not-relayed (policy), over-cap (logs range, gas), rate-limited.',
      labelNames: ['method', 'outcome'] as const,
      registers: [registry],
    }),
    callSeconds: new Histogram({
      name: 'vipnode_relay_call_seconds',
      help: 'Time from a relayed request\'s arrival to its reply, for each served call, by method.',
      labelNames: ['method'] as const,
      buckets: LATENCY_BUCKETS_MS.map((ms) => ms / 1000),
      registers: [registry],
    }),
    computeUnits: new Counter({ name: 'vipnode_relay_compute_units_total', help: 'Compute units of served calls and delivered notifications (what the relay reports to the pool).', registers: [registry] }),
    notifications: new Counter({ name: 'vipnode_relay_notifications_total', help: 'Subscription notifications delivered to clients.', registers: [registry] }),
    sessions: new Gauge({
      name: 'vipnode_relay_sessions',
      help: 'Open client WebSocket sessions on the relay.',
      registers: [registry],
      collect() {
        this.set(sessionCount())
      },
    }),
  }
}

export type RelayMetrics = ReturnType<typeof createRelayMetrics>
