/**
 * The join page end to end: a real Chromium (playwright-core,
 * /usr/bin/chromium) on an in-process coordinator that settles on a dev
 * chain (EDR behind JSON-RPC, the pool contract deployed). The page's
 * window.ethereum is a test wallet bridged to Node, signing with a funded
 * dev key (test/harness/browserWallet.ts). Screenshots of each state go to
 * test-artifacts/join-*.png.
 */
import { describe, test, expect, beforeAll, afterAll, afterEach } from 'vitest'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { JsonRpcProvider, Wallet, parseEther, toQuantity } from 'ethers'
import { startDevchain, type Devchain } from '../../contracts/devchain.ts'
import { vipnodePoolAt } from '../../contracts/artifacts.ts'
import { depositAccountOf } from '../../contracts/depositAccount.ts'
import { manualClock } from '../../lib/clock.ts'
import { testCoordinator } from '../../test/harness/coordinator.ts'
import { testAgent, type TestAgent } from '../../test/harness/agents.ts'
import { waitFor } from '../../test/harness/waitFor.ts'
import { BrowserWallet, installWallet, type BrowserWalletOptions } from '../../test/harness/browserWallet.ts'
import { topupLink } from '../services/metering.ts'
import { deposit, postRefund, refundRequest } from '../../test/harness/attackers.ts'
import { normaliseOrigin, signNodeQuery } from '../../protocol/index.ts'
import { DEFAULT_SLOW_START_SLOTS } from '../services/assignments.ts'
import type { RunningCoordinator } from '../coordinator.ts'
import type { JoinConfigBody, NodeBody, PublicNodeBody } from './routes.ts'
import { explainUnitCosts } from '../dashboard/assets/format.js'
import { computeUnitCosts } from '../../protocol/costTable.ts'

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const WAIT = { timeout: 15_000 }
const PRICE = parseEther('0.001')
const HASH = `0x${'ab'.repeat(32)}`

let browser: Browser
let chain: Devchain
let c: RunningCoordinator
let rpc: JsonRpcProvider
const clock = manualClock(Date.now())
const agents: TestAgent[] = []
const cleanup: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true })
  const launched = chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  // Blocks every 250 ms so confirmations advance without anyone mining by hand.
  chain = await startDevchain({ port: 0, blockTimeMs: 250 })
  const keyFile = join(mkdtempSync(join(tmpdir(), 'vipnode-join-')), 'operator.key')
  writeFileSync(keyFile, chain.accounts[0]!.privateKey)
  rpc = new JsonRpcProvider(chain.url, chain.chainId, { staticNetwork: true, cacheTimeout: -1 })
  c = await testCoordinator(
    { chainRpc: chain.url, contract: chain.contractAddress, operatorKey: keyFile, confirmations: 2, chainPollMs: 150, priceWeiPerMinute: PRICE, updateIntervalMs: 10_000, epochMs: 3_600_000 },
    { clock },
  )
  browser = await launched
}, 60_000)

afterAll(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined)
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)))
  await c?.close()
  rpc?.destroy()
  await chain?.close()
  await browser?.close()
})

const pageCleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const f of pageCleanup.splice(0).reverse()) await f().catch(() => undefined)
})

/** A page link with ?auth= signed by the agent's node key, as `vipnode client status --link` prints it. */
function signed(link: string, who: TestAgent): string {
  const auth = signNodeQuery(who.id.key, { poolId: c.poolId, origin: normaliseOrigin(c.url), nodeId: who.id.nodeId, path: `/v1/nodes/${who.id.nodeId}`, expiresAtMs: Date.now() + 30 * 60_000 })
  return `${link}${link.includes('?') ? '&' : '?'}auth=${auth}`
}

async function agent(body: Parameters<typeof testAgent>[1]): Promise<TestAgent> {
  const a = await testAgent(c.url, body)
  agents.push(a)
  return a
}

/** A page, optionally with a wallet on dev account `account`. Console errors are collected. */
async function openPage(walletOpts?: Partial<BrowserWalletOptions> & { account: number }): Promise<{ page: Page; wallet: BrowserWallet | undefined; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, baseURL: c.url })
  pageCleanup.push(() => context.close())
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(e.message))
  let wallet: BrowserWallet | undefined
  if (walletOpts) {
    const { account, ...rest } = walletOpts
    wallet = new BrowserWallet({ rpcUrl: chain.url, chainId: chain.chainId, privateKey: chain.accounts[account]!.privateKey, ...rest })
    const w = wallet
    pageCleanup.push(async () => w.close())
    await installWallet(page, wallet)
  }
  return { page, wallet, errors }
}

async function ready(page: Page, path: string): Promise<void> {
  await page.goto(path)
  await page.waitForSelector('body[data-ready="true"]', WAIT)
}

/** Save a screenshot, after checking no placeholder leaked into the text (a null, undefined or NaN rendered as words). */
async function shot(page: Page, name: string): Promise<void> {
  expect(await page.locator('body').innerText()).not.toMatch(/\b(null|undefined|NaN)\b/)
  await page.screenshot({ path: `${ARTIFACTS}join-${name}.png`, fullPage: true })
}
const stateOf = (page: Page, id: string) => page.getAttribute(`#${id}`, 'data-state')
const balanceOf = (nodeId: string) => c.services.store.balanceOf(`client:${nodeId}`)

async function connectWallet(page: Page): Promise<void> {
  await page.click('#connect')
  await page.waitForSelector('#wallet-state[data-state="ready"]', WAIT)
}

/**
 * A settled epoch whose root is on chain with an entitlement for a fresh
 * payout address (0 wei on chain, so its balance is exactly what it claims):
 * a client deposits, a host serves it for five corroborated minutes, the
 * epoch ends, the coordinator settles and posts the root. Made once.
 */
let entitlement: Promise<{ payout: string; cumulativeWei: bigint; epoch: number }> | undefined
function settledEntitlement() {
  entitlement ??= (async () => {
    const payout = Wallet.createRandom().address
    const host = await agent({ role: 'host', payout })
    const client = await agent({ role: 'client' })
    const depositor = new Wallet(chain.accounts[4]!.privateKey, rpc)
    await (await vipnodePoolAt(chain.contractAddress, depositor).getFunction('deposit')(depositAccountOf(client.id.nodeId), { value: parseEther('0.01') })).wait()
    await waitFor(async () => (await balanceOf(client.id.nodeId)) === parseEther('0.01'), 'the deposit credited', { timeoutMs: 15_000 })
    const { hosts } = (await client.conn.call('vipnode_requestHosts', { count: 1 })) as { hosts: { nodeId: string }[] }
    expect(hosts.map((h) => h.nodeId)).toEqual([host.id.nodeId])
    for (let i = 0; i < 31; i++) {
      clock.advance(10_000)
      const [who, other] = i % 2 === 0 ? [host, client] : [client, host]
      await who.conn.call('vipnode_update', { peers: [{ id: other.id.nodeId, enode: other.id.enode }], block: { number: 1, hash: HASH } })
    }
    const epoch = c.services.epochs.epochOf(clock.now())
    clock.set(c.services.epochs.bounds(epoch).endMs)
    await c.services.settlement.settleDue()
    await c.chain!.tick()
    const settled = (await c.services.store.getEpoch(epoch))!
    expect(settled.txHash).toMatch(/^0x[0-9a-f]{64}$/)
    // Proposed and pending: the page says when it becomes claimable and offers no claim yet.
    const { page } = await openPage()
    await ready(page, `/join?payout=${payout}`)
    await page.waitForSelector('#payout-info:not([hidden])', WAIT)
    expect(await page.textContent('#payout-root')).toMatch(/pending: claimable in \d+ (s|min)/)
    expect(await page.isDisabled('#claim')).toBe(true)
    // Past the root delay on the dev chain's clock: the root is active.
    await chain.provider.request({ method: 'evm_increaseTime', params: [chain.rootDelaySeconds] })
    await chain.provider.request({ method: 'evm_mine', params: [] })
    await c.chain!.tick()
    // Service may straddle an hour boundary: what is claimable is the cumulative over all epochs.
    const share = (await c.services.store.epochPayouts(epoch)).find((p) => p.payee === payout.toLowerCase())!
    expect(share.cumulativeWei).toBeGreaterThan(0n)
    return { payout, cumulativeWei: share.cumulativeWei, epoch }
  })()
  return entitlement
}

describe('join page API', () => {
  test('behavior: /v1/join/config has the chain, contract, confirmations, price, slots and the ABI; /v1/nodes validates', async () => {
    const host = await agent({ role: 'host', capacity: 3 })
    const cfg = (await (await fetch(`${c.url}/v1/join/config`)).json()) as JoinConfigBody
    // A new host declaring 3 slots is offered its slow-start slots until it has served someone.
    expect(cfg).toMatchObject({ poolId: 'test-pool', priceWeiPerHostMinute: PRICE.toString(), freeSlots: DEFAULT_SLOW_START_SLOTS, hostsOnline: 1, minBalanceWei: '0' })
    expect(cfg.deposits).toMatchObject({ chainId: chain.chainId, contract: chain.contractAddress, confirmations: 2, minDepositWei: '1', rpcUrl: chain.url })
    expect(cfg.deposits!.abi.functions.deposit.signature).toBe('deposit(bytes32)')
    expect(Object.values(cfg.deposits!.abi.errors).map((e) => e.name)).toContain('VipnodePoolNothingToClaim')
    await host.close()

    const bad = await fetch(`${c.url}/v1/nodes/not-a-node`)
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ error: { code: 'INVALID_PARAMS', message: expect.stringContaining('128 hex') } })
    expect((await fetch(`${c.url}/v1/nodes/${'a'.repeat(127)}`)).status).toBe(400)
    // Anonymous: only what the node ID says (balances and hosts need a query signed by the node key).
    const unknown = (await (await fetch(`${c.url}/v1/nodes/0x${'AB'.repeat(64)}`)).json()) as PublicNodeBody
    expect(unknown).toEqual({ nodeId: 'ab'.repeat(64), depositAccount: depositAccountOf('ab'.repeat(64)), authorised: false, epoch: expect.any(Number), epochEndsAtMs: expect.any(Number) })
    const owner = await agent({ role: 'client' })
    const mine = (await (await fetch(signed(`${c.url}/v1/nodes/${owner.id.nodeId}`, owner))).json()) as NodeBody
    expect(mine).toMatchObject({ nodeId: owner.id.nodeId, authorised: true, known: true, role: 'client', online: true, balanceWei: '0', pendingDepositWei: '0', peers: [] })

    const page = await fetch(`${c.url}/join`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).not.toMatch(/<script(?![^>]*\bsrc=)/) // no inline script
    expect((await fetch(`${c.url}/join/assets/join.js`)).headers.get('content-type')).toContain('javascript')
  })

  test('behavior: without a chain there are no deposits; the JSON endpoints are rate-limited per address', async () => {
    const plain = await testCoordinator({ priceWeiPerMinute: 5n })
    cleanup.push(() => plain.close())
    const cfg = (await (await fetch(`${plain.url}/v1/join/config`)).json()) as JoinConfigBody
    expect(cfg.deposits).toBeNull()
    const codes: number[] = []
    for (let i = 0; i < 40; i++) codes.push((await fetch(`${plain.url}/v1/nodes/${'cd'.repeat(64)}`)).status)
    expect(codes.slice(0, 25).every((s) => s === 200)).toBe(true)
    expect(codes).toContain(429)
  })
})

describe('join page in a browser', () => {
  test('behavior: a pool that prices compute units shows the unit price, what a unit buys and what a light client must hold; a time-only pool shows none of it', { timeout: 30_000 }, async () => {
    const priced = await testCoordinator({ pricePerCuWei: 10n ** 9n, holdCuRate: 100, updateIntervalMs: 10_000 })
    cleanup.push(() => priced.close())
    const { page, errors } = await openPage()
    await ready(page, `${priced.url}/join`)
    expect(await page.textContent('#fact-price')).toBe('none')
    expect(await page.textContent('#fact-price-cu')).toBe('1 gwei')
    expect(await page.textContent('#cu-costs')).toBe(explainUnitCosts(computeUnitCosts(), 10n ** 9n))
    // One rpc host for one 10 s interval at 100 units per second: 1,000 units at 1 gwei.
    expect(await page.textContent('#deposit-hint')).toContain('A light client needs a balance of at least 1,000 gwei for each host it holds')
    await shot(page, 'compute-units')

    await ready(page, `${c.url}/join`)
    expect(await page.textContent('#fact-price')).toBe('0.001 ETH')
    expect(await page.locator('#fact-price-cu').count()).toBe(0)
    expect(await page.isHidden('#cu-costs')).toBe(true)
    expect(await page.textContent('#deposit-hint')).not.toContain('light client')
    expect(errors).toEqual([])
  })

  test('behavior: the top-up link opens the node; a deposit raises the coordinator balance (and the page) by exactly the amount', { timeout: 45_000 }, async () => {
    const client = await agent({ role: 'client' })
    const { page, wallet, errors } = await openPage({ account: 2 })
    await ready(page, signed(topupLink(`${c.url}/join`, client.id.nodeId), client))
    expect(await page.inputValue('#node')).toBe(client.id.nodeId)
    await page.waitForSelector('#node-info:not([hidden])', WAIT)
    expect(await page.textContent('#node-status')).toContain('online (client)')
    expect(await page.getAttribute('#node-balance', 'data-wei')).toBe('0')
    expect(await page.textContent('#fact-price')).toBe('0.001 ETH')
    expect(await page.textContent('#fact-deposits')).toContain('dev chain (31337)')
    expect(await stateOf(page, 'wallet-state')).toBe('disconnected')
    await shot(page, 'client')

    await connectWallet(page)
    expect(await page.textContent('#wallet-account')).toBe(wallet!.address)
    const before = await balanceOf(client.id.nodeId)
    const amount = parseEther('0.0123')
    wallet!.holdReceipts = true
    await page.fill('#amount', '0.0123')
    await page.click('#deposit')
    await page.waitForSelector('#deposit-state[data-state="pending"]', WAIT)
    const hash = await page.textContent('#deposit-state .tx-hash')
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/)
    await shot(page, 'deposit-pending')
    wallet!.holdReceipts = false
    await page.waitForSelector('#deposit-state[data-state="confirmed"]', WAIT)
    await shot(page, 'deposit-confirmed')

    // Exactly the amount, once: the coordinator's ledger and the page agree.
    const after = await balanceOf(client.id.nodeId)
    expect(after - before).toBe(amount)
    expect(await page.getAttribute('#node-balance', 'data-wei')).toBe(after.toString())
    expect(await page.getAttribute('#deposit-state', 'data-balance-wei')).toBe(after.toString())
    expect(await page.textContent('#deposit-state')).toContain('+0.0123 ETH')
    const sent = wallet!.requests.filter((r) => r.method === 'eth_sendTransaction')
    expect(sent).toHaveLength(1)
    expect(sent[0]!.params).toMatchObject([{ to: chain.contractAddress, value: toQuantity(amount), data: expect.stringContaining(depositAccountOf(client.id.nodeId).slice(2)) }])
    const receipt = (await rpc.getTransactionReceipt(hash!))!
    expect(receipt.status).toBe(1)
    // The page waited for the confirmations the coordinator requires before it polled the balance.
    expect(wallet!.requests.some((r) => r.method === 'eth_blockNumber')).toBe(true)
    await c.chain!.tick()
    expect(await balanceOf(client.id.nodeId)).toBe(after) // a rescan credits nothing twice
    expect(errors).toEqual([])
  })

  test('behavior: Refund shows the exact CLI command; after the refund the node shows nothing refundable and why it is not served', { timeout: 45_000 }, async () => {
    const client = await agent({ role: 'client' })
    await deposit(c, client.id.nodeId, 7_000n)
    const { page, errors } = await openPage({ account: 2 })
    await ready(page, signed(`/join?node=${client.id.nodeId}`, client))
    await page.waitForSelector('#node-info:not([hidden])', WAIT)
    expect(await page.getAttribute('#node-refundable', 'data-wei')).toBe('7000')
    expect(await page.isVisible('#refund-help')).toBe(false)
    await page.click('#refund')
    await page.waitForSelector('#refund-help:not([hidden])', WAIT)
    expect(await page.textContent('#refund-command')).toBe(`npx vipnode client refund --bootstrap ${c.url} --nodekey <your node key file>`)
    await shot(page, 'refund')

    expect((await postRefund(c, refundRequest(c, client.id.key))).body.refundedWei).toBe('7000')
    await page.click('#lookup-node')
    await page.waitForSelector('#node-refundable[data-wei="0"]', WAIT)
    expect(await page.textContent('#node-note')).toContain('was refunded')
    expect(await page.isVisible('#refund')).toBe(false)
    expect(await page.isVisible('#refund-help')).toBe(false)
    expect(errors).toEqual([])
  })

  test('behavior: without the signed link the page shows the node as private, and a deposit still goes through (confirmed on chain, credited by the pool)', { timeout: 45_000 }, async () => {
    const client = await agent({ role: 'client' })
    const { page, wallet, errors } = await openPage({ account: 2 })
    await ready(page, topupLink(`${c.url}/join`, client.id.nodeId))
    await page.waitForSelector('#node-info:not([hidden])', WAIT)
    expect(await page.textContent('#node-balance')).toBe('private')
    expect(await page.isVisible('#node-status')).toBe(false)
    expect(await page.isVisible('#node-peers')).toBe(false)
    expect(await page.textContent('#node-note')).toContain('vipnode client status --link')
    const nodeResponses: string[] = []
    page.on('response', (r) => {
      if (r.url().includes('/v1/nodes/')) nodeResponses.push(r.url())
    })
    await connectWallet(page)
    const before = await balanceOf(client.id.nodeId)
    await page.fill('#amount', '0.002')
    await page.click('#deposit')
    await page.waitForSelector('#deposit-state[data-state="confirmed"]', WAIT)
    expect(await page.textContent('#deposit-state')).toContain('Deposit confirmed on chain')
    await shot(page, 'deposit-anonymous')
    await c.chain!.tick()
    await waitFor(async () => (await balanceOf(client.id.nodeId)) - before === parseEther('0.002'), 'the deposit credited', { timeoutMs: 15_000 })
    expect(wallet!.requests.filter((r) => r.method === 'eth_sendTransaction')).toHaveLength(1)
    expect(nodeResponses.every((u) => !u.includes('auth='))).toBe(true)
    expect(errors).toEqual([])
  })

  test('behavior: a wrong chain is explained and switched (adding it on 4902); rejections show their message', { timeout: 45_000 }, async () => {
    const client = await agent({ role: 'client' })
    // A wallet on mainnet that has never heard of the dev chain.
    const { page, wallet, errors } = await openPage({ account: 3, startChainId: 1, knownChainIds: [1] })
    wallet!.rejectNext('eth_requestAccounts')
    await ready(page, signed(`/join?node=${client.id.nodeId}`, client))
    await page.click('#connect')
    await page.waitForSelector('#wallet-state[data-state="rejected"]', WAIT)
    expect(await page.textContent('#wallet-state')).toContain('You rejected the connection request')
    await shot(page, 'connect-rejected')

    await page.click('#connect')
    await page.waitForSelector('#wallet-state[data-state="wrong-chain"]', WAIT)
    expect(await page.textContent('#wallet-state')).toContain('Wrong network')
    expect(await page.textContent('#wallet-state')).toContain('Ethereum mainnet')
    expect(await page.isVisible('#switch-chain')).toBe(true)
    // Depositing on the wrong chain says so where the person clicked, and sends nothing.
    await page.fill('#amount', '0.001')
    await page.click('#deposit')
    await page.waitForSelector('#deposit-state[data-state="wrong-chain"]', WAIT)
    await shot(page, 'wrong-chain')

    await page.click('#switch-chain')
    await page.waitForSelector('#wallet-state[data-state="ready"]', WAIT)
    expect(wallet!.chainId).toBe(chain.chainId)
    expect(wallet!.addedChains).toEqual([{ chainId: toQuantity(chain.chainId), chainName: 'dev chain (31337)', rpcUrls: [chain.url], nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 } }])
    expect(await page.isVisible('#switch-chain')).toBe(false)

    // The person presses Reject on the transaction: said so, nothing sent.
    const before = await balanceOf(client.id.nodeId)
    wallet!.rejectNext('eth_sendTransaction')
    await page.click('#deposit')
    await page.waitForSelector('#deposit-state[data-state="rejected"]', WAIT)
    expect(await page.textContent('#deposit-state')).toContain('You rejected the deposit')
    await shot(page, 'deposit-rejected')
    expect(await balanceOf(client.id.nodeId)).toBe(before)
    expect(errors).toEqual([])

    // A wallet that does not know the chain, and a pool that publishes no RPC URL: explained.
    const second = await openPage({ account: 3, startChainId: 1, knownChainIds: [1] })
    await second.page.route('**/v1/join/config', async (route) => {
      const res = await route.fetch()
      const body = (await res.json()) as JoinConfigBody
      await route.fulfill({ response: res, json: { ...body, deposits: { ...body.deposits!, rpcUrl: null } } })
    })
    await ready(second.page, signed(`/join?node=${client.id.nodeId}`, client))
    await second.page.click('#connect')
    await second.page.waitForSelector('#wallet-state[data-state="wrong-chain"]', WAIT)
    await second.page.click('#switch-chain')
    await second.page.waitForSelector('#wallet-state[data-state="unknown-chain"]', WAIT)
    expect(await second.page.textContent('#wallet-state')).toContain("Add dev chain (31337) in your wallet's network settings")
    expect(second.wallet!.addedChains).toEqual([])
    await shot(second.page, 'unknown-chain')
  })

  test('behavior: no wallet is explained; invalid amounts are refused with their reason before anything is sent', { timeout: 45_000 }, async () => {
    const client = await agent({ role: 'client' })
    const bare = await openPage()
    await ready(bare.page, signed(`/join?node=${client.id.nodeId}`, client))
    expect(await stateOf(bare.page, 'wallet-state')).toBe('no-wallet')
    expect(await bare.page.textContent('#wallet-state')).toContain('No wallet found')
    expect(await bare.page.isVisible('#connect')).toBe(false)
    await bare.page.fill('#amount', '0.01')
    await bare.page.click('#deposit')
    await bare.page.waitForSelector('#deposit-state[data-state="no-wallet"]', WAIT)
    expect(await bare.page.textContent('#deposit-state')).toContain('No wallet found')
    // Looking up still works without a wallet; a bad node ID is explained.
    await bare.page.fill('#node', 'enode://1234@1.2.3.4:30303')
    await bare.page.click('#lookup-node')
    await bare.page.waitForSelector('#node-error:not([hidden])', WAIT)
    expect(await bare.page.textContent('#node-error')).toContain('neither an enode nor a node ID')
    await shot(bare.page, 'no-wallet')
    expect(bare.errors).toEqual([])

    const { page, wallet, errors } = await openPage({ account: 2 })
    await ready(page, signed(`/join?node=${client.id.nodeId}`, client))
    await connectWallet(page)
    for (const [amount, message] of [
      ['', 'Enter an amount'],
      ['abc', 'Not an amount'],
      ['1e3', 'Not an amount'],
      ['-1', 'Not an amount'],
      ['0', 'more than 0'],
      ['0.0000000000000000001', 'At most 18 decimals'],
      ['20000', 'more than your wallet holds'],
    ] as const) {
      await page.fill('#amount', amount)
      await page.click('#deposit')
      await expect.poll(() => page.textContent('#amount-error'), { timeout: 5_000 }).toContain(message)
      expect(await page.isVisible('#amount-error')).toBe(true)
      expect(await page.getAttribute('#amount', 'aria-invalid')).toBe('true')
    }
    await shot(page, 'invalid-amount')
    expect(wallet!.requests.filter((r) => r.method === 'eth_sendTransaction' || r.method === 'eth_estimateGas')).toEqual([])
    await page.fill('#amount', '0.5')
    await expect.poll(() => page.isVisible('#amount-error')).toBe(false)
    expect(errors).toEqual([])
  })

  test('behavior: a host looks up its payout address and claims; its on-chain balance rises by exactly its entitlement', { timeout: 45_000 }, async () => {
    const { payout, cumulativeWei, epoch } = await settledEntitlement()
    expect(await rpc.getBalance(payout)).toBe(0n)
    // Someone else's wallet pays the gas; the money goes to the payout address.
    const { page, errors } = await openPage({ account: 5 })
    await ready(page, `/join?payout=${payout}`)
    await page.waitForSelector('#payout-info:not([hidden])', WAIT)
    expect(await page.getAttribute('#payout-entitled', 'data-wei')).toBe(cumulativeWei.toString())
    expect(await page.textContent('#payout-epoch')).toBe(`epoch ${epoch}`)
    expect(await page.textContent('#payout-root')).toContain('active on chain')
    expect(await page.textContent('#payout-claimed')).toContain('connect your wallet')
    await connectWallet(page)
    await expect.poll(() => page.getAttribute('#payout-claimed', 'data-wei')).toBe('0')
    expect(await page.getAttribute('#payout-claimable', 'data-wei')).toBe(cumulativeWei.toString())
    await shot(page, 'host')

    await page.click('#claim')
    await page.waitForSelector('#claim-state[data-state="confirmed"]', WAIT)
    expect(await rpc.getBalance(payout)).toBe(cumulativeWei)
    expect(await page.getAttribute('#claim-state', 'data-paid-wei')).toBe(cumulativeWei.toString())
    expect(await page.getAttribute('#payout-claimed', 'data-wei')).toBe(cumulativeWei.toString())
    expect(await page.getAttribute('#payout-claimable', 'data-wei')).toBe('0')
    expect(await page.textContent('#claim-state .tx-hash')).toMatch(/^0x[0-9a-f]{64}$/)
    await shot(page, 'claimed')

    expect(errors).toEqual([])

    // An address without an entitlement is told so (Chromium logs the 404 behind it as a console error).
    await page.fill('#payout', Wallet.createRandom().address)
    await page.click('#lookup-payout')
    await page.waitForSelector('#payout-none:not([hidden])', WAIT)
    expect(await page.textContent('#payout-none')).toContain('has no entitlement as of epoch')
    expect(await page.isVisible('#payout-info')).toBe(false)
    expect(errors).toEqual(['Failed to load resource: the server responded with a status of 404 (Not Found)'])
  })

  test('behavior: reverts show the decoded custom error: a second claim, a deposit while paused', { timeout: 45_000 }, async () => {
    const { payout, cumulativeWei } = await settledEntitlement()
    const pool = vipnodePoolAt(chain.contractAddress, new Wallet(chain.accounts[6]!.privateKey, rpc))
    if ((await pool.getFunction('claimed')(payout)) === 0n) {
      const proof = (await (await fetch(`${c.url}/v1/payouts/${payout}`)).json()) as { cumulativeWei: string; proof: string[] }
      await (await pool.getFunction('claim')(payout, proof.cumulativeWei, proof.proof)).wait()
    }
    const client = await agent({ role: 'client' })
    const { page, wallet, errors } = await openPage({ account: 7 })
    await ready(page, `/join?payout=${payout}&node=${client.id.nodeId}`)
    await connectWallet(page)
    await page.click('#claim')
    await page.waitForSelector('#claim-state[data-state="reverted"]', WAIT)
    expect(await page.getAttribute('#claim-state', 'data-error')).toBe('VipnodePoolNothingToClaim')
    const text = await page.textContent('#claim-state')
    expect(text).toContain('Nothing to claim')
    expect(text).toContain(`${payout.toLowerCase()} has already claimed`)
    expect(await rpc.getBalance(payout)).toBe(cumulativeWei)
    await shot(page, 'revert-claim')

    // The dev chain's owner (accounts[8]) pauses; only it may unpause.
    const operator = vipnodePoolAt(chain.contractAddress, new Wallet(chain.accounts[8]!.privateKey, rpc))
    await (await operator.getFunction('pause')()).wait()
    try {
      await page.fill('#amount', '0.002')
      await page.click('#deposit')
      await page.waitForSelector('#deposit-state[data-state="reverted"]', WAIT)
      expect(await page.getAttribute('#deposit-state', 'data-error')).toBe('VipnodePoolEnforcedPause')
      expect(await page.textContent('#deposit-state')).toContain('The pool is paused')
      await shot(page, 'revert-paused')
    } finally {
      await (await operator.getFunction('unpause')()).wait()
    }
    expect(wallet!.requests.filter((r) => r.method === 'eth_sendTransaction')).toEqual([]) // refused before signing
    expect(errors).toEqual([])
  })
})
