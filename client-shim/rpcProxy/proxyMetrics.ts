/**
 * The rpc proxy's Prometheus metrics (`vipnode client --service rpc
 * --metrics-listen`), on the shim's own registry. Labels are bounded:
 * `method` is one of protocol/quality.ts QUALITY_METHODS or `other`, and no
 * host is named (the per-host picture goes to the pool as `quality`).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { LATENCY_BUCKETS_MS } from '../../protocol/quality.ts'

export interface ProxyGauges {
  hosts(): number
  benched(): number
  sessions(): number
}

export function createProxyMetrics(registry: Registry = new Registry(), gauges: ProxyGauges = { hosts: () => 0, benched: () => 0, sessions: () => 0 }) {
  return {
    calls: new Counter({
      name: 'vipnode_proxy_calls_total',
      help: 'Calls sent to pool hosts, one per attempt on a host, by method and outcome: ok, client-error, node-error, refused, transport, timeout (docs/rpcService.md#quality).',
      labelNames: ['method', 'outcome'] as const,
      registers: [registry],
    }),
    callSeconds: new Histogram({
      name: 'vipnode_proxy_call_seconds',
      help: 'Time from sending a request to a pool host to its reply, for each served call, by method.',
      labelNames: ['method'] as const,
      buckets: LATENCY_BUCKETS_MS.map((ms) => ms / 1000),
      registers: [registry],
    }),
    failovers: new Counter({ name: 'vipnode_proxy_failovers_total', help: 'Attempts on a host that failed (connection, timeout, 5xx, 401, redirect), after which the request went on to the next assigned host, if any.', registers: [registry] }),
    noHost: new Counter({ name: 'vipnode_proxy_no_host_total', help: 'Requests answered -32002: no assigned host could serve them.', registers: [registry] }),
    hosts: new Gauge({
      name: 'vipnode_proxy_hosts',
      help: 'rpc hosts the pool assigned to this client.',
      registers: [registry],
      collect() {
        this.set(gauges.hosts())
      },
    }),
    benchedHosts: new Gauge({
      name: 'vipnode_proxy_benched_hosts',
      help: 'Assigned hosts benched for errors or timeouts (handed back to the pool at the next report).',
      registers: [registry],
      collect() {
        this.set(gauges.benched())
      },
    }),
    sessions: new Gauge({
      name: 'vipnode_proxy_sessions',
      help: 'Local WebSocket clients of the proxy.',
      registers: [registry],
      collect() {
        this.set(gauges.sessions())
      },
    }),
  }
}

export type ProxyMetrics = ReturnType<typeof createProxyMetrics>
