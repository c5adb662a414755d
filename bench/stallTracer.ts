/**
 * Loaded into the coordinator by `bench:load --trace-stalls` (node --import): prints to stderr, as `[stall] …`
 * lines, every callback that held the event loop for 25 ms or more (with its async resource type), every GC pause
 * of 8 ms or more, and every time a 5 ms timer fired more than 30 ms late. A way to find the rare long stall of a
 * run (issue 20). Async hooks are not free: at 5,000 reports/s they took the coordinator's loop delay p99 from
 * 15–17 ms to 54–57 ms (the loop is then late every scavenge), so read the callbacks it names, not the run's
 * latency figures. Two traced runs on 2026-12-06 named no callback of 25 ms or more.
 */
import { createHook } from 'node:async_hooks'
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks'

const t0 = performance.now()
const at = (ms: number) => `${((ms - t0) / 1000).toFixed(2)}s`
const say = (line: string) => process.stderr.write(`[stall] ${line}\n`)

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
}
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind
    if (e.duration >= 8) say(`gc ${GC_KINDS[kind ?? -1] ?? kind} ${e.duration.toFixed(0)} ms at ${at(e.startTime)}`)
  }
}).observe({ entryTypes: ['gc'] })

// Callback timing: the type of each async resource, and a stack of the callbacks running now.
const types = new Map<number, string>()
const running: { id: number; start: number }[] = []
createHook({
  init(id, type) {
    if (type !== 'PROMISE') types.set(id, type)
  },
  before(id) {
    if (types.has(id)) running.push({ id, start: performance.now() })
  },
  after(id) {
    if (!types.has(id)) return
    const top = running.pop()
    if (!top) return
    const ms = performance.now() - top.start
    if (ms >= 25) say(`callback ${types.get(id)} held the loop ${ms.toFixed(0)} ms, ending at ${at(performance.now())}`)
  },
  destroy(id) {
    types.delete(id)
  },
}).enable()

let last = performance.now()
setInterval(() => {
  const now = performance.now()
  const late = now - last - 5
  if (late > 30) say(`timer ${late.toFixed(0)} ms late at ${at(now)}`)
  last = now
}, 5).unref()
