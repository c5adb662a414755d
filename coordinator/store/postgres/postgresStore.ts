/**
 * The PostgreSQL store (node-postgres through drizzle), for pools that
 * outgrow one SQLite file or want several coordinators on one database.
 * drizzle-kit migrations shipped beside this file are applied at open, under
 * an advisory lock so replicas starting together migrate once.
 *
 * The contract is the SQLite store's (../store.suite.ts):
 * - Reports are group-committed: every report that arrives in one turn of the
 *   event loop goes into one transaction, and its promise settles after the
 *   commit. The batch is written with a handful of set-based statements
 *   (unnest arrays), so a commit costs about ten round trips whatever its size.
 *   A report that would fail (unknown node, reused transfer id) is found
 *   before writing and fails alone; should the set-based write fail anyway,
 *   the batch is written again one savepoint per report.
 * - Write order is call order: every call goes through one serial lane, and
 *   any other call first seals the reports queued so far into it.
 * - balanceOf never waits for the lane (metering calls it per report: waiting
 *   would make every report wait for the previous commit). It reads the
 *   committed balance with the statement's snapshot and adds the charges of
 *   this store's batches that snapshot does not show yet (see balanceOf).
 *
 * Several coordinators on one database: balances change by `balance + delta`
 * in SQL, rows are upserted in a sorted order (no lock-order deadlocks), a
 * transfer id is guarded by an advisory transaction lock while it is checked
 * and written (ledger_entries has no unique transfer id, as in SQLite), and an
 * epoch row's primary key makes a second settlement DUPLICATE_EPOCH.
 */
import { createHash } from 'node:crypto'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import { and, desc, eq, getTableColumns, gt, gte, isNotNull, isNull, ne, sql } from 'drizzle-orm'
import type { NodeId } from '../../../protocol/index.ts'
import * as schema from './schema.ts'
import { latestReportOf, toAssignment, toEpoch, toEpochHeader, toNode, toReport, toUsage } from '../rows.ts'
import { MAX_CLOSE_BATCH, type QueuedClose } from '../queuedCloses.ts'
import { chargeShape, planChargeFolding, type ChargeCarrier, type LedgerRow } from '../chargeFolding.ts'
import { coverCharges, refuseUncovered } from '../chargeCover.ts'
import {
  FOLDED_MEMO,
  LEDGER_FOLDED_THROUGH_KEY,
  StoreError,
  addAmounts,
  checkTransfer,
  type ChargeRule,
  type Lease,
  type AssignmentRecord,
  type EpochPayout,
  type EpochRecord,
  type LedgerEntry,
  type MeteringDelta,
  type NodeRecord,
  type PairMeter,
  type PeerReport,
  type PrunedRows,
  type SessionRecord,
  type Store,
  type StoredReport,
  type Transfer,
  type UsageRecord,
} from '../store.ts'

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), 'migrations')
/** The root of an epoch without payouts (settlement's EMPTY_ROOT). */
const EMPTY_TREE_ROOT = `0x${'00'.repeat(32)}`
/** Reports committed together at most; more wait for the next transaction (as in SQLite). */
const MAX_REPORT_BATCH = 2_000
/** pg_advisory_lock key held while migrating: any constant of our own ("vipnode" in ASCII). */
const MIGRATION_LOCK = 0x7669706e6f6465n
/** pg_advisory_xact_lock key of charge folding: one coordinator folds at a time (a transfer id's key is never this one's). */
const FOLD_LOCK = lockKey('vipnode lock: fold charges')
/** How often a lease's connection is asked whether it is alive, and how long it may take to answer. */
const LEASE_HEARTBEAT_MS = 2_000

export interface PostgresStore extends Store {
  /** The connection pool, for the migrate command and tests. */
  readonly pool: pg.Pool
}

export interface PostgresStoreOptions {
  /** Connections in the pool (default 10): the lane uses one at a time, balanceOf and closing sessions the rest. */
  maxConnections?: number
}

/** Connect, migrate (once, whoever else is starting) and open. */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const pool = new pg.Pool({ connectionString: url, max: opts.maxConnections ?? 10 })
  // An idle connection that the server drops emits 'error' on the pool; unhandled it would kill the process.
  // The next query on the pool gets a fresh connection (or a clear error), so there is nothing to do here.
  pool.on('error', () => undefined)
  try {
    await withClient(pool, async (client) => {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()])
      try {
        await migrate(drizzle(client), { migrationsFolder: MIGRATIONS })
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()])
      }
    })
  } catch (err) {
    await pool.end().catch(() => undefined)
    throw new Error(`cannot open the PostgreSQL store at ${redactUrl(url)}: ${(err as Error).message}`, { cause: err })
  }
  return new PostgresStoreImpl(pool, url)
}

/** A URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '(unparseable URL)'
  }
}

interface QueuedReport {
  report: PeerReport
  metering: MeteringDelta | undefined
  history: boolean
  resolve: (id: number) => void
  reject: (err: unknown) => void
  /** The metering the last write attempt wrote: `metering` less the payers their balance no longer covered. */
  written?: MeteringDelta | undefined
}

/** Reports written in one transaction, and what balanceOf must know of them until every read that may miss them is done. */
interface Batch {
  items: QueuedReport[]
  /** Ledger amounts per account of the reports expected to land (after the commit: of those that did). */
  amounts: Map<string, bigint>
  /** The writing transaction's id, known from its first statement; cleared before any rollback. */
  xid: bigint | undefined
  /** Stamp at completion (committed or failed), for forgetting it. */
  completedAt: number | undefined
}

type Db = NodePgDatabase<typeof schema>
type Queryable = pg.PoolClient | pg.Pool

class PostgresStoreImpl implements PostgresStore {
  private closed = false
  private readonly db: Db
  /** The serial lane: every call but balanceOf runs after the previous one settled. */
  private tail: Promise<unknown> = Promise.resolve()
  /** Reports collected in this event-loop turn, not yet in the lane. */
  private collecting: Batch | undefined
  /** Batches not yet committed, or committed while a balanceOf issued before was still reading. */
  private tracked: Batch[] = []
  /** Orders balanceOf reads against batch completions. */
  private stamp = 0
  private readonly readers = new Set<number>()
  /** Operations in the lane not yet settled, and whether the open batch goes in when they are. */
  private inLane = 0
  private sealWhenIdle = false
  /** Session closes gathering for one statement, their lane operation already queued (`closeSession`). */
  private closing: QueuedClose[] | undefined
  /** Connections holding leases: closed with the store. */
  private readonly leases = new Set<pg.Client>()

  constructor(
    readonly pool: pg.Pool,
    private readonly url: string,
  ) {
    this.db = drizzle(pool, { schema })
  }

  // ------------------------------------------------------------------ leases
  async tryLease(name: string): Promise<Lease | undefined> {
    this.refuseIfClosed()
    // A connection of its own (not the pool's): the advisory lock lives as long as this session.
    const client = new pg.Client({ connectionString: this.url, keepAlive: true })
    let endLost = () => undefined as void
    const lost = new Promise<void>((resolve) => (endLost = resolve))
    client.on('error', () => endLost())
    client.on('end', () => endLost())
    try {
      await client.connect()
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [lockKey(`vipnode lease: ${name}`).toString()])
      if (!got.rows[0]!.ok) {
        await client.end()
        return undefined
      }
    } catch (err) {
      await client.end().catch(() => undefined)
      throw err
    }
    // A session the server dropped without a word (a partition) is noticed here: then the lease is lost, as the
    // server will have freed the lock by the time its own keepalive gives up.
    let released = false
    const heartbeat = setInterval(() => {
      const timeout = setTimeout(() => endLost(), LEASE_HEARTBEAT_MS)
      client
        .query('SELECT 1')
        .catch(() => endLost())
        .finally(() => clearTimeout(timeout))
    }, LEASE_HEARTBEAT_MS)
    heartbeat.unref()
    void lost.then(() => {
      clearInterval(heartbeat)
      if (!released) void client.end().catch(() => undefined)
    })
    this.leases.add(client)
    return {
      lost,
      release: async () => {
        released = true
        clearInterval(heartbeat)
        this.leases.delete(client)
        await client.end().catch(() => undefined)
      },
    }
  }

  // ------------------------------------------------------------------ lane

  private refuseIfClosed(): void {
    if (this.closed) throw new StoreError('CLOSED', 'store is closed')
  }

  /** Run `op` after everything called before it (queued reports included). */
  private lane<T>(op: () => Promise<T>): Promise<T> {
    try {
      this.refuseIfClosed()
    } catch (err) {
      return Promise.reject(err)
    }
    this.seal()
    // Closes gathered so far stay before this call; later ones gather behind it (write order is call order).
    this.closing = undefined
    return this.enqueue(op)
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    this.inLane++
    const result = this.tail.then(op)
    this.tail = result
      .catch(() => undefined)
      .finally(() => {
        // The lane ran dry: reports that gathered while it was busy go now, as one batch.
        if (--this.inLane === 0 && this.sealWhenIdle) this.seal()
      })
    return result
  }

  /** The reports collected so far go into the lane now, as one batch. */
  private seal(): void {
    const batch = this.collecting
    this.sealWhenIdle = false
    if (!batch) return
    this.collecting = undefined
    void this.enqueue(() => this.writeBatch(batch))
  }

  private transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withClient(this.pool, (client, drop) => inTransaction(client, drop, () => fn(client)))
  }

  // ------------------------------------------------------------------ reports

  async recordReport(report: PeerReport, metering?: MeteringDelta, options: { history?: boolean } = {}): Promise<number> {
    this.refuseIfClosed()
    for (const t of metering?.transfers ?? []) checkTransfer(t)
    return new Promise<number>((resolve, reject) => {
      let batch = this.collecting
      if (!batch) {
        batch = { items: [], amounts: new Map(), xid: undefined, completedAt: undefined }
        this.collecting = batch
        this.tracked.push(batch)
        const sealing = batch
        // After the I/O callbacks of this loop turn: every report read in it shares the commit. While an earlier
        // commit is still in the lane, the batch stays open and gathers the turns that follow until the lane is
        // free (group commit): sealing each turn's few reports into a transaction of their own queued them
        // behind each other, a round trip apiece (780 acks/s of 1,000 offered at 1,000 agents).
        setImmediate(() => {
          if (this.collecting !== sealing) return
          if (this.inLane === 0) this.seal()
          else this.sealWhenIdle = true
        })
      }
      batch.items.push({ report, metering, history: options.history ?? true, resolve, reject })
      addAmounts(batch.amounts, metering?.transfers ?? [])
      if (batch.items.length >= MAX_REPORT_BATCH) this.seal()
    })
  }

  private async writeBatch(batch: Batch): Promise<void> {
    let outcomes: (number | Error)[]
    try {
      outcomes = await this.batchTransaction(batch, (c) => this.writeReports(c, batch.items))
    } catch {
      // The set-based write failed where the checks foresaw nothing (a constraint, a value out of range, a
      // replica racing us): write the batch again, one savepoint per report, so a bad report fails alone.
      try {
        outcomes = await this.batchTransaction(batch, async (c) => {
          const out: (number | Error)[] = []
          for (const item of batch.items) {
            await c.query('SAVEPOINT report')
            try {
              const [one] = await this.writeReports(c, [item])
              out.push(one!)
              await c.query('RELEASE SAVEPOINT report')
            } catch (err) {
              await c.query('ROLLBACK TO SAVEPOINT report')
              out.push(err instanceof Error ? err : new Error(String(err)))
            }
          }
          return out
        })
      } catch (err) {
        // The transaction itself failed (connection lost, server gone): nothing in the batch was written.
        outcomes = batch.items.map(() => (err instanceof Error ? err : new Error(String(err))))
      }
    }
    // What landed is what balanceOf adds while a read that began before this commit is still out.
    batch.amounts = new Map()
    addAmounts(
      batch.amounts,
      batch.items.flatMap((q, i) => (typeof outcomes[i] === 'number' ? (q.written?.transfers ?? []) : [])),
    )
    batch.completedAt = ++this.stamp
    this.forgetBatches()
    batch.items.forEach((q, i) => {
      const outcome = outcomes[i]!
      if (typeof outcome === 'number') q.resolve(outcome)
      else q.reject(outcome)
    })
  }

  /** One transaction whose id balanceOf can see: known from the first statement, forgotten before a rollback. */
  private batchTransaction<T>(batch: Batch, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return withClient(this.pool, (client, drop) =>
      inTransaction(
        client,
        drop,
        async (began) => {
          batch.xid = BigInt((began as pg.QueryResult<{ xid: string }>[])[1]!.rows[0]!.xid)
          return fn(client)
        },
        // Cleared before the rollback: a snapshot taken after it shows this transaction as finished, and the
        // batch's amounts must still count while it is written again.
        () => (batch.xid = undefined),
        // One round trip for both (a simple query may hold several statements): every batch pays its round trips
        // in the serial lane, and a report waits for all of them.
        'BEGIN; SELECT pg_current_xact_id()::text AS xid',
      ),
    )
  }

  /**
   * Write the reports that can be written, set-based; the others get their
   * error. Runs inside a transaction: nodes are checked, transfer ids locked
   * and checked, then every table gets one statement.
   */
  private async writeReports(c: pg.PoolClient, items: readonly QueuedReport[]): Promise<(number | Error)[]> {
    const nodeIds = [...new Set(items.map((q) => q.report.nodeId))]
    const known = new Set(
      (await c.query<{ node_id: string }>({ name: 'vipnode-known-nodes', text: 'SELECT node_id FROM nodes WHERE node_id = ANY($1::text[])', values: [nodeIds] })).rows.map(
        (r) => r.node_id,
      ),
    )
    const taken = await lockTransferIds(
      c,
      items.flatMap((q) => (q.metering?.transfers ?? []).map((t) => t.id)),
    )
    const outcomes: (number | Error | undefined)[] = []
    const accepted: QueuedReport[] = []
    for (const q of items) {
      if (!known.has(q.report.nodeId)) {
        outcomes.push(new StoreError('UNKNOWN_NODE', `report from unregistered node ${q.report.nodeId}`))
        continue
      }
      const ids = (q.metering?.transfers ?? []).map((t) => t.id)
      const dup = ids.find((id, i) => taken.has(id) || ids.indexOf(id) !== i)
      if (dup !== undefined) {
        outcomes.push(new StoreError('DUPLICATE_TRANSFER', `transfer ${dup} was already posted`))
        continue
      }
      for (const id of ids) taken.add(id)
      outcomes.push(undefined)
      accepted.push(q)
    }
    if (accepted.length === 0) return outcomes as (number | Error)[]

    const r = accepted.map((q) => q.report)
    const peers = r.map((x) => JSON.stringify(x.peers))
    // History rows only for the reports logic/reportHistory.ts keeps; every report moves its node's latest.
    const kept = accepted.flatMap((q, i) => (q.history ? [i] : []))
    const ids: (number | null)[] = r.map(() => null)
    if (kept.length > 0) {
      const k = kept.map((i) => r[i]!)
      const inserted = await c.query<{ id: string }>({
        name: 'vipnode-insert-reports',
        text: `INSERT INTO reports (node_id, session_id, observed_at_ms, block_number, block_hash, peers)
               SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[], $6::text[]) RETURNING id`,
        values: [k.map((x) => x.nodeId), k.map((x) => x.sessionId), k.map((x) => x.observedAtMs), k.map((x) => x.blockNumber), k.map((x) => x.blockHash), kept.map((i) => peers[i])],
      })
      // The sequence hands out ids in the order unnest produces the rows: ascending ids are the reports in call order.
      inserted.rows
        .map((row) => Number(row.id))
        .sort((a, b) => a - b)
        .forEach((id, j) => (ids[kept[j]!] = id))
    }

    // Each node's row carries its latest report (the last one in call order), its latest history row and the
    // latest time it was seen.
    const latest = new Map<string, { at: number; i: number; historyId: number | null }>()
    r.forEach((x, i) => {
      const prev = latest.get(x.nodeId)
      latest.set(x.nodeId, { at: Math.max(prev?.at ?? x.observedAtMs, x.observedAtMs), i, historyId: ids[i] ?? prev?.historyId ?? null })
    })
    const touched = [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : 1))
    const updated = await c.query<{ node_id: string; latest_report_id: string | null }>({
      name: 'vipnode-touch-nodes',
      text: `UPDATE nodes SET last_seen_ms = GREATEST(nodes.last_seen_ms, v.seen), latest_report_id = COALESCE(v.id, nodes.latest_report_id),
               latest_session_id = v.session_id, latest_observed_at_ms = v.observed, latest_block_number = v.block_number,
               latest_block_hash = v.block_hash, latest_peers = v.peers
             FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::int8[], $6::int8[], $7::text[], $8::text[])
               AS v(node_id, seen, id, session_id, observed, block_number, block_hash, peers)
             WHERE nodes.node_id = v.node_id
             RETURNING nodes.node_id, nodes.latest_report_id`,
      values: [
        touched.map(([id]) => id),
        touched.map(([, t]) => t.at),
        touched.map(([, t]) => t.historyId),
        touched.map(([, t]) => r[t.i]!.sessionId),
        touched.map(([, t]) => r[t.i]!.observedAtMs),
        touched.map(([, t]) => r[t.i]!.blockNumber),
        touched.map(([, t]) => r[t.i]!.blockHash),
        touched.map(([, t]) => peers[t.i]),
      ],
    })

    // Charges are covered at commit (store/chargeCover.ts): another coordinator on this database may have charged
    // the same client since our metering read its balance. The payers' rows are locked in account order, the order
    // every writer's balance upsert takes, and each report in call order keeps what the balance still covers.
    const payerAccounts = [...new Set(accepted.flatMap((q) => (q.metering?.payers ?? []).map((p) => p.account)))].sort()
    const balances = payerAccounts.length > 0 ? await lockAccounts(c, payerAccounts) : new Map<string, bigint>()
    for (const q of accepted) {
      if (!q.metering?.payers?.length) {
        q.written = q.metering
        continue
      }
      const covered = coverCharges(q.metering, (account) => balances.get(account) ?? 0n)
      for (const m of covered.moved) balances.set(m.account, (balances.get(m.account) ?? 0n) + m.amountWei)
      q.written = covered.delta
    }

    // Pair states: the last write of each pair wins, as if written one report after another.
    const pairs = new Map<string, PairMeter>()
    for (const q of accepted) for (const p of q.metering?.pairs ?? []) pairs.set(`${p.clientId}:${p.hostId}`, p)
    if (pairs.size > 0) {
      const rows = sortedValues(pairs)
      await c.query({
        name: 'vipnode-upsert-pairs',
        text: `INSERT INTO pair_meters (client_id, host_id, last_corroborated_at_ms) SELECT * FROM unnest($1::text[], $2::text[], $3::int8[])
               ON CONFLICT (client_id, host_id) DO UPDATE SET last_corroborated_at_ms = excluded.last_corroborated_at_ms`,
        values: [rows.map((p) => p.clientId), rows.map((p) => p.hostId), rows.map((p) => p.lastCorroboratedAtMs)],
      })
    }

    // Usage adds up: one row per (epoch, pair), the batch's sums added to what is stored.
    const usage = new Map<string, { epoch: number; clientId: string; hostId: string; addMs: number; chargedWei: bigint; addComputeUnits: number }>()
    for (const q of accepted) {
      for (const u of q.written?.usage ?? []) {
        const key = `${u.epoch}:${u.clientId}:${u.hostId}`
        const sum = usage.get(key)
        if (sum) {
          sum.addMs += u.addMs
          sum.chargedWei += u.chargedWei
          sum.addComputeUnits += u.addComputeUnits ?? 0
        } else usage.set(key, { ...u, addComputeUnits: u.addComputeUnits ?? 0 })
      }
    }
    if (usage.size > 0) {
      const rows = sortedValues(usage)
      await c.query({
        name: 'vipnode-upsert-usage',
        text: `INSERT INTO usage (epoch, client_id, host_id, service_ms, charged_wei, compute_units) SELECT * FROM unnest($1::int4[], $2::text[], $3::text[], $4::int8[], $5::numeric[], $6::int8[])
               ON CONFLICT (epoch, client_id, host_id) DO UPDATE SET service_ms = usage.service_ms + excluded.service_ms, charged_wei = usage.charged_wei + excluded.charged_wei,
                 compute_units = usage.compute_units + excluded.compute_units`,
        values: [
          rows.map((u) => u.epoch),
          rows.map((u) => u.clientId),
          rows.map((u) => u.hostId),
          rows.map((u) => u.addMs),
          rows.map((u) => u.chargedWei.toString()),
          rows.map((u) => u.addComputeUnits),
        ],
      })
    }

    await writeTransfers(
      c,
      accepted.flatMap((q) => q.written?.transfers ?? []),
    )
    let next = 0
    // A report without a history row answers with its node's latest history row at the commit.
    const latestIds = new Map(updated.rows.map((row) => [row.node_id, row.latest_report_id === null ? 0 : Number(row.latest_report_id)]))
    return outcomes.map((o) => {
      if (o !== undefined) return o
      const i = next++
      return ids[i] ?? latestIds.get(r[i]!.nodeId) ?? 0
    })
  }

  // ------------------------------------------------------------------ meta
  getMeta(key: string) {
    return this.lane(async () => (await this.db.select().from(schema.meta).where(eq(schema.meta.key, key)))[0]?.value)
  }
  setMeta(key: string, value: string) {
    return this.lane(async () => {
      await this.db.insert(schema.meta).values({ key, value }).onConflictDoUpdate({ target: schema.meta.key, set: { value } })
    })
  }

  // ------------------------------------------------------------------ nodes
  upsertNode(n: NodeRecord) {
    return this.lane(async () => {
      await this.pool.query({
        name: 'vipnode-upsert-node',
        text: `INSERT INTO nodes (node_id, role, enode, chain_id, kind, client_version, payout, capacity, region, first_seen_ms, last_seen_ms)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (node_id) DO UPDATE SET role = excluded.role, enode = excluded.enode, chain_id = excluded.chain_id, kind = excluded.kind,
                 client_version = excluded.client_version, payout = excluded.payout, capacity = excluded.capacity, region = excluded.region,
                 last_seen_ms = GREATEST(nodes.last_seen_ms, excluded.last_seen_ms)`,
        values: [n.nodeId, n.role, n.enode, n.chainId, n.kind, n.clientVersion, n.payout, n.capacity, n.region, n.firstSeenMs, n.lastSeenMs],
      })
    })
  }
  getNode(nodeId: NodeId) {
    return this.lane(async () => {
      const row = (await this.db.select().from(schema.nodes).where(eq(schema.nodes.nodeId, nodeId)))[0]
      return row ? toNode(row) : undefined
    })
  }
  listNodes(filter: { role?: 'host' | 'client'; after?: NodeId; limit?: number } = {}) {
    return this.lane(async () => {
      const n = schema.nodes
      const where = and(filter.role ? eq(n.role, filter.role) : undefined, filter.after !== undefined ? gt(n.nodeId, filter.after) : undefined)
      const q = this.db.select().from(n).where(where).orderBy(n.nodeId)
      return (filter.limit === undefined ? await q : await q.limit(filter.limit)).map(toNode)
    })
  }

  // ------------------------------------------------------------------ sessions
  openSession(s: Omit<SessionRecord, 'closedAtMs' | 'closeReason'>) {
    return this.lane(async () => {
      await this.pool.query({
        name: 'vipnode-open-session',
        text: 'INSERT INTO sessions (id, node_id, role, remote_address, connected_at_ms, replica_id) VALUES ($1, $2, $3, $4, $5, $6)',
        values: [s.id, s.nodeId, s.role, s.remoteAddress, s.connectedAtMs, s.replicaId ?? null],
      })
    })
  }
  /** Closes gather into one set-based UPDATE, up to MAX_CLOSE_BATCH (store/queuedCloses.ts). */
  closeSession(id: string, closedAtMs: number, reason: string) {
    try {
      this.refuseIfClosed()
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<void>((resolve, reject) => {
      let batch = this.closing
      if (!batch) {
        const mine: QueuedClose[] = []
        // A lane call like any other (after queued reports and earlier closes); later closes gather into it.
        this.lane(async () => {
          if (this.closing === mine) this.closing = undefined
          await this.closeSessions(mine)
        }).then(
          () => mine.forEach((c) => c.resolve()),
          (err: unknown) => mine.forEach((c) => c.reject(err)),
        )
        this.closing = batch = mine
      }
      batch.push({ id, closedAtMs, reason, resolve, reject })
      if (batch.length >= MAX_CLOSE_BATCH) this.closing = undefined
    })
  }

  /** One statement for a batch of closes; a session closed twice in it keeps its first close, as one after another would. */
  private async closeSessions(batch: readonly QueuedClose[]): Promise<void> {
    const first = new Map<string, QueuedClose>()
    for (const c of batch) if (!first.has(c.id)) first.set(c.id, c)
    const rows = [...first.values()]
    await this.pool.query({
      name: 'vipnode-close-sessions',
      text: `UPDATE sessions SET closed_at_ms = v.closed_at_ms, close_reason = v.reason
             FROM unnest($1::text[], $2::int8[], $3::text[]) AS v(id, closed_at_ms, reason)
             WHERE sessions.id = v.id AND sessions.closed_at_ms IS NULL`,
      values: [rows.map((c) => c.id), rows.map((c) => c.closedAtMs), rows.map((c) => c.reason)],
    })
  }
  closeOpenSessions(closedAtMs: number, reason: string, opts?: { replicaId: string | null }) {
    return this.lane(async () => {
      const s = schema.sessions
      const whose = opts === undefined ? undefined : opts.replicaId === null ? isNull(s.replicaId) : eq(s.replicaId, opts.replicaId)
      const res = await this.db.update(s).set({ closedAtMs, closeReason: reason }).where(and(isNull(s.closedAtMs), whose))
      return res.rowCount ?? 0
    })
  }
  openSessionNodes() {
    return this.lane(async () => {
      const s = schema.sessions
      return (await this.db.select({ nodeId: s.nodeId, replicaId: s.replicaId }).from(s).where(isNull(s.closedAtMs))).map((r) => ({ nodeId: r.nodeId as NodeId, replicaId: r.replicaId }))
    })
  }
  openSessionReplicas() {
    return this.lane(async () => (await this.db.selectDistinct({ replicaId: schema.sessions.replicaId }).from(schema.sessions).where(isNull(schema.sessions.closedAtMs))).map((r) => r.replicaId))
  }
  getSession(id: string) {
    return this.lane(async () => {
      const row = (await this.db.select().from(schema.sessions).where(eq(schema.sessions.id, id)))[0]
      return row ? ({ ...row, nodeId: row.nodeId as NodeId } satisfies SessionRecord) : undefined
    })
  }

  // ------------------------------------------------------------------ assignments
  addAssignment(a: Omit<AssignmentRecord, 'id' | 'releasedAtMs' | 'releaseReason'>) {
    return this.lane(async () => toAssignment((await this.db.insert(schema.assignments).values(a).returning())[0]!))
  }
  releaseAssignment(clientId: NodeId, hostId: NodeId, atMs: number, reason: string) {
    return this.lane(() =>
      this.transaction(async (c) => {
        const res = await c.query({
          name: 'vipnode-release-assignment',
          text: 'UPDATE assignments SET released_at_ms = $1, release_reason = $2 WHERE client_id = $3 AND host_id = $4 AND released_at_ms IS NULL',
          values: [atMs, reason, clientId, hostId],
        })
        // The pair's metering state goes with it: a later assignment of the same pair starts a new chain.
        await c.query({ name: 'vipnode-forget-pair', text: 'DELETE FROM pair_meters WHERE client_id = $1 AND host_id = $2', values: [clientId, hostId] })
        return (res.rowCount ?? 0) > 0
      }),
    )
  }
  activeAssignments(filter: { clientId?: NodeId; hostId?: NodeId } = {}) {
    return this.lane(async () => {
      const a = schema.assignments
      const conds = [isNull(a.releasedAtMs)]
      if (filter.clientId) conds.push(eq(a.clientId, filter.clientId))
      if (filter.hostId) conds.push(eq(a.hostId, filter.hostId))
      return (await this.db.select().from(a).where(and(...conds)).orderBy(a.id)).map(toAssignment)
    })
  }

  // ------------------------------------------------------------------ report reads
  pairMeters(): Promise<PairMeter[]> {
    return this.lane(async () =>
      (await this.db.select().from(schema.pairMeters).orderBy(schema.pairMeters.clientId, schema.pairMeters.hostId)).map((r) => ({
        ...r,
        clientId: r.clientId as NodeId,
        hostId: r.hostId as NodeId,
      })),
    )
  }
  usage(filter: { epoch?: number; clientId?: NodeId; hostId?: NodeId } = {}): Promise<UsageRecord[]> {
    return this.lane(async () => {
      const u = schema.usage
      const conditions = [
        filter.epoch === undefined ? undefined : eq(u.epoch, filter.epoch),
        filter.clientId === undefined ? undefined : eq(u.clientId, filter.clientId),
        filter.hostId === undefined ? undefined : eq(u.hostId, filter.hostId),
      ].filter((c) => c !== undefined)
      const rows = await this.db
        .select()
        .from(u)
        .where(conditions.length === 0 ? undefined : and(...conditions))
        .orderBy(u.epoch, u.clientId, u.hostId)
      return rows.map(toUsage)
    })
  }
  latestReport(nodeId: NodeId): Promise<StoredReport | undefined> {
    return this.lane(async () => latestReportOf((await this.db.select().from(schema.nodes).where(eq(schema.nodes.nodeId, nodeId)))[0]))
  }
  reportHistory(nodeId: NodeId, sinceMs: number): Promise<StoredReport[]> {
    return this.lane(async () =>
      (
        await this.db
          .select()
          .from(schema.reports)
          .where(and(eq(schema.reports.nodeId, nodeId), gte(schema.reports.observedAtMs, sinceMs)))
          .orderBy(schema.reports.id)
      ).map(toReport),
    )
  }

  // ------------------------------------------------------------------ history
  pruneHistory(beforeMs: number, limit: number): Promise<PrunedRows> {
    // As in SQLite: report ids grow with time, so each call looks at the `limit` lowest ids only.
    return this.lane(() =>
      this.transaction(async (c) => ({
        reports:
          (await c.query({ name: 'vipnode-prune-reports', text: 'DELETE FROM reports WHERE id IN (SELECT id FROM reports ORDER BY id LIMIT $1) AND observed_at_ms < $2', values: [limit, beforeMs] }))
            .rowCount ?? 0,
        sessions:
          (await c.query({ name: 'vipnode-prune-sessions', text: 'DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE closed_at_ms < $1 LIMIT $2)', values: [beforeMs, limit] }))
            .rowCount ?? 0,
        assignments:
          (
            await c.query({
              name: 'vipnode-prune-assignments',
              text: 'DELETE FROM assignments WHERE id IN (SELECT id FROM assignments WHERE released_at_ms < $1 LIMIT $2)',
              values: [beforeMs, limit],
            })
          ).rowCount ?? 0,
      })),
    )
  }
  historyCounts(): Promise<PrunedRows & { nodes: number; ledgerEntries: number }> {
    return this.lane(async () => {
      const { rows } = await this.pool.query<Record<'reports' | 'sessions' | 'assignments' | 'nodes' | 'ledger_entries', string>>(
        `SELECT (SELECT count(*) FROM reports) AS reports, (SELECT count(*) FROM sessions WHERE closed_at_ms IS NOT NULL) AS sessions,
                (SELECT count(*) FROM assignments WHERE released_at_ms IS NOT NULL) AS assignments,
                (SELECT count(*) FROM nodes) AS nodes, (SELECT count(*) FROM ledger_entries) AS ledger_entries`,
      )
      const row = rows[0]!
      return { reports: Number(row.reports), sessions: Number(row.sessions), assignments: Number(row.assignments), nodes: Number(row.nodes), ledgerEntries: Number(row.ledger_entries) }
    })
  }
  pruneNodes(beforeMs: number, limit: number, opts: { after?: NodeId | undefined; accountPrefixes: readonly string[] }): Promise<{ deleted: number; next: NodeId | undefined; done: boolean }> {
    const after = opts.after
    // As in SQLite: the next nodes by primary key after the caller's cursor; whether a node holds anything (and is old) is
    // checked inside the DELETE itself, so a login or a deposit racing the prune keeps the row.
    const holds = `EXISTS (SELECT 1 FROM sessions s WHERE s.node_id = n.node_id AND s.closed_at_ms IS NULL)
      OR EXISTS (SELECT 1 FROM assignments a WHERE a.client_id = n.node_id AND (a.released_at_ms IS NULL OR a.released_at_ms >= $1))
      OR EXISTS (SELECT 1 FROM assignments a WHERE a.host_id = n.node_id AND (a.released_at_ms IS NULL OR a.released_at_ms >= $1))
      OR EXISTS (SELECT 1 FROM accounts x WHERE x.account IN (SELECT p || n.node_id FROM unnest($3::text[]) AS p))`
    return this.lane(() =>
      this.transaction(async (c) => {
        const { rows } = await c.query<{ node_id: string }>({
          name: 'vipnode-prune-node-candidates',
          text: 'SELECT node_id FROM nodes WHERE node_id > $1 ORDER BY node_id LIMIT $2',
          values: [after ?? '', limit],
        })
        if (rows.length === 0) return { deleted: 0, next: undefined, done: true }
        const deleted = await c.query({
          name: 'vipnode-prune-nodes',
          text: `DELETE FROM nodes n WHERE n.node_id = ANY($2::text[]) AND n.last_seen_ms < $1 AND NOT (${holds})`,
          values: [beforeMs, rows.map((r) => r.node_id), opts.accountPrefixes],
        })
        return { deleted: deleted.rowCount ?? 0, next: rows.at(-1)!.node_id as NodeId, done: rows.length < limit }
      }),
    )
  }
  foldCharges(beforeMs: number, limit: number, rule: ChargeRule): Promise<{ folded: number; done: boolean }> {
    type Row = { id: string; transfer_id: string; account: string; amount_wei: string; at_ms: string }
    const asRows = (rows: Row[]): LedgerRow[] => rows.map((r) => ({ id: Number(r.id), transferId: r.transfer_id, account: r.account, amountWei: BigInt(r.amount_wei), atMs: Number(r.at_ms) }))
    const select = 'SELECT id, transfer_id, account, amount_wei, at_ms FROM ledger_entries'
    return this.lane(() =>
      this.transaction(async (c) => {
        // One folder at a time across coordinators sharing the database; a turn that finds it taken does nothing.
        if (!(await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [FOLD_LOCK.toString()])).rows[0]!.ok) return { folded: 0, done: true }
        const cursor = Number((await c.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [LEDGER_FOLDED_THROUGH_KEY])).rows[0]?.value ?? 0)
        const rows = asRows((await c.query<Row>({ name: 'vipnode-fold-batch', text: `${select} WHERE id > $1 ORDER BY id LIMIT $2`, values: [cursor, limit] })).rows)
        const carriers = new Map<string, ChargeCarrier>()
        for (const r of rows) {
          if (!rule.isPayer(r.account) || carriers.has(r.account)) continue
          const previous = (
            await c.query<{ transfer_id: string }>({
              name: 'vipnode-fold-previous',
              text: 'SELECT transfer_id FROM ledger_entries WHERE account = $1 AND id <= $2 ORDER BY id DESC LIMIT 1',
              values: [r.account, cursor],
            })
          ).rows[0]?.transfer_id
          if (previous === undefined || !rule.isCharge(previous)) continue
          const shape = chargeShape(asRows((await c.query<Row>({ name: 'vipnode-fold-transfer', text: `${select} WHERE transfer_id = $1`, values: [previous] })).rows), rule)
          if (shape) carriers.set(r.account, { clientEntryId: shape.client.id, revenueEntryId: shape.revenue.id, revenueAccount: shape.revenue.account })
        }
        const plan = planChargeFolding(rows, { beforeMs, full: rows.length === limit, carriers, cursor, rule })
        for (const [id, wei] of plan.addWei) await c.query('UPDATE ledger_entries SET amount_wei = amount_wei + $1::numeric WHERE id = $2', [wei.toString(), id])
        if (plan.carrierClientEntryIds.length > 0) {
          await c.query('UPDATE ledger_entries SET memo = $1 WHERE transfer_id IN (SELECT transfer_id FROM ledger_entries WHERE id = ANY($2::bigint[]))', [FOLDED_MEMO, plan.carrierClientEntryIds])
        }
        if (plan.deleteIds.length > 0) await c.query('DELETE FROM ledger_entries WHERE id = ANY($1::bigint[])', [plan.deleteIds])
        // Nothing is written when the cursor stays: an idle pool's pass every second leaves the database untouched.
        if (plan.throughId !== cursor) {
          await c.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [LEDGER_FOLDED_THROUGH_KEY, String(plan.throughId)])
        }
        return { folded: plan.folded, done: plan.throughId === cursor }
      }),
    )
  }

  // ------------------------------------------------------------------ ledger
  async post(transfer: Transfer, options: { notBelowZero?: readonly string[] } = {}) {
    this.refuseIfClosed()
    checkTransfer(transfer)
    const guarded = options.notBelowZero ?? []
    return this.lane(() =>
      this.transaction(async (c) => {
        if ((await lockTransferIds(c, [transfer.id])).size > 0) throw new StoreError('DUPLICATE_TRANSFER', `transfer ${transfer.id} was already posted`)
        if (guarded.length > 0) {
          const balances = await lockAccounts(c, [...new Set(transfer.entries.map((e) => e.account))].sort())
          refuseUncovered(transfer, guarded, (account) => balances.get(account) ?? 0n)
        }
        await writeTransfers(c, [transfer])
      }),
    )
  }
  balancesWithPrefix(prefix: string) {
    return this.lane(async () => {
      const rows = await this.db
        .select()
        .from(schema.accounts)
        .where(sql`starts_with(${schema.accounts.account}, ${prefix})`)
        .orderBy(schema.accounts.account)
      return new Map(rows.map((r) => [r.account, BigInt(r.balanceWei)]))
    })
  }
  ledgerEntries(filter: { account?: string; transferIdPrefix?: string }): Promise<LedgerEntry[]> {
    return this.lane(async () => {
      const e = schema.ledgerEntries
      const where = []
      if (filter.account !== undefined) where.push(eq(e.account, filter.account))
      if (filter.transferIdPrefix !== undefined) where.push(sql`starts_with(${e.transferId}, ${filter.transferIdPrefix})`)
      const rows = await this.db
        .select({ transferId: e.transferId, account: e.account, amountWei: e.amountWei, atMs: e.atMs })
        .from(e)
        .where(and(...where))
        .orderBy(e.id)
      return rows.map((r) => ({ ...r, amountWei: BigInt(r.amountWei) }))
    })
  }

  /**
   * Committed balance plus the entries of this store's reports not yet
   * committed, without waiting for them. The committed balance is read with
   * the statement's snapshot, returned beside it: a batch whose transaction
   * that snapshot shows finished is in the balance already (or failed and
   * never will be); any other batch, queued or being written, is added.
   */
  async balanceOf(account: string) {
    this.refuseIfClosed()
    const issuedAt = ++this.stamp
    this.readers.add(issuedAt)
    try {
      const { rows } = await this.pool.query<{ balance: string | null; snapshot: string }>({
        name: 'vipnode-balance-of',
        text: 'SELECT (SELECT balance_wei::text FROM accounts WHERE account = $1) AS balance, pg_current_snapshot()::text AS snapshot',
        values: [account],
      })
      const snapshot = parseSnapshot(rows[0]!.snapshot)
      let balance = BigInt(rows[0]!.balance ?? '0')
      for (const b of this.tracked) {
        // Completed before this read began: the snapshot has it.
        if (b.completedAt !== undefined && b.completedAt < issuedAt) continue
        if (b.xid !== undefined && finishedIn(snapshot, b.xid)) continue
        balance += b.amounts.get(account) ?? 0n
      }
      return balance
    } finally {
      this.readers.delete(issuedAt)
      this.forgetBatches()
    }
  }

  /** Drop completed batches that no read in flight began before. */
  private forgetBatches(): void {
    let oldestReader = Infinity
    for (const r of this.readers) oldestReader = Math.min(oldestReader, r)
    this.tracked = this.tracked.filter((b) => b.completedAt === undefined || b.completedAt > oldestReader)
  }

  sumAll() {
    return this.lane(async () => {
      const { rows } = await this.pool.query<{ sum: string }>('SELECT coalesce(sum(balance_wei), 0)::text AS sum FROM accounts')
      return BigInt(rows[0]!.sum)
    })
  }

  // ------------------------------------------------------------------ epochs
  async settleEpoch(e: EpochRecord, payouts: readonly EpochPayout[], transfer: Transfer) {
    this.refuseIfClosed()
    checkTransfer(transfer)
    return this.lane(() =>
      this.transaction(async (c) => {
        // The epoch row first: a second coordinator settling the same epoch waits on it here and then finds it taken.
        const inserted = await c.query({
          name: 'vipnode-insert-epoch',
          text: `INSERT INTO epochs (epoch, start_ms, end_ms, revenue_wei, carried_in_wei, fee_wei, carried_out_wei, total_entitled_wei, root, tree, settled_at_ms, tx_hash, posted_at_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (epoch) DO NOTHING`,
          values: [e.epoch, e.startMs, e.endMs, e.revenueWei.toString(), e.carriedInWei.toString(), e.feeWei.toString(), e.carriedOutWei.toString(), e.totalEntitledWei.toString(), e.root, e.tree, e.settledAtMs, e.txHash, e.postedAtMs],
        })
        if (inserted.rowCount === 0) throw new StoreError('DUPLICATE_EPOCH', `epoch ${e.epoch} is already settled`)
        if ((await lockTransferIds(c, [transfer.id])).size > 0) throw new StoreError('DUPLICATE_TRANSFER', `transfer ${transfer.id} was already posted`)
        await writeTransfers(c, [transfer])
        if (payouts.length > 0) {
          await c.query({
            name: 'vipnode-insert-payouts',
            text: 'INSERT INTO epoch_payouts (epoch, payee, service_ms, amount_wei, cumulative_wei) SELECT $1, * FROM unnest($2::text[], $3::int8[], $4::numeric[], $5::numeric[])',
            values: [e.epoch, payouts.map((p) => p.payee), payouts.map((p) => p.serviceMs), payouts.map((p) => p.amountWei.toString()), payouts.map((p) => p.cumulativeWei.toString())],
          })
        }
      }),
    )
  }
  getEpoch(epoch: number) {
    return this.lane(async () => {
      const row = (await this.db.select().from(schema.epochs).where(eq(schema.epochs.epoch, epoch)))[0]
      return row ? toEpoch(row) : undefined
    })
  }
  listEpochs() {
    return this.lane(async () => (await this.db.select().from(schema.epochs).orderBy(schema.epochs.epoch)).map(toEpoch))
  }
  epochHeaders(opts: { last?: number } = {}) {
    return this.lane(async () => {
      const { tree: _tree, ...header } = getTableColumns(schema.epochs)
      const q = this.db.select(header).from(schema.epochs).orderBy(desc(schema.epochs.epoch))
      return (opts.last === undefined ? await q : await q.limit(opts.last)).reverse().map(toEpochHeader)
    })
  }
  lastSettledEpoch() {
    return this.lane(async () => (await this.db.select({ epoch: schema.epochs.epoch }).from(schema.epochs).orderBy(desc(schema.epochs.epoch)).limit(1))[0]?.epoch ?? 0)
  }
  epochPayouts(epoch: number) {
    return this.lane(async () =>
      (await this.db.select().from(schema.epochPayouts).where(eq(schema.epochPayouts.epoch, epoch)).orderBy(schema.epochPayouts.payee)).map((r) => ({
        payee: r.payee,
        serviceMs: r.serviceMs,
        amountWei: BigInt(r.amountWei),
        cumulativeWei: BigInt(r.cumulativeWei),
      })),
    )
  }
  latestPayoutEpoch(filter: { posted?: boolean } = {}) {
    return this.lane(async () => {
      const e = schema.epochs
      const row = (
        await this.db
          .select({ epoch: e.epoch, root: e.root, totalEntitledWei: e.totalEntitledWei, txHash: e.txHash })
          .from(e)
          .where(filter.posted ? and(ne(e.root, EMPTY_TREE_ROOT), isNotNull(e.txHash)) : ne(e.root, EMPTY_TREE_ROOT))
          .orderBy(desc(e.epoch))
          .limit(1)
      )[0]
      return row ? { epoch: row.epoch, root: row.root, totalEntitledWei: BigInt(row.totalEntitledWei), txHash: row.txHash } : undefined
    })
  }
  markEpochPosted(epoch: number, txHash: string, atMs: number) {
    return this.lane(async () => {
      await this.db.update(schema.epochs).set({ txHash, postedAtMs: atMs }).where(eq(schema.epochs.epoch, epoch))
    })
  }

  async close() {
    if (this.closed) return
    // Queued reports and calls already made finish first; nothing new is accepted.
    this.seal()
    this.closed = true
    await this.tail
    for (const client of this.leases) await client.end().catch(() => undefined)
    this.leases.clear()
    await this.pool.end()
  }
}

/**
 * A pooled connection for several statements. While it is checked out the pool
 * does not listen for its errors: a connection the server drops would then
 * throw from an 'error' event. Here that error fails the statement in flight,
 * and a connection that failed (or could not roll back: `drop`) is closed
 * rather than handed to the next caller.
 */
async function withClient<T>(pool: pg.Pool, fn: (c: pg.PoolClient, drop: (err: Error) => void) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let broken: Error | undefined
  const drop = (err: Error) => {
    broken ??= err
  }
  client.on('error', drop)
  try {
    return await fn(client, drop)
  } finally {
    client.off('error', drop)
    client.release(broken)
  }
}

/**
 * `begin` (BEGIN, or BEGIN and more statements in one simple query), `fn` with what it returned, COMMIT; on any
 * failure ROLLBACK (a connection that cannot roll back is dropped) and rethrow.
 */
async function inTransaction<T>(
  client: pg.PoolClient,
  drop: (err: Error) => void,
  fn: (began: pg.QueryResult | pg.QueryResult[]) => Promise<T>,
  beforeRollback: () => void = () => undefined,
  begin = 'BEGIN',
): Promise<T> {
  try {
    // Inside the try: a statement after BEGIN in `begin` may fail and leave the transaction open.
    const began = (await client.query(begin)) as pg.QueryResult | pg.QueryResult[]
    const out = await fn(began)
    await client.query('COMMIT')
    return out
  } catch (err) {
    beforeRollback()
    await client.query('ROLLBACK').catch(drop)
    throw err
  }
}

/**
 * Take each transfer id's advisory lock for the rest of the transaction
 * (sorted, so two writers never wait on each other in a cycle) and return the
 * ids already in the ledger. ledger_entries has no unique transfer id (one
 * row per entry, as in SQLite): the lock is what stops two coordinators from
 * both finding an id unused and both writing it.
 */
async function lockTransferIds(c: pg.PoolClient, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set()
  const unique = [...new Set(ids)]
  const keys = [...new Set(unique.map(lockKey))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String)
  await c.query({ name: 'vipnode-lock-transfers', text: 'SELECT pg_advisory_xact_lock(k) FROM unnest($1::int8[]) AS k', values: [keys] })
  const { rows } = await c.query<{ transfer_id: string }>({
    name: 'vipnode-taken-transfers',
    text: 'SELECT DISTINCT transfer_id FROM ledger_entries WHERE transfer_id = ANY($1::text[])',
    values: [unique],
  })
  return new Set(rows.map((r) => r.transfer_id))
}

/**
 * Lock the rows of `sortedAccounts` (in that order: the order every writer's balance upsert takes) and read their
 * balances; an account without a row holds 0.
 */
async function lockAccounts(c: Queryable, sortedAccounts: readonly string[]): Promise<Map<string, bigint>> {
  const { rows } = await c.query<{ account: string; balance: string }>({
    name: 'vipnode-lock-accounts',
    text: 'SELECT account, balance_wei::text AS balance FROM accounts WHERE account = ANY($1::text[]) ORDER BY account FOR UPDATE',
    values: [sortedAccounts],
  })
  return new Map(rows.map((r) => [r.account, BigInt(r.balance)]))
}

/** A transfer id's advisory lock key: the first 8 bytes of its sha256, as a signed 64-bit integer. */
function lockKey(id: string): bigint {
  return createHash('sha256').update(id).digest().readBigInt64BE(0)
}

/** Entries in order, then each account's balance moved by the sum of its entries (accounts sorted: one lock order for every writer). */
async function writeTransfers(c: Queryable, transfers: readonly Transfer[]): Promise<void> {
  const entries = transfers.flatMap((t) => t.entries.map((e) => ({ t, e })))
  if (entries.length === 0) return
  await c.query({
    name: 'vipnode-insert-entries',
    text: `INSERT INTO ledger_entries (transfer_id, account, amount_wei, at_ms, memo)
           SELECT t, a, w, at, m FROM unnest($1::text[], $2::text[], $3::numeric[], $4::int8[], $5::text[]) WITH ORDINALITY AS e(t, a, w, at, m, n) ORDER BY n`,
    values: [entries.map((x) => x.t.id), entries.map((x) => x.e.account), entries.map((x) => x.e.amountWei.toString()), entries.map((x) => x.t.atMs), entries.map((x) => x.t.memo)],
  })
  const deltas = new Map<string, bigint>()
  addAmounts(deltas, transfers)
  const accounts = [...deltas.keys()].sort()
  await c.query({
    name: 'vipnode-move-balances',
    text: `INSERT INTO accounts (account, balance_wei) SELECT * FROM unnest($1::text[], $2::numeric[])
           ON CONFLICT (account) DO UPDATE SET balance_wei = accounts.balance_wei + excluded.balance_wei`,
    values: [accounts, accounts.map((a) => deltas.get(a)!.toString())],
  })
}

/** A map's values ordered by key: every writer upserts rows in the same order. */
function sortedValues<T>(m: Map<string, T>): T[] {
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v)
}

interface Snapshot {
  xmax: bigint
  inProgress: Set<bigint>
}

/** pg_snapshot text: `xmin:xmax:xip,xip,…`. */
function parseSnapshot(text: string): Snapshot {
  const [, xmax, xip] = text.split(':')
  return { xmax: BigInt(xmax!), inProgress: new Set(xip ? xip.split(',').map(BigInt) : []) }
}

/** Whether a transaction had finished (committed or rolled back) when the snapshot was taken (pg_visible_in_snapshot). */
function finishedIn(s: Snapshot, xid: bigint): boolean {
  return xid < s.xmax && !s.inProgress.has(xid)
}
