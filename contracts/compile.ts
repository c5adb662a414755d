// Compiles the Solidity sources in this folder with the solc-js (WASM) build pinned in package.json.
// Compiling in-process (~0.5 s cold) keeps generated artifacts out of the repo: the bytecode always
// matches the source being reviewed.
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type SolcModule from 'solc'
import type { JsonFragment } from 'ethers'

/** What a deploy needs: the ABI and the creation bytecode (0x-prefixed). */
export interface ContractArtifact {
  abi: JsonFragment[]
  bytecode: string
  deployedBytecode: string
}

export interface CompiledContracts {
  VipnodePool: ContractArtifact
  ReentrantPayee: ContractArtifact
  RejectingPayee: ContractArtifact
}

/** Pinned to Paris (no PUSH0, MCOPY or transient storage) so the pool runs on any post-merge chain, Cancun or not; VipnodePool.test.ts scans the bytecode for newer opcodes. */
export const EVM_VERSION = 'paris'
export const OPTIMIZER_RUNS = 1000000

const CONTRACTS_DIR = dirname(fileURLToPath(import.meta.url))
const REPO_ROOT = dirname(CONTRACTS_DIR)
const require = createRequire(import.meta.url)

/** Only these package imports are resolved from node_modules; anything else is a typo or a new dependency. */
const ALLOWED_PACKAGES = ['@openzeppelin/contracts/']

let cached: CompiledContracts | undefined

/** Compiles once per process and caches the result; throws with solc's formatted errors on failure. */
export function compileContracts(): CompiledContracts {
  cached ??= compileNow()
  return cached
}

interface SolcMessage {
  severity: 'error' | 'warning' | 'info'
  formattedMessage: string
}

interface SolcOutput {
  errors?: SolcMessage[]
  contracts?: Record<string, Record<string, {
    abi: JsonFragment[]
    evm: { bytecode: { object: string }, deployedBytecode: { object: string } }
  }>>
}

function compileNow(): CompiledContracts {
  // Loaded here, not at import: solc's 8 MB of wasm took 0.6 s of every coordinator start, chain or not (issue 20).
  const solc = require('solc') as typeof SolcModule
  const input = {
    language: 'Solidity',
    sources: collectSources(),
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  }
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: resolveImport })) as SolcOutput
  const errors = (output.errors ?? []).filter((m) => m.severity === 'error')
  if (errors.length > 0) {
    throw new Error(`solc ${solc.version()} failed:\n${errors.map((e) => e.formattedMessage).join('\n')}`)
  }
  const pick = (file: string, name: string): ContractArtifact => {
    const c = output.contracts?.[file]?.[name]
    if (c === undefined) throw new Error(`solc output lacks ${file}:${name}`)
    return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}`, deployedBytecode: `0x${c.evm.deployedBytecode.object}` }
  }
  return {
    VipnodePool: pick('contracts/VipnodePool.sol', 'VipnodePool'),
    ReentrantPayee: pick('contracts/mocks/ReentrantPayee.sol', 'ReentrantPayee'),
    RejectingPayee: pick('contracts/mocks/RejectingPayee.sol', 'RejectingPayee'),
  }
}

/** Every .sol file under contracts/, keyed by its repo-relative path with forward slashes. */
function collectSources(): Record<string, { content: string }> {
  const sources: Record<string, { content: string }> = {}
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.sol')) {
        sources[relative(REPO_ROOT, path).split(sep).join('/')] = { content: readFileSync(path, 'utf8') }
      }
    }
  }
  walk(CONTRACTS_DIR)
  return sources
}

function resolveImport(path: string): { contents: string } | { error: string } {
  if (!ALLOWED_PACKAGES.some((p) => path.startsWith(p))) {
    return { error: `import ${path} is neither under contracts/ nor an allowed package (${ALLOWED_PACKAGES.join(', ')})` }
  }
  try {
    return { contents: readFileSync(require.resolve(path), 'utf8') }
  } catch (err) {
    return { error: `cannot read ${path}: ${(err as Error).message}` }
  }
}
