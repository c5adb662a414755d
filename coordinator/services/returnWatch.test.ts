import { afterEach, describe, expect, test } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { recordingLogger, testAgent, type TestAgent } from '../../test/harness/agents.ts'
import { tempDb, testCoordinator } from '../../test/harness/coordinator.ts'
import { identity } from '../../test/harness/rawAgent.ts'
import { scrapeMetric } from '../../test/harness/metrics.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import type { RunningCoordinator } from '../coordinator.ts'
import { AGENTS_AT_STOP_META, ReturnWatch } from './returnWatch.ts'

function metaStore(initial: Record<string, string> = {}) {
  const meta = new Map(Object.entries(initial))
  return { meta, getMeta: async (k: string) => meta.get(k), setMeta: async (k: string, v: string) => void meta.set(k, v) }
}

const POLICY = { everyMs: 5_000, forMs: 60_000 }

describe('ReturnWatch', () => {
  test('behavior: after a crash it waits for the sessions left open, logs progress, and one line when all are back', async () => {
    const clock = manualClock(1_000)
    const log = recordingLogger()
    let online = 0
    const watch = await ReturnWatch.open(POLICY, 3, { store: metaStore(), online: () => online, clock, log })
    expect(watch.previousRun).toBe(3)
    clock.advance(5_000)
    online = 2
    expect(watch.tick()).toBe('returning')
    expect(log.lines.at(-1)).toMatchObject({ level: 'info', message: 'agents returning after restart', context: { online: 2, previousRun: 3, elapsedMs: 5_000 } })
    clock.advance(5_000)
    online = 3
    expect(watch.tick()).toBe('all back')
    expect(log.lines.at(-1)).toMatchObject({ level: 'info', message: "previous run's agents back", context: { online: 3, previousRun: 3, elapsedMs: 10_000 } })
    // Done: later looks log nothing more.
    const lines = log.lines.length
    expect(watch.tick()).toBe('all back')
    expect(log.lines.length).toBe(lines)
  })

  test('behavior: after a graceful stop it waits for the agents online at the stop, and clears the record so a later crash is not mistaken for it', async () => {
    const store = metaStore()
    await ReturnWatch.noteStop(store, 7, 500)
    const deps = { store, online: () => 0, clock: manualClock(), log: recordingLogger() }
    expect((await ReturnWatch.open(POLICY, 0, deps)).previousRun).toBe(7)
    expect(store.meta.get(AGENTS_AT_STOP_META)).toBe('')
    expect((await ReturnWatch.open(POLICY, 0, deps)).previousRun).toBe(0)
    // A crash (sessions left open) counts what it left, whatever an older stop record says.
    await ReturnWatch.noteStop(store, 7, 500)
    expect((await ReturnWatch.open(POLICY, 4, deps)).previousRun).toBe(4)
  })

  test('behavior: agents still missing when the watch ends are logged at warn with how many', async () => {
    const clock = manualClock(0)
    const log = recordingLogger()
    const watch = await ReturnWatch.open(POLICY, 10, { store: metaStore(), online: () => 6, clock, log })
    clock.advance(POLICY.forMs)
    expect(watch.tick()).toBe('given up')
    expect(log.lines.at(-1)).toMatchObject({ level: 'warn', message: "previous run's agents still missing", context: { online: 6, previousRun: 10, missing: 4 } })
  })

  test('edge: an unreadable or absent stop record means nothing to wait for; start logs nothing then', async () => {
    const log = recordingLogger()
    for (const record of ['not json', '{"agents":-3}', '{"agents":"many"}', '']) {
      const watch = await ReturnWatch.open(POLICY, 0, { store: metaStore({ [AGENTS_AT_STOP_META]: record }), online: () => 0, clock: manualClock(), log })
      expect(watch.previousRun).toBe(0)
      watch.start()
      expect(watch.tick()).toBe('returning')
      watch.stop()
    }
    expect(log.lines).toEqual([])
  })
})

describe('a coordinator stopped and restarted on its database', () => {
  const agents: TestAgent[] = []
  const coordinators: RunningCoordinator[] = []
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()))
    await Promise.all(coordinators.splice(0).map((c) => c.close()))
  })

  test('behavior: a graceful stop with 3 agents online logs one line for their sockets; the next start shows 3 on /metrics and logs when all 3 are back', async () => {
    const db = tempDb()
    const ids = [identity(41001), identity(41002), identity(41003)]
    const stopLog = recordingLogger()
    const first = await testCoordinator({ db }, { logger: stopLog })
    const firstAgents = await Promise.all(ids.map((id, i) => testAgent(first.url, { role: i === 0 ? 'host' : 'client' }, {}, id)))
    await first.close()
    await Promise.all(firstAgents.map((a) => a.close()))
    // The stop says so once for all its sockets; each agent's disconnect goes to debug (20,000 lines at a large pool's stop).
    expect(stopLog.lines.filter((l) => l.message === 'agent sockets closed').map((l) => l.context?.sockets)).toEqual([3])
    expect(stopLog.lines.filter((l) => l.message === 'agent disconnected').map((l) => l.level)).toEqual(['debug', 'debug', 'debug'])

    const log = recordingLogger()
    const second = await testCoordinator({ db }, { logger: log, returnWatch: { everyMs: 20, forMs: 60_000 } })
    coordinators.push(second)
    expect(await scrapeMetric(second.url, 'vipnode_agents_previous_run')).toBe(3)
    for (const [i, id] of ids.entries()) {
      agents.push(await testAgent(second.url, { role: i === 0 ? 'host' : 'client' }, {}, id))
      if (i === 1) await waitFor(() => log.lines.find((l) => l.message === 'agents returning after restart' && l.context?.online === 2), 'progress at 2 of 3')
    }
    const back = await waitFor(() => log.lines.find((l) => l.message === "previous run's agents back"), 'the all-back line')
    expect(back.context).toMatchObject({ online: 3, previousRun: 3 })
    // Never logged before the third agent was in.
    expect(log.lines.filter((l) => l.message === "previous run's agents back")).toHaveLength(1)
  })
})
