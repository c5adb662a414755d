/**
 * Reading a process's Prometheus metrics over HTTP, as Prometheus would: for
 * tests on spawned coordinators, whose registries are not in the test's process.
 */

/** One sample line of the text format: name, labels, value. */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parse the Prometheus text format (comments skipped; label values unescaped enough for our metrics). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, '$1')
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}

/**
 * GET `<baseUrl>/metrics` and sum the samples of `name` whose labels include `labels`
 * (0 when there are none). Throws when the process does not answer, so a
 * `waitFor` around it keeps waiting.
 */
export async function scrapeMetric(baseUrl: string, name: string, labels: Record<string, string> = {}, timeoutMs = 5_000): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })
  if (!res.ok) throw new Error(`GET ${baseUrl}/metrics: HTTP ${res.status}`)
  return parseMetrics(await res.text())
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0)
}
