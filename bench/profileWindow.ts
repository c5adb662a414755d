/**
 * Where a V8 CPU profile (`bench:load --profile DIR`, `node --cpu-prof`) spent a stretch of time: busy, GC and
 * idle milliseconds per 100 ms over the last seconds of the run, and the frames (self and inclusive) of one
 * window. The way to find a stall or a slow shutdown: look at the timeline, then at the busiest window.
 *
 *   npx tsx bench/profileWindow.ts DIR/CPU.….cpuprofile --last 8          # timeline of the last 8 s
 *   npx tsx bench/profileWindow.ts DIR/CPU.….cpuprofile --from 5.5 --to 4.6  # frames between 5.5 s and 4.6 s before the end
 *   npx tsx bench/profileWindow.ts DIR/CPU.….cpuprofile --stretches 5 --to 2 # the 5 longest runs without an idle sample
 *
 * A run of samples with no idle one between is time the event loop never waited for I/O: the upper bound of a
 * stall (several callbacks may share it). Its frames say what held the loop.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { last: { type: 'string' }, from: { type: 'string' }, to: { type: 'string', default: '0' }, top: { type: 'string', default: '30' }, stretches: { type: 'string' } },
})
const file = positionals[0]
if (!file) throw new Error('usage: profileWindow.ts PROFILE [--last SECONDS] [--from SECONDS --to SECONDS] (seconds before the end of the profile)')
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parentOf = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
const frameName = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`

/** Each sample: seconds before the end, the ms it stands for (the gap to the next sample) and its node. */
let at = profile.startTime
const samples = profile.samples.map((id, i) => {
  at += profile.timeDeltas[i]!
  return { beforeEndS: (profile.endTime - at) / 1e6, ms: (profile.timeDeltas[i + 1] ?? 0) / 1000, node: byId.get(id)! }
})
const kindOf = (n: ProfileNode) => (n.callFrame.functionName === '(idle)' ? 'idle' : n.callFrame.functionName === '(garbage collector)' ? 'gc' : 'busy')

console.log(`${file}: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s, ${samples.length} samples`)
if (values.last) {
  const last = Number(values.last)
  const buckets: Record<'busy' | 'gc' | 'idle', number>[] = []
  for (const s of samples) {
    if (s.beforeEndS > last) continue
    const b = (buckets[Math.floor(s.beforeEndS * 10)] ??= { busy: 0, gc: 0, idle: 0 })
    b[kindOf(s.node)] += s.ms
  }
  for (let b = buckets.length - 1; b >= 0; b--) {
    const x = buckets[b] ?? { busy: 0, gc: 0, idle: 0 }
    console.log(`-${(b / 10).toFixed(1)} s  busy ${x.busy.toFixed(0).padStart(3)} ms  gc ${x.gc.toFixed(0).padStart(3)} ms  idle ${x.idle.toFixed(0).padStart(3)} ms`)
  }
}
/** Self and inclusive time of the not-idle samples between `from` and `to` seconds before the end. */
function frames(from: number, to: number, top: number): void {
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  for (const s of samples) {
    if (s.beforeEndS > from || s.beforeEndS < to || kindOf(s.node) === 'idle') continue
    total += s.ms
    self.set(frameName(s.node), (self.get(frameName(s.node)) ?? 0) + s.ms)
    // A recursive frame counts once per sample.
    const seen = new Set<string>()
    for (let id: number | undefined = s.node.id; id !== undefined; id = parentOf.get(id)) {
      const name = frameName(byId.get(id)!)
      if (!seen.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + s.ms)
      seen.add(name)
    }
  }
  const show = (title: string, m: Map<string, number>) => {
    console.log(`\n${title} (ms of ${total.toFixed(0)} ms not idle between ${from} s and ${to} s before the end)`)
    for (const [name, ms] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms.toFixed(0).padStart(7)}  ${name}`)
  }
  show('self', self)
  show('inclusive', inclusive)
}
if (values.from) frames(Number(values.from), Number(values.to), Number(values.top))
if (values.stretches) {
  // Runs of consecutive samples none of which is idle (only those ending at least `--to` seconds before the end).
  const runs: { fromS: number; toS: number; ms: number; gcMs: number }[] = []
  let open: (typeof runs)[number] | undefined
  for (const s of samples) {
    if (kindOf(s.node) === 'idle') {
      if (open) runs.push(open)
      open = undefined
      continue
    }
    open ??= { fromS: s.beforeEndS, toS: s.beforeEndS, ms: 0, gcMs: 0 }
    open.toS = s.beforeEndS
    open.ms += s.ms
    if (kindOf(s.node) === 'gc') open.gcMs += s.ms
  }
  const longest = runs.filter((r) => r.toS >= Number(values.to)).sort((a, b) => b.ms - a.ms).slice(0, Number(values.stretches))
  for (const r of longest) console.log(`${r.ms.toFixed(0).padStart(5)} ms not idle (${r.gcMs.toFixed(0)} ms GC) from ${r.fromS.toFixed(2)} s to ${r.toS.toFixed(2)} s before the end`)
  if (longest[0]) frames(longest[0].fromS, longest[0].toS, Number(values.top))
}
