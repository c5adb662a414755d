/** Child processes for end-to-end tests: the real `vipnode` CLI, awaited by its log lines, never by sleeps. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { duplicateKeys } from './logLines.ts'

export const VIPNODE_BIN = fileURLToPath(new URL('../../bin/vipnode.js', import.meta.url))

export interface Proc {
  child: ChildProcess
  /** Parsed JSON log lines (stdout), in order. */
  logs: Record<string, any>[]
  stderr: string[]
  /** Log lines that wrote a key twice (every process's lines are checked as they arrive; see test/harness/logLines.ts). */
  duplicateKeyLines: string[]
  waitForLog(predicate: (line: Record<string, any>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, any>>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** `nodeArgs` go to node itself, before the script (`--cpu-prof`, which NODE_OPTIONS refuses). */
export function spawnVipnode(args: string[], env: Record<string, string> = {}, cwd?: string, nodeArgs: string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeArgs, VIPNODE_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd })
  return track(child)
}

export function spawnTs(script: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  return track(child)
}

function track(child: ChildProcess): Proc {
  const logs: Record<string, any>[] = []
  const stderr: string[] = []
  const duplicateKeyLines: string[] = []
  const listeners = new Set<() => void>()
  const wake = () => {
    for (const l of listeners) l()
  }
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (duplicateKeys(line).length > 0) duplicateKeyLines.push(line)
    try {
      logs.push(JSON.parse(line))
    } catch {
      logs.push({ msg: line, raw: true })
    }
    wake()
  })
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line)
    wake()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal })
      wake()
    })
  })
  let done = false
  void exited.then(() => (done = true))
  return {
    child,
    logs,
    stderr,
    duplicateKeyLines,
    exited,
    waitForLog(predicate, what, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs.find(predicate)
          if (hit) {
            cleanup()
            resolve(hit)
          } else if (done) {
            cleanup()
            reject(new Error(`process exited while waiting for ${what}; stderr: ${stderr.join('\n').slice(-2000)}`))
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`timed out waiting for ${what}; last logs: ${JSON.stringify(logs.slice(-5))}; stderr: ${stderr.join('\n').slice(-1000)}`))
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          listeners.delete(check)
        }
        listeners.add(check)
        check()
      })
    },
    async stop(signal = 'SIGTERM') {
      if (!done) child.kill(signal)
      return exited
    },
  }
}
