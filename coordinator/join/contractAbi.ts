/**
 * What the join page needs of the pool contract's ABI, made from the compiled
 * artifact (the same one the coordinator deploys and talks to), so the page
 * never carries a hand-copied selector that could drift from the source:
 * the selectors of the functions it calls and every custom error with its
 * inputs, keyed by selector, for decoding reverts into words.
 */
import { Interface, type ErrorFragment, type FunctionFragment } from 'ethers'
import { loadVipnodePoolArtifact } from '../../contracts/artifacts.ts'
import type { ErrorTable } from './assets/abi.js'

export const PAGE_FUNCTIONS = ['deposit', 'claim', 'claimed', 'root', 'paused'] as const
export type PageFunction = (typeof PAGE_FUNCTIONS)[number]

export interface PageAbi {
  functions: Record<PageFunction, { selector: string; signature: string }>
  errors: ErrorTable
}

let cached: PageAbi | undefined

/** Built once per process (the artifact is compiled once and cached by contracts/compile.ts). */
export function pageAbi(): PageAbi {
  cached ??= build(new Interface(loadVipnodePoolArtifact().abi))
  return cached
}

export function build(iface: Interface): PageAbi {
  const functions = {} as PageAbi['functions']
  for (const name of PAGE_FUNCTIONS) {
    const f: FunctionFragment | null = iface.getFunction(name)
    if (!f) throw new Error(`the pool contract has no ${name} function`)
    functions[name] = { selector: f.selector, signature: f.format('sighash') }
  }
  const errors: ErrorTable = {}
  iface.forEachError((e: ErrorFragment) => {
    errors[e.selector] = { name: e.name, inputs: e.inputs.map((p) => ({ name: p.name, type: p.type })) }
  })
  return { functions, errors }
}
