/** Server-rendered pages: the public status page, the login page, the app shell. Every value is escaped by `html`. */
import type { StatusBody } from '../server/status.ts'
import { html, type Markup } from './html.ts'
import { explainUnitCosts, formatWei, networkName } from './assets/format.js'

export const ASSETS = '/dashboard/assets'

function layout(title: string, body: Markup, opts: { bodyClass?: string; head?: Markup } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="${ASSETS}/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${ASSETS}/style.css">
${opts.head}
</head>
<body class="${opts.bodyClass ?? ''}">
${body}
</body>
</html>
`.text
}

const brand = html`<span class="brand-mark" aria-hidden="true"></span><span class="brand-name">vipnode</span>`

/** The login form; `error` is shown above it. */
export function loginPage(poolId: string, error?: string): string {
  return layout(
    `Sign in · vipnode pool ${poolId}`,
    html`<main class="auth-card">
  <div class="brand">${brand}<span class="brand-sub">pool admin</span></div>
  <h1>Sign in</h1>
  <p class="muted">Pool <code>${poolId}</code>. Use the token the coordinator was started with (<code>--admin-token</code>).</p>
  ${error ? html`<p class="alert alert-error" role="alert" id="login-error">${error}</p>` : null}
  <form method="post" action="/dashboard/login" class="stack">
    <label for="token">Admin token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button type="submit" class="btn btn-primary">Sign in</button>
  </form>
</main>`,
    { bodyClass: 'auth' },
  )
}

/** Shown at /dashboard when no admin token is configured. */
export function dashboardOffPage(poolId: string): string {
  return layout(
    `Dashboard off · vipnode pool ${poolId}`,
    html`<main class="auth-card">
  <div class="brand">${brand}<span class="brand-sub">pool admin</span></div>
  <h1>The dashboard is off</h1>
  <p>It is enabled by an admin token, which this coordinator was started without. Restart it with a token of at least 16 characters:</p>
  <pre><code>npx vipnode coordinator --admin-token "$(openssl rand -hex 24)"</code></pre>
  <p class="muted">or set <code>VIPNODE_ADMIN_TOKEN</code> in its environment. The same token signs you in here and is the bearer token of <code>/v1/admin/*</code>.</p>
  <p><a href="/">← Pool status</a></p>
</main>`,
    { bodyClass: 'auth' },
  )
}

export function tooManyAttemptsPage(poolId: string, retryAfterS: number): string {
  return loginPage(poolId, `Too many sign-in attempts from your address. Try again in ${retryAfterS} s.`)
}

/** The single-page app's shell; app.js fills <main> from the event stream. */
export function appShell(poolId: string): string {
  return layout(
    `Dashboard · vipnode pool ${poolId}`,
    html`<header class="topbar">
  <div class="topbar-inner">
    <a class="brand" href="#overview">${brand}<span class="brand-sub">${poolId}</span></a>
    <nav class="tabs" aria-label="Pages">
      <a href="#overview" data-page="overview">Overview</a>
      <a href="#hosts" data-page="hosts">Hosts</a>
      <a href="#clients" data-page="clients">Clients</a>
      <a href="#epochs" data-page="epochs">Epochs</a>
      <a href="#charts" data-page="charts">Charts</a>
      <a href="#quality" data-page="quality">Quality</a>
    </nav>
    <div class="topbar-right">
      <span id="live" class="live" data-state="connecting"><span class="dot"></span><span id="live-text">Connecting…</span></span>
      <form method="post" action="/dashboard/logout"><button type="submit" class="btn btn-ghost">Sign out</button></form>
    </div>
  </div>
</header>
<main id="app" class="container" aria-live="polite"><p class="muted loading">Loading…</p></main>
<script src="${ASSETS}/vendor/chart.umd.min.js"></script>
<script type="module" src="${ASSETS}/app.js"></script>`,
  )
}

/** The public status page: what a prospective host or client asks first. */
export function statusPage(s: StatusBody, coordinatorUrl: string): string {
  const price = BigInt(s.priceWeiPerHostMinute)
  // rpc service: a price per compute unit, beside or instead of the time price. A pool without one reads as before.
  const perCu = BigInt(s.priceWeiPerComputeUnit)
  const paidBy = perCu === 0n ? 'per minute of service' : price === 0n ? 'per compute unit of service' : 'per minute and per compute unit of service'
  const chains = s.networks.length > 0 ? s.networks.map((n) => n.chainId) : s.chainId !== null ? [s.chainId] : []
  const state =
    s.hostsOnline === 0
      ? { cls: 'state-empty', title: 'No hosts online yet', text: 'Nobody is serving right now. Run a host below and be the first to earn.' }
      : s.freeSlots > 0
        ? { cls: 'state-ok', title: 'Slots available', text: `${s.freeSlots} free ${s.freeSlots === 1 ? 'slot' : 'slots'} on ${s.hostsOnline} ${s.hostsOnline === 1 ? 'host' : 'hosts'}: connect a client now.` }
        : { cls: 'state-full', title: 'Pool is full', text: `All ${s.hostsOnline} ${s.hostsOnline === 1 ? 'host is' : 'hosts are'} serving at capacity. Try again later, or add capacity by running a host.` }
  const networkText = chains.length > 0 ? chains.map(networkName).join(', ') : 'any network'
  const hostCmd = `npx vipnode host --coordinator ${coordinatorUrl} --node-rpc http://127.0.0.1:8545 \\\n  --nodekey ~/.ethereum/geth/nodekey --payout 0xYourAddress --capacity 10`
  const clientCmd = `npx vipnode client --bootstrap ${coordinatorUrl} --node-rpc http://127.0.0.1:8545 \\\n  --nodekey ~/.ethereum/geth/nodekey --hosts 3`
  return layout(
    `vipnode pool ${s.poolId}: ${state.title.toLowerCase()}`,
    html`<header class="hero">
  <div class="container">
    <div class="brand">${brand}<span class="brand-sub">pool <code>${s.poolId}</code></span></div>
    <h1>Ethereum full nodes, paid ${paidBy}</h1>
    <p class="lead">Clients connect to hosts through this pool; hosts earn for the ${perCu === 0n ? 'time' : 'service'} clients corroborate.</p>
  </div>
</header>
<main class="container">
  <section class="banner ${state.cls}" id="pool-state" role="status">
    <strong>${state.title}</strong><span>${state.text}</span>
  </section>
  <section class="cards cards-fit" aria-label="Pool status">
    <div class="card"><div class="card-label">Network${chains.length === 1 ? '' : 's'}</div><div class="card-value card-value-text" id="networks">${networkText}</div></div>
    <div class="card"><div class="card-label">Hosts online</div><div class="card-value" id="hosts-online">${s.hostsOnline}</div></div>
    <div class="card"><div class="card-label">Free slots</div><div class="card-value" id="free-slots">${s.freeSlots}</div></div>
    <div class="card"><div class="card-label">Clients online</div><div class="card-value">${s.clientsOnline}</div></div>
    <div class="card"><div class="card-label">Price per host-minute</div><div class="card-value card-value-text" id="price">${price === 0n ? (perCu === 0n ? 'free' : 'none') : formatWei(price)}</div>
      ${price === 0n ? html`<div class="card-sub">${perCu === 0n ? 'service is metered but not charged' : 'only compute units are charged'}</div>` : html`<div class="card-sub">${formatWei(price * 60n)} per host-hour</div>`}</div>${
      perCu === 0n
        ? null
        : html`
    <div class="card"><div class="card-label">Price per compute unit</div><div class="card-value card-value-text" id="price-cu">${formatWei(perCu)}</div>
      <div class="card-sub">${formatWei(perCu * 1000n)} per 1,000 units</div></div>`
    }
  </section>${perCu !== 0n && s.computeUnitCosts ? html`
  <p class="muted" id="cu-costs">${explainUnitCosts(s.computeUnitCosts, perCu)} Light clients (<code>vipnode client --service rpc</code>) pay for the calls relayed for them; peer clients ${price === 0n ? 'are not charged' : 'pay for time only'}.</p>` : null}
  ${
    s.networks.length > 1
      ? html`<section><h2>By network</h2><table class="table"><thead><tr><th>Network</th><th class="num">Hosts online</th><th class="num">Free slots</th></tr></thead><tbody>${s.networks.map(
          (n) => html`<tr><td>${networkName(n.chainId)}</td><td class="num">${n.hostsOnline}</td><td class="num">${n.freeSlots}</td></tr>`,
        )}</tbody></table></section>`
      : null
  }
  <section class="join">
    <div class="join-col">
      <h2>Join as a host</h2>
      <p>Run the host agent beside a synced full node on ${networkText} whose admin API it can reach. It signs with the node's own key and pays out to <code>--payout</code>.</p>
      <pre id="host-command"><code>geth --http --http.addr 127.0.0.1 --http.api admin,eth,net,web3
${hostCmd}</code></pre>
      <p>See what you are owed and claim it on the <a href="/join#host">join page</a>.</p>
    </div>
    <div class="join-col">
      <h2>Join as a client</h2>
      <p>Point your node at the pool instead of hunting for peers. The shim asks for hosts and keeps your node peered with them${price === 0n ? '' : ', charging your balance per host-minute'}.</p>
      <pre id="client-command"><code>geth --http --http.addr 127.0.0.1 --http.api admin,eth,net,web3
${clientCmd}</code></pre>
      <p>Check your balance and top up from a browser wallet on the <a href="/join">join page</a>.</p>
    </div>
  </section>
  <footer class="footer muted">
    vipnode ${s.version} · protocol ${s.protocolVersion} · <a href="/v1/status">/v1/status</a> · <a href="/join">join</a> · <a href="/dashboard">admin dashboard</a>
  </footer>
</main>`,
    { bodyClass: 'public', head: html`<meta http-equiv="refresh" content="30">` },
  )
}
