/**
 * The direction of imports, checked on every .ts file of the package
 * (docs/architecture.md draws the same layers). Type-only imports count: a
 * layer that names another's types knows about it.
 *
 * Each rule lists the edges that break it today (KNOWN). A new break fails the
 * test; so does a fixed one still listed, so the list only shrinks.
 */
import { describe, test, expect } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SKIP_DIRS = new Set(['node_modules', '.git', 'data', 'coverage', 'test-artifacts'])

interface Edge {
  /** The importing file, relative to the package root with `/`. */
  from: string
  /** A project file relative to the root, or `pkg:<specifier>` for a package or a node built-in. */
  to: string
}

function tsFiles(dir: string): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...tsFiles(path))
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

const posix = (p: string) => p.split(sep).join('/')

function importsOf(file: string): Edge[] {
  // preProcessFile sees static, dynamic and type imports and re-exports, and skips comments.
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  const from = posix(relative(ROOT, file))
  return importedFiles.map(({ fileName }) => {
    if (fileName.startsWith('.')) return { from, to: posix(relative(ROOT, resolve(dirname(file), fileName))) }
    const builtin = !fileName.includes('/') && !fileName.startsWith('@') && BUILTINS.has(fileName)
    return { from, to: `pkg:${builtin ? `node:${fileName}` : fileName}` }
  })
}
const BUILTINS = new Set(['fs', 'net', 'http', 'https', 'dns', 'child_process', 'dgram', 'tls', 'worker_threads', 'path', 'url', 'os', 'crypto'])

const EDGES: Edge[] = tsFiles(ROOT).flatMap(importsOf)
const show = (e: Edge) => `${e.from} -> ${e.to}`
const top = (path: string) => path.split('/')[0]!

/** Tests, shared conformance suites and their helpers; bench/ is tooling that may reuse the test harness. */
const isTestCode = (path: string) => path.startsWith('test/') || path.startsWith('bench/') || /\.(test|suite)\.ts$/.test(path) || !path.includes('/')
const production = EDGES.filter((e) => !isTestCode(e.from))
const projectEdges = production.filter((e) => !e.to.startsWith('pkg:'))

/** The project folders each top-level folder may import, besides itself. */
const TOP_LEVEL: Record<string, readonly string[]> = {
  lib: [], // cross-cutting and project-agnostic: the bottom layer
  protocol: ['lib'], // the wire contract, shared by every process
  ethnode: ['protocol', 'lib'], // node adapters, shared by both agents
  agent: ['ethnode', 'protocol', 'lib'], // what host-agent and client-shim share
  'host-agent': ['agent', 'ethnode', 'protocol', 'lib'],
  'client-shim': ['agent', 'ethnode', 'protocol', 'lib'],
  contracts: ['protocol', 'lib'],
  coordinator: ['contracts', 'protocol', 'lib'],
  bin: ['coordinator', 'host-agent', 'client-shim', 'contracts', 'protocol', 'lib'],
}

/** The layer of a coordinator file: its folder under coordinator/, or `root` for coordinator/*.ts. */
function layerOf(path: string): string | undefined {
  const parts = path.split('/')
  if (parts[0] !== 'coordinator') return undefined
  return parts.length === 2 ? 'root' : parts[1]
}
const coordinatorEdges = projectEdges.filter((e) => layerOf(e.from) !== undefined && layerOf(e.to) !== undefined && layerOf(e.from) !== layerOf(e.to))

/** Packages and built-ins that do I/O: pure logic never imports them. */
const IO_MODULES = [/^pkg:node:(fs|fs\/promises|net|http|https|http2|dns|dns\/promises|child_process|dgram|tls|worker_threads|cluster)$/, /^pkg:(ws|better-sqlite3|express|pino|p-queue)$/, /^pkg:drizzle-orm/]

function breaks(edges: Edge[], bad: (e: Edge) => boolean): string[] {
  return edges.filter(bad).map(show).sort()
}

describe('architecture: import directions', () => {
  test('default: the parser sees the imports these rules are about (the rules are not vacuous)', () => {
    const seen = new Set(EDGES.map(show))
    expect(seen).toContain('coordinator/coordinator.ts -> coordinator/store/openStore.ts')
    expect(seen).toContain('coordinator/rpc/index.ts -> coordinator/rpc/connect.ts')
    expect(seen).toContain('coordinator/server/agentSocket.ts -> pkg:ws')
    expect(Object.keys(TOP_LEVEL).every((folder) => EDGES.some((e) => top(e.from) === folder))).toBe(true)
  })

  test('default: every production folder is in the table', () => {
    const folders = new Set(production.map((e) => top(e.from)))
    expect([...folders].filter((f) => !(f in TOP_LEVEL))).toEqual([])
  })

  test('top level: lib/ imports nothing from the project, protocol/ only lib/; each folder imports only the folders it builds on', () => {
    const KNOWN = [
      // contracts/ and coordinator/ import each other: the CLI commands reuse coordinator pieces.
      'contracts/commands.ts -> coordinator/chain/operatorKey.ts',
      'contracts/verifyRoot.ts -> coordinator/logic/verifyRoot.ts',
    ]
    expect(breaks(projectEdges, (e) => top(e.to) !== top(e.from) && !(TOP_LEVEL[top(e.from)] ?? []).includes(top(e.to)))).toEqual(KNOWN)
  })

  test('top level: host-agent/ and client-shim/ never import coordinator/ (nor each other)', () => {
    expect(breaks(projectEdges, (e) => ['host-agent', 'client-shim', 'agent'].includes(top(e.from)) && ['coordinator', 'host-agent', 'client-shim'].includes(top(e.to)) && top(e.to) !== top(e.from))).toEqual([])
  })

  test('top level: production code never imports test/ or bench/', () => {
    expect(breaks(production, (e) => ['test', 'bench'].includes(top(e.to)))).toEqual([])
  })

  test('coordinator: logic/ is pure: no other coordinator layer, no I/O module', () => {
    expect(breaks(coordinatorEdges, (e) => layerOf(e.from) === 'logic')).toEqual([])
    expect(breaks(production, (e) => layerOf(e.from) === 'logic' && IO_MODULES.some((re) => re.test(e.to)))).toEqual([])
  })

  test('coordinator: store/ imports no other coordinator layer (no services, rpc, server)', () => {
    expect(breaks(coordinatorEdges, (e) => layerOf(e.from) === 'store')).toEqual([])
  })

  test('coordinator: services/ use logic/ and the store interface, never rpc/, server/ or a store implementation', () => {
    expect(breaks(coordinatorEdges, (e) => layerOf(e.from) === 'services' && !['logic', 'store', 'root'].includes(layerOf(e.to)!))).toEqual([])
    expect(breaks(coordinatorEdges, (e) => layerOf(e.from) === 'services' && layerOf(e.to) === 'store' && e.to !== 'coordinator/store/store.ts')).toEqual([])
    expect(breaks(coordinatorEdges, (e) => layerOf(e.from) === 'services' && layerOf(e.to) === 'root' && e.to !== 'coordinator/metrics.ts')).toEqual([])
  })

  test('coordinator: rpc/ never imports server/ or the HTTP pages', () => {
    const KNOWN = [
      // The Services bag names the ClientAddress type, which lives with the HTTP code.
      'coordinator/rpc/context.ts -> coordinator/server/clientAddress.ts',
    ]
    expect(breaks(coordinatorEdges, (e) => layerOf(e.from) === 'rpc' && ['server', 'dashboard', 'join', 'admin'].includes(layerOf(e.to)!))).toEqual(KNOWN)
  })

  test('coordinator: nothing below the HTTP tier imports it (server/, dashboard/, join/, tracker/)', () => {
    const below = ['logic', 'store', 'services', 'chain']
    expect(breaks(coordinatorEdges, (e) => below.includes(layerOf(e.from)!) && ['server', 'dashboard', 'join', 'tracker', 'rpc'].includes(layerOf(e.to)!))).toEqual([])
  })

  test('coordinator: the HTTP pages read through services.reads (read-only views), never the Store', () => {
    const pages = tsFiles(join(ROOT, 'coordinator')).filter((f) => /coordinator\/(server|dashboard|join)\//.test(posix(f)) && !isTestCode(posix(relative(ROOT, f))))
    expect(pages.length).toBeGreaterThan(5)
    // `services.store`, or `store` taken out of the services bag.
    const usesStore = /\bservices\.store\b|\{[^}]*\bstore\b[^}]*\}\s*=\s*(this\.)?services\b/
    expect(pages.filter((f) => usesStore.test(readFileSync(f, 'utf8'))).map((f) => posix(relative(ROOT, f)))).toEqual([])
  })

  test('coordinator: only the composition roots (coordinator.ts, admin/) open a store implementation', () => {
    const roots = (from: string) => from === 'coordinator/coordinator.ts' || from.startsWith('coordinator/admin/') || from.startsWith('coordinator/store/')
    expect(breaks(projectEdges, (e) => e.to.startsWith('coordinator/store/') && e.to !== 'coordinator/store/store.ts' && !roots(e.from))).toEqual([])
  })
})
