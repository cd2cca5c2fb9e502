import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import { chromium } from 'playwright-core';
import type { BenchReport } from '../src/bench/bench.js';
import type { CliIO } from '../src/cli/format.js';
import { main } from '../src/cli/main.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * The bench report tells the truth: its CPU split adds up to the CPU per record measured in the
 * same rounds, the headline carries its spread, `--compare` gives both sides' error bars and says
 * whether they differ beyond noise, and the HTML page fits 1280 and 700 px wide windows with no
 * label cut off (checked on the layout headless Chromium computes, not on the markup).
 */

const CHROMIUM = '/usr/bin/chromium';
const dec = new TextDecoder();
const QUICK = ['--duration', '300ms', '--records', '20000', '--seed', '7', '-q', '--no-scaling'];

async function eddy(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = {
    stdout: {
      write: (c) => {
        stdout += typeof c === 'string' ? c : dec.decode(c);
        return true;
      },
    },
    stderr: {
      write: (c) => {
        stderr += typeof c === 'string' ? c : dec.decode(c);
        return true;
      },
    },
    stdin: Readable.from([]),
    cwd: process.cwd(),
  };
  const code = await main(['node', 'eddy', ...args], io);
  return { code, stdout, stderr };
}

/** One bench run with --compare, --json and --html; the module under a long path, to stress the labels. */
async function benchRun(t: import('ava').ExecutionContext): Promise<{ report: BenchReport; html: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-bench-report-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const deep = join(dir, 'a-rather-long-directory-name-for-modules', 'that-goes-on-for-a-while');
  await mkdir(deep, { recursive: true });
  const a = join(deep, 'filter-with-a-long-descriptive-file-name-for-the-report.wasm');
  await copyFile(wasmPath('filter'), a);
  const html = join(dir, 'report.html');
  const r = await eddy([
    'bench',
    '--wasm-file',
    a,
    '--compare',
    wasmPath('map-uppercase'),
    '--json',
    '--html',
    html,
    ...QUICK,
  ]);
  t.is(r.code, 0, r.stderr);
  return { report: JSON.parse(r.stdout) as BenchReport, html };
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

test.serial(
  'the CPU split adds up to the CPU per record of the same run; headline and compare carry their spreads',
  async (t) => {
    const { report: r } = await benchRun(t);
    const s = r.time_split_ns_per_record;
    t.deepEqual(Object.keys(s).sort(), ['host_decode', 'host_encode', 'host_gc', 'module', 'workers_other']);
    for (const [k, v] of Object.entries(s)) t.true(Number.isFinite(v) && v >= 0, `${k} = ${v}`);
    const total = Object.values(s).reduce((n, v) => n + v, 0);
    t.true(close(total, r.cpu_ns_per_record), `parts ${total} = measured ${r.cpu_ns_per_record}`);
    t.true(r.cpu_ns_per_record > 0);
    t.true(s.module > 0);
    // The headline: the run's CPU per record, between its cheapest and dearest round.
    const c = r.cost_ns_per_record;
    t.is(c.value, r.cpu_ns_per_record);
    t.true(c.min <= c.value && c.value <= c.max, `${c.min} ≤ ${c.value} ≤ ${c.max}`);
    t.true(close(c.spread, (c.max - c.min) / c.value));
    t.true(r.time_split_method.preemption_factor >= 1);
    t.regex(r.time_split_method.note, /add up to the measured CPU per record/);

    const cmp = r.compare!;
    for (const side of [cmp.a, cmp.b]) {
      const sp = side.records_per_sec_spread;
      t.true(sp.min <= side.records_per_sec && side.records_per_sec <= sp.max);
      t.true(side.cpu_ns_per_record.min <= side.cpu_ns_per_record.max);
    }
    t.true(cmp.ratio_min <= cmp.ratio && cmp.ratio <= cmp.ratio_max);
    // Within noise exactly when the per-round ratios fall on both sides of 1; the verdict says which.
    t.is(cmp.within_noise, cmp.ratio_min <= 1 && 1 <= cmp.ratio_max);
    t.regex(cmp.verdict, cmp.within_noise ? /within noise/ : /beyond noise/);
  },
);

test.serial('the HTML report fits 1280 and 700 px windows: nothing overflows, no label is cut', async (t) => {
  if (!existsSync(CHROMIUM))
    return t.fail(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (.ci/run does)`);
  const { report, html } = await benchRun(t);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  t.teardown(() => browser.close());
  for (const width of [1280, 700]) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${html}`);
    await page.waitForSelector('body[data-charts-rendered]');
    const found = (await page.evaluate(`(() => {
      const doc = document.documentElement;
      const bad = [];
      if (doc.scrollWidth > doc.clientWidth) bad.push('page scrolls sideways: ' + doc.scrollWidth + ' > ' + doc.clientWidth);
      for (const el of document.body.querySelectorAll('*')) {
        if (el.closest('svg') && el.tagName !== 'svg') continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        const name = el.tagName + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className : '');
        if (r.left < -0.5 || r.right > doc.clientWidth + 0.5) bad.push(name + ' spans ' + r.left.toFixed(1) + '..' + r.right.toFixed(1) + ' of ' + doc.clientWidth);
        if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible') bad.push(name + ' clips its content: ' + el.scrollWidth + ' > ' + el.clientWidth);
      }
      const charts = [...document.querySelectorAll('svg.chart')];
      for (const svg of charts) {
        const box = svg.getBoundingClientRect();
        if (box.width > doc.clientWidth) bad.push(svg.id + ' is wider than the window');
        for (const text of svg.querySelectorAll('text')) {
          const r = text.getBoundingClientRect();
          if (r.width === 0) continue;
          if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
            bad.push(svg.id + ' cuts the label "' + text.textContent + '" (' + r.left.toFixed(1) + '..' + r.right.toFixed(1) + ' in ' + box.left.toFixed(1) + '..' + box.right.toFixed(1) + ')');
        }
      }
      return { bad, charts: charts.map((s) => [s.id, s.getBoundingClientRect().width]), rendered: document.body.getAttribute('data-charts-rendered'), labels: [...document.querySelectorAll('svg.chart text')].map((x) => x.textContent) };
    })()`)) as { bad: string[]; charts: [string, number][]; rendered: string; labels: string[] };
    t.deepEqual(found.bad, [], `at ${width} px`);
    t.deepEqual(errors, []);
    t.is(found.rendered, '4', 'split, scaling, latency and compare charts laid out with bars');
    // The charts take the page's width, not a fixed 640 px.
    for (const [id, w] of found.charts) t.true(w > 640 || width < 700 + 1, `${id} is ${w} px wide at ${width}`);
    if (width === 1280) for (const [id, w] of found.charts) t.true(w > 700, `${id} grows with the window (${w} px)`);
    // The p99 marker's label is there, whole.
    t.true(found.labels.some((l) => l.startsWith('p99 ')));
    // The headline carries the CPU per record and its spread.
    const headline = await page.textContent('#headline');
    t.regex(headline ?? '', /costs [\d.]+k? ns of CPU per input record .*spread [\d.]+%/);
    t.regex(
      (await page.textContent('.verdict')) ?? '',
      new RegExp(report.compare!.within_noise ? 'within noise' : 'beyond noise'),
    );
    await page.close();
  }
});
