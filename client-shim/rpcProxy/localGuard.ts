/**
 * Who may use the shim's local endpoints (the JSON-RPC proxy and the beacon
 * API): the `Host` header must name this machine or an allowed host (a page
 * on another site that rebinds its name to 127.0.0.1 cannot reach them), and
 * a browser's `Origin` must be allowed (`*` allows any).
 */
import type { IncomingMessage } from 'node:http'

const LOCAL_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1']

export interface LocalGuard {
  hostAllowed(req: IncomingMessage): boolean
  /** Undefined: not a browser request. Otherwise whether its origin may use the endpoint. */
  originAllowed(req: IncomingMessage): boolean | undefined
}

export function localGuard(listenHost: string, opts: { allowedHosts?: readonly string[] | undefined; allowedOrigins?: readonly string[] | undefined }): LocalGuard {
  const allowedHosts = new Set([...LOCAL_HOSTS, listenHost, ...(opts.allowedHosts ?? [])].map((h) => h.toLowerCase()))
  const allowedOrigins = new Set(opts.allowedOrigins ?? [])
  return {
    hostAllowed(req) {
      if (allowedHosts.has('*')) return true
      const host = (req.headers.host ?? '').toLowerCase()
      const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!
      return allowedHosts.has(name)
    },
    originAllowed(req) {
      const origin = req.headers.origin
      if (origin === undefined) return undefined
      return allowedOrigins.has('*') || allowedOrigins.has(origin)
    },
  }
}
