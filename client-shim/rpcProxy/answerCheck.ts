/**
 * Checked answers (issue 21 item 3; docs/rpcService.md#checked-answers): the
 * shim notices a host that lies before its light client does. Once per report
 * it asks two of its hosts the same deterministic calls and compares the
 * answers; on a mismatch it asks a third host, and the host in the minority
 * is the liar (reported to the pool, benched here). When the two agree, the
 * client's other hosts (at most two more) are asked too and each is compared
 * with that agreed answer: one that differs is also two against one. So every
 * host a client holds (up to four) is checked every round.
 *
 * The calls: `eth_getBlockByNumber("finalized")` on both hosts gives each
 * one's finalized block; the lower of the two numbers, F, is a block both
 * must have and that cannot change. Then, on both: `eth_getBlockByNumber(F,
 * false)` (its hash, state root, every header field) and
 * `eth_getProof(0x00…00, [], F)` (an account proof in the state at F: a host
 * that cannot serve state at the finalized block is caught as failing, and
 * one that forges state as lying). Answers are compared by the SHA-256 of
 * their canonical JSON (object keys sorted), so field order does not matter.
 *
 * Only a result can be compared: an error, `null` (the block is not there
 * yet) or no answer makes the comparison inconclusive, never a dispute (a
 * host behind or failing is the quality rules' business, not this one's).
 * Three different answers, or no third host, settle nothing either.
 */
import { createHash } from 'node:crypto'
import type { NodeId } from '../../protocol/enode.ts'
import type { CHECKED_METHODS } from '../../protocol/methods.ts'

/** The account whose proof is checked: it exists on every chain, so every honest host has the same proof. */
export const CHECK_ADDRESS = '0x0000000000000000000000000000000000000000'

export interface CheckedCall {
  method: (typeof CHECKED_METHODS)[number]
  params: unknown[]
}

/** JSON with object keys sorted at every level: equal values, equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const entries = Object.keys(value as object)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
  return `{${entries.join(',')}}`
}

/** 0x + SHA-256 of the canonical JSON. */
export function answerDigest(result: unknown): string {
  return `0x${createHash('sha256').update(canonicalJson(result)).digest('hex')}`
}

/** The calls checked at block `n`. */
export function checkedCalls(n: number): CheckedCall[] {
  const block = `0x${n.toString(16)}`
  return [
    { method: 'eth_getBlockByNumber', params: [block, false] },
    { method: 'eth_getProof', params: [CHECK_ADDRESS, [], block] },
  ]
}

/** A host's answers to the checked calls as digests; undefined where it gave no result to compare. */
export type Answers = (string | undefined)[]

/** The results of a host's replies as digests (an error or null is no result). */
export function answersOf(results: readonly unknown[] | undefined, calls: number): Answers {
  return Array.from({ length: calls }, (_, i) => {
    const r = results?.[i]
    return r === undefined || r === null ? undefined : answerDigest(r)
  })
}

export type Comparison = { verdict: 'agree' } | { verdict: 'inconclusive' } | { verdict: 'differ'; call: number }

/** Two hosts' answers: the first call where both have a result and they differ; else agree when every call has both. */
export function compareAnswers(a: Answers, b: Answers): Comparison {
  let complete = true
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i]
    const y = b[i]
    if (x === undefined || y === undefined) complete = false
    else if (x !== y) return { verdict: 'differ', call: i }
  }
  return complete ? { verdict: 'agree' } : { verdict: 'inconclusive' }
}

export interface DisputeResult {
  /** The host whose answer no other host gave. */
  minority: NodeId
  answerDigest: string
  majorityDigest: string
  /** The hosts that gave the majority answer. */
  witnesses: NodeId[]
}

/**
 * Settle a dispute over one call: the answer at least two hosts gave is the majority, and a host that gave another
 * answer is in the minority. Undefined (nothing settled) unless exactly one answer has two or more hosts and
 * exactly one host answered otherwise: hosts with no result do not vote.
 */
export function settleDispute(answers: ReadonlyMap<NodeId, string | undefined>): DisputeResult | undefined {
  const byDigest = new Map<string, NodeId[]>()
  for (const [host, d] of answers) if (d !== undefined) byDigest.set(d, [...(byDigest.get(d) ?? []), host])
  const majorities = [...byDigest].filter(([, hosts]) => hosts.length >= 2)
  if (majorities.length !== 1) return undefined
  const [majorityDigest, witnesses] = majorities[0]!
  const others = [...byDigest].filter(([d]) => d !== majorityDigest)
  if (others.length !== 1 || others[0]![1].length !== 1) return undefined
  const [answerDigest, [minority]] = others[0]!
  return { minority: minority!, answerDigest, majorityDigest, witnesses }
}

/** One host's replies to a list of calls: results aligned with the calls (undefined for an error), or undefined with no usable reply. */
export type AskHost = (host: NodeId, calls: readonly CheckedCall[] | readonly { method: string; params: unknown[] }[]) => Promise<readonly unknown[] | undefined>

export interface BadAnswer extends DisputeResult {
  call: CheckedCall
}

export interface AnswerCheckResult {
  /** The hosts asked the checked calls (none when fewer than two were usable). */
  compared: NodeId[]
  /** Hosts whose answers agreed with another host's. */
  agreed: NodeId[]
  /** The host found in the minority, if any. */
  bad: BadAnswer | undefined
  /** Why nothing was settled, when nothing was. */
  inconclusive?: string
}

/** Hosts asked in one check: the two compared and at most two more. */
export const MAX_CHECKED_HOSTS = 4

/**
 * A light client's report of a failed verification, checked: the call (one of CHECKED_METHODS at a block number, so
 * that every honest host gives the same answer) is asked of every host in `hosts` (at most MAX_CHECKED_HOSTS) and
 * the dispute rule settles it. The light client's word alone blames nobody.
 */
export async function disputeCall(hosts: readonly NodeId[], ask: AskHost, call: CheckedCall): Promise<{ asked: number; answered: number; bad: BadAnswer | undefined }> {
  const asked = hosts.slice(0, MAX_CHECKED_HOSTS)
  const votes = new Map<NodeId, string | undefined>()
  await Promise.all(asked.map(async (h) => votes.set(h, answersOf(await ask(h, [call]), 1)[0])))
  const settled = settleDispute(votes)
  return { asked: asked.length, answered: [...votes.values()].filter((d) => d !== undefined).length, bad: settled ? { ...settled, call } : undefined }
}

/** A call a light client may ask the shim to check: a checked method at a block number (a tag like "latest" can differ between honest hosts). */
export function checkableCall(v: unknown): CheckedCall | string {
  const c = v as { method?: unknown; params?: unknown } | null
  if (typeof c !== 'object' || c === null) return 'params[0] must be the call that failed verification: {method, params}'
  if (c.method !== 'eth_getBlockByNumber' && c.method !== 'eth_getProof') return 'only eth_getBlockByNumber and eth_getProof answers can be checked against other hosts'
  if (!Array.isArray(c.params) || c.params.length > 4 || JSON.stringify(c.params).length > 1_024) return 'params[0].params must be the call\'s params (at most 4, 1,024 bytes of JSON)'
  const block = c.method === 'eth_getProof' ? c.params[2] : c.params[0]
  if (typeof block !== 'string' || !/^0x[0-9a-f]{1,13}$/i.test(block)) return 'the call must name its block by number (0x…): answers at a tag like "latest" may differ between honest hosts'
  return { method: c.method, params: c.params }
}

/** The finalized block number in a reply to eth_getBlockByNumber("finalized"), or undefined. */
function blockNumberOf(block: unknown): number | undefined {
  const n = (block as { number?: unknown } | null)?.number
  if (typeof n !== 'string' || !/^0x[0-9a-f]{1,13}$/i.test(n)) return undefined
  return Number.parseInt(n, 16)
}

/**
 * One check over `hosts` (usable, in the order to pair them): the first two are compared, the rest are asked in
 * turn on a mismatch until the dispute is settled.
 */
export async function checkAnswers(hosts: readonly NodeId[], ask: AskHost): Promise<AnswerCheckResult> {
  if (hosts.length < 2) return { compared: [], agreed: [], bad: undefined, inconclusive: 'fewer than two hosts to compare' }
  const [a, b] = hosts as [NodeId, NodeId]
  const compared = [a, b]
  const finalized = await Promise.all([a, b].map(async (h) => blockNumberOf((await ask(h, [{ method: 'eth_getBlockByNumber', params: ['finalized', false] }]))?.[0])))
  if (finalized.some((n) => n === undefined)) return { compared, agreed: [], bad: undefined, inconclusive: 'a host gave no finalized block' }
  const calls = checkedCalls(Math.min(...(finalized as number[])))
  const answers = new Map<NodeId, Answers>()
  await Promise.all([a, b].map(async (h) => answers.set(h, answersOf(await ask(h, calls), calls.length))))
  const c = compareAnswers(answers.get(a)!, answers.get(b)!)
  if (c.verdict === 'agree') {
    const agreed = [a, b]
    const majority = answers.get(a)!
    for (const other of hosts.slice(2, MAX_CHECKED_HOSTS)) {
      const mine = answersOf(await ask(other, calls), calls.length)
      const o = compareAnswers(mine, majority)
      if (o.verdict === 'agree') agreed.push(other)
      else if (o.verdict === 'differ') {
        const bad: BadAnswer = { minority: other, answerDigest: mine[o.call]!, majorityDigest: majority[o.call]!, witnesses: [a, b], call: calls[o.call]! }
        return { compared: [...compared, other], agreed, bad }
      }
    }
    return { compared: [...compared, ...hosts.slice(2, MAX_CHECKED_HOSTS)], agreed, bad: undefined }
  }
  if (c.verdict === 'inconclusive') return { compared, agreed: [], bad: undefined, inconclusive: 'a host gave no result for a checked call' }
  const votes = new Map<NodeId, string | undefined>([[a, answers.get(a)![c.call]], [b, answers.get(b)![c.call]]])
  for (const third of hosts.slice(2)) {
    votes.set(third, answersOf(await ask(third, [calls[c.call]!]), 1)[0])
    const settled = settleDispute(votes)
    if (settled) return { compared, agreed: settled.witnesses, bad: { ...settled, call: calls[c.call]! } }
  }
  return { compared, agreed: [], bad: undefined, inconclusive: hosts.length < 3 ? 'the two hosts disagree and there is no third host to ask' : 'the hosts disagree and no answer has a majority' }
}
