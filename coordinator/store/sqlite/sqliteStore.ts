/**
 * The embedded default store: one SQLite file (better-sqlite3, WAL) with
 * drizzle-kit migrations shipped beside this file and applied at open.
 * better-sqlite3 is synchronous; the methods still return promises so the
 * interface can take an asynchronous PostgreSQL store later.
 *
 * Reports are group-committed: every report that arrives in one turn of the
 * event loop goes into one transaction (a savepoint each, so a bad report
 * fails alone), and its promise settles after the commit. A commit costs far
 * more than the rows in it, so this is what lets one SQLite file keep up with
 * thousands of agents. Any other write or read first commits what is queued,
 * so the order of writes is exactly the order of calls; balanceOf instead adds
 * the queued charges to the committed balance, so metering never waits on it.
 */
import Database from 'better-sqlite3'
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3'
import { migrate } from 'drizzle-orm/better-sqlite3/migrator'
import { and, eq, getTableColumns, gt, gte, isNull, isNotNull, ne, sql, desc } from 'drizzle-orm'
import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NodeId } from '../../../protocol/index.ts'
import * as schema from './schema.ts'
import { StoreError, addAmounts, checkTransfer, FOLDED_MEMO, LEDGER_FOLDED_THROUGH_KEY, type ChargeRule, type Lease, type PrunedRows, type EpochPayout, type EpochRecord, type MeteringDelta, type PairMeter, type UsageRecord, type AssignmentRecord, type NodeRecord, type PeerReport, type SessionRecord, type Store, type StoredReport, type Transfer, type LedgerEntry } from '../store.ts'
import { latestReportOf, toAssignment, toEpoch, toEpochHeader, toNode, toReport, toUsage } from '../rows.ts'
import { MAX_CLOSE_BATCH, type QueuedClose } from '../queuedCloses.ts'
import { chargeShape, planChargeFolding, type ChargeCarrier, type LedgerRow } from '../chargeFolding.ts'
import { coverCharges, refuseUncovered } from '../chargeCover.ts'
/** The root of an epoch without payouts (settlement's EMPTY_ROOT). */
const EMPTY_TREE_ROOT = `0x${'00'.repeat(32)}`

const MIGRATIONS = join(dirname(fileURLToPath(import.meta.url)), 'migrations')

export interface SqliteStore extends Store {
  /** The underlying handle, for benchmarks and the audit command. */
  readonly sqlite: Database.Database
}

/** Open (creating if needed) and migrate. `path` may be ':memory:'. */
export function openSqliteStore(path: string): SqliteStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const sqlite = new Database(path)
  sqlite.pragma('journal_mode = WAL')
  // NORMAL is durable against process crashes (kill -9) in WAL mode; only an OS crash can lose the last commits.
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  const db = drizzle(sqlite, { schema })
  migrate(db, { migrationsFolder: MIGRATIONS })
  return new SqliteStoreImpl(sqlite, db)
}

type Db = BetterSQLite3Database<typeof schema>

/**
 * Reports committed together at most. The 64th report queued in a turn
 * commits the batch at once, so its acknowledgements leave while the loop is
 * still reading frames instead of after the whole turn; more queued than that
 * (after a stall) commit 64 at a time, a turn apart. A commit costs little in
 * WAL mode with synchronous NORMAL: 64 per batch costs ~1 µs more per report
 * than 500, and in bench:load at 5,000 reports/s it took the steady p99 from
 * 42–49 ms to 9–10 ms and the longest loop delay from 59–70 ms to 20–24 ms
 * (issue 20). Committing 2,000 at once had held the loop 60 ms.
 */
const MAX_REPORT_BATCH = 64

interface QueuedReport {
  report: PeerReport
  metering: MeteringDelta | undefined
  history: boolean
  resolve: (id: number) => void
  reject: (err: unknown) => void
}

class SqliteStoreImpl implements SqliteStore {
  private closed = false
  private readonly insertReport
  private readonly touchNode
  private readonly recordReportTx: (r: PeerReport, m: MeteringDelta | undefined, history: boolean) => number
  private readonly postTx: (t: Transfer, notBelowZero: readonly string[]) => void
  private readonly applyTransfer: (t: Transfer) => void
  private readonly settleTx: (e: EpochRecord, payouts: readonly EpochPayout[], t: Transfer) => void
  private readonly recordBatchTx: (batch: readonly QueuedReport[]) => (number | unknown)[]
  /** An account's balance as stored (inside a transaction: with that transaction's writes). */
  private readonly storedBalance: (account: string) => bigint
  // Every agent connect writes these two: prepared once, like the report path (drizzle builds and prepares per call).
  private readonly upsertNodeStmt: Database.Statement
  private readonly openSessionStmt: Database.Statement
  private readonly closeSessionStmt: Database.Statement
  private readonly pruneTx: (beforeMs: number, limit: number) => PrunedRows
  private readonly pruneNodesTx: (beforeMs: number, limit: number, after: NodeId | undefined, accountPrefixes: readonly string[]) => { deleted: number; next: NodeId | undefined; done: boolean }
  private readonly foldTx: (beforeMs: number, limit: number, rule: ChargeRule) => { folded: number; done: boolean }
  private queued: QueuedReport[] = []
  private closing: QueuedClose[] = []
  private readonly closeSessionsTx: (closes: readonly QueuedClose[]) => void
  private readonly leases = new Set<string>()
  /** Sum of the ledger entries in queued reports, per account. */
  private readonly queuedBalances = new Map<string, bigint>()
  private flushScheduled = false

  constructor(
    readonly sqlite: Database.Database,
    private readonly db: Db,
  ) {
    // Hot path: prepared once, one transaction per report.
    this.insertReport = sqlite.prepare(
      'INSERT INTO reports (node_id, session_id, observed_at_ms, block_number, block_hash, peers) VALUES (?, ?, ?, ?, ?, ?)',
    )
    // The node row carries its latest report: one row write per report on top of the history insert (a separate
    // latest_reports table cost a second B-tree per report).
    this.touchNode = sqlite.prepare(
      `UPDATE nodes SET last_seen_ms = max(last_seen_ms, ?), latest_report_id = ?, latest_session_id = ?, latest_observed_at_ms = ?,
         latest_block_number = ?, latest_block_hash = ?, latest_peers = ? WHERE node_id = ?`,
    )
    // A report that adds no history row (logic/reportHistory.ts) moves only the node's latest report.
    const touchNodeLatestOnly = sqlite.prepare(
      `UPDATE nodes SET last_seen_ms = max(last_seen_ms, ?), latest_session_id = ?, latest_observed_at_ms = ?,
         latest_block_number = ?, latest_block_hash = ?, latest_peers = ? WHERE node_id = ? RETURNING latest_report_id`,
    )
    this.upsertNodeStmt = sqlite.prepare(
      `INSERT INTO nodes (node_id, role, enode, chain_id, kind, client_version, payout, capacity, region, first_seen_ms, last_seen_ms)
       VALUES (@nodeId, @role, @enode, @chainId, @kind, @clientVersion, @payout, @capacity, @region, @firstSeenMs, @lastSeenMs)
       ON CONFLICT(node_id) DO UPDATE SET role = excluded.role, enode = excluded.enode, chain_id = excluded.chain_id, kind = excluded.kind,
         client_version = excluded.client_version, payout = excluded.payout, capacity = excluded.capacity, region = excluded.region,
         last_seen_ms = max(nodes.last_seen_ms, excluded.last_seen_ms)`,
    )
    this.openSessionStmt = sqlite.prepare('INSERT INTO sessions (id, node_id, role, remote_address, connected_at_ms, replica_id) VALUES (@id, @nodeId, @role, @remoteAddress, @connectedAtMs, @replicaId)')
    this.closeSessionStmt = sqlite.prepare('UPDATE sessions SET closed_at_ms = ?, close_reason = ? WHERE id = ? AND closed_at_ms IS NULL')
    this.closeSessionsTx = sqlite.transaction((closes: readonly QueuedClose[]) => {
      for (const c of closes) this.closeSessionStmt.run(c.closedAtMs, c.reason, c.id)
    })
    const upsertPair = sqlite.prepare(
      'INSERT INTO pair_meters (client_id, host_id, last_corroborated_at_ms) VALUES (?, ?, ?) ON CONFLICT(client_id, host_id) DO UPDATE SET last_corroborated_at_ms = excluded.last_corroborated_at_ms',
    )
    const getUsage = sqlite.prepare('SELECT charged_wei FROM usage WHERE epoch = ? AND client_id = ? AND host_id = ?').pluck()
    const upsertUsage = sqlite.prepare(
      'INSERT INTO usage (epoch, client_id, host_id, service_ms, charged_wei, compute_units) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(epoch, client_id, host_id) DO UPDATE SET service_ms = service_ms + excluded.service_ms, charged_wei = ?, compute_units = compute_units + excluded.compute_units',
    )
    this.recordReportTx = sqlite.transaction((r: PeerReport, m: MeteringDelta | undefined, history: boolean) => {
      const peers = JSON.stringify(r.peers)
      let latestId: number
      if (history) {
        const info = this.insertReport.run(r.nodeId, r.sessionId, r.observedAtMs, r.blockNumber, r.blockHash, peers)
        const touched = this.touchNode.run(r.observedAtMs, info.lastInsertRowid, r.sessionId, r.observedAtMs, r.blockNumber, r.blockHash, peers, r.nodeId)
        if (touched.changes === 0) throw new StoreError('UNKNOWN_NODE', `report from unregistered node ${r.nodeId}`)
        latestId = Number(info.lastInsertRowid)
      } else {
        const row = touchNodeLatestOnly.get(r.observedAtMs, r.sessionId, r.observedAtMs, r.blockNumber, r.blockHash, peers, r.nodeId) as { latest_report_id: number | null } | undefined
        if (!row) throw new StoreError('UNKNOWN_NODE', `report from unregistered node ${r.nodeId}`)
        latestId = row.latest_report_id ?? 0
      }
      if (m) {
        // One writer: the balance read here already holds this batch's earlier reports.
        m = coverCharges(m, this.storedBalance).delta
        for (const p of m.pairs) upsertPair.run(p.clientId, p.hostId, p.lastCorroboratedAtMs)
        for (const u of m.usage) {
          const charged = BigInt((getUsage.get(u.epoch, u.clientId, u.hostId) as string | undefined) ?? '0') + u.chargedWei
          upsertUsage.run(u.epoch, u.clientId, u.hostId, u.addMs, charged.toString(), u.addComputeUnits ?? 0, charged.toString())
        }
        for (const t of m.transfers) this.applyTransfer(t)
      }
      return latestId
    })
    // Inside the outer transaction each recordReportTx runs as a savepoint: a failure rolls back that report only.
    this.recordBatchTx = sqlite.transaction((batch: readonly QueuedReport[]) =>
      batch.map((q) => {
        try {
          return this.recordReportTx(q.report, q.metering, q.history)
        } catch (err) {
          return err instanceof Error ? err : new Error(String(err))
        }
      }),
    )
    // History pruning. Report ids grow with time (one clock, written in call order), so the oldest rows are the
    // lowest ids: each call looks at the `limit` lowest ids only and deletes those observed before the cutoff,
    // O(limit) whatever the table holds. Sessions and assignments are found through their time indexes.
    const pruneReports = sqlite.prepare('DELETE FROM reports WHERE id IN (SELECT id FROM reports ORDER BY id LIMIT ?) AND observed_at_ms < ?')
    const pruneSessions = sqlite.prepare('DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE closed_at_ms < ? LIMIT ?)')
    const pruneAssignments = sqlite.prepare('DELETE FROM assignments WHERE id IN (SELECT id FROM assignments WHERE released_at_ms < ? LIMIT ?)')
    this.pruneTx = sqlite.transaction((beforeMs: number, limit: number) => ({
      reports: pruneReports.run(limit, beforeMs).changes,
      sessions: pruneSessions.run(beforeMs, limit).changes,
      assignments: pruneAssignments.run(beforeMs, limit).changes,
    }))
    // Keys that hold nothing: the next nodes by primary key after the caller's cursor, each checked.
    const nodeCandidates = sqlite.prepare('SELECT node_id AS nodeId, last_seen_ms AS lastSeenMs FROM nodes WHERE node_id > ? ORDER BY node_id LIMIT ?')
    const nodeHolds = sqlite
      .prepare(
        `SELECT EXISTS (SELECT 1 FROM sessions WHERE node_id = @id AND closed_at_ms IS NULL)
             OR EXISTS (SELECT 1 FROM assignments WHERE client_id = @id AND (released_at_ms IS NULL OR released_at_ms >= @beforeMs))
             OR EXISTS (SELECT 1 FROM assignments WHERE host_id = @id AND (released_at_ms IS NULL OR released_at_ms >= @beforeMs))`,
      )
      .pluck()
    const accountExists = sqlite.prepare('SELECT 1 FROM accounts WHERE account = ?').pluck()
    const deleteNode = sqlite.prepare('DELETE FROM nodes WHERE node_id = ?')
    this.pruneNodesTx = sqlite.transaction((beforeMs: number, limit: number, after: NodeId | undefined, accountPrefixes: readonly string[]) => {
      const rows = nodeCandidates.all(after ?? '', limit) as { nodeId: NodeId; lastSeenMs: number }[]
      let deleted = 0
      for (const r of rows) {
        if (r.lastSeenMs >= beforeMs || nodeHolds.get({ id: r.nodeId, beforeMs }) || accountPrefixes.some((p) => accountExists.get(p + r.nodeId))) continue
        deleted += deleteNode.run(r.nodeId).changes
      }
      return { deleted, next: rows.at(-1)?.nodeId, done: rows.length < limit }
    })
    // Folding old charges (store/chargeFolding.ts): a batch after the cursor, the carrier before it per client.
    const entriesAfter = sqlite.prepare('SELECT id, transfer_id AS transferId, account, amount_wei AS amountWei, at_ms AS atMs FROM ledger_entries WHERE id > ? ORDER BY id LIMIT ?')
    const previousEntry = sqlite.prepare('SELECT transfer_id FROM ledger_entries WHERE account = ? AND id <= ? ORDER BY id DESC LIMIT 1').pluck()
    const transferEntries = sqlite.prepare('SELECT id, transfer_id AS transferId, account, amount_wei AS amountWei, at_ms AS atMs FROM ledger_entries WHERE transfer_id = ?')
    const entryAmount = sqlite.prepare('SELECT amount_wei FROM ledger_entries WHERE id = ?').pluck()
    const setEntryAmount = sqlite.prepare('UPDATE ledger_entries SET amount_wei = ? WHERE id = ?')
    const setFoldedMemo = sqlite.prepare(`UPDATE ledger_entries SET memo = '${FOLDED_MEMO}' WHERE transfer_id = (SELECT transfer_id FROM ledger_entries WHERE id = ?)`)
    const deleteEntry = sqlite.prepare('DELETE FROM ledger_entries WHERE id = ?')
    const asRows = (rows: { id: number; transferId: string; account: string; amountWei: string; atMs: number }[]): LedgerRow[] => rows.map((r) => ({ ...r, amountWei: BigInt(r.amountWei) }))
    this.foldTx = sqlite.transaction((beforeMs: number, limit: number, rule: ChargeRule) => {
      const cursor = Number(this.d.select().from(schema.meta).where(eq(schema.meta.key, LEDGER_FOLDED_THROUGH_KEY)).get()?.value ?? 0)
      const rows = asRows(entriesAfter.all(cursor, limit) as never)
      const carriers = new Map<string, ChargeCarrier>()
      for (const r of rows) {
        if (!rule.isPayer(r.account) || carriers.has(r.account)) continue
        const previous = previousEntry.get(r.account, cursor) as string | undefined
        const shape = previous !== undefined && rule.isCharge(previous) ? chargeShape(asRows(transferEntries.all(previous) as never), rule) : undefined
        if (shape) carriers.set(r.account, { clientEntryId: shape.client.id, revenueEntryId: shape.revenue.id, revenueAccount: shape.revenue.account })
      }
      const plan = planChargeFolding(rows, { beforeMs, full: rows.length === limit, carriers, cursor, rule })
      for (const [id, wei] of plan.addWei) setEntryAmount.run((BigInt(entryAmount.get(id) as string) + wei).toString(), id)
      for (const id of plan.carrierClientEntryIds) setFoldedMemo.run(id)
      for (const id of plan.deleteIds) deleteEntry.run(id)
      // Nothing is written when the cursor stays: an idle pool's pass every second leaves the database untouched.
      if (plan.throughId !== cursor) {
        this.d.insert(schema.meta).values({ key: LEDGER_FOLDED_THROUGH_KEY, value: String(plan.throughId) }).onConflictDoUpdate({ target: schema.meta.key, set: { value: String(plan.throughId) } }).run()
      }
      return { folded: plan.folded, done: plan.throughId === cursor }
    })
    const existingTransfer = sqlite.prepare('SELECT 1 FROM ledger_entries WHERE transfer_id = ? LIMIT 1')
    const insertEntry = sqlite.prepare('INSERT INTO ledger_entries (transfer_id, account, amount_wei, at_ms, memo) VALUES (?, ?, ?, ?, ?)')
    const getBalance = sqlite.prepare('SELECT balance_wei FROM accounts WHERE account = ?').pluck()
    this.storedBalance = (account) => BigInt((getBalance.get(account) as string | undefined) ?? '0')
    const setBalance = sqlite.prepare(
      'INSERT INTO accounts (account, balance_wei) VALUES (?, ?) ON CONFLICT(account) DO UPDATE SET balance_wei = excluded.balance_wei',
    )
    // Runs inside an enclosing transaction; callers have already checked the transfer balances.
    this.applyTransfer = (t: Transfer) => {
      if (existingTransfer.get(t.id)) throw new StoreError('DUPLICATE_TRANSFER', `transfer ${t.id} was already posted`)
      for (const e of t.entries) {
        insertEntry.run(t.id, e.account, e.amountWei.toString(), t.atMs, t.memo)
        setBalance.run(e.account, (this.storedBalance(e.account) + e.amountWei).toString())
      }
    }
    this.postTx = sqlite.transaction((t: Transfer, notBelowZero: readonly string[]) => {
      refuseUncovered(t, notBelowZero, this.storedBalance)
      this.applyTransfer(t)
    })
    const insertEpoch = sqlite.prepare(
      `INSERT INTO epochs (epoch, start_ms, end_ms, revenue_wei, carried_in_wei, fee_wei, carried_out_wei, total_entitled_wei, root, tree, settled_at_ms, tx_hash, posted_at_ms)
       VALUES (@epoch, @startMs, @endMs, @revenueWei, @carriedInWei, @feeWei, @carriedOutWei, @totalEntitledWei, @root, @tree, @settledAtMs, @txHash, @postedAtMs)`,
    )
    const epochExists = sqlite.prepare('SELECT 1 FROM epochs WHERE epoch = ?')
    const insertPayout = sqlite.prepare('INSERT INTO epoch_payouts (epoch, payee, service_ms, amount_wei, cumulative_wei) VALUES (?, ?, ?, ?, ?)')
    this.settleTx = sqlite.transaction((e: EpochRecord, payouts: readonly EpochPayout[], t: Transfer) => {
      if (epochExists.get(e.epoch)) throw new StoreError('DUPLICATE_EPOCH', `epoch ${e.epoch} is already settled`)
      this.applyTransfer(t)
      insertEpoch.run({
        ...e,
        revenueWei: e.revenueWei.toString(),
        carriedInWei: e.carriedInWei.toString(),
        feeWei: e.feeWei.toString(),
        carriedOutWei: e.carriedOutWei.toString(),
        totalEntitledWei: e.totalEntitledWei.toString(),
      })
      for (const p of payouts) insertPayout.run(e.epoch, p.payee, p.serviceMs, p.amountWei.toString(), p.cumulativeWei.toString())
    })
  }

  private get d(): Db {
    this.ready()
    return this.db
  }

  /** Before any other read or write: refuse when closed, and commit queued reports so order is kept. */
  private ready(): void {
    if (this.closed) throw new StoreError('CLOSED', 'store is closed')
    this.flush()
  }

  /** Commit every queued report and session close now. */
  flush(): void {
    while (this.queued.length > 0) this.commitBatch()
    while (this.closing.length > 0) this.commitCloses()
  }

  /** Close up to MAX_CLOSE_BATCH queued sessions in one transaction; the rest wait for another turn. */
  private commitCloses(): void {
    const batch = this.closing.splice(0, MAX_CLOSE_BATCH)
    if (this.closing.length > 0) this.scheduleCommit()
    try {
      this.closeSessionsTx(batch)
    } catch (err) {
      for (const c of batch) c.reject(err)
      return
    }
    for (const c of batch) c.resolve()
  }

  /** Commit up to MAX_REPORT_BATCH queued reports in one transaction; the rest wait for another turn. */
  private commitBatch(): void {
    const batch = this.queued.length <= MAX_REPORT_BATCH ? this.queued : this.queued.slice(0, MAX_REPORT_BATCH)
    this.queued = batch === this.queued ? [] : this.queued.slice(MAX_REPORT_BATCH)
    if (this.queued.length > 0) this.scheduleCommit()
    let outcomes: unknown[]
    try {
      outcomes = this.recordBatchTx(batch)
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing in the batch was written.
      outcomes = batch.map(() => err)
    } finally {
      // Whatever happened to them, these are no longer queued: balanceOf stops adding them.
      if (this.queued.length === 0) this.queuedBalances.clear()
      else for (const q of batch) addAmounts(this.queuedBalances, q.metering?.transfers ?? [], -1n)
    }
    batch.forEach((q, i) => {
      const outcome = outcomes[i]
      if (typeof outcome === 'number') q.resolve(outcome)
      else q.reject(outcome)
    })
  }

  // ------------------------------------------------------------------ meta
  async getMeta(key: string) {
    return this.d.select().from(schema.meta).where(eq(schema.meta.key, key)).get()?.value
  }
  async setMeta(key: string, value: string) {
    this.d.insert(schema.meta).values({ key, value }).onConflictDoUpdate({ target: schema.meta.key, set: { value } }).run()
  }

  // ------------------------------------------------------------------ nodes
  async upsertNode(node: NodeRecord) {
    this.ready()
    this.upsertNodeStmt.run(node)
  }
  async getNode(nodeId: NodeId) {
    const row = this.d.select().from(schema.nodes).where(eq(schema.nodes.nodeId, nodeId)).get()
    return row ? toNode(row) : undefined
  }
  async listNodes(filter: { role?: 'host' | 'client'; after?: NodeId; limit?: number } = {}) {
    const n = schema.nodes
    const where = and(filter.role ? eq(n.role, filter.role) : undefined, filter.after !== undefined ? gt(n.nodeId, filter.after) : undefined)
    const q = this.d.select().from(n).where(where).orderBy(n.nodeId)
    return (filter.limit === undefined ? q.all() : q.limit(filter.limit).all()).map(toNode)
  }

  // ------------------------------------------------------------------ sessions
  async openSession(s: Omit<SessionRecord, 'closedAtMs' | 'closeReason'>) {
    this.ready()
    this.openSessionStmt.run({ ...s, replicaId: s.replicaId ?? null })
  }
  async closeSession(id: string, closedAtMs: number, reason: string) {
    if (this.closed) throw new StoreError('CLOSED', 'store is closed')
    // Committed with the turn's other closes (MAX_CLOSE_BATCH), or first by any later store call (ready()).
    return new Promise<void>((resolve, reject) => {
      this.closing.push({ id, closedAtMs, reason, resolve, reject })
      this.scheduleCommit()
    })
  }
  async closeOpenSessions(closedAtMs: number, reason: string, opts?: { replicaId: string | null }) {
    this.ready()
    const s = schema.sessions
    const whose = opts === undefined ? undefined : opts.replicaId === null ? isNull(s.replicaId) : eq(s.replicaId, opts.replicaId)
    return this.d.update(s).set({ closedAtMs, closeReason: reason }).where(and(isNull(s.closedAtMs), whose)).run().changes
  }
  async openSessionNodes() {
    this.ready()
    const s = schema.sessions
    return this.d
      .select({ nodeId: s.nodeId, replicaId: s.replicaId })
      .from(s)
      .where(isNull(s.closedAtMs))
      .all()
      .map((r) => ({ nodeId: r.nodeId as NodeId, replicaId: r.replicaId }))
  }
  async openSessionReplicas() {
    this.ready()
    return this.d.selectDistinct({ replicaId: schema.sessions.replicaId }).from(schema.sessions).where(isNull(schema.sessions.closedAtMs)).all().map((r) => r.replicaId)
  }
  async getSession(id: string) {
    this.ready()
    const row = this.d.select().from(schema.sessions).where(eq(schema.sessions.id, id)).get()
    return row ? ({ ...row, nodeId: row.nodeId as NodeId } satisfies SessionRecord) : undefined
  }

  // ------------------------------------------------------------------ assignments
  async addAssignment(a: Omit<AssignmentRecord, 'id' | 'releasedAtMs' | 'releaseReason'>) {
    const row = this.d.insert(schema.assignments).values(a).returning().get()
    return toAssignment(row)
  }
  async releaseAssignment(clientId: NodeId, hostId: NodeId, atMs: number, reason: string) {
    const db = this.d
    return db.transaction((tx) => {
      const res = tx
        .update(schema.assignments)
        .set({ releasedAtMs: atMs, releaseReason: reason })
        .where(and(eq(schema.assignments.clientId, clientId), eq(schema.assignments.hostId, hostId), isNull(schema.assignments.releasedAtMs)))
        .run()
      // The pair's metering state goes with it: a later assignment of the same pair starts a new chain.
      tx.delete(schema.pairMeters)
        .where(and(eq(schema.pairMeters.clientId, clientId), eq(schema.pairMeters.hostId, hostId)))
        .run()
      return res.changes > 0
    })
  }
  async activeAssignments(filter: { clientId?: NodeId; hostId?: NodeId } = {}) {
    const conds = [isNull(schema.assignments.releasedAtMs)]
    if (filter.clientId) conds.push(eq(schema.assignments.clientId, filter.clientId))
    if (filter.hostId) conds.push(eq(schema.assignments.hostId, filter.hostId))
    return this.d.select().from(schema.assignments).where(and(...conds)).all().map(toAssignment)
  }

  // ------------------------------------------------------------------ reports
  async recordReport(report: PeerReport, metering?: MeteringDelta, options: { history?: boolean } = {}) {
    if (this.closed) throw new StoreError('CLOSED', 'store is closed')
    for (const t of metering?.transfers ?? []) checkTransfer(t)
    return new Promise<number>((resolve, reject) => {
      this.queued.push({ report, metering, history: options.history ?? true, resolve, reject })
      addAmounts(this.queuedBalances, metering?.transfers ?? [])
      if (this.queued.length >= MAX_REPORT_BATCH) this.commitBatch()
      else this.scheduleCommit()
    })
  }

  /** After the I/O callbacks of this loop turn: every report read in it shares the commit. */
  private scheduleCommit(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      if (this.closed) return
      if (this.queued.length > 0) this.commitBatch()
      if (this.closing.length > 0) this.commitCloses()
    })
  }
  async pairMeters(): Promise<PairMeter[]> {
    return this.d
      .select()
      .from(schema.pairMeters)
      .all()
      .map((r) => ({ ...r, clientId: r.clientId as NodeId, hostId: r.hostId as NodeId }))
  }
  async usage(filter: { epoch?: number; clientId?: NodeId; hostId?: NodeId } = {}): Promise<UsageRecord[]> {
    const u = schema.usage
    const conditions = [
      filter.epoch === undefined ? undefined : eq(u.epoch, filter.epoch),
      filter.clientId === undefined ? undefined : eq(u.clientId, filter.clientId),
      filter.hostId === undefined ? undefined : eq(u.hostId, filter.hostId),
    ].filter((c) => c !== undefined)
    const q = this.d.select().from(u)
    const rows = conditions.length === 0 ? q.all() : q.where(and(...conditions)).all()
    return rows.map(toUsage)
  }
  async latestReport(nodeId: NodeId): Promise<StoredReport | undefined> {
    return latestReportOf(this.d.select().from(schema.nodes).where(eq(schema.nodes.nodeId, nodeId)).get())
  }
  async reportHistory(nodeId: NodeId, sinceMs: number): Promise<StoredReport[]> {
    return this.d
      .select()
      .from(schema.reports)
      .where(and(eq(schema.reports.nodeId, nodeId), gte(schema.reports.observedAtMs, sinceMs)))
      .orderBy(schema.reports.id)
      .all()
      .map(toReport)
  }

  // ------------------------------------------------------------------ history
  async pruneHistory(beforeMs: number, limit: number): Promise<PrunedRows> {
    this.ready()
    return this.pruneTx(beforeMs, limit)
  }
  async historyCounts() {
    this.ready()
    const count = (table: string, where = '') => this.sqlite.prepare(`SELECT count(*) FROM ${table} ${where}`).pluck().get() as number
    return {
      reports: count('reports'),
      sessions: count('sessions', 'WHERE closed_at_ms IS NOT NULL'),
      assignments: count('assignments', 'WHERE released_at_ms IS NOT NULL'),
      nodes: count('nodes'),
      ledgerEntries: count('ledger_entries'),
    }
  }
  async pruneNodes(beforeMs: number, limit: number, opts: { after?: NodeId | undefined; accountPrefixes: readonly string[] }) {
    this.ready()
    return this.pruneNodesTx(beforeMs, limit, opts.after, opts.accountPrefixes)
  }
  async foldCharges(beforeMs: number, limit: number, rule: ChargeRule) {
    this.ready()
    return this.foldTx(beforeMs, limit, rule)
  }

  // ------------------------------------------------------------------ ledger
  async post(transfer: Transfer, options: { notBelowZero?: readonly string[] } = {}) {
    if (this.closed) throw new StoreError('CLOSED', 'store is closed')
    checkTransfer(transfer)
    this.flush()
    this.postTx(transfer, options.notBelowZero ?? [])
  }
  async balancesWithPrefix(prefix: string) {
    const rows = this.d
      .select()
      .from(schema.accounts)
      .where(sql`substr(${schema.accounts.account}, 1, ${prefix.length}) = ${prefix}`)
      .all()
    return new Map(rows.map((r) => [r.account, BigInt(r.balanceWei)]))
  }
  async ledgerEntries(filter: { account?: string; transferIdPrefix?: string }): Promise<LedgerEntry[]> {
    if (this.closed) throw new StoreError('CLOSED', 'store is closed')
    this.flush()
    const e = schema.ledgerEntries
    const where = []
    if (filter.account !== undefined) where.push(eq(e.account, filter.account))
    if (filter.transferIdPrefix !== undefined) where.push(sql`substr(${e.transferId}, 1, ${filter.transferIdPrefix.length}) = ${filter.transferIdPrefix}`)
    const rows = this.d
      .select({ transferId: e.transferId, account: e.account, amountWei: e.amountWei, atMs: e.atMs })
      .from(e)
      .where(and(...where))
      .orderBy(e.id)
      .all()
    return rows.map((r) => ({ ...r, amountWei: BigInt(r.amountWei) }))
  }

  // ------------------------------------------------------------------ epochs
  async settleEpoch(epoch: EpochRecord, payouts: readonly EpochPayout[], transfer: Transfer) {
    if (this.closed) throw new StoreError('CLOSED', 'store is closed')
    checkTransfer(transfer)
    this.flush()
    this.settleTx(epoch, payouts, transfer)
  }
  async getEpoch(epoch: number) {
    const row = this.d.select().from(schema.epochs).where(eq(schema.epochs.epoch, epoch)).get()
    return row ? toEpoch(row) : undefined
  }
  async listEpochs() {
    return this.d.select().from(schema.epochs).orderBy(schema.epochs.epoch).all().map(toEpoch)
  }
  async epochHeaders(opts: { last?: number } = {}) {
    const { tree: _tree, ...header } = getTableColumns(schema.epochs)
    const q = this.d.select(header).from(schema.epochs).orderBy(desc(schema.epochs.epoch))
    const rows = opts.last === undefined ? q.all() : q.limit(opts.last).all()
    return rows.reverse().map(toEpochHeader)
  }
  async lastSettledEpoch() {
    return this.d.select({ epoch: schema.epochs.epoch }).from(schema.epochs).orderBy(desc(schema.epochs.epoch)).limit(1).get()?.epoch ?? 0
  }
  async epochPayouts(epoch: number) {
    return this.d
      .select()
      .from(schema.epochPayouts)
      .where(eq(schema.epochPayouts.epoch, epoch))
      .orderBy(schema.epochPayouts.payee)
      .all()
      .map((r) => ({ payee: r.payee, serviceMs: r.serviceMs, amountWei: BigInt(r.amountWei), cumulativeWei: BigInt(r.cumulativeWei) }))
  }
  async latestPayoutEpoch(filter: { posted?: boolean } = {}) {
    // Walks the primary key backwards from the newest epoch: only epochs without a tree (before anyone was ever paid) are skipped.
    const e = schema.epochs
    const row = this.d
      .select({ epoch: e.epoch, root: e.root, totalEntitledWei: e.totalEntitledWei, txHash: e.txHash })
      .from(e)
      .where(filter.posted ? and(ne(e.root, EMPTY_TREE_ROOT), isNotNull(e.txHash)) : ne(e.root, EMPTY_TREE_ROOT))
      .orderBy(desc(e.epoch))
      .limit(1)
      .get()
    return row ? { epoch: row.epoch, root: row.root, totalEntitledWei: BigInt(row.totalEntitledWei), txHash: row.txHash } : undefined
  }
  async markEpochPosted(epoch: number, txHash: string, atMs: number) {
    this.d.update(schema.epochs).set({ txHash, postedAtMs: atMs }).where(eq(schema.epochs.epoch, epoch)).run()
  }
  /** Committed balance plus the entries of queued reports: what the balance will be once they commit. */
  async balanceOf(account: string) {
    if (this.closed) throw new StoreError('CLOSED', 'store is closed')
    return this.storedBalance(account) + (this.queuedBalances.get(account) ?? 0n)
  }
  async sumAll() {
    let sum = 0n
    for (const row of this.d.select().from(schema.accounts).all()) sum += BigInt(row.balanceWei)
    return sum
  }

  // ------------------------------------------------------------------ leases
  async tryLease(name: string): Promise<Lease | undefined> {
    this.ready()
    if (this.leases.has(name)) return undefined
    this.leases.add(name)
    // A file has one coordinator: the lease is only lost by releasing it.
    return { lost: new Promise<void>(() => undefined), release: async () => void this.leases.delete(name) }
  }

  async close() {
    if (this.closed) return
    this.flush()
    this.closed = true
    this.sqlite.close()
  }
}
