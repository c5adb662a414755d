/**
 * Operator commands that work on the pool's database directly (they are
 * safe while the coordinator runs: SQLite serialises the writers, PostgreSQL
 * transactions do the same).
 */
import { Command } from 'commander'
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import Database from 'better-sqlite3'
import { z } from 'zod'
import { defineOptions, flag, integer, text, wei } from '../../lib/cliOptions.ts'
import { parseEnodeOrNodeId } from '../../protocol/index.ts'
import { isPostgresUrl, openStore } from '../store/openStore.ts'
import { defaultCoordinatorConfig } from '../config.ts'
import { Accounts } from '../logic/accounts.ts'
import { audit } from './audit.ts'
import { migrateSqliteToPostgres } from './migrate.ts'

/** The pool's store; a SQLite path must exist (a typo must not create an empty pool). */
export async function openExisting(db: string) {
  if (!isPostgresUrl(db) && db !== ':memory:' && !existsSync(db)) throw new Error(`no pool database at ${db} (pass --db FILE or --db postgres://…)`)
  return openStore(db)
}

// One option table per command, beside its schema (lib/cliOptions.ts); --db is the same everywhere.
const db = { flags: '--db <file|url>', description: 'the pool database: a SQLite file or a postgres:// URL', parser: text }
const dbSchema = z.string().min(1).default(defaultCoordinatorConfig.db)

export const creditOptions = defineOptions(
  z.object({ db: dbSchema, node: z.string().min(1).optional(), trialBudget: z.bigint().optional(), amount: z.bigint().optional(), memo: z.string().default('manual credit') }).strict(),
  {
    db,
    node: { flags: '--node <id>', description: 'the client node ID or enode', parser: text },
    trialBudget: { flags: '--trial-budget <amount>', description: 'instead of a node: add this much to the trial budget that --trial-budget-per-epoch draws from', parser: wei },
    amount: { flags: '--amount <amount>', description: 'wei, or with a unit: 100 gwei, 0.01 ether', parser: wei },
    memo: { flags: '--memo <text>', description: 'why, for the books', parser: text },
  },
)

export const auditOptions = defineOptions(z.object({ db: dbSchema }).strict(), { db })

export const payoutsOptions = defineOptions(z.object({ db: dbSchema, epoch: z.number().int().min(1).optional(), json: z.boolean().default(false) }).strict(), {
  db,
  epoch: { flags: '--epoch <n>', description: 'which epoch', parser: integer(1, Number.MAX_SAFE_INTEGER) },
  json: { flags: '--json', description: 'print JSON instead of a table', parser: flag },
})

export const backupOptions = defineOptions(z.object({ db: dbSchema, to: z.string().min(1, { message: 'required: the new file to write' }) }).strict(), {
  db,
  to: { flags: '--to <file>', description: 'the new file to write (never overwritten) (required)', parser: text },
})

export const migrateOptions = defineOptions(z.object({ from: z.string().min(1).default(defaultCoordinatorConfig.db), to: z.string().min(1, { message: 'required: postgres://… of a new, empty database' }) }).strict(), {
  from: { flags: '--from <file>', description: 'the SQLite file the coordinator used as --db', parser: text },
  to: { flags: '--to <url>', description: 'postgres://… of a new, empty database (required)', parser: text },
})

export function creditCommand(): Command {
  const command = new Command('credit').description('credit a client node for a payment received another way (cash, invoice, another chain), or fund the trial budget')
  return creditOptions.addTo(command).action(async () => {
    const o = creditOptions.read(command)
    if (creditOptions.printConfig(command, o)) return
    if ((o.node === undefined) === (o.trialBudget === undefined)) throw new Error('pass either --node <id> --amount <amount>, or --trial-budget <amount>')
    if (o.trialBudget !== undefined) {
      const amount = o.trialBudget
      if (amount <= 0n) throw new Error('--trial-budget must be positive')
      const store = await openExisting(o.db)
      try {
        const id = `trial-budget:${randomUUID()}`
        await store.post({ id, atMs: Date.now(), memo: o.memo, entries: [{ account: Accounts.external, amountWei: -amount }, { account: Accounts.trialBudget, amountWei: amount }] })
        process.stdout.write(`${JSON.stringify({ transfer: id, creditedWei: amount.toString(), trialBudgetWei: (await store.balanceOf(Accounts.trialBudget)).toString() })}\n`)
      } finally {
        await store.close()
      }
      return
    }
    if (o.amount === undefined) throw new Error('--node needs --amount')
    const { nodeId } = parseEnodeOrNodeId(o.node!)
    const amount = o.amount
    if (amount <= 0n) throw new Error('--amount must be positive')
    const store = await openExisting(o.db)
    try {
      const id = `credit:${randomUUID()}`
      await store.post({ id, atMs: Date.now(), memo: o.memo, entries: [{ account: Accounts.external, amountWei: -amount }, { account: Accounts.client(nodeId), amountWei: amount }] })
      process.stdout.write(`${JSON.stringify({ transfer: id, nodeId, creditedWei: amount.toString(), balanceWei: (await store.balanceOf(Accounts.client(nodeId))).toString() })}\n`)
    } finally {
      await store.close()
    }
  })
}

export function auditCommand(): Command {
  const command = new Command('audit').description('check the books: ledger sums to zero, every epoch adds up, roots match their trees; exits 1 on any problem')
  return auditOptions.addTo(command).action(async () => {
    const o = auditOptions.read(command)
    if (auditOptions.printConfig(command, o)) return
    const store = await openExisting(o.db)
    try {
      const report = await audit(store)
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
      if (!report.ok) process.exitCode = 1
    } finally {
      await store.close()
    }
  })
}

export function payoutsCommand(): Command {
  const command = new Command('payouts').description("list an epoch's split: revenue, fee, carry and each payee's share (default: the latest settled epoch)")
  return payoutsOptions.addTo(command).action(async () => {
    const o = payoutsOptions.read(command)
    if (payoutsOptions.printConfig(command, o)) return
    const store = await openExisting(o.db)
    try {
      const epoch = await store.getEpoch(o.epoch ?? (await store.lastSettledEpoch()))
      if (!epoch) throw new Error(o.epoch !== undefined ? `epoch ${o.epoch} is not settled` : 'no epoch has been settled yet')
      const payouts = await store.epochPayouts(epoch.epoch)
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...epoch, tree: undefined, payouts }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`)
        return
      }
      const lines = [
        `epoch ${epoch.epoch}  ${new Date(epoch.startMs).toISOString()} .. ${new Date(epoch.endMs).toISOString()}`,
        `revenue ${epoch.revenueWei} wei + carried in ${epoch.carriedInWei} wei; fee ${epoch.feeWei} wei; carried out ${epoch.carriedOutWei} wei`,
        `root ${epoch.root}  total entitled ${epoch.totalEntitledWei} wei${epoch.txHash ? `  posted in ${epoch.txHash}` : ''}`,
        '',
        `${'payee'.padEnd(44)}${'service'.padStart(12)}${'this epoch (wei)'.padStart(26)}${'cumulative (wei)'.padStart(26)}`,
        ...payouts.map((p) => `${p.payee.padEnd(44)}${`${(p.serviceMs / 3_600_000).toFixed(2)} h`.padStart(12)}${p.amountWei.toString().padStart(26)}${p.cumulativeWei.toString().padStart(26)}`),
      ]
      if (payouts.length === 0) lines.push('(nobody was paid this epoch)')
      process.stdout.write(`${lines.join('\n')}\n`)
    } finally {
      await store.close()
    }
  })
}

/**
 * An online backup of the pool database (SQLite's backup API, page by page): safe while the coordinator
 * writes, and the copy is a consistent database of its own. Refuses to overwrite an existing file.
 */
export async function backupDatabase(from: string, to: string): Promise<{ pages: number }> {
  if (isPostgresUrl(from)) throw new Error('vipnode backup copies SQLite files; back up a PostgreSQL pool with pg_dump (docs/operations.md)')
  if (!existsSync(from)) throw new Error(`no pool database at ${from} (pass --db FILE)`)
  if (existsSync(to)) throw new Error(`${to} exists: pick a new file, a backup never overwrites`)
  const db = new Database(from, { readonly: true, fileMustExist: true })
  try {
    const { totalPages } = await db.backup(to)
    return { pages: totalPages }
  } finally {
    db.close()
  }
}

export function backupCommand(): Command {
  const command = new Command('backup').description('copy the pool database to a new file while the coordinator runs (online SQLite backup); check the copy with vipnode audit --db FILE')
  return backupOptions.addTo(command).action(async () => {
    const o = backupOptions.read(command)
    if (backupOptions.printConfig(command, o)) return
    const { pages } = await backupDatabase(o.db, o.to)
    process.stdout.write(`${JSON.stringify({ backup: o.to, pages })}\n`)
  })
}

export function migrateCommand(): Command {
  const command = new Command('migrate').description('copy a pool from its SQLite file into a new, empty PostgreSQL database, then check both (rows, audit, balances, epochs, roots); stop the coordinator first; exits 1 on any difference')
  return migrateOptions.addTo(command).action(async () => {
    const o = migrateOptions.read(command)
    if (migrateOptions.printConfig(command, o)) return
    const report = await migrateSqliteToPostgres(o.from, o.to, { progress: (line) => process.stderr.write(`${line}\n`) })
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    if (!report.ok) process.exitCode = 1
  })
}
