/**
 * How coordinator replicas sharing one PostgreSQL database talk (docs/cluster.md,
 * "Messages between replicas"). Two implementations of one interface:
 * - `NatsClusterBus`: NATS core, subjects `vipnode.<poolId>.<topic>`; publish is
 *   at most once, request/reply has a deadline;
 * - `soloBus`: a coordinator that runs alone (SQLite, or PostgreSQL without
 *   --nats) has no sibling: publishing goes nowhere and a request is refused at
 *   once, so every caller takes its "no answer" path without a network.
 *
 * Bodies are JSON (no bigints travel: node ids, heads, counts, ms numbers).
 * Callers validate what they receive: a sibling runs the same code, but a
 * message from an older or newer version must not take a replica down.
 */
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import type { Logger } from '../../lib/logger.ts'
import type { CoordinatorMetrics } from '../metrics.ts'

/** A request that got no answer in time, or no replica listening: the caller treats both as a refusal. */
export class BusRequestError extends Error {
  override readonly name = 'BusRequestError'
  constructor(
    readonly topic: string,
    readonly result: 'timeout' | 'no-responders' | 'unavailable' | 'error',
    message: string,
  ) {
    super(message)
  }
}

export interface ClusterBus {
  /** This process's replica id (the one in the replica lease and on its session rows). */
  readonly replicaId: string
  /** False for the solo bus: callers skip work that only siblings would read. */
  readonly clustered: boolean
  /** At most once; no error when nobody listens. */
  publish(topic: string, body: unknown): void
  /** Every message on `topic` (a handler that throws is logged, never rethrown into the bus). */
  subscribe(topic: string, handler: (body: unknown) => void): void
  /** Answer requests on `topic`; the handler's value is the reply (an exception replies `{ error }`). */
  serve(topic: string, handler: (body: unknown) => Promise<unknown>): void
  /**
   * Resolves once the server has every subscription made so far. Until then a sibling's request on a just-served
   * topic can find no responder (subscriptions travel on this connection, requests on the sibling's).
   */
  ready(): Promise<void>
  /** The reply, or BusRequestError after `timeoutMs` or when no replica serves the topic. */
  request(topic: string, body: unknown, timeoutMs: number): Promise<unknown>
  /** Let handlers in progress answer, then disconnect (graceful shutdown). */
  close(): Promise<void>
}

/** The bus of a coordinator without siblings. */
export function soloBus(replicaId: string): ClusterBus {
  return {
    replicaId,
    clustered: false,
    publish() {},
    subscribe() {},
    serve() {},
    ready: async () => {},
    request: async (topic) => {
      throw new BusRequestError(topic, 'unavailable', 'this coordinator runs without --nats: there is no other replica to ask')
    },
    close: async () => {},
  }
}

/**
 * NATS subjects are dot-separated tokens without spaces, `*` or `>`: a pool id
 * may hold any of them (and dots would add tokens), so everything outside
 * [A-Za-z0-9_-] is written as `~xx` (its UTF-8 bytes in hex).
 */
export function subjectToken(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9_-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `~${b.toString(16).padStart(2, '0')}`)).join('')
}

export interface NatsBusOptions {
  url: string
  poolId: string
  replicaId: string
}

export interface NatsBusDeps {
  log: Logger
  metrics: CoordinatorMetrics
}

export class NatsClusterBus implements ClusterBus {
  readonly clustered = true
  readonly replicaId: string
  private readonly prefix: string
  private readonly subs: Subscription[] = []

  private constructor(
    private readonly nc: NatsConnection,
    opts: NatsBusOptions,
    private readonly deps: NatsBusDeps,
  ) {
    this.replicaId = opts.replicaId
    this.prefix = `vipnode.${subjectToken(opts.poolId)}.`
  }

  static async open(opts: NatsBusOptions, deps: NatsBusDeps): Promise<NatsClusterBus> {
    // A replica that cannot reach NATS at start refuses to start: running alone would serve its clients only with
    // its own hosts while its siblings think it is one of them. Later outages are the client's reconnect loop's.
    const nc = await connect({ servers: opts.url, name: `vipnode-coordinator-${opts.replicaId}`, maxReconnectAttempts: -1, reconnectTimeWait: 500 })
    const bus = new NatsClusterBus(nc, opts, deps)
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect') deps.log.warn('cluster bus connection', { event: s.type, server: s.server })
      }
    })().catch(() => undefined)
    return bus
  }

  private subject(topic: string): string {
    return this.prefix + topic
  }

  publish(topic: string, body: unknown): void {
    try {
      this.nc.publish(this.subject(topic), JSON.stringify(body))
      this.deps.metrics.busMessages.inc({ topic: topicFamily(topic), direction: 'out' })
    } catch (err) {
      // A closed or draining connection: the message is lost, which every receiver tolerates (at most once).
      this.deps.log.warn('cluster bus publish failed', { topic, error: (err as Error).message })
    }
  }

  subscribe(topic: string, handler: (body: unknown) => void): void {
    const family = topicFamily(topic)
    this.subs.push(
      this.nc.subscribe(this.subject(topic), {
        callback: (err, msg) => {
          if (err) return
          this.deps.metrics.busMessages.inc({ topic: family, direction: 'in' })
          try {
            handler(msg.json())
          } catch (e) {
            this.deps.log.warn('cluster bus message refused', { topic, error: (e as Error).message })
          }
        },
      }),
    )
  }

  serve(topic: string, handler: (body: unknown) => Promise<unknown>): void {
    const family = topicFamily(topic)
    this.subs.push(
      this.nc.subscribe(this.subject(topic), {
        callback: (err, msg) => {
          if (err) return
          this.deps.metrics.busMessages.inc({ topic: family, direction: 'in' })
          let body: unknown
          try {
            body = msg.json()
          } catch {
            msg.respond(JSON.stringify({ error: 'the request is not JSON' }))
            return
          }
          handler(body).then(
            (reply) => msg.respond(JSON.stringify(reply ?? null)),
            (e: unknown) => {
              this.deps.log.warn('cluster bus request failed', { topic, error: (e as Error).message })
              msg.respond(JSON.stringify({ error: (e as Error).message }))
            },
          )
        },
      }),
    )
  }

  async ready(): Promise<void> {
    await this.nc.flush()
  }

  async request(topic: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const family = topicFamily(topic)
    try {
      const msg = await this.nc.request(this.subject(topic), JSON.stringify(body), { timeout: timeoutMs })
      this.deps.metrics.busRequests.inc({ topic: family, result: 'ok' })
      return msg.json()
    } catch (err) {
      const result = classify(err)
      this.deps.metrics.busRequests.inc({ topic: family, result })
      throw new BusRequestError(topic, result, result === 'timeout' ? `no answer on the cluster bus within ${timeoutMs} ms` : result === 'no-responders' ? 'no replica serves this on the cluster bus' : `cluster bus: ${(err as Error).message}`)
    }
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return
    // drain(): subscriptions stop taking messages, handlers in progress still answer, then the socket closes.
    await this.nc.drain().catch(() => this.nc.close())
  }
}

/** The request failure as the metric and the caller see it. */
function classify(err: unknown): 'timeout' | 'no-responders' | 'error' {
  const e = err as Error & { isNoResponders?: () => boolean; cause?: unknown }
  if (typeof e.isNoResponders === 'function' && e.isNoResponders()) return 'no-responders'
  const name = (e.cause as Error | undefined)?.name ?? e.name
  if (name === 'TimeoutError' || /timeout/i.test(e.message)) return 'timeout'
  if (name === 'NoRespondersError') return 'no-responders'
  return 'error'
}

/** `admit.<replica>` → `admit`: metric labels never carry a replica id (bounded cardinality). */
export function topicFamily(topic: string): string {
  return topic.split('.')[0]!
}
