// vipnode join page: a client looks up its node and deposits from a browser wallet; a host looks up
// its payout address and claims. The wallet is any EIP-1193 provider at window.ethereum; it signs,
// this page only builds calldata (abi.js) from the selectors the coordinator derived from the
// contract's ABI. Every value from the server or the wallet goes into the DOM as text, never markup.
import { formatWei, exactWei, formatDuration, shortId, networkName, explainUnitCosts } from '/dashboard/assets/format.js'
import { parseAmount, toQuantity, encodeDeposit, encodeClaim, encodeAddressCall, decodeUint, decodeRevert, findRevertData, errorCode, nodeIdFrom, addressFrom } from './abi.js'

const POLL_MS = 1000
/** Gas headroom over the wallet's estimate, in percent. */
const GAS_MARGIN = 120n

const state = {
  cfg: null,
  account: null,
  chainId: null,
  walletBalance: null,
  node: null,
  /** {node, token} from ?auth=: a query signed by that node's key (vipnode client status --link). */
  auth: null,
  payout: null,
  busy: false,
}

const $ = (id) => document.getElementById(id)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const wallet = () => window.ethereum
const deposits = () => state.cfg?.deposits ?? null

function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue
    if (k === 'class') el.className = v
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : String(c))
  }
  return el
}

/** An amount as text with the exact wei in its tooltip and data-wei (tests read it). */
function money(wei) {
  return h('span', { title: exactWei(wei), 'data-wei': BigInt(wei).toString() }, formatWei(wei))
}

function setMoney(id, wei) {
  $(id).replaceChildren(money(wei))
  $(id).dataset.wei = BigInt(wei).toString()
}

function show(id, on) {
  $(id).hidden = !on
}

function setAlert(id, text) {
  const el = $(id)
  el.textContent = text ?? ''
  el.hidden = !text
}

const chainLabel = (id) => `${networkName(id)}${networkName(id).includes(String(id)) ? '' : ` (chain ${id})`}`

// ---------------------------------------------------------------- status boxes

const BUSY = new Set(['estimating', 'signing', 'pending', 'confirming', 'crediting', 'connecting', 'switching'])

/** One step's state: data-state for styling and tests, a title, a sentence, maybe a transaction. */
function setStatus(id, kind, title, text, txHash) {
  const el = $(id)
  el.hidden = false
  el.dataset.state = kind
  delete el.dataset.error
  const parts = [h('strong', null, BUSY.has(kind) ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null, title)]
  if (text) parts.push(h('p', { class: 'status-text' }, text))
  if (txHash) parts.push(h('p', { class: 'tx' }, 'Transaction ', h('code', { class: 'tx-hash' }, txHash)))
  el.replaceChildren(...parts)
}

function setWallet(kind, title, text) {
  const el = $('wallet-state')
  el.dataset.state = kind
  el.replaceChildren(h('strong', null, title), text ? ` ${text}` : '')
}

/** Repeat the wallet's problem where the person clicked, so it is seen. */
function mirrorWallet(boxId) {
  const w = $('wallet-state')
  setStatus(boxId, w.dataset.state, w.querySelector('strong')?.textContent ?? 'Wallet not ready.', w.textContent.replace(w.querySelector('strong')?.textContent ?? '', '').trim())
}

// ---------------------------------------------------------------- the coordinator's JSON

async function getJson(path, { allow404 = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' })
    if (res.status === 429 && attempt < 5) {
      await sleep(1000 * Number(res.headers.get('retry-after') ?? 1))
      continue
    }
    let body = null
    try {
      body = await res.json()
    } catch {
      // not JSON
    }
    if (res.ok) return body
    if (res.status === 404 && allow404) return { notFound: body?.error?.message ?? 'not found' }
    throw new Error(body?.error?.message ?? `the pool answered HTTP ${res.status}`)
  }
}

// ---------------------------------------------------------------- wallet

async function request(method, params) {
  return wallet().request(params === undefined ? { method } : { method, params })
}

function walletReady() {
  const d = deposits()
  return Boolean(wallet() && state.account && d && state.chainId === d.chainId)
}

function noWallet() {
  setWallet('no-wallet', 'No wallet found.', 'Install a browser wallet (MetaMask, Rabby, Frame, …) or open this page in your wallet app to deposit or claim. Looking up balances and payouts works without one.')
  show('connect', false)
  show('switch-chain', false)
}

/** Explain a failed wallet request; true if it was explained as a refusal by the person. */
function walletError(err, what) {
  const code = errorCode(err)
  if (code === 4001) {
    setWallet('rejected', 'Request rejected.', `You rejected the ${what} request in your wallet. Nothing was changed.`)
  } else if (code === -32002) {
    setWallet('error', 'Your wallet already has a request open.', 'Open your wallet and answer it first.')
  } else if (code === 4100) {
    setWallet('error', 'The wallet has not authorised this page.', 'Connect again and allow this site.')
  } else {
    setWallet('error', `The ${what} failed.`, err?.message ?? String(err))
  }
  show('connect', true)
  return false
}

async function connect() {
  if (!wallet()) {
    noWallet()
    return false
  }
  setWallet('connecting', 'Waiting for your wallet…', 'Approve the connection in your wallet.')
  try {
    const accounts = await request('eth_requestAccounts')
    state.account = accounts?.[0] ?? null
  } catch (err) {
    return walletError(err, 'connection')
  }
  if (!state.account) {
    setWallet('error', 'The wallet shared no account.', 'Unlock it, then connect again.')
    return false
  }
  return checkChain()
}

async function checkChain() {
  show('connect', !state.account)
  if (!state.account) return false
  const d = deposits()
  let id
  try {
    id = Number(BigInt(await request('eth_chainId')))
  } catch (err) {
    return walletError(err, 'network check')
  }
  state.chainId = id
  show('wallet-facts', true)
  $('wallet-account').textContent = state.account
  $('wallet-chain').textContent = chainLabel(id)
  if (!d) {
    setWallet('error', 'This pool takes no deposits on chain.', 'Its coordinator runs without a payout contract.')
    return false
  }
  if (d.chainId === null) {
    setWallet('error', "The pool cannot reach its chain right now.", d.chainError ?? '')
    return false
  }
  if (id !== d.chainId) {
    setWallet('wrong-chain', 'Wrong network.', `Your wallet is on ${chainLabel(id)}; the pool's contract is on ${chainLabel(d.chainId)}. Switch your wallet to it.`)
    show('switch-chain', true)
    $('wallet-balance').textContent = '—'
    return false
  }
  show('switch-chain', false)
  setWallet('ready', 'Wallet ready.', `${shortId(state.account)} on ${chainLabel(id)}.`)
  await refreshWalletBalance()
  await refreshClaimed()
  return true
}

async function switchChain() {
  const d = deposits()
  if (!wallet() || !d || d.chainId === null) return false
  const chainId = toQuantity(d.chainId)
  setWallet('switching', 'Switching network…', `Approve the switch to ${chainLabel(d.chainId)} in your wallet.`)
  try {
    await request('wallet_switchEthereumChain', [{ chainId }])
  } catch (err) {
    if (errorCode(err) !== 4902) return walletError(err, 'network switch')
    if (!d.rpcUrl) {
      setWallet(
        'unknown-chain',
        'Your wallet does not know this network.',
        `Add ${chainLabel(d.chainId)} in your wallet's network settings with an RPC URL for it, then press Switch network again. This pool does not publish an RPC URL.`,
      )
      show('switch-chain', true)
      return false
    }
    setWallet('switching', 'Adding the network…', `Your wallet does not know ${chainLabel(d.chainId)}; approve adding it (RPC ${d.rpcUrl}).`)
    try {
      await request('wallet_addEthereumChain', [{ chainId, chainName: networkName(d.chainId), rpcUrls: [d.rpcUrl], nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 } }])
      // Some wallets switch when they add, some do not; a second switch is harmless.
      await request('wallet_switchEthereumChain', [{ chainId }])
    } catch (err2) {
      return walletError(err2, 'add-network')
    }
  }
  return checkChain()
}

/** Connected, on the pool's chain. Explains in the wallet panel (and `boxId`) when not. */
async function ensureWallet(boxId) {
  let ok
  if (!wallet()) {
    noWallet()
    ok = false
  } else if (!state.account) ok = await connect()
  else ok = await checkChain()
  if (!ok && boxId) mirrorWallet(boxId)
  return ok
}

async function refreshWalletBalance() {
  if (!walletReady()) return null
  try {
    state.walletBalance = BigInt(await request('eth_getBalance', [state.account, 'latest']))
    setMoney('wallet-balance', state.walletBalance)
  } catch {
    $('wallet-balance').textContent = 'unknown'
  }
  return state.walletBalance
}

function watchWallet() {
  const w = wallet()
  if (typeof w?.on !== 'function') return
  w.on('chainChanged', () => {
    if (state.account && !state.busy) void checkChain()
  })
  w.on('accountsChanged', (accounts) => {
    state.account = accounts?.[0] ?? null
    if (!state.account) {
      setWallet('disconnected', 'Wallet not connected.', 'Connect it to deposit or claim.')
      show('wallet-facts', false)
      show('connect', true)
    } else if (!state.busy) void checkChain()
  })
}

// ---------------------------------------------------------------- reverts into words

const fmt = (v) => `${formatWei(v)}`
const WORDS = {
  VipnodePoolEnforcedPause: () => 'The pool is paused: its operator has stopped deposits (claims still work). Nothing was sent.',
  VipnodePoolZeroDeposit: () => 'A deposit must be more than 0.',
  VipnodePoolInvalidAccount: () => 'The deposit account is zero, which belongs to no node.',
  VipnodePoolInvalidProof: (a) => `The proof of ${fmt(a.cumulative)} for ${a.payee} does not match the root on chain: the pool's latest root is not posted yet. Try again later.`,
  VipnodePoolNothingToClaim: (a) => `Nothing to claim: ${a.payee} has already claimed ${fmt(a.claimed)} of its ${fmt(a.cumulative)} entitlement.`,
  VipnodePoolClaimExceedsEntitled: (a) => `This claim (${fmt(a.amount)}) is more than the contract's unclaimed entitlement (${fmt(a.unclaimed)}): tell the pool's operator.`,
  VipnodePoolPaymentFailed: (a) => `The payout address ${a.payee} refused the payment of ${fmt(a.amount)} (a contract that does not accept ETH?).`,
  VipnodePoolUnauthorizedOperator: (a) => `${a.account} is not the pool's operator.`,
  Error: (a) => `The contract said: ${a.reason}`,
  Panic: (a) => `The contract panicked (code 0x${a.code.toString(16)}).`,
}

function explain(decoded) {
  const byName = Object.fromEntries(decoded.args.map((a) => [a.name, a.value]))
  const words = WORDS[decoded.name]
  if (words) return words(byName)
  const args = decoded.args.map((a) => `${a.name} ${typeof a.value === 'bigint' ? a.value.toString() : a.value}`)
  return `${decoded.name}${args.length ? ` (${args.join(', ')})` : ''}.`
}

/** Show a revert in `boxId` if `err` carries revert data; false if it does not. */
function showRevert(boxId, err, txHash) {
  const errors = deposits()?.abi.errors
  const data = findRevertData(err, errors)
  const decoded = data ? decodeRevert(data, errors) : undefined
  if (!decoded) return false
  setStatus(boxId, 'reverted', `Refused by the contract: ${decoded.name}`, explain(decoded), txHash)
  $(boxId).dataset.error = decoded.name
  return true
}

// ---------------------------------------------------------------- transactions

async function waitReceipt(hash) {
  for (;;) {
    try {
      const r = await request('eth_getTransactionReceipt', [hash])
      if (r && r.blockNumber) return r
    } catch {
      // the wallet's node hiccupped: ask again
    }
    await sleep(POLL_MS)
  }
}

/**
 * Estimate (a revert shows here, before anything is signed), ask the wallet to send, wait until
 * mined. Returns {hash, receipt} once mined successfully, or null after showing why not.
 */
async function sendTransaction(boxId, tx, what) {
  setStatus(boxId, 'estimating', 'Checking the transaction…', `Asking the chain whether the ${what} would go through.`)
  let gas
  try {
    gas = BigInt(await request('eth_estimateGas', [tx]))
  } catch (err) {
    if (showRevert(boxId, err)) return null
    setStatus(boxId, 'error', `The ${what} cannot be sent.`, err?.message ?? String(err))
    return null
  }
  setStatus(boxId, 'signing', 'Confirm in your wallet…', `Review and sign the ${what} in your wallet.`)
  let hash
  try {
    hash = await request('eth_sendTransaction', [{ ...tx, gas: toQuantity((gas * GAS_MARGIN) / 100n) }])
  } catch (err) {
    if (errorCode(err) === 4001) {
      setStatus(boxId, 'rejected', 'Rejected in your wallet.', `You rejected the ${what}: nothing was sent and nothing was paid.`)
      return null
    }
    if (showRevert(boxId, err)) return null
    setStatus(boxId, 'error', `The wallet could not send the ${what}.`, err?.message ?? String(err))
    return null
  }
  setStatus(boxId, 'pending', 'Transaction pending…', 'Sent. Waiting for it to be mined.', hash)
  const receipt = await waitReceipt(hash)
  if (BigInt(receipt.status ?? '0x1') !== 1n) {
    // Mined but reverted: replay it at its block to learn why.
    let reason = null
    try {
      await request('eth_call', [tx, receipt.blockNumber])
    } catch (err) {
      reason = err
    }
    if (!showRevert(boxId, reason, hash)) setStatus(boxId, 'reverted', 'The transaction reverted.', 'It was mined but the contract refused it, without saying why.', hash)
    return null
  }
  return { hash, receipt }
}

// ---------------------------------------------------------------- pool facts

function renderFacts() {
  const c = state.cfg
  const d = c.deposits
  const price = BigInt(c.priceWeiPerHostMinute)
  // rpc service: a price per compute unit beside (or instead of) the time price; a pool without one reads as before.
  const perCu = BigInt(c.priceWeiPerComputeUnit ?? '0')
  const chains = c.networks.length > 0 ? c.networks.map((n) => n.chainId) : c.nodeChainId !== null ? [c.nodeChainId] : []
  const card = (label, value, sub, id) =>
    h('div', { class: 'card' }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value card-value-text', id }, value), sub ? h('div', { class: 'card-sub' }, sub) : null)
  const facts = [
    card('Nodes on', chains.length > 0 ? chains.map(networkName).join(', ') : 'any network', null, 'fact-network'),
    card(
      'Price per host-minute',
      price === 0n ? (perCu === 0n ? 'free' : 'none') : money(price),
      price === 0n ? (perCu === 0n ? 'metered, not charged' : 'only compute units are charged') : h('span', null, formatWei(price * 60n), ' per host-hour'),
      'fact-price',
    ),
    perCu === 0n ? null : card('Price per compute unit', money(perCu), h('span', null, formatWei(perCu * 1000n), ' per 1,000 units'), 'fact-price-cu'),
    card('Free slots', String(c.freeSlots), `${c.hostsOnline} ${c.hostsOnline === 1 ? 'host' : 'hosts'} online`, 'fact-slots'),
    d
      ? card(
          'Deposits',
          d.chainId === null ? 'chain unreachable' : chainLabel(d.chainId),
          h('span', null, 'credited ', String(d.confirmations), ' blocks deep · contract ', h('code', { title: d.contract }, shortId(d.contract))),
          'fact-deposits',
        )
      : card('Deposits', 'not on chain', 'ask the operator how to pay', 'fact-deposits'),
  ]
  $('pool-facts').replaceChildren(...facts.filter(Boolean))
  $('cu-costs').hidden = perCu === 0n || !c.computeUnitCosts
  $('cu-costs').textContent = perCu === 0n || !c.computeUnitCosts ? '' : explainUnitCosts(c.computeUnitCosts, perCu)
  const hint = []
  if (d) hint.push(`Sent to the pool's contract for this node; credited once ${d.confirmations} blocks deep.`)
  if (BigInt(c.minBalanceWei) > 0n) hint.push(`Clients are served from a balance of ${formatWei(c.minBalanceWei)}.`)
  if (perCu > 0n && c.holdWeiPerRpcHost) hint.push(`A light client needs a balance of at least ${formatWei(c.holdWeiPerRpcHost)} for each host it holds (one update interval of relay service); it is charged only for the calls relayed for it.`)
  $('deposit-hint').textContent = hint.join(' ')
}

// ---------------------------------------------------------------- client: node and deposit

const totalOf = (node) => BigInt(node.balanceWei) + BigInt(node.pendingDepositWei)

/**
 * Balance, service and hosts are shown only to the node's key holder: `vipnode client status --link` prints
 * this page's address with ?auth=<a short-lived query signed by the node key>. Without it the pool shows
 * the deposit account only.
 */
const nodePath = (id) => `/v1/nodes/${id}${state.auth && state.auth.node === id ? `?auth=${encodeURIComponent(state.auth.token)}` : ''}`
const PRIVATE_NOTE = 'Balance, status and hosts are private to the node: run `vipnode client status --link` with its key and open the link it prints to see them here.'

function renderNode() {
  const n = state.node
  show('node-info', true)
  $('node-id').textContent = shortId(n.nodeId)
  $('node-id').title = n.nodeId
  if (!n.authorised) {
    for (const id of ['node-pending', 'node-status', 'node-service', 'node-peers']) $(id).hidden = $(id).previousElementSibling.hidden = true
    $('node-balance').textContent = 'private'
    $('node-balance').dataset.wei = ''
    setAlert('node-note', PRIVATE_NOTE)
    const d = deposits()
    show('deposit-form', Boolean(d))
    show('deposit-off', !d)
    return
  }
  for (const id of ['node-pending', 'node-status', 'node-service', 'node-peers']) $(id).hidden = $(id).previousElementSibling.hidden = false
  setMoney('node-balance', n.balanceWei)
  setMoney('node-pending', n.pendingDepositWei)
  setMoney('node-refundable', n.refundableWei)
  if (BigInt(n.pendingDepositWei) === 0n) $('node-pending').firstChild.textContent = 'none'
  const status = !n.known ? 'never connected' : n.online ? `online (${n.role})` : `offline (${n.role})`
  $('node-status').replaceChildren(h('span', { class: `pill ${n.online ? 'pill-on' : 'pill-off'}` }, status))
  $('node-service').textContent = n.serviceMsThisEpoch > 0 ? formatDuration(n.serviceMsThisEpoch) : 'none yet'
  $('node-peers-label').textContent = n.role === 'host' ? 'Clients' : 'Hosts'
  $('node-peers').replaceChildren(
    n.peers.length === 0
      ? 'none'
      : h('span', { class: 'peer-list' }, n.peers.map((p) => h('span', { class: `pill ${p.online ? 'pill-on' : 'pill-off'}`, title: p.nodeId }, `${shortId(p.nodeId)} ${p.online ? 'online' : 'offline'}`))),
  )
  let note = null
  if (n.role === 'host') note = 'This is a host node: hosts are paid to their payout address. Look it up below.'
  else if (!n.known) note = 'The pool has not seen this node yet. A deposit for it waits on its account and becomes its balance when the node first connects.'
  else if (n.stoppedByRefund) note = 'This node was refunded: it is not served until it deposits again.'
  else if (!n.canBeServed) note = 'This balance is too low to be served: deposit to continue.'
  setAlert('node-note', note)
  show('refund', n.role !== 'host' && BigInt(n.refundableWei) > 0n)
  if (BigInt(n.refundableWei) === 0n) show('refund-help', false)
  $('refund-command').textContent = `npx vipnode client refund --bootstrap ${location.origin} --nodekey <your node key file>`
  const d = deposits()
  show('deposit-form', Boolean(d) && n.role !== 'host')
  show('deposit-off', !d)
}

async function lookupNode(ev) {
  ev?.preventDefault()
  const id = nodeIdFrom($('node').value)
  $('node').setAttribute('aria-invalid', String(!id))
  if (!state.busy) show('deposit-state', false) // the last deposit's outcome belongs to the last node
  if (!id) {
    setAlert('node-error', 'That is neither an enode nor a node ID: paste enode://<128 hex characters>@host:port, or the 128 hex characters alone.')
    show('node-info', false)
    show('deposit-form', false)
    return
  }
  setAlert('node-error', null)
  try {
    state.node = await getJson(nodePath(id))
  } catch (err) {
    setAlert('node-error', err.message)
    return
  }
  renderNode()
  const url = new URL(location.href)
  url.searchParams.set('node', id)
  if (!state.auth || state.auth.node !== id) url.searchParams.delete('auth')
  history.replaceState(null, '', url)
}

function amountError(text) {
  setAlert('amount-error', text)
  $('amount').setAttribute('aria-invalid', String(Boolean(text)))
  return false
}

/** The typed amount as wei, or undefined after saying what is wrong with it. `balance` when known. */
function validAmount(balance) {
  const d = deposits()
  const parsed = parseAmount($('amount').value)
  if (!parsed.ok) return void amountError(parsed.message)
  if (parsed.wei === 0n) return void amountError('The amount must be more than 0.')
  if (d && parsed.wei < BigInt(d.minDepositWei)) return void amountError(`The smallest deposit is ${formatWei(d.minDepositWei)}.`)
  if (balance !== undefined && balance !== null && parsed.wei > balance) return void amountError(`That is more than your wallet holds (${formatWei(balance)}), and the transaction needs gas too.`)
  amountError(null)
  return parsed.wei
}

async function deposit(ev) {
  ev.preventDefault()
  if (state.busy || !state.node) return
  if (validAmount(null) === undefined) return
  state.busy = true
  $('deposit').disabled = true
  try {
    if (!(await ensureWallet('deposit-state'))) return
    const balance = await refreshWalletBalance()
    const wei = validAmount(balance)
    if (wei === undefined) {
      show('deposit-state', false)
      return
    }
    const d = deposits()
    const node = state.node
    const before = node.authorised ? totalOf(node) : 0n
    const tx = { from: state.account, to: d.contract, data: encodeDeposit(d.abi.functions.deposit.selector, node.depositAccount), value: toQuantity(wei) }
    const sent = await sendTransaction('deposit-state', tx, 'deposit')
    if (!sent) return
    const mined = BigInt(sent.receipt.blockNumber)
    for (;;) {
      let depth = 0n
      try {
        depth = BigInt(await request('eth_blockNumber')) - mined
      } catch {
        // ask again
      }
      if (depth >= BigInt(d.confirmations)) break
      setStatus('deposit-state', 'confirming', 'Mined; waiting for confirmations…', `${depth} of ${d.confirmations} blocks on top of it. The pool credits a deposit once it is ${d.confirmations} blocks deep.`, sent.hash)
      await sleep(POLL_MS)
    }
    if (!node.authorised) {
      // Without the node's signed link the pool does not say balances: the chain has the deposit, the pool credits it.
      setStatus('deposit-state', 'confirmed', 'Deposit confirmed on chain.', `The pool credits it within ${formatDuration(d.chainPollMs)}. ${PRIVATE_NOTE}`, sent.hash)
      $('amount').value = ''
      await refreshWalletBalance()
      return
    }
    setStatus('deposit-state', 'crediting', 'Confirmed on chain; waiting for the pool to credit it…', `The pool reads the chain every ${formatDuration(d.chainPollMs)}.`, sent.hash)
    let now = node
    const slowAfter = Date.now() + Math.max(120_000, 4 * d.chainPollMs)
    for (let slow = false; ; ) {
      try {
        now = await getJson(nodePath(node.nodeId))
        if (totalOf(now) > before) break
      } catch {
        // ask again
      }
      if (!slow && Date.now() > slowAfter) {
        slow = true
        setStatus('deposit-state', 'crediting', 'Confirmed on chain; the pool has not credited it yet…', 'This takes longer than it should: the pool may be catching up with the chain. Your deposit is safe on chain; this page keeps checking.', sent.hash)
      }
      await sleep(slow ? 5 * POLL_MS : POLL_MS)
    }
    state.node = now
    renderNode()
    const added = totalOf(now) - before
    const where = BigInt(now.pendingDepositWei) > 0n && !now.known ? ' It waits for your node to connect.' : ''
    setStatus('deposit-state', 'confirmed', 'Deposit credited.', `Your balance is now ${formatWei(totalOf(now))} (+${formatWei(added)}).${where}`, sent.hash)
    $('deposit-state').dataset.balanceWei = totalOf(now).toString()
    $('amount').value = ''
    await refreshWalletBalance()
  } finally {
    state.busy = false
    $('deposit').disabled = false
  }
}

// ---------------------------------------------------------------- host: payout and claim

function renderPayout() {
  const p = state.payout
  show('payout-info', true)
  setMoney('payout-entitled', p.cumulativeWei)
  $('payout-epoch').textContent = `epoch ${p.epoch}`
  // On chain a proposed root waits out the contract's root delay (the guardian may revoke it) before it can be claimed.
  const untilClaimable = (pending) => `claimable in ${formatDuration(Math.max(0, pending.claimableAtMs - Date.now()))} (${new Date(pending.claimableAtMs).toLocaleString()})`
  if (p.status === 'pending') {
    $('payout-root').replaceChildren(h('span', { class: 'pending-root' }, `pending: ${untilClaimable(p.pending)}`))
  } else {
    const root = p.txHash ? h('span', null, p.status === 'claimable' ? 'active on chain, proposed in ' : 'posted in ', h('code', { title: p.txHash }, shortId(p.txHash))) : 'not posted yet: a claim can only be made once it is'
    const next = p.pending ? h('span', { class: 'pending-root' }, `; epoch ${p.pending.epoch} (${formatWei(BigInt(p.pending.cumulativeWei))}) is pending, ${untilClaimable(p.pending)}`) : ''
    $('payout-root').replaceChildren(root, next)
  }
  $('claim').disabled = p.status === 'pending'
  if (p.claimedWei === undefined) {
    $('payout-claimed').textContent = 'connect your wallet to read it from the contract'
    $('payout-claimable').textContent = '—'
    delete $('payout-claimed').dataset.wei
  } else {
    setMoney('payout-claimed', p.claimedWei)
    const left = BigInt(p.cumulativeWei) - BigInt(p.claimedWei)
    setMoney('payout-claimable', left > 0n ? left : 0n)
    if (p.rootOnChain === false) $('payout-claimable').append(' (the root on chain is older: wait for this epoch\'s)')
  }
}

/** What the contract says this payee already claimed, and whether its root is the one on chain. */
async function refreshClaimed() {
  const p = state.payout
  const d = deposits()
  if (!p || !walletReady()) return
  try {
    const claimed = decodeUint(await request('eth_call', [{ to: d.contract, data: encodeAddressCall(d.abi.functions.claimed.selector, p.address) }, 'latest']))
    const root = await request('eth_call', [{ to: d.contract, data: d.abi.functions.root.selector }, 'latest'])
    p.claimedWei = claimed.toString()
    p.rootOnChain = String(root).toLowerCase() === String(p.root).toLowerCase()
  } catch {
    delete p.claimedWei
  }
  renderPayout()
}

async function lookupPayout(ev) {
  ev?.preventDefault()
  const address = addressFrom($('payout').value)
  $('payout').setAttribute('aria-invalid', String(!address))
  show('payout-none', false)
  if (!state.busy) show('claim-state', false)
  if (!address) {
    setAlert('payout-error', 'That is not an address: 0x followed by 40 hex characters.')
    show('payout-info', false)
    return
  }
  setAlert('payout-error', null)
  let body
  try {
    body = await getJson(`/v1/payouts/${address}`, { allow404: true })
  } catch (err) {
    setAlert('payout-error', err.message)
    return
  }
  if (body.notFound) {
    state.payout = null
    show('payout-info', false)
    setAlert('payout-none', `Nothing to claim yet: ${body.notFound}. Earnings are settled at the end of each epoch (every ${formatDuration(state.cfg.epochMs)}).`)
    return
  }
  state.payout = body
  renderPayout()
  await refreshClaimed()
  const url = new URL(location.href)
  url.searchParams.set('payout', address)
  history.replaceState(null, '', url)
}

async function claim() {
  const p = state.payout
  if (state.busy || !p || p.status === 'pending') return
  const d = deposits()
  if (!d) {
    setStatus('claim-state', 'error', 'This pool settles off chain.', 'Its coordinator runs without a payout contract: ask the operator.')
    return
  }
  state.busy = true
  $('claim').disabled = true
  try {
    if (!(await ensureWallet('claim-state'))) return
    await refreshClaimed()
    const before = BigInt(p.claimedWei ?? '0')
    const tx = { from: state.account, to: d.contract, data: encodeClaim(d.abi.functions.claim.selector, p.address, p.cumulativeWei, p.proof) }
    const sent = await sendTransaction('claim-state', tx, 'claim')
    if (!sent) return
    await refreshClaimed()
    const paid = BigInt(p.claimedWei ?? before) - before
    setStatus('claim-state', 'confirmed', 'Claimed.', `${formatWei(paid)} paid to ${p.address} in block ${BigInt(sent.receipt.blockNumber)}.`, sent.hash)
    $('claim-state').dataset.paidWei = paid.toString()
    await refreshWalletBalance()
  } finally {
    state.busy = false
    $('claim').disabled = state.payout?.status === 'pending'
  }
}

// ---------------------------------------------------------------- start

async function main() {
  $('node-form').addEventListener('submit', lookupNode)
  $('deposit-form').addEventListener('submit', deposit)
  $('amount').addEventListener('input', () => {
    if ($('amount').getAttribute('aria-invalid') === 'true') validAmount(state.walletBalance)
  })
  $('payout-form').addEventListener('submit', lookupPayout)
  $('claim').addEventListener('click', claim)
  $('refund').addEventListener('click', () => show('refund-help', true))
  $('connect').addEventListener('click', () => void connect())
  $('switch-chain').addEventListener('click', () => void switchChain())

  try {
    state.cfg = await getJson('/v1/join/config')
  } catch (err) {
    setAlert('config-error', `Cannot load the pool's settings: ${err.message}`)
    return
  }
  renderFacts()

  if (!wallet()) noWallet()
  else {
    setWallet('disconnected', 'Wallet not connected.', deposits() ? 'Connect it to deposit or claim.' : 'This pool takes no deposits on chain.')
    show('connect', true)
    watchWallet()
    // Already authorised earlier? Then no prompt is needed.
    try {
      const accounts = await request('eth_accounts')
      if (accounts?.[0]) {
        state.account = accounts[0]
        await checkChain()
      }
    } catch {
      // a wallet without eth_accounts: the button still works
    }
  }

  // The low-balance notice links here as <topup-url>?node=<node ID>.
  const params = new URLSearchParams(location.search)
  const node = params.get('node')
  const auth = params.get('auth')
  if (node && auth) state.auth = { node: nodeIdFrom(node), token: auth }
  if (node) {
    $('node').value = node
    await lookupNode()
  }
  const payout = params.get('payout')
  if (payout) {
    $('payout').value = payout
    await lookupPayout()
  }
  document.body.dataset.ready = 'true'
}

void main()
