import type { BenchReport, TimeSplit } from './bench.js';

/**
 * `eddy bench --html`: one self-contained HTML file (inline CSS and SVG, no scripts or fonts from
 * anywhere else): the headline (CPU per record and its spread), the summary table, and charts of
 * what a record costs by part (adding up to the measured CPU per record), throughput against
 * workers (with the ideal W × single-thread line), the batch latency histogram, and with
 * `--compare` both modules with error bars and whether they differ beyond noise. The charts
 * take the page's width (no fixed size) and keep their labels inside.
 * A small inline script marks, once the page is laid out, how many charts have a non-empty box
 * (`<body data-charts-rendered="N">`), so a headless browser can check the page renders.
 */

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function num(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  if (a >= 100 || Number.isInteger(n)) return n.toFixed(0);
  return n.toPrecision(digits);
}

/** Round axis maximum and tick step for values up to `max`. */
function axis(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

const W = 640,
  H = 316,
  L = 70,
  R = 20,
  T = 36,
  B = 50;
const PW = W - L - R,
  PH = H - T - B;

function frame(id: string, title: string, body: string, xLabel: string, yLabel: string): string {
  // No fixed size: the viewBox scales to the figure's width (CSS), text with it, so nothing is cut at any width.
  return `<figure><svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" preserveAspectRatio="xMidYMid meet" role="img" aria-label="${esc(title)}">
<title>${esc(title)}</title>
<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>
${body}
<line x1="${L}" y1="${T + PH}" x2="${L + PW}" y2="${T + PH}" stroke="#333"/>
<line x1="${L}" y1="${T}" x2="${L}" y2="${T + PH}" stroke="#333"/>
<text x="${L + PW / 2}" y="${H - 8}" text-anchor="middle" class="lbl">${esc(xLabel)}</text>
<text x="14" y="${T + PH / 2}" text-anchor="middle" class="lbl" transform="rotate(-90 14 ${T + PH / 2})">${esc(yLabel)}</text>
</svg><figcaption>${esc(title)}</figcaption></figure>`;
}

/** Width of a text in SVG units (a generous estimate: 0.62 em a character), to keep labels inside the chart. */
const textWidth = (text: string, size: number): number => text.length * size * 0.62;

/**
 * A text label at (x, y) that stays inside the chart: anchored at its start, unless it would run
 * past the right edge, then ending at `x` (or at the edge) instead.
 */
function label(x: number, y: number, text: string, cls: string, size: number, extra = ''): string {
  const w = textWidth(text, size);
  let anchor = 'start';
  let at = x;
  if (x + w > W - 4) {
    anchor = 'end';
    at = Math.max(w + 4, Math.min(x, W - 4));
  }
  return `<text x="${at.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${anchor}" class="${cls}"${extra}>${esc(text)}</text>`;
}

/** A text shortened with an ellipsis to fit `width` SVG units (the full text stays in its tooltip). */
function shorten(text: string, width: number, size: number): string {
  const max = Math.max(4, Math.floor(width / (size * 0.62)));
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function yTicks(top: number, step: number): string {
  let s = '';
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = T + PH - (v / top) * PH;
    s += `<line x1="${L}" y1="${y.toFixed(1)}" x2="${L + PW}" y2="${y.toFixed(1)}" stroke="#e4e4e4"/><text x="${L - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" class="tick">${num(v)}</text>\n`;
  }
  return s;
}

export function scalingChart(r: BenchReport): string {
  const pts = r.scaling;
  const ideal = pts.map((p) => p.workers * p.engine_single_thread_records_per_sec);
  const { top, step } = axis(Math.max(...pts.map((p) => p.records_per_sec), ...ideal));
  const slot = PW / Math.max(1, pts.length);
  let body = yTicks(top, step);
  pts.forEach((p, i) => {
    const x = L + i * slot + slot * 0.2;
    const h = (p.records_per_sec / top) * PH;
    body += `<rect class="bar" x="${x.toFixed(1)}" y="${(T + PH - h).toFixed(1)}" width="${(slot * 0.6).toFixed(1)}" height="${h.toFixed(1)}" fill="#3b73b9"><title>W=${p.workers}: ${num(p.records_per_sec)} records/s (efficiency ${p.efficiency.toFixed(2)})</title></rect>`;
    body += `<text x="${(L + i * slot + slot / 2).toFixed(1)}" y="${T + PH + 16}" text-anchor="middle" class="tick">${p.workers}</text>`;
    body += `<text x="${(L + i * slot + slot / 2).toFixed(1)}" y="${(T + PH - h - 5).toFixed(1)}" text-anchor="middle" class="val">${num(p.records_per_sec)}</text>`;
  });
  const line = ideal
    .map((v, i) => `${(L + i * slot + slot / 2).toFixed(1)},${(T + PH - (v / top) * PH).toFixed(1)}`)
    .join(' ');
  body += `<polyline points="${line}" fill="none" stroke="#d9822b" stroke-width="2" stroke-dasharray="6 4"/>`;
  body += ideal
    .map(
      (v, i) =>
        `<circle cx="${(L + i * slot + slot / 2).toFixed(1)}" cy="${(T + PH - (v / top) * PH).toFixed(1)}" r="3.5" fill="#d9822b"><title>ideal: ${num(v)} records/s</title></circle>`,
    )
    .join('');
  // Legend above the plot area, clear of the bars and the ideal line.
  body += `<rect x="${L + 10}" y="8" width="12" height="12" fill="#3b73b9"/><text x="${L + 28}" y="18" class="tick">measured (end to end)</text>`;
  body += `<line x1="${L + 170}" y1="14" x2="${L + 194}" y2="14" stroke="#d9822b" stroke-width="2" stroke-dasharray="6 4"/><text x="${L + 200}" y="18" class="tick">W × engine alone on one thread</text>`;
  return frame('chart-scaling', 'Throughput against worker threads', body, 'worker threads (W)', 'input records/s');
}

export function latencyChart(r: BenchReport): string {
  const h = r.batch_latency_histogram_ms;
  const maxCount = Math.max(1, ...h.counts);
  const { top, step } = axis(maxCount);
  let body = yTicks(top, step);
  const n = Math.max(1, h.counts.length);
  const bw = PW / n;
  h.counts.forEach((c, i) => {
    const bh = (c / top) * PH;
    body += `<rect class="bar" x="${(L + i * bw + 0.5).toFixed(1)}" y="${(T + PH - bh).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="#4f9a6b"><title>${num(h.edges[i]!)}–${num(h.edges[i]! + h.width)} ms: ${c}</title></rect>`;
  });
  const lo = h.edges[0] ?? 0;
  const span = h.width * n || 1;
  for (let i = 0; i <= 4; i++) {
    const v = lo + (span * i) / 4;
    body += `<text x="${(L + (PW * i) / 4).toFixed(1)}" y="${T + PH + 16}" text-anchor="middle" class="tick">${num(v)}</text>`;
  }
  // p50 and p99 on rows of their own, each kept inside the chart (p99 sits at the right edge when the tail is long).
  [
    ['p50', r.batch_latency_ms_p50],
    ['p99', r.batch_latency_ms_p99],
  ].forEach(([name, v], row) => {
    const x = L + Math.min(1, Math.max(0, ((v as number) - lo) / span)) * PW;
    body += `<line x1="${x.toFixed(1)}" y1="${T}" x2="${x.toFixed(1)}" y2="${T + PH}" stroke="#b03a2e" stroke-dasharray="3 3"/>`;
    body += label(x + 3, T - 16 + row * 13, `${name} ${num(v as number)} ms`, 'tick marker', 11, ' fill="#b03a2e"');
  });
  return frame(
    'chart-latency',
    `Batch latency (submit → result), ${r.input.batch_size}-record batches, W=${r.workers}`,
    body,
    'milliseconds',
    'batches',
  );
}

const SPLIT: [keyof TimeSplit, string, string][] = [
  ['module', 'module (engine in workers)', '#4f9a6b'],
  ['workers_other', "workers' other work (frames, messages) and helper threads", '#d9822b'],
  ['host_encode', 'host encode (read, pack, post)', '#6c8ebf'],
  ['host_decode', 'host decode (receive, unpack, deliver)', '#b7a3d6'],
  ['host_gc', 'host GC (main thread)', '#c9c9c9'],
];

/** The headline as a sentence: what the module costs per record, with its spread over the rounds. */
export function headline(r: BenchReport): string {
  const c = r.cost_ns_per_record;
  return `${shortName(r.module.label)} costs ${num(c.value)} ns of CPU per input record through Eddy (rounds ${num(c.min)}–${num(c.max)}, spread ${(c.spread * 100).toFixed(1)}%), of which ${num(r.time_split_ns_per_record.module)} ns in the module`;
}

export function splitChart(r: BenchReport): string {
  const s = r.time_split_ns_per_record;
  const c = r.cost_ns_per_record;
  const total = SPLIT.reduce((n, [k]) => n + s[k], 0) || 1;
  const { top, step } = axis(Math.max(total, c.max));
  let body = '';
  for (let v = 0; v <= top + step / 2; v += step) {
    const x = L + (v / top) * PW;
    body += `<line x1="${x.toFixed(1)}" y1="${T}" x2="${x.toFixed(1)}" y2="${T + PH}" stroke="#e4e4e4"/><text x="${x.toFixed(1)}" y="${T + PH + 16}" text-anchor="middle" class="tick">${num(v)}</text>`;
  }
  let x = L;
  const barY = T + 20,
    barH = 50;
  for (const [k, name, color] of SPLIT) {
    const w = (s[k] / top) * PW;
    body += `<rect class="bar" x="${x.toFixed(1)}" y="${barY}" width="${Math.max(0, w).toFixed(1)}" height="${barH}" fill="${color}"><title>${esc(name)}: ${num(s[k])} ns/record (${((100 * s[k]) / total).toFixed(1)}%)</title></rect>`;
    x += w;
  }
  // The rounds' range of the total: the bar's error bar.
  const ex = (v: number) => (L + (v / top) * PW).toFixed(1);
  const ey = barY + barH / 2;
  body += `<g class="errbar" stroke="#222" stroke-width="1.5"><line x1="${ex(c.min)}" y1="${ey}" x2="${ex(c.max)}" y2="${ey}"/><line x1="${ex(c.min)}" y1="${ey - 8}" x2="${ex(c.min)}" y2="${ey + 8}"/><line x1="${ex(c.max)}" y1="${ey - 8}" x2="${ex(c.max)}" y2="${ey + 8}"/><title>rounds: ${num(c.min)}–${num(c.max)} ns/record</title></g>`;
  body += label(L, barY - 6, `total ${num(c.value)} ns (rounds ${num(c.min)}–${num(c.max)})`, 'val', 11);
  SPLIT.forEach(([k, name, color], i) => {
    const lx = L + 10,
      ly = barY + barH + 26 + i * 20;
    body += `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color}"/>`;
    body += label(
      lx + 18,
      ly,
      shorten(`${name}: ${num(s[k])} ns (${((100 * s[k]) / total).toFixed(0)}%)`, W - lx - 22, 11),
      'tick',
      11,
    );
  });
  return frame(
    'chart-split',
    `What a record costs: CPU time per input record by part, adding up to the measured total, W=${r.workers}`,
    body,
    'nanoseconds of CPU time per input record (all threads)',
    '',
  );
}

/** The file name of a path, for chart labels. */
function shortName(label: string): string {
  return label.split(/[\\/]/).pop() || label;
}

function compareChart(r: BenchReport): string {
  const c = r.compare!;
  const sides = [c.a, c.b];
  const { top, step } = axis(Math.max(...sides.map((s) => s.records_per_sec_spread.max)));
  let body = yTicks(top, step);
  const slot = PW / 2;
  const y = (v: number) => (T + PH - (v / top) * PH).toFixed(1);
  sides.forEach((s, i) => {
    const h = (s.records_per_sec / top) * PH;
    const mid = L + i * slot + slot / 2;
    body += `<rect class="bar" x="${(L + i * slot + slot * 0.25).toFixed(1)}" y="${(T + PH - h).toFixed(1)}" width="${(slot * 0.5).toFixed(1)}" height="${h.toFixed(1)}" fill="${i === 0 ? '#3b73b9' : '#8e6bbf'}"><title>${esc(s.label)}: ${num(s.records_per_sec)} records/s</title></rect>`;
    // Error bar: the slowest and the fastest round.
    const sp = s.records_per_sec_spread;
    body += `<g class="errbar" stroke="#222" stroke-width="1.5"><line x1="${mid}" y1="${y(sp.min)}" x2="${mid}" y2="${y(sp.max)}"/><line x1="${mid - 10}" y1="${y(sp.min)}" x2="${mid + 10}" y2="${y(sp.min)}"/><line x1="${mid - 10}" y1="${y(sp.max)}" x2="${mid + 10}" y2="${y(sp.max)}"/><title>rounds: ${num(sp.min)}–${num(sp.max)} records/s</title></g>`;
    body += `<text x="${mid.toFixed(1)}" y="${T + PH + 16}" text-anchor="middle" class="tick"><title>${esc(s.label)}</title>${esc(shorten(shortName(s.label), slot - 8, 11))}</text>`;
    body += `<text x="${(mid + 14).toFixed(1)}" y="${(Number(y(sp.max)) + 4).toFixed(1)}" class="val">${num(s.records_per_sec)}</text>`;
  });
  return frame(
    'chart-compare',
    `Compared on identical input, W=${c.workers}, error bars from the slowest to the fastest round: ${c.verdict}`,
    body,
    'module',
    'input records/s',
  );
}

function fluvioChart(r: BenchReport): string {
  const f = r.fluvio!;
  const sides: [string, number][] = [
    ["Fluvio's engine, 1 thread", f.fluvio_records_per_sec],
    ["Eddy's engine, 1 thread", f.eddy_records_per_sec],
    [`Eddy, pool W=${f.workers}`, r.records_per_sec],
  ];
  const { top, step } = axis(Math.max(...sides.map((s) => s[1])));
  let body = yTicks(top, step);
  const slot = PW / sides.length;
  sides.forEach(([label, v], i) => {
    const h = (v / top) * PH;
    body += `<rect class="bar" x="${(L + i * slot + slot * 0.25).toFixed(1)}" y="${(T + PH - h).toFixed(1)}" width="${(slot * 0.5).toFixed(1)}" height="${h.toFixed(1)}" fill="${['#c0603a', '#3b73b9', '#5a9a5a'][i]}"/>`;
    body += `<text x="${(L + i * slot + slot / 2).toFixed(1)}" y="${T + PH + 16}" text-anchor="middle" class="tick">${esc(label)}</text>`;
    body += `<text x="${(L + i * slot + slot / 2).toFixed(1)}" y="${(T + PH - h - 5).toFixed(1)}" text-anchor="middle" class="val">${num(v)}</text>`;
  });
  return frame(
    'chart-fluvio',
    `Fluvio's engine and Eddy's on the same input: Eddy's engine ÷ Fluvio's ${f.ratio.toFixed(3)} (spread ${(f.spread * 100).toFixed(1)}%)`,
    body,
    'engine',
    'input records/s',
  );
}

export function renderHtml(r: BenchReport): string {
  const rows: [string, string][] = [
    ['module', `${r.module.label} (${r.module.steps.map((s) => s.kind).join(' → ')})`],
    ['input', r.input.description],
    ['workers / partitions', `${r.workers} / ${r.partitions}`],
    [
      'records/s in (end to end)',
      `${num(r.records_per_sec)} (spread ${(r.spread * 100).toFixed(1)}% over ${r.rounds} rounds${r.stable ? '' : ', not settled'})`,
    ],
    ['records/s out', num(r.records_out_per_sec)],
    ['MB/s in / out', `${r.mb_per_sec_in.toFixed(1)} / ${r.mb_per_sec_out.toFixed(1)}`],
    ['ns per record (wall)', num(r.ns_per_record)],
    [
      'CPU per record (all threads)',
      `${num(r.cost_ns_per_record.value)} ns (rounds ${num(r.cost_ns_per_record.min)}–${num(r.cost_ns_per_record.max)}); by part: ${SPLIT.map(([k, name]) => `${name.split(' (')[0]} ${num(r.time_split_ns_per_record[k])}`).join(', ')}`,
    ],
    ['selectivity (out/in)', r.selectivity.toFixed(3)],
    ['batch latency p50 / p99', `${num(r.batch_latency_ms_p50)} / ${num(r.batch_latency_ms_p99)} ms`],
    [
      'engine alone, one thread',
      `${num(r.engine_single_thread_records_per_sec)} records/s; efficiency ${r.efficiency.toFixed(2)}`,
    ],
    [
      'peak module memory',
      `${(r.peak_module_memory_bytes / 1048576).toFixed(1)} MiB${r.module_recycles > 0 ? `; instances recycled ${r.module_recycles}× (the module keeps its outputs)` : ''}`,
    ],
    [
      'compile / instantiate / init',
      `${r.compile_ms.toFixed(2)} / ${r.instantiate_ms.toFixed(3)} / ${r.init_ms.toFixed(3)} ms`,
    ],
    ['errors', r.errors > 0 ? `${r.errors} (first: ${r.first_error})` : '0'],
    ...(r.fluvio
      ? ([
          [
            "Fluvio's engine, one thread",
            `${num(r.fluvio.fluvio_records_per_sec)} records/s (fluvio-smartengine, one chain instance, as a Fluvio SPU runs it)`,
          ],
          ["Eddy's engine, one thread", `${num(r.fluvio.eddy_records_per_sec)} records/s`],
          [
            "Eddy's engine ÷ Fluvio's",
            `${r.fluvio.ratio.toFixed(3)} (spread ${(r.fluvio.spread * 100).toFixed(1)}% over ${r.fluvio.rounds} alternating rounds)`,
          ],
          [`Eddy at W=${r.fluvio.workers} ÷ Fluvio's one instance`, r.fluvio.eddy_workers_vs_fluvio.toFixed(3)],
          [
            'CPU ns per record, Fluvio / Eddy',
            `${num(r.fluvio.fluvio_cpu_ns_per_record)} / ${num(r.fluvio.eddy_cpu_ns_per_record)} (Eddy ${r.fluvio.cpu_ratio.toFixed(3)}× as fast in CPU time)`,
          ],
        ] as [string, string][])
      : []),
    ['machine', `${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, ${r.machine.date}`],
  ];
  const table = rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n');
  const scaling = r.scaling
    .map(
      (p) =>
        `<tr><td>${p.workers}</td><td>${num(p.records_per_sec)}</td><td>${(p.spread * 100).toFixed(1)}%</td><td>${p.efficiency.toFixed(2)}</td><td>${num(p.batch_latency_ms_p50)}</td><td>${num(p.batch_latency_ms_p99)}</td></tr>`,
    )
    .join('\n');
  const charts = [
    splitChart(r),
    scalingChart(r),
    latencyChart(r),
    ...(r.compare ? [compareChart(r)] : []),
    ...(r.fluvio ? [fluvioChart(r)] : []),
  ];
  const compare = r.compare
    ? `<h2>Compared</h2>
<p class="verdict">${esc(r.compare.verdict)}</p>
<table><tr><th>module</th><th>records/s (slowest–fastest round)</th><th>CPU ns/record (cheapest–dearest round)</th><th>selectivity</th></tr>
${[r.compare.a, r.compare.b]
  .map(
    (x) =>
      `<tr><td>${esc(x.label)}</td><td>${num(x.records_per_sec)} (${num(x.records_per_sec_spread.min)}–${num(x.records_per_sec_spread.max)})</td><td>${num(x.cpu_ns_per_record.value)} (${num(x.cpu_ns_per_record.min)}–${num(x.cpu_ns_per_record.max)})</td><td>${x.selectivity.toFixed(3)}</td></tr>`,
  )
  .join('\n')}</table>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>eddy bench: ${esc(r.module.label)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }
h1 { font-size: 20px; overflow-wrap: anywhere; } h2 { font-size: 16px; margin-top: 28px; }
.headline { font-size: 16px; font-weight: 600; overflow-wrap: anywhere; }
table { border-collapse: collapse; max-width: 100%; } th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; } td { overflow-wrap: anywhere; }
th { font-weight: 600; color: #444; }
figure { margin: 16px 0; } figcaption { color: #555; font-size: 13px; }
svg.chart { display: block; width: 100%; height: auto; box-sizing: border-box; border: 1px solid #ddd; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.tick { font-size: 11px; fill: #444; } .lbl { font-size: 12px; fill: #222; } .val { font-size: 11px; fill: #222; }
</style></head>
<body data-charts="${charts.length}">
<h1>eddy bench: ${esc(r.module.label)}</h1>
<p class="headline" id="headline">${esc(headline(r))}</p>
<p class="note">${esc(r.time_split_method.note)}</p>
<table>${table}</table>
${compare}
<h2>Charts</h2>
${charts.join('\n')}
<h2>Scaling</h2>
<table><tr><th>workers</th><th>records/s</th><th>spread</th><th>efficiency</th><th>p50 ms</th><th>p99 ms</th></tr>
${scaling}</table>
<h2>Raw result</h2>
<pre id="raw">${esc(JSON.stringify(r, null, 2))}</pre>
<script>
addEventListener('load', function () {
  var n = 0;
  document.querySelectorAll('svg.chart').forEach(function (s) { var b = s.getBoundingClientRect(); if (b.width > 0 && b.height > 0 && s.querySelectorAll('.bar').length > 0) n++; });
  document.body.setAttribute('data-charts-rendered', String(n));
});
</script>
</body></html>
`;
}
