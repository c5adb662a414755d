/** Connect to the local node, retrying with backoff while it is down: an agent never crashes on a node that is not up yet. */
import { connectEthNode, MissingMethodError, UnsupportedClientError, type EthNode } from '../ethnode/index.ts'
import type { Logger } from '../lib/logger.ts'
import { scrubUrl } from '../lib/logger.ts'
import { Backoff, sleep } from './backoff.ts'

/** How long an agent waits for one answer from its node (`--node-timeout`). */
export const AGENT_NODE_TIMEOUT_MS = 5_000

export async function connectNodeWithRetry(url: string, log: Logger, signal: AbortSignal, timeoutMs = AGENT_NODE_TIMEOUT_MS): Promise<EthNode | undefined> {
  const backoff = new Backoff(500, 15_000)
  while (!signal.aborted) {
    try {
      const node = await connectEthNode(url, { timeoutMs, warn: (message: string, context?: Record<string, unknown>) => log.warn(message, context) })
      // Probe the admin API now, so a missing flag is reported at start, not at the first admission.
      await node.self()
      log.info('node connected', { node: scrubUrl(url), client: node.clientVersion, kind: node.kind })
      return node
    } catch (err) {
      if (err instanceof UnsupportedClientError || err instanceof MissingMethodError) throw err
      const delay = backoff.next()
      log.error('node not reachable, retrying', { node: scrubUrl(url), error: (err as Error).message, retryInMs: delay })
      await sleep(delay, signal)
    }
  }
  return undefined
}
