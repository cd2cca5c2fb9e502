/**
 * The live status page at `/`: one self-contained HTML document (no external scripts, styles or
 * fonts, so it works offline) that polls `/api/status` once a second and redraws in place. It
 * lays out as cards that wrap, so it reads at 700 px as at 1280 px; long names and error texts
 * wrap instead of overflowing.
 */
export function statusPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Eddy status</title>
<style>
:root { color-scheme: light dark; --fg: #1d232a; --muted: #5d6873; --bg: #f6f7f9; --card: #fff; --line: #dde2e7; --ok: #1b7f3b; --bad: #b3261e; --warn: #a15c00; --accent: #2463b8; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ec; --muted: #9aa5b1; --bg: #15191d; --card: #1e2328; --line: #333b43; --ok: #5cc97e; --bad: #ff7b72; --warn: #e3a34a; --accent: #6ea8ff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: baseline; padding: 12px 16px; border-bottom: 1px solid var(--line); background: var(--card); }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 16px 16px 8px; color: var(--muted); font-weight: 600; }
main { padding-bottom: 16px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); } .muted { color: var(--muted); }
.proc { display: flex; flex-wrap: wrap; gap: 4px 16px; color: var(--muted); font-size: 13px; min-width: 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 440px), 1fr)); gap: 12px; padding: 0 16px; align-items: start; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px; min-width: 0; overflow-wrap: anywhere; }
.card h3 { margin: 0 0 2px; font-size: 15px; display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.route { color: var(--muted); font-size: 12px; margin-bottom: 8px; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(64px, 1fr)); gap: 4px 8px; margin: 6px 0; }
.stat b { display: block; font-size: 16px; font-variant-numeric: tabular-nums; }
.stat span { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
svg.chart { display: block; width: 100%; height: 48px; margin: 6px 0; }
svg.chart polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
svg.chart line { stroke: var(--line); vector-effect: non-scaling-stroke; }
.last-error { margin: 6px 0 0; padding: 6px 8px; border-left: 3px solid var(--bad); background: color-mix(in srgb, var(--bad) 8%, transparent); font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; font-size: 12px; margin-top: 6px; }
th, td { text-align: left; padding: 2px 4px; border-top: 1px solid var(--line); overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
#conn { margin-left: auto; }
.empty { padding: 0 16px; color: var(--muted); }
.wide { padding: 0 16px; }
#topics { margin-top: 0; }
</style>
</head>
<body>
<header>
  <h1>Eddy</h1>
  <span id="ready" class="badge muted">…</span>
  <span id="health" class="badge muted">…</span>
  <div class="proc" id="proc"></div>
  <span id="conn" class="muted"></span>
</header>
<main>
  <h2>Derived streams</h2>
  <div class="grid" id="streams"></div>
  <h2 id="connectors-title" hidden>Connectors</h2>
  <div class="grid" id="connectors"></div>
  <h2>Topics</h2>
  <div class="wide"><section class="card"><table id="topics"><thead><tr><th>topic</th><th class="n">partitions</th><th class="n">records</th><th class="n">size</th><th class="n">next offset</th></tr></thead><tbody></tbody></table></section></div>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
const fmt = (n) => { if (!isFinite(n)) return '–'; const a = Math.abs(n); if (a >= 1e9) return (n / 1e9).toFixed(1) + 'G'; if (a >= 1e6) return (n / 1e6).toFixed(1) + 'M'; if (a >= 1e4) return (n / 1e3).toFixed(1) + 'k'; return String(Math.round(n * 10) / 10); };
const bytes = (n) => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return (i ? n.toFixed(1) : n) + ' ' + u[i]; };
const ns = (n) => n >= 1e6 ? (n / 1e6).toFixed(2) + ' ms' : n >= 1e3 ? (n / 1e3).toFixed(2) + ' µs' : n.toFixed(0) + ' ns';
const rates = (h) => { const out = []; for (let i = 1; i < h.length; i++) { const dt = (h[i][0] - h[i - 1][0]) / 1000; out.push(dt > 0 ? Math.max(0, (h[i][1] - h[i - 1][1]) / dt) : 0); } return out; };
const SVG = 'http://www.w3.org/2000/svg';

function chart(svg, values) {
  const w = 300, h = 48, max = Math.max(1, ...values);
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.replaceChildren();
  const base = document.createElementNS(SVG, 'line');
  base.setAttribute('x1', '0'); base.setAttribute('x2', String(w)); base.setAttribute('y1', String(h - 1)); base.setAttribute('y2', String(h - 1));
  svg.append(base);
  if (values.length < 2) return;
  const pts = values.map((v, i) => (i * w / (values.length - 1)).toFixed(1) + ',' + (h - 2 - (v / max) * (h - 6)).toFixed(1));
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('points', pts.join(' '));
  svg.append(line);
}

/** A card per name, kept across polls so only its numbers change. */
function card(container, key, build) {
  let c = container.querySelector('[data-key="' + CSS.escape(key) + '"]');
  if (!c) { c = build(); c.dataset.key = key; container.append(c); }
  c.dataset.seen = '1';
  return c;
}
function stat(parent, cls, label) { const s = el('div', 'stat ' + cls); s.append(el('b', 'value', '–'), el('span', '', label)); parent.append(s); return s; }
function setStat(c, cls, text, tone) { const b = c.querySelector('.' + cls + ' b'); b.textContent = text; b.className = 'value ' + (tone || ''); }
const tone = (state) => state === 'running' ? 'ok' : state === 'failed' ? 'bad' : state === 'starting' ? 'warn' : 'muted';

/** A card's frame: name and state, a route line, numbers, the chart and the error box. */
function frame(kind, name, stats) {
  const d = el('section', 'card ' + kind);
  d.dataset.name = name;
  const h = el('h3'); h.append(el('span', 'name', name), el('span', 'badge state'));
  d.append(h, el('div', 'route'));
  const st = el('div', 'stats');
  for (const [cls, label] of stats) stat(st, cls, label);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart'); svg.setAttribute('aria-label', 'records per second');
  const err = el('div', 'last-error'); err.hidden = true;
  d.append(st, svg, err);
  return d;
}
function update(c, state, route, history, error) {
  const b = c.querySelector('.state'); b.textContent = state; b.className = 'badge state ' + tone(state);
  c.querySelector('.route').textContent = route;
  const r = rates(history);
  setStat(c, 'rate', fmt(r.length ? r[r.length - 1] : 0));
  chart(c.querySelector('svg.chart'), r);
  const err = c.querySelector('.last-error');
  err.hidden = !error;
  if (error) err.textContent = error;
}

function streamCard(s) {
  const c = card($('streams'), s.name, () => {
    const d = frame('stream', s.name, [['rate', 'in /s'], ['records-in', 'processed'], ['records-out', 'written'], ['lag', 'lag'], ['errors', 'errors'], ['skipped', 'skipped']]);
    const t = el('table', 'modules');
    t.innerHTML = '<thead><tr><th>module</th><th class="n">per record</th><th class="n">calls</th><th class="n" title="peak linear memory of an instance; recycles of instances that keep their outputs">memory</th><th class="n" title="workers terminated because the module overran the deadline / restarts that followed">kills / restarts</th></tr></thead><tbody></tbody>';
    d.append(t);
    return d;
  });
  const e = s.lastError;
  update(c, s.state,
    s.source + ' → ' + s.target + ' · policy ' + s.policy + (s.deadLetterTopic ? ' → ' + s.deadLetterTopic : '') + ' · ' + s.partitions.length + ' partition' + (s.partitions.length === 1 ? '' : 's'),
    s.history,
    e && e.code + (e.partition !== null ? ' (partition ' + e.partition + (e.offset !== null ? ', offset ' + e.offset : '') + ')' : '') + ': ' + e.message);
  setStat(c, 'records-in', fmt(s.recordsIn)); setStat(c, 'records-out', fmt(s.recordsOut));
  setStat(c, 'lag', fmt(s.lag), s.lag > 0 ? 'warn' : 'ok');
  setStat(c, 'errors', fmt(s.errors), s.errors > 0 ? 'bad' : ''); setStat(c, 'skipped', fmt(s.skipped), s.skipped > 0 ? 'warn' : '');
  const body = c.querySelector('table.modules tbody');
  body.replaceChildren(...s.modules.map((m) => { const tr = el('tr'); tr.append(el('td', '', m.module), el('td', 'n', m.recordsIn ? ns(m.nsPerRecord) : '–'), el('td', 'n', fmt(m.invocations)), el('td', 'n', m.memoryBytes ? bytes(m.memoryBytes) + (m.recycles ? ' (recycled ' + fmt(m.recycles) + '×)' : '') : '–'), el('td', 'n' + (m.deadlineKills ? ' bad' : ''), m.deadlineKills ? fmt(m.deadlineKills) + ' / ' + fmt(m.restarts) : '–')); return tr; }));
}

function connectorCard(x) {
  const c = card($('connectors'), x.name, () => frame('connector', x.name, [['rate', 'records /s'], ['records', x.direction === 'source' ? 'produced' : 'delivered'], ['errors', 'errors']]));
  update(c, x.state, x.direction + ' · ' + x.summary, x.history, x.lastError);
  setStat(c, 'records', fmt(x.records)); setStat(c, 'errors', fmt(x.errors), x.errors > 0 ? 'bad' : '');
}

function sweep(container) {
  for (const c of [...container.children]) { if (!c.dataset.seen) c.remove(); delete c.dataset.seen; }
}

function render(s) {
  const ready = $('ready'); ready.textContent = s.ready ? 'ready' : 'starting'; ready.className = 'badge ' + (s.ready ? 'ok' : 'warn');
  const health = $('health'); health.textContent = s.healthy ? 'healthy' : 'unhealthy'; health.className = 'badge ' + (s.healthy ? 'ok' : 'bad');
  const p = s.process;
  $('proc').replaceChildren(...[
    p.workers + ' workers, ' + Math.round(p.workerUtilization * 100) + '% busy',
    'LMDB ' + bytes(p.lmdb.usedBytes) + ' of ' + bytes(p.lmdb.mapSizeBytes) + ' (' + (p.lmdb.fill * 100).toFixed(1) + '%)',
    'event loop p99 ' + (p.eventLoopDelay.p99Seconds * 1000).toFixed(1) + ' ms',
    'up ' + Math.round(p.uptimeSeconds) + ' s',
  ].map((t) => el('span', '', t)));
  for (const x of s.streams) streamCard(x);
  sweep($('streams'));
  if (s.streams.length === 0 && !$('streams').querySelector('.empty')) $('streams').append(el('p', 'empty', 'No derived streams.'));
  for (const x of s.connectors) connectorCard(x);
  sweep($('connectors'));
  $('connectors-title').hidden = s.connectors.length === 0;
  // As eddy topic describe prints it: the next offset (high watermark) of each partition.
  $('topics').tBodies[0].replaceChildren(...s.topics.map((t) => { const tr = el('tr'); tr.append(el('td', '', t.name), el('td', 'n', String(t.partitions.length)), el('td', 'n', fmt(t.records)), el('td', 'n', bytes(t.bytes)), el('td', 'n', t.partitions.map((p) => fmt(p.nextOffset)).join(' / '))); return tr; }));
  $('conn').textContent = 'updated ' + new Date(s.time).toLocaleTimeString();
  $('conn').className = 'muted';
  document.body.dataset.updated = String(s.time);
}

async function poll() {
  try {
    const r = await fetch('api/status', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    render(await r.json());
  } catch (e) {
    $('conn').textContent = 'disconnected (' + e.message + '), retrying';
    $('conn').className = 'bad';
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
`;
}
