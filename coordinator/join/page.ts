/**
 * The join page's HTML shell. join.js fills it from /v1/join/config,
 * /v1/nodes/:nodeId and /v1/payouts/:address and drives the wallet; the only
 * server value in the markup is the pool id, escaped by `html`.
 */
import { html } from '../dashboard/html.ts'
import { ASSETS as DASHBOARD_ASSETS } from '../dashboard/pages.ts'

export const JOIN_PATH = '/join'
export const JOIN_ASSETS = '/join/assets'

const brand = html`<span class="brand-mark" aria-hidden="true"></span><span class="brand-name">vipnode</span>`

/** A status box the script fills: a state name in data-state, a title, a sentence, maybe a transaction hash. */
const statusBox = (id: string) => html`<div id="${id}" class="status" data-state="idle" role="status" aria-live="polite" hidden></div>`

export function joinPage(poolId: string): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Join · vipnode pool ${poolId}</title>
<link rel="icon" href="${DASHBOARD_ASSETS}/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${DASHBOARD_ASSETS}/style.css">
<link rel="stylesheet" href="${JOIN_ASSETS}/join.css">
</head>
<body class="public join-page">
<header class="hero">
  <div class="container">
    <a class="brand" href="/">${brand}<span class="brand-sub">pool <code>${poolId}</code></span></a>
    <h1>Join the pool</h1>
    <p class="lead">Clients: check your node's balance and top it up from your wallet. Hosts: see what you are owed and claim it.</p>
  </div>
</header>
<main class="container">
  <section class="cards cards-fit join-facts" id="pool-facts" aria-label="Pool">
    <div class="card"><div class="card-label">Loading</div><div class="card-value card-value-text">…</div></div>
  </section>
  <p id="cu-costs" class="muted" hidden></p>
  <noscript><p class="alert alert-error">This page needs JavaScript to talk to your wallet. The data behind it is public JSON: <a href="/v1/join/config">/v1/join/config</a>.</p></noscript>
  <p id="config-error" class="alert alert-error" role="alert" hidden></p>

  <section class="panel" id="wallet-panel" aria-labelledby="wallet-title">
    <div class="wallet-row">
      <div class="wallet-main">
        <h2 id="wallet-title">Wallet</h2>
        <p id="wallet-state" class="status-line" data-state="idle" role="status" aria-live="polite">Checking for a wallet…</p>
      </div>
      <div class="wallet-actions">
        <button type="button" id="connect" class="btn btn-primary" hidden>Connect wallet</button>
        <button type="button" id="switch-chain" class="btn btn-primary" hidden>Switch network</button>
      </div>
    </div>
    <dl class="facts wallet-facts" id="wallet-facts" hidden>
      <dt>Account</dt><dd><code id="wallet-account"></code></dd>
      <dt>Balance</dt><dd id="wallet-balance">…</dd>
      <dt>Network</dt><dd id="wallet-chain">…</dd>
    </dl>
  </section>

  <div class="join-grid">
    <section class="panel" id="client" aria-labelledby="client-title">
      <h2 id="client-title">Clients: balance and deposit</h2>
      <form id="node-form" class="inline-form" novalidate>
        <label for="node">Your node's enode or node ID</label>
        <div class="input-row">
          <input id="node" name="node" type="text" spellcheck="false" autocomplete="off" placeholder="enode://…@host:30303 or 128 hex characters">
          <button type="submit" id="lookup-node" class="btn">Look up</button>
        </div>
        <p class="hint">geth: <code>geth attach --exec admin.nodeInfo.enode</code></p>
      </form>
      <p id="node-error" class="alert alert-error" role="alert" hidden></p>
      <div id="node-info" hidden>
        <dl class="facts">
          <dt>Node</dt><dd><code id="node-id"></code></dd>
          <dt>Balance</dt><dd id="node-balance"></dd>
          <dt>Waiting deposits</dt><dd id="node-pending"></dd>
          <dt>Refundable</dt><dd id="node-refundable"></dd>
          <dt>Status</dt><dd id="node-status"></dd>
          <dt>Service this epoch</dt><dd id="node-service"></dd>
          <dt id="node-peers-label">Hosts</dt><dd id="node-peers"></dd>
        </dl>
        <p id="node-note" class="note" hidden></p>
        <button type="button" id="refund" class="btn" hidden>Refund</button>
        <div id="refund-help" hidden>
          <p class="hint">A refund is signed with your node's key, which this page never sees. Run this where the node key is (add <code>--to 0x…</code> to be paid to another address than the key's own); the pool stops serving the node, and your unspent deposits become claimable here, under <em>Hosts: earnings and claim</em>, once the epoch settles. Trial and credit money is not refunded.</p>
          <pre><code id="refund-command"></code></pre>
        </div>
      </div>
      <form id="deposit-form" class="inline-form" novalidate hidden>
        <label for="amount">Deposit for this node (ETH)</label>
        <div class="input-row">
          <input id="amount" name="amount" type="text" inputmode="decimal" autocomplete="off" spellcheck="false" placeholder="0.05" aria-describedby="amount-error deposit-hint">
          <button type="submit" id="deposit" class="btn btn-primary">Deposit</button>
        </div>
        <p id="amount-error" class="field-error" role="alert" hidden></p>
        <p id="deposit-hint" class="hint"></p>
      </form>
      <p id="deposit-off" class="note" hidden>This pool takes no deposits on chain: ask its operator how to pay.</p>
      ${statusBox('deposit-state')}
    </section>

    <section class="panel" id="host" aria-labelledby="host-title">
      <h2 id="host-title">Hosts: earnings and claim</h2>
      <form id="payout-form" class="inline-form" novalidate>
        <label for="payout">Your payout address (<code>--payout</code>)</label>
        <div class="input-row">
          <input id="payout" name="payout" type="text" spellcheck="false" autocomplete="off" placeholder="0x…">
          <button type="submit" id="lookup-payout" class="btn">Look up</button>
        </div>
      </form>
      <p id="payout-error" class="alert alert-error" role="alert" hidden></p>
      <p id="payout-none" class="note" hidden></p>
      <div id="payout-info" hidden>
        <dl class="facts">
          <dt>Entitled in total</dt><dd id="payout-entitled"></dd>
          <dt>Last settled in</dt><dd id="payout-epoch"></dd>
          <dt>Root on chain</dt><dd id="payout-root"></dd>
          <dt>Already claimed</dt><dd id="payout-claimed"></dd>
          <dt>Claimable now</dt><dd id="payout-claimable"></dd>
        </dl>
        <p class="hint">Anyone may send the claim: the money always goes to the payout address, the sender pays only the gas.</p>
        <button type="button" id="claim" class="btn btn-primary">Claim</button>
      </div>
      ${statusBox('claim-state')}
    </section>
  </div>
  <footer class="footer muted">
    <a href="/">Pool status</a> · <a href="/v1/join/config">/v1/join/config</a> · Nothing you type here leaves your browser except node IDs and addresses to look up; your wallet signs.
  </footer>
</main>
<script type="module" src="${JOIN_ASSETS}/join.js"></script>
</body>
</html>
`.text
}
