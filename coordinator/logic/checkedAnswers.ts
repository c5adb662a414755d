/**
 * Checked answers (issue 21 item 3; docs/rpcService.md#checked-answers): the
 * dispute rule that takes a lying rpc host out of rotation. Pure: the words
 * come in, the time comes in.
 *
 * Clients' shims compare two hosts' answers to a deterministic call (a block
 * by number at the finalized block, an account proof there) and, on a
 * mismatch, ask a third host. The host in the minority is reported with
 * vipnode_reportBadAnswer; hosts that agreed are listed in `checked` of the
 * next vipnode_update. Each client has **one word** per host, its latest one
 * within `windowMs`: bad (it found the host in the minority) or good (its
 * check agreed). However often a client reports, it is one vote.
 *
 * A host is **caught** when at least `minAccusers` clients' latest word is
 * bad and the accusers outnumber the clients whose latest word is good. So
 * one hostile client cannot remove an honest host, and a coalition must
 * outnumber the honest clients that checked the host (the bound of the
 * quality slander rule, docs/security.md attack 17).
 *
 * A caught host is **excluded** (no new clients, its rpc clients released)
 * until `exclusionMs` after the last time it was found caught; then it is back
 * in rotation, and a host that still lies is caught again by the next two
 * clients that check it.
 */
import type { NodeId } from '../../protocol/index.ts'

export interface AnswerCheckPolicy {
  /** A client's word about a host counts this long. */
  windowMs: number
  /** Clients whose latest word is bad needed before a host is caught. */
  minAccusers: number
  /** A caught host stays out of rotation this long after it was last found caught. */
  exclusionMs: number
}

/** The defaults, from the pool's update interval (30 s: a word counts 5 min, an exclusion lasts 10 min). */
export function answerCheckPolicyFor(updateIntervalMs: number): AnswerCheckPolicy {
  return { windowMs: 10 * updateIntervalMs, minAccusers: 2, exclusionMs: 20 * updateIntervalMs }
}

/** One client's latest word about one host. */
export interface AnswerWord {
  bad: boolean
  atMs: number
}

/** Each client's latest word about one host. */
export type AnswerWords = Map<NodeId, AnswerWord>

/** The words after one more from `clientId` (it replaces that client's earlier one); words older than the window go. */
export function withWord(words: AnswerWords, clientId: NodeId, bad: boolean, nowMs: number, policy: Pick<AnswerCheckPolicy, 'windowMs'>): AnswerWords {
  const next: AnswerWords = new Map()
  for (const [id, w] of words) if (nowMs - w.atMs < policy.windowMs && id !== clientId) next.set(id, w)
  next.set(clientId, { bad, atMs: nowMs })
  return next
}

export interface AnswerVerdict {
  /** Clients whose latest word within the window is bad. */
  accusers: number
  /** Clients whose latest word within the window is good. */
  vouchers: number
  caught: boolean
}

export function judgeAnswers(words: AnswerWords, nowMs: number, policy: AnswerCheckPolicy): AnswerVerdict {
  let accusers = 0
  let vouchers = 0
  for (const w of words.values()) {
    if (nowMs - w.atMs >= policy.windowMs) continue
    if (w.bad) accusers++
    else vouchers++
  }
  return { accusers, vouchers, caught: accusers >= policy.minAccusers && accusers > vouchers }
}

/** A host out of rotation for bad answers. */
export interface Exclusion {
  sinceMs: number
  untilMs: number
}

/** The exclusion after this verdict: (re)started while caught, kept until it runs out, then none. */
export function nextExclusion(prev: Exclusion | undefined, v: AnswerVerdict, nowMs: number, policy: Pick<AnswerCheckPolicy, 'exclusionMs'>): Exclusion | undefined {
  if (v.caught) return { sinceMs: prev && nowMs < prev.untilMs ? prev.sinceMs : nowMs, untilMs: nowMs + policy.exclusionMs }
  return prev && nowMs < prev.untilMs ? prev : undefined
}
