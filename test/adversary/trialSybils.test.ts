/**
 * Attack 4 (trial part): trial Sybils. Node keys are free and every new key
 * gets --trial, so an attacker can mint as much trial money as it has keys.
 * With --trial-budget-per-epoch, trials come out of the trial budget the
 * operator funded, at most that much per epoch. Bound: 1,000 fresh keys get
 * no more than the allowance in an epoch and no more than the budget in all;
 * the books audit clean; honest depositors' balances do not move.
 */
import { test, expect, afterEach } from 'vitest'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator, tempDb } from '../harness/coordinator.ts'
import { authenticated, identity, type Identity } from '../harness/rawAgent.ts'
import { creditCommand } from '../../coordinator/admin/commands.ts'
import { audit } from '../../coordinator/admin/audit.ts'
import { Accounts } from '../../coordinator/logic/accounts.ts'
import { coordinatorConfigSchema } from '../../coordinator/config.ts'
import { startCoordinator } from '../../coordinator/coordinator.ts'
import { silentLogger } from '../../lib/logger.ts'

const TRIAL = 1_000n
const PER_EPOCH = 50_000n
const FUNDED = 80_000n
const DEPOSIT = 10n ** 15n
const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
})

/** The operator's own command, on the running pool's database file (SQLite serialises the writers). */
async function credit(db: string, ...args: string[]): Promise<void> {
  const write = process.stdout.write
  process.stdout.write = (() => true) as typeof process.stdout.write
  try {
    await creditCommand().exitOverride().parseAsync(['--db', db, ...args], { from: 'user' })
  } finally {
    process.stdout.write = write
  }
}

test('trial sybils: 1,000 fresh keys get at most the epoch allowance, never more than the funded budget; books audit clean; depositors untouched', async () => {
  const db = tempDb()
  const clock = manualClock(Date.UTC(2026, 0, 1))
  const c = await testCoordinator({ db, priceWeiPerMinute: 1_000n, trialWei: TRIAL, trialBudgetPerEpochWei: PER_EPOCH, epochMs: 3_600_000 }, { clock })
  cleanup.push(() => c.close())
  const { store } = c.services
  await credit(db, '--trial-budget', FUNDED.toString())
  const depositors = [identity(), identity()]
  for (const d of depositors) await credit(db, '--node', d.nodeId, '--amount', DEPOSIT.toString())
  for (const d of depositors) (await authenticated(c.url, d, { role: 'client' })).agent.close()
  const depositorBalances = async () => Promise.all(depositors.map((d) => store.balanceOf(Accounts.client(d.nodeId))))
  const before = await depositorBalances()

  // Fresh keys in small batches; each connects, reads its reply and goes.
  const sybils: { id: Identity; message: string; epoch: number }[] = []
  const arrive = async (n: number) => {
    for (let i = 0; i < n; i += 25) {
      const batch = Array.from({ length: Math.min(25, n - i) }, () => identity())
      await Promise.all(
        batch.map(async (id) => {
          const { agent, reply } = await authenticated(c.url, id, { role: 'client' })
          agent.close()
          expect(reply.error).toBeUndefined()
          sybils.push({ id, message: reply.result.message as string, epoch: c.services.epochs.epochOf(clock.now()) })
        }),
      )
    }
  }
  await arrive(600)
  const firstEpoch = c.services.epochs.epochOf(clock.now())
  clock.set(c.services.epochs.bounds(firstEpoch).endMs) // the next epoch: a fresh allowance out of what is left
  await arrive(400)

  const balances = await Promise.all(sybils.map(async (s) => ({ ...s, balance: await store.balanceOf(Accounts.client(s.id.nodeId)) })))
  const grantedIn = (epoch: number) => balances.filter((b) => b.epoch === epoch).reduce((n, b) => n + b.balance, 0n)
  const granted = balances.reduce((n, b) => n + b.balance, 0n)
  // The bound.
  expect(grantedIn(firstEpoch)).toBeLessThanOrEqual(PER_EPOCH)
  expect(grantedIn(firstEpoch + 1)).toBeLessThanOrEqual(PER_EPOCH)
  expect(granted).toBeLessThanOrEqual(FUNDED)
  for (const b of balances) expect([0n, TRIAL]).toContain(b.balance)
  // The budget is used, not wasted: every wei of it went to a trial (the depositors, new keys too, had theirs
  // first), and the rest were told why they got none.
  const depositorTrials = before.reduce((n, b) => n + b, 0n) - 2n * DEPOSIT
  expect(depositorTrials).toBe(2n * TRIAL)
  expect(granted + depositorTrials).toBe(FUNDED)
  const refused = balances.filter((b) => b.balance === 0n)
  expect(refused.length).toBe(1_000 - Number(granted / TRIAL))
  for (const r of refused) expect(r.message).toContain('no trial credit: the pool\'s trial budget for this epoch is spent')
  expect(await store.balanceOf(Accounts.trialBudget)).toBe(0n)

  // A key that comes back gets nothing more.
  const lucky = balances.find((b) => b.balance === TRIAL)!
  ;(await authenticated(c.url, lucky.id, { role: 'client' })).agent.close()
  expect(await store.balanceOf(Accounts.client(lucky.id.nodeId))).toBe(TRIAL)

  expect(await depositorBalances()).toEqual(before)
  const report = await audit(store)
  expect(report.problems).toEqual([])
  expect(report.ok).toBe(true)
  const trials = Object.fromEntries((await c.services.metrics.trials.get()).values.map((v) => [v.labels.result, v.value]))
  expect(trials).toMatchObject({ granted: Number(FUNDED / TRIAL), 'budget-spent': refused.length })
  console.log(
    `trial sybils: 1,000 fresh keys over two epochs, trial ${TRIAL} wei, allowance ${PER_EPOCH} wei per epoch, budget ${FUNDED} wei: ` +
      `granted ${grantedIn(firstEpoch)} + ${grantedIn(firstEpoch + 1)} wei (${granted / TRIAL} trials), ${refused.length} refused; depositors unchanged; audit ok`,
  )
})

test('trial sybils: --trial with on-chain settlement is refused at start without a configured, funded trial budget', async () => {
  const chain = { chainRpc: 'http://127.0.0.1:9', contract: `0x${'11'.repeat(20)}`, operatorKey: '/nonexistent/operator.key', trialWei: TRIAL }
  const parsed = coordinatorConfigSchema.safeParse(chain)
  expect(parsed.success).toBe(false)
  expect(parsed.error?.issues.map((i) => i.message)).toContain('--trial with --chain-rpc needs --trial-budget-per-epoch and a trial budget funded with vipnode credit --trial-budget')
  const db = tempDb()
  const start = () => startCoordinator({ port: 0, db, poolId: 'test-pool', logLevel: 'silent', allowPrivateAddresses: true, ...chain, trialBudgetPerEpochWei: PER_EPOCH }, { logger: silentLogger })
  await expect(start()).rejects.toThrow('--trial with --chain-rpc needs a funded trial budget: it holds 0 wei, less than one trial (1000 wei); fund it with vipnode credit --db FILE --trial-budget <amount>')
  // Funded: the trial budget no longer stops it (it gets as far as the operator key, which this test does not have).
  await credit(db, '--trial-budget', TRIAL.toString())
  await expect(start()).rejects.not.toThrow(/trial budget/)
})
