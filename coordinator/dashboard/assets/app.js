// vipnode pool dashboard: a small single-page app. Snapshots arrive over Server-Sent Events
// (/dashboard/api/events); the page re-renders from the latest one. Every value from the server is
// put into the DOM as text (textContent / setAttribute), never as markup.
import { formatWei, exactWei, formatDuration, formatHours, shortId, networkName, toUnitNumber, unitFor, explainUnitCosts } from './format.js'

const app = document.getElementById('app')
const live = document.getElementById('live')
const liveText = document.getElementById('live-text')

const state = {
  snap: null,
  page: 'overview',
  arg: null,
  sort: {},
  /** The epoch detail being shown: {n, data} or {n, error}. */
  epoch: null,
  charts: new Map(),
}

// ---------------------------------------------------------------- DOM helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue
    if (k === 'class') el.className = v
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue
    el.append(c instanceof Node ? c : String(c))
  }
  return el
}

const money = (wei) => h('span', { title: exactWei(wei) }, formatWei(wei))
const nodeId = (id) => h('code', { title: id }, shortId(id))
const ago = (ms) => (ms <= 0 ? 'just now' : `${formatDuration(ms)} ago`)
const when = (ms) => new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`

function pageHead(title, subtitle, ...extra) {
  return h('div', { class: 'page-head' }, h('div', null, h('h1', null, title), subtitle ? h('p', null, subtitle) : null), ...extra)
}

function card(label, value, sub, cls) {
  return h('div', { class: `card ${cls ?? ''}` }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value), sub ? h('div', { class: 'card-sub' }, sub) : null)
}

function empty(title, text, command) {
  return h('div', { class: 'empty' }, h('strong', null, title), text ? h('div', null, text) : null, command ? h('pre', null, h('code', null, command)) : null)
}

// ---------------------------------------------------------------- sortable tables

function compare(a, b) {
  if (a === b) return 0
  if (a === null || a === undefined) return 1
  if (b === null || b === undefined) return -1
  if (typeof a === 'string' && typeof b === 'string') return a.localeCompare(b)
  return a < b ? -1 : 1
}

/**
 * A table sorted by one column; clicking a header sorts by it, clicking again reverses.
 * columns: {key, label, value: row => sortable (number | bigint | string | null), cell?: row => node|string, num?, desc?}
 */
function table(id, columns, rows, opts = {}) {
  const fallback = { key: opts.sortKey ?? columns[0].key, dir: opts.sortDir ?? 'asc' }
  const sort = state.sort[id] ?? fallback
  const col = columns.find((c) => c.key === sort.key) ?? columns[0]
  const sign = sort.dir === 'asc' ? 1 : -1
  const sorted = rows
    .map((row, i) => ({ row, i, v: col.value(row) }))
    .sort((a, b) => {
      if (a.v === null || a.v === undefined || b.v === null || b.v === undefined) return compare(a.v, b.v) || a.i - b.i
      return sign * compare(a.v, b.v) || a.i - b.i
    })
    .map((x) => x.row)
  const onSort = (c) => () => {
    const cur = state.sort[id] ?? fallback
    state.sort[id] = cur.key === c.key ? { key: c.key, dir: cur.dir === 'asc' ? 'desc' : 'asc' } : { key: c.key, dir: c.desc ? 'desc' : 'asc' }
    render()
    document.querySelector(`#${id} th[data-key="${c.key}"] button`)?.focus()
  }
  const head = h(
    'tr',
    null,
    columns.map((c) => {
      const active = c.key === col.key
      return h(
        'th',
        { class: c.num ? 'num' : null, 'data-key': c.key, 'aria-sort': active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : null, scope: 'col' },
        h('button', { type: 'button', class: 'sort', onclick: onSort(c), title: `Sort by ${c.label.toLowerCase()}` }, c.label, h('span', { class: 'sort-ind', 'aria-hidden': 'true' }, active ? (sort.dir === 'asc' ? '▲' : '▼') : '↕')),
      )
    }),
  )
  const body = sorted.map((row) =>
    h(
      'tr',
      {
        'data-id': opts.rowId ? opts.rowId(row) : null,
        class: opts.href ? 'link-row' : null,
        onclick: opts.href ? () => (location.hash = opts.href(row)) : null,
      },
      columns.map((c) => h('td', { class: [c.num ? 'num' : '', c.clip ? 'clip' : ''].join(' ').trim() || null }, c.cell ? c.cell(row) : String(c.value(row) ?? '—'))),
    ),
  )
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', id }, h('thead', null, head), h('tbody', null, body)))
}

// ---------------------------------------------------------------- charts

const COLORS = { accent: '#4f46e5', accentFill: 'rgba(79, 70, 229, 0.12)', teal: '#0d9488', tealFill: 'rgba(13, 148, 136, 0.15)', amber: '#f79009', grid: '#eef0f3', text: '#667085' }
let chartsUsed = new Set()

/** A chart in a container; the Chart instance survives re-renders and only its data changes. */
function chart(key, config, tall) {
  chartsUsed.add(key)
  const existing = state.charts.get(key)
  if (existing) {
    existing.chart.data = config.data
    existing.chart.options = config.options
    existing.chart.update('none')
    return existing.box
  }
  const canvas = h('canvas', { 'aria-label': key, role: 'img' })
  const box = h('div', { class: tall ? 'chart chart-tall' : 'chart', 'data-chart': key }, canvas)
  if (typeof window.Chart !== 'function') {
    box.replaceChildren(h('p', { class: 'muted' }, 'Charts unavailable: chart.js did not load.'))
    return box
  }
  const c = new window.Chart(canvas, config)
  state.charts.set(key, { chart: c, box })
  return box
}

function dropUnusedCharts() {
  for (const [key, { chart: c }] of state.charts) {
    if (!chartsUsed.has(key)) {
      c.destroy()
      state.charts.delete(key)
    }
  }
}

function baseOptions(extra = {}) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: 'index', intersect: false },
    plugins: { legend: { position: 'bottom', labels: { boxWidth: 12, color: COLORS.text } }, tooltip: { ...(extra.tooltip ?? {}) } },
    scales: {
      x: { grid: { display: false }, ticks: { color: COLORS.text, maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
      y: { beginAtZero: true, grid: { color: COLORS.grid }, ticks: { color: COLORS.text, precision: 0 } },
      ...(extra.scales ?? {}),
    },
  }
}

function onlineChart(snap, tall) {
  const samples = snap.samples
  const long = samples.length > 1 && samples[samples.length - 1].t - samples[0].t > 20 * 3_600_000
  const labels = samples.map((s) =>
    long ? new Date(s.t).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) : new Date(s.t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }),
  )
  return chart(
    tall ? 'online-tall' : 'online',
    {
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: 'Hosts online', data: samples.map((s) => s.hosts), borderColor: COLORS.accent, backgroundColor: COLORS.accentFill, fill: true, stepped: 'before', pointRadius: 0 },
          { label: 'Clients online', data: samples.map((s) => s.clients), borderColor: COLORS.teal, backgroundColor: 'transparent', stepped: 'before', pointRadius: 0 },
          ...(tall ? [{ label: 'Free slots', data: samples.map((s) => s.freeSlots), borderColor: COLORS.amber, borderDash: [4, 4], backgroundColor: 'transparent', stepped: 'before', pointRadius: 0 }] : []),
        ],
      },
      options: baseOptions(),
    },
    tall,
  )
}

/** Settled epochs (the last 30) plus the running one. */
function epochSeries(snap) {
  const settled = snap.epochs.slice(-30)
  const rows = [
    ...settled.map((e) => ({ label: `#${e.epoch}`, serviceMs: e.serviceMs ?? 0, revenueWei: e.revenueWei })),
    { label: `#${snap.epoch.current} (now)`, serviceMs: snap.overview.serviceMsThisEpoch, revenueWei: snap.overview.revenueWeiThisEpoch },
  ]
  let max = 0n
  for (const r of rows) if (BigInt(r.revenueWei) > max) max = BigInt(r.revenueWei)
  return { rows, unit: unitFor(max) }
}

function serviceChart(snap, key, tall) {
  const { rows } = epochSeries(snap)
  return chart(
    key,
    {
      type: 'bar',
      data: { labels: rows.map((r) => r.label), datasets: [{ label: 'Service hours', data: rows.map((r) => Number(formatHours(r.serviceMs))), backgroundColor: COLORS.accent, borderRadius: 4, maxBarThickness: 36 }] },
      options: baseOptions({ scales: { y: { beginAtZero: true, grid: { color: COLORS.grid }, ticks: { color: COLORS.text } } } }),
    },
    tall,
  )
}

function revenueChart(snap, key, tall) {
  const { rows, unit } = epochSeries(snap)
  return chart(
    key,
    {
      type: 'bar',
      data: {
        labels: rows.map((r) => r.label),
        datasets: [{ label: `Revenue (${unit.name})`, data: rows.map((r) => toUnitNumber(r.revenueWei, unit.decimals)), backgroundColor: COLORS.teal, borderRadius: 4, maxBarThickness: 36 }],
      },
      options: baseOptions({
        scales: { y: { beginAtZero: true, grid: { color: COLORS.grid }, ticks: { color: COLORS.text } } },
        tooltip: { callbacks: { label: (ctx) => `Revenue: ${formatWei(rows[ctx.dataIndex].revenueWei)}` } },
      }),
    },
    tall,
  )
}

function panel(title, note, body) {
  return h('section', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', null, title), note ? h('span', null, note) : null), body)
}

// ---------------------------------------------------------------- pages

const origin = location.origin
const hostCommand = `npx vipnode host --coordinator ${origin} --node-rpc http://127.0.0.1:8545 --payout 0xYourAddress --capacity 10`
const clientCommand = `npx vipnode client --bootstrap ${origin} --node-rpc http://127.0.0.1:8545 --hosts 3`

function overviewPage(snap) {
  const o = snap.overview
  const imbalance = BigInt(o.ledgerImbalanceWei)
  const endsIn = snap.epoch.endMs - snap.generatedAtMs
  // Time and compute units (rpc service) are priced apart; a pool without a unit price reads as before.
  const perMinute = BigInt(snap.config.priceWeiPerMinute)
  const perCu = BigInt(snap.config.priceWeiPerComputeUnit ?? '0')
  const prices = [...(perMinute > 0n ? [`${formatWei(perMinute)} per host-minute`] : []), ...(perCu > 0n ? [`${formatWei(perCu)} per compute unit`] : [])]
  return [
    pageHead('Overview', `${prices.length === 0 ? 'A free pool' : prices.join(' and ')} · pool fee ${(snap.config.feeBps / 100).toFixed(2)} % · vipnode ${snap.version}`),
    perCu > 0n && snap.config.computeUnitCosts ? h('p', { class: 'muted', id: 'cu-costs' }, explainUnitCosts(snap.config.computeUnitCosts, perCu)) : null,
    h(
      'section',
      { class: 'cards', id: 'overview-cards' },
      card('Hosts online', h('span', { id: 'stat-hosts' }, String(o.hostsOnline)), `${plural(o.hostsKnown, 'host', 'hosts')} known`),
      card('Clients online', h('span', { id: 'stat-clients' }, String(o.clientsOnline)), `${plural(o.assignments, 'assignment', 'assignments')} active`),
      card('Free slots', String(o.freeSlots), `of ${o.capacity} capacity online`),
      card('Service this epoch', formatHours(o.serviceMsThisEpoch) + ' h', formatDuration(o.serviceMsThisEpoch) === '0' ? 'no corroborated service yet' : formatDuration(o.serviceMsThisEpoch)),
      card('Revenue this epoch', money(o.revenueWeiThisEpoch), `epoch ${snap.epoch.current}`),
      card('Epoch', `#${snap.epoch.current}`, `ends in ${formatDuration(endsIn)}${o.lastSettledEpoch !== null ? ` · #${o.lastSettledEpoch} settled` : ''}`),
      card('Pool balance', money(o.poolBalanceWei), 'sum of client balances'),
      imbalance === 0n ? card('Ledger', 'Balanced', 'all accounts sum to zero', 'good') : card('Ledger imbalance', money(o.ledgerImbalanceWei), 'accounts do not sum to zero: run vipnode audit', 'bad'),
    ),
    h('div', { class: 'grid-2' }, panel('Online over time', 'sampled every 10 s', onlineChart(snap, false)), panel('Service per epoch', 'settled epochs and the running one', serviceChart(snap, 'service', false))),
    o.hostsKnown === 0 ? empty('No hosts yet', 'Run a host agent beside a synced full node:', hostCommand) : null,
  ]
}

/** All rows on one chain: the network goes in the subtitle instead of a column. */
const oneChain = (rows) => rows.every((r) => r.chainId === rows[0].chainId)
const chainsOf = (rows) => [...new Set(rows.map((r) => r.chainId))].map(networkName).join(', ')

function lagCell(lag) {
  if (lag === null) return h('span', { class: 'dim', title: 'no head reported yet' }, '—')
  const cls = lag === 0 ? 'lag-ok' : lag < 8 ? 'lag-warn' : 'lag-bad'
  return h('span', { class: cls, title: `${lag} blocks behind the best head` }, lag === 0 ? '0' : `−${lag}`)
}

function hostsPage(snap) {
  const hosts = snap.hosts
  const online = hosts.filter((x) => x.online).length
  const head = pageHead('Hosts', `${online} online of ${hosts.length} known${hosts.length ? ` on ${chainsOf(hosts)}` : ''} · service and earnings are for epoch ${snap.epoch.current}`)
  if (hosts.length === 0) return [head, empty('No hosts yet', 'Run the host agent beside a synced full node whose admin API it can reach:', hostCommand)]
  const columns = [
    { key: 'status', label: 'Status', value: (r) => (r.online ? 1 : 0), desc: true, cell: (r) => h('span', { class: r.online ? 'pill pill-on' : 'pill pill-off' }, r.online ? 'online' : 'offline') },
    { key: 'node', label: 'Node', value: (r) => r.nodeId, cell: (r) => nodeId(r.nodeId) },
    { key: 'network', label: 'Network', value: (r) => r.chainId, cell: (r) => networkName(r.chainId) },
    { key: 'payout', label: 'Payout', value: (r) => r.payout, cell: (r) => (r.payout ? nodeId(r.payout) : h('span', { class: 'dim', title: 'no --payout: its share stays in the carry' }, 'none')) },
    {
      key: 'clients',
      label: 'Clients',
      num: true,
      desc: true,
      value: (r) => r.clients,
      cell: (r) => {
        const pct = r.capacity > 0 ? Math.min(100, Math.round((100 * r.clients) / r.capacity)) : 0
        const bar = h('span', { class: r.clients >= r.capacity && r.capacity > 0 ? 'meter-bar full' : 'meter-bar' }, h('span', null))
        bar.firstChild.style.width = `${pct}%`
        return h('span', { class: 'meter' }, bar, `${r.clients} / ${r.capacity}`)
      },
    },
    { key: 'lag', label: 'Block lag', num: true, value: (r) => r.blockLag, cell: (r) => lagCell(r.blockLag) },
    { key: 'service', label: 'Service', num: true, desc: true, value: (r) => r.serviceMs, cell: (r) => formatDuration(r.serviceMs) },
    { key: 'earned', label: 'Earned', num: true, desc: true, value: (r) => BigInt(r.earnedWei), cell: (r) => money(r.earnedWei) },
    {
      key: 'skip',
      label: 'Passed over',
      value: (r) => r.skipReason,
      cell: (r) =>
        r.skipReason
          ? h('span', { class: 'tag', title: r.skipAtMs !== null ? `passed over ${ago(snap.generatedAtMs - r.skipAtMs)}` : 'passed over recently' }, r.skipReason)
          : h('span', { class: 'dim' }, '—'),
    },
    { key: 'version', label: 'Client', clip: true, value: (r) => r.clientVersion, cell: (r) => h('span', { title: r.clientVersion }, r.clientVersion.split('/').slice(0, 2).join('/') || '—') },
  ]
  return [head, table('hosts-table', oneChain(hosts) ? columns.filter((c) => c.key !== 'network') : columns, hosts, { sortKey: 'status', sortDir: 'desc', rowId: (r) => r.nodeId })]
}

function clientsPage(snap) {
  const clients = snap.clients
  const online = clients.filter((x) => x.online).length
  const head = pageHead('Clients', `${online} online of ${clients.length} known${clients.length ? ` on ${chainsOf(clients)}` : ''} · service and payments are for epoch ${snap.epoch.current}`)
  if (clients.length === 0) return [head, empty('No clients yet', 'Point a node at the pool with the client shim:', clientCommand)]
  const columns = [
    { key: 'status', label: 'Status', value: (r) => (r.online ? 1 : 0), desc: true, cell: (r) => h('span', { class: r.online ? 'pill pill-on' : 'pill pill-off' }, r.online ? 'online' : 'offline') },
    { key: 'node', label: 'Node', value: (r) => r.nodeId, cell: (r) => nodeId(r.nodeId) },
    { key: 'network', label: 'Network', value: (r) => r.chainId, cell: (r) => networkName(r.chainId) },
    { key: 'balance', label: 'Balance', num: true, desc: true, value: (r) => BigInt(r.balanceWei), cell: (r) => money(r.balanceWei) },
    { key: 'hosts', label: 'Hosts', value: (r) => r.hosts.length, desc: true, cell: (r) => (r.hosts.length ? h('span', { class: 'ids' }, r.hosts.map(nodeId)) : h('span', { class: 'dim' }, 'none')) },
    { key: 'service', label: 'Service', num: true, desc: true, value: (r) => r.serviceMs, cell: (r) => formatDuration(r.serviceMs) },
    { key: 'paid', label: 'Paid', num: true, desc: true, value: (r) => BigInt(r.chargedWei), cell: (r) => money(r.chargedWei) },
    { key: 'seen', label: 'Last seen', num: true, desc: true, value: (r) => r.lastSeenMs, cell: (r) => (r.online ? 'now' : ago(snap.generatedAtMs - r.lastSeenMs)) },
  ]
  return [head, table('clients-table', oneChain(clients) ? columns.filter((c) => c.key !== 'network') : columns, clients, { sortKey: 'status', sortDir: 'desc', rowId: (r) => r.nodeId })]
}

function epochsPage(snap) {
  const older = snap.olderEpochs ? ` The newest ${snap.epochs.length} settled epochs are listed; GET /v1/admin/epochs has them all.` : ''
  const head = pageHead('Epochs and payouts', `Epoch ${snap.epoch.current} is running; it settles at ${when(snap.epoch.endMs)}.${older}`)
  if (snap.epochs.length === 0) return [head, empty('No epoch settled yet', `Epoch ${snap.epoch.current} settles at ${when(snap.epoch.endMs)}: revenue is then split among hosts by service time (the length is --epoch, 24 h by default).`)]
  const columns = [
    { key: 'epoch', label: 'Epoch', num: true, desc: true, value: (r) => r.epoch, cell: (r) => h('a', { href: `#epochs/${r.epoch}` }, `#${r.epoch}`) },
    { key: 'ended', label: 'Ended', value: (r) => r.endMs, desc: true, cell: (r) => when(r.endMs) },
    { key: 'service', label: 'Service', num: true, desc: true, value: (r) => r.serviceMs, cell: (r) => (r.serviceMs === null ? '—' : formatDuration(r.serviceMs)) },
    { key: 'revenue', label: 'Revenue', num: true, desc: true, value: (r) => BigInt(r.revenueWei), cell: (r) => money(r.revenueWei) },
    { key: 'fee', label: 'Fee', num: true, desc: true, value: (r) => BigInt(r.feeWei), cell: (r) => money(r.feeWei) },
    { key: 'paid', label: 'Paid out', num: true, desc: true, value: (r) => BigInt(r.paidWei), cell: (r) => money(r.paidWei) },
    { key: 'carry', label: 'Carried', num: true, desc: true, value: (r) => BigInt(r.carriedOutWei), cell: (r) => money(r.carriedOutWei) },
    { key: 'root', label: 'Root', value: (r) => r.root, cell: (r) => nodeId(r.root) },
    { key: 'tx', label: 'Transaction', value: (r) => r.txHash, cell: (r) => (r.txHash ? h('span', null, nodeId(r.txHash), rootState(r)) : h('span', { class: 'dim' }, 'not posted')) },
  ]
  return [head, table('epochs-table', columns, snap.epochs, { sortKey: 'epoch', sortDir: 'desc', rowId: (r) => String(r.epoch), href: (r) => `epochs/${r.epoch}` })]
}

function loadEpoch(n) {
  state.epoch = { n, loading: true }
  fetch(`/dashboard/api/epochs/${encodeURIComponent(n)}`, { credentials: 'same-origin' })
    .then(async (res) => {
      if (res.status === 401) return signedOut()
      const body = await res.json()
      if (state.epoch?.n !== n) return
      state.epoch = res.ok ? { n, data: body } : { n, error: body?.error?.message ?? `HTTP ${res.status}` }
      render()
    })
    .catch((err) => {
      if (state.epoch?.n === n) state.epoch = { n, error: String(err) }
      render()
    })
}

function epochPage(snap, n) {
  const back = h('a', { class: 'back', href: '#epochs' }, '← All epochs')
  if (state.epoch?.n !== n) loadEpoch(n)
  const e = state.epoch
  if (!e || e.loading) return [back, pageHead(`Epoch ${n}`, 'Loading…')]
  if (e.error) return [back, pageHead(`Epoch ${n}`, null), empty('Not available', e.error)]
  const d = e.data
  const feeAddress = snap.config.feeAddress?.toLowerCase()
  const facts = h(
    'dl',
    { class: 'facts' },
    [
      ['Period', `${when(d.startMs)} – ${when(d.endMs)}`],
      ['Settled', when(d.settledAtMs)],
      ['Service', `${formatDuration(d.serviceMs)} over ${plural(d.pairs, 'client-host pair', 'client-host pairs')}`],
      ['Revenue', money(d.revenueWei)],
      ['Carried in', money(d.carriedInWei)],
      ['Pool fee', money(d.feeWei)],
      ['Carried out', money(d.carriedOutWei)],
      ['Total entitled', h('span', null, money(d.totalEntitledWei), h('span', { class: 'dim' }, ' cumulative, all payees'))],
      ['Merkle root', h('code', { id: 'epoch-root' }, d.root)],
      ['Transaction', d.txHash ? h('span', null, h('code', null, d.txHash), rootState(d)) : h('span', { class: 'dim' }, 'not posted on chain yet')],
    ].map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
  )
  const columns = [
    { key: 'payee', label: 'Payee', value: (r) => r.payee, cell: (r) => h('span', null, h('code', { title: r.payee }, r.payee), r.payee.toLowerCase() === feeAddress ? h('span', { class: 'tag tag-neutral' }, ' pool fee') : null) },
    { key: 'service', label: 'Service', num: true, desc: true, value: (r) => r.serviceMs, cell: (r) => formatDuration(r.serviceMs) },
    { key: 'amount', label: 'Amount', num: true, desc: true, value: (r) => BigInt(r.amountWei), cell: (r) => money(r.amountWei) },
    { key: 'cumulative', label: 'Cumulative', num: true, desc: true, value: (r) => BigInt(r.cumulativeWei), cell: (r) => money(r.cumulativeWei) },
    { key: 'claimed', label: 'Claimed', value: () => null, cell: () => h('span', { class: 'dim', title: 'claims are only known on chain; not tracked yet' }, '—') },
  ]
  return [
    back,
    pageHead(`Epoch ${n}`, `${plural(d.payouts.length, 'payee', 'payees')} · ${formatWei(d.revenueWei)} revenue`),
    panel('Settlement', null, facts),
    d.payouts.length
      ? table('payouts-table', columns, d.payouts, { sortKey: 'amount', sortDir: 'desc', rowId: (r) => r.payee })
      : empty('No payouts in this epoch', 'Nobody served, so everything was carried to the next epoch.'),
  ]
}

function chartsPage(snap) {
  return [
    pageHead('Charts', 'Service and revenue per epoch (the last 30 settled and the running one); hosts and clients online, sampled every 10 s since the coordinator started.'),
    panel('Service time per epoch', 'hours of corroborated service', serviceChart(snap, 'service-tall', true)),
    panel('Revenue per epoch', 'what clients paid', revenueChart(snap, 'revenue-tall', true)),
    panel('Online over time', `${snap.samples.length} samples`, onlineChart(snap, true)),
  ]
}

const percent = (x) => (x === null ? h('span', { class: 'dim' }, '—') : `${(100 * x).toFixed(x >= 0.999 || x === 0 ? 0 : 1)} %`)
const millis = (ms) => (ms === null ? h('span', { class: 'dim' }, '—') : ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`)
const STANDING = { good: ['pill pill-on', 'good', 'two or more clients confirm its score'], probation: ['tag', 'probation', 'its clients report poor service: one new client per trial period until its score recovers'], unproven: ['pill pill-off', 'unproven', 'fewer than two clients have reported enough calls'] }

/** rpc hosts' service this epoch, as their clients' proxies measured it (docs/rpcService.md#quality). */
function qualityPage(snap) {
  const rows = snap.quality ?? []
  const head = pageHead('Service quality', `rpc hosts in epoch ${snap.epoch.current}, as their clients measure them · p50/p99 are bucket bounds · details at /v1/admin/hosts/<node>/quality`)
  if (rows.length === 0) return [head, empty('No rpc service quality yet', 'rpc hosts appear here once they report; their scores once their clients report calls.')]
  const columns = [
    { key: 'status', label: 'Status', value: (r) => (r.online ? 1 : 0), desc: true, cell: (r) => h('span', { class: r.online ? 'pill pill-on' : 'pill pill-off' }, r.online ? 'online' : 'offline') },
    { key: 'node', label: 'Node', value: (r) => r.nodeId, cell: (r) => nodeId(r.nodeId) },
    {
      key: 'standing',
      label: 'Standing',
      value: (r) => r.standing,
      cell: (r) => {
        const [cls, text, title] = STANDING[r.standing] ?? STANDING.unproven
        return h('span', { class: cls, title: r.probationMs > 0 ? `${title}; ${formatDuration(r.probationMs)} on probation this epoch` : title }, text)
      },
    },
    { key: 'score', label: 'Score', num: true, value: (r) => r.score, cell: (r) => h('span', { title: `${plural(r.witnesses, 'witness', 'witnesses')}` }, r.score.toFixed(2)) },
    { key: 'uptime', label: 'Uptime', num: true, value: (r) => r.uptime, cell: (r) => percent(r.uptime) },
    { key: 'p50', label: 'p50', num: true, value: (r) => r.p50Ms, cell: (r) => millis(r.p50Ms) },
    { key: 'p99', label: 'p99', num: true, value: (r) => r.p99Ms, cell: (r) => millis(r.p99Ms) },
    { key: 'errors', label: 'Error rate', num: true, value: (r) => r.errorRate, cell: (r) => percent(r.errorRate) },
    { key: 'calls', label: 'Calls', num: true, desc: true, value: (r) => r.calls, cell: (r) => String(r.calls) },
  ]
  return [head, table('quality-table', columns, rows, { sortKey: 'score', sortDir: 'asc', rowId: (r) => r.nodeId })]
}

// ---------------------------------------------------------------- rendering and routing

const PAGES = { overview: overviewPage, hosts: hostsPage, clients: clientsPage, epochs: epochsPage, charts: chartsPage, quality: qualityPage }

function render() {
  for (const a of document.querySelectorAll('.tabs a')) {
    if (a.dataset.page === state.page) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  const snap = state.snap
  if (!snap) return
  chartsUsed = new Set()
  const content = state.page === 'epochs' && state.arg ? epochPage(snap, state.arg) : (PAGES[state.page] ?? overviewPage)(snap)
  const section = h('div', { id: `page-${state.page}`, class: 'page' }, content)
  app.replaceChildren(section)
  dropUnusedCharts()
  document.title = `${state.page[0].toUpperCase()}${state.page.slice(1)} · vipnode pool ${snap.poolId}`
}

function route() {
  const [page, arg] = (location.hash.replace(/^#\/?/, '') || 'overview').split('/')
  state.page = PAGES[page] ? page : 'overview'
  state.arg = state.page === 'epochs' && /^\d+$/.test(arg ?? '') ? Number(arg) : null
  if (state.arg === null) state.epoch = null
  render()
  window.scrollTo(0, 0)
}

// ---------------------------------------------------------------- live stream

function setLive(s, text) {
  live.dataset.state = s
  liveText.textContent = text
}

function signedOut() {
  location.assign('/dashboard')
}

let source
function connect() {
  source = new EventSource('/dashboard/api/events')
  source.addEventListener('snapshot', (ev) => {
    state.snap = JSON.parse(ev.data)
    setLive('live', `Live · ${new Date().toLocaleTimeString()}`)
    render()
  })
  source.addEventListener('expired', () => {
    source.close()
    signedOut()
  })
  source.addEventListener('error', () => {
    setLive('offline', 'Reconnecting…')
    if (source.readyState === EventSource.CLOSED) {
      // Refused outright (401 after the session expired, or the coordinator restarted and forgot it).
      fetch('/dashboard/api/snapshot', { credentials: 'same-origin' })
        .then((res) => (res.status === 401 ? signedOut() : setTimeout(connect, 2000)))
        .catch(() => setTimeout(connect, 2000))
    }
  })
}

window.addEventListener('hashchange', route)
route()
connect()

/** A root's state on chain: active (claimable), or pending with the time until it is claimable. */
function rootState(r) {
  if (r.onChain === 'active') return h('span', { class: 'dim root-state' }, ' · active')
  if (r.onChain === 'pending' && r.claimableAtMs) {
    return h('span', { class: 'root-state' }, ` · pending, claimable in ${formatDuration(Math.max(0, r.claimableAtMs - Date.now()))}`)
  }
  return ''
}
