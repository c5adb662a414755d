/**
 * Prometheus metrics for the agents (`vipnode host|client --metrics-listen`):
 * the process metrics every vipnode process exports, and a small HTTP server
 * that answers GET /metrics on its own address and 404 to anything else. The
 * coordinator serves its registry through its own HTTP app.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { collectDefaultMetrics, type Registry } from 'prom-client'

/**
 * prom-client's default metrics that `promtool check metrics` rejects (gauges
 * named *_total). Each has a per-type gauge beside it (without _total) whose
 * sum it is, so nothing is lost by dropping them.
 */
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

/** The process metrics (CPU, memory, event loop, GC) under `vipnode_process_`, without the ones promtool rejects. */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'vipnode_process_' })
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(`vipnode_process_${name}`)
}

export interface MetricsServer {
  /** http://host:port/metrics */
  readonly url: string
  close(): Promise<void>
}

/** Serve `registry` at GET /metrics on host:port (port 0 picks one). */
export async function startMetricsServer(registry: Registry, listen: { host: string; port: number }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at GET /metrics\n')
      return
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const host = listen.host.includes(':') ? `[${listen.host}]` : listen.host
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
