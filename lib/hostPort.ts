/** `host:port` listen addresses for flags (`127.0.0.1:8545`, `[::1]:8545`, `:8545` for all interfaces). */
export function parseHostPort(text: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim())
  if (!m) throw new Error(`"${text}" is not host:port`)
  const port = Number(m[3])
  if (port > 65535) throw new Error(`port ${port} is out of range`)
  const host = m[1] ?? m[2] ?? ''
  return { host: host === '' ? defaultHost : host, port }
}
