import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import test from 'ava';
import { runPipelineBench } from '../bench/pipeline.js';
import { compileRecordTemplate, prng } from '../src/bench/input.js';
import { histogram, percentile, spread } from '../src/bench/stats.js';
import type { CliIO } from '../src/cli/format.js';
import { main } from '../src/cli/main.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * `eddy bench`: --json on SDK examples of several kinds (a valid object with the required fields
 * and the selectivity each kind must have), --compare, --html rendered by headless Chromium, and
 * agreement with bench/pipeline on the filter example. Small inputs and short budgets: the point is
 * that the numbers are there and sane, not their precision.
 */

const dec = new TextDecoder();
const cores = availableParallelism();
const CHROMIUM = '/usr/bin/chromium';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function eddy(args: string[], cwd = process.cwd()): Promise<Run> {
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
    cwd,
  };
  const code = await main(['node', 'eddy', ...args], io);
  return { code, stdout, stderr };
}

type Json = Record<string, unknown>;

const QUICK = ['--duration', '300ms', '--records', '20000', '--seed', '7', '-q'];

function checkReport(t: import('ava').ExecutionContext, r: Json, workers: number[]): void {
  const num = (k: string) => {
    t.is(typeof r[k], 'number', `${k} is a number`);
    t.true(Number.isFinite(r[k] as number), `${k} is finite`);
    return r[k] as number;
  };
  t.true(num('records_per_sec') > 0);
  t.true(num('records_out_per_sec') >= 0);
  t.true(num('mb_per_sec_in') > 0);
  t.true(num('mb_per_sec_out') >= 0);
  t.true(num('ns_per_record') > 0);
  t.true(Math.abs(num('ns_per_record') - 1e9 / num('records_per_sec')) < 1e-6 * num('ns_per_record'));
  num('selectivity');
  t.true(num('batch_latency_ms_p50') > 0);
  t.true(num('batch_latency_ms_p99') >= num('batch_latency_ms_p50'));
  t.true(num('spread') >= 0);
  t.true(num('peak_module_memory_bytes') >= 65536);
  t.is(num('module_recycles'), 0, 'an SDK module frees its outputs: never recycled');
  t.true(num('instantiate_ms') >= 0);
  t.true(num('init_ms') >= 0);
  t.true(num('compile_ms') > 0);
  t.true(num('engine_single_thread_records_per_sec') > 0);
  t.true(num('efficiency') > 0);
  const split = r['time_split_ns_per_record'] as Json;
  for (const k of ['host_encode', 'host_decode', 'host_gc', 'module', 'workers_other']) {
    t.is(typeof split[k], 'number', `time split ${k}`);
    t.true((split[k] as number) >= 0, `time split ${k} ≥ 0`);
  }
  t.true((split['module'] as number) > 0);
  const scaling = r['scaling'] as { workers: number; records_per_sec: number }[];
  t.deepEqual(
    scaling.map((p) => p.workers),
    workers,
  );
  for (const p of scaling) t.true(p.records_per_sec > 0);
  const h = r['batch_latency_histogram_ms'] as { counts: number[] };
  t.true(h.counts.reduce((a, b) => a + b, 0) > 0);
}

test.serial(
  'eddy bench --json on the filter example: one JSON object, every field, scaling over W = 1..cores',
  async (t) => {
    const r = await eddy(['bench', '--wasm-file', wasmPath('filter'), '--json', ...QUICK]);
    t.is(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Json; // exactly one JSON object on stdout
    checkReport(
      t,
      report,
      Array.from({ length: cores }, (_, i) => i + 1),
    );
    // Random a–z values of 100 bytes: a value lacks 'a' with probability (25/26)^100 ≈ 0.02.
    t.true((report['selectivity'] as number) > 0.95 && (report['selectivity'] as number) < 1);
    t.is(report['errors'], 0);
    t.is((report['input'] as Json)['records'], 20000);
    t.is((report['module'] as { steps: Json[] }).steps[0]!['kind'], 'filter');
    t.is(report['workers'], cores);
  },
);

test.serial('eddy bench --json on aggregate-sum (numbers from a JSON template) and map-uppercase', async (t) => {
  const sum = await eddy([
    'bench',
    '--wasm-file',
    wasmPath('aggregate-sum'),
    '--json-template',
    '{{int:0:100}}',
    '--json',
    '--no-scaling',
    ...QUICK,
  ]);
  t.is(sum.code, 0, sum.stderr);
  const a = JSON.parse(sum.stdout) as Json;
  checkReport(t, a, [cores]);
  t.is(a['selectivity'], 1); // one running sum per input record
  t.is(a['errors'], 0);

  const map = await eddy([
    '--workers',
    '1',
    'bench',
    '--wasm-file',
    wasmPath('map-uppercase'),
    '--json',
    '--no-scaling',
    '--batch-size',
    '500',
    ...QUICK,
  ]);
  t.is(map.code, 0, map.stderr);
  const m = JSON.parse(map.stdout) as Json;
  checkReport(t, m, [1]);
  t.is(m['selectivity'], 1);
  t.is(m['workers'], 1);
  t.is((m['input'] as Json)['batch_size'], 500);
});

test.serial(
  'eddy bench: a module that fails on the input is measured, with the errors counted and a warning',
  async (t) => {
    // map-double wants integers; random letters make every record fail (skipped so the run goes on).
    const r = await eddy([
      'bench',
      '--wasm-file',
      wasmPath('map-double'),
      '--json',
      '--no-scaling',
      '--duration',
      '200ms',
      '--records',
      '2000',
      '--record-size',
      '8',
      '-q',
    ]);
    t.is(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Json;
    t.true((j['errors'] as number) > 0);
    t.regex(r.stderr, /failed in the module and were skipped/);
    t.is(j['selectivity'], 0);
  },
);

test.serial('eddy bench: init parameters, init errors and usage errors', async (t) => {
  const ok = await eddy([
    'bench',
    '--wasm-file',
    wasmPath('filter-param'),
    '-e',
    'key=a',
    '--json',
    '--no-scaling',
    ...QUICK,
  ]);
  t.is(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout) as Json;
  t.true((j['selectivity'] as number) > 0.95);
  t.deepEqual((j['module'] as { steps: Json[] }).steps[0]!['params'], { key: 'a' });
  t.true((j['init_ms'] as number) >= 0);

  const noKey = await eddy(['bench', '--wasm-file', wasmPath('filter-param'), '--no-scaling', ...QUICK]);
  t.is(noKey.code, 1);
  t.regex(noKey.stderr, /Missing param key/);

  // A trap is not a per-record error: nothing to measure, and the message says what to do.
  const dir = await mkdtemp(join(tmpdir(), 'eddy-bench-trap-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'boom.txt'), 'apple\nboom\n');
  const trap = await eddy(
    ['bench', '--wasm-file', wasmPath('trap'), '--file', 'boom.txt', '--no-scaling', ...QUICK],
    dir,
  );
  t.is(trap.code, 1);
  t.regex(trap.stderr, /cannot run on this input.*unreachable executed[\s\S]*--json-template/);

  const none = await eddy(['bench']);
  t.is(none.code, 1);
  t.regex(none.stderr, /no module: give --wasm-file/);
  const both = await eddy(['bench', '--wasm-file', 'a.wasm', '--file', 'x', '--json-template', '{{seq}}']);
  t.regex(both.stderr, /--file and --json-template cannot be used together/);
  const badTpl = await eddy(['bench', '--wasm-file', wasmPath('filter'), '--json-template', '{"x":{{nope}}}']);
  t.regex(badTpl.stderr, /unknown placeholder \{\{nope\}\}/);
});

test.serial('eddy bench --file (lines repeated to --records) and a transforms chain', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'eddy-bench-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'in.txt'), 'apple\nbanana\ncherry\nkiwi\n');
  await writeFile(
    join(dir, 'chain.yaml'),
    `transforms:\n  - uses: ${wasmPath('filter')}\n  - uses: ${wasmPath('map-uppercase')}\n`,
  );
  const r = await eddy(
    [
      'bench',
      '-t',
      'chain.yaml',
      '--file',
      'in.txt',
      '--json',
      '--no-scaling',
      '--duration',
      '300ms',
      '--records',
      '8000',
      '-q',
    ],
    dir,
  );
  t.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Json;
  t.is(j['selectivity'], 0.5); // apple and banana contain an 'a', cherry and kiwi do not
  t.is((j['module'] as { steps: Json[] }).steps.map((s) => s['kind']).join(','), 'filter,map');
  t.regex((j['input'] as Json)['description'] as string, /4 line\(s\) of .*in\.txt, repeated to 8000 records/);
});

test.serial('eddy bench --compare runs two modules on identical input and reports the ratio', async (t) => {
  const r = await eddy([
    'bench',
    '--wasm-file',
    wasmPath('filter'),
    '--compare',
    wasmPath('map-uppercase'),
    '--json',
    '--no-scaling',
    ...QUICK,
  ]);
  t.is(r.code, 0, r.stderr);
  const c = (JSON.parse(r.stdout) as Json)['compare'] as {
    a: Json;
    b: Json;
    ratio: number;
    spread: number;
    rounds: number;
    engine_ratio: number;
  };
  t.truthy(c);
  t.true(c.rounds >= 3);
  t.true(c.ratio > 0 && Number.isFinite(c.ratio));
  t.true(c.engine_ratio > 0);
  t.true((c.a['selectivity'] as number) < 1);
  t.is(c.b['selectivity'], 1);
  t.true((c.a['records_per_sec'] as number) > 0 && (c.b['records_per_sec'] as number) > 0);
  // The table form names both and prints the ratio.
  const table = await eddy([
    'bench',
    '--wasm-file',
    wasmPath('filter'),
    '--compare',
    wasmPath('filter'),
    '--no-scaling',
    ...QUICK,
  ]);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /ratio .*filter\.wasm \/ .*filter\.wasm: [\d.]+ through the pool/);
  t.regex(table.stdout, /records\/s/);
});

test.serial('eddy bench --html writes a self-contained report whose charts render in headless Chromium', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (.ci/run does)`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'eddy-bench-html-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'report.html');
  const r = await eddy(['bench', '--wasm-file', wasmPath('filter'), '--html', file, ...QUICK]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /eddy bench: .*filter\.wasm \(filter\)/);
  const html = await readFile(file, 'utf8');
  t.notRegex(html, /<(script|link|img)[^>]+(src|href)=/i, 'nothing loaded from elsewhere');
  for (const id of ['chart-scaling', 'chart-latency', 'chart-split']) t.regex(html, new RegExp(`<svg id="${id}"`));

  const profile = await mkdtemp(join(tmpdir(), 'eddy-chromium-'));
  t.teardown(() => rm(profile, { recursive: true, force: true }));
  const { stdout } = await promisify(execFile)(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      '--virtual-time-budget=2000',
      '--dump-dom',
      `file://${file}`,
    ],
    { timeout: 30_000, maxBuffer: 16 << 20 },
  );
  // The page's inline script counts the chart SVGs that got a non-empty layout box and have bars.
  t.regex(stdout, /<body[^>]*data-charts-rendered="3"/);
  t.is((stdout.match(/<svg id="chart-/g) ?? []).length, 3);
});

test.serial(
  'eddy bench and bench/pipeline both run the filter example through the pool (same records shape)',
  async (t) => {
    const w = Math.min(2, cores);
    const cli = await eddy([
      '--workers',
      String(w),
      'bench',
      '--wasm-file',
      wasmPath('filter'),
      '--json',
      '--no-scaling',
      '--duration',
      '1s',
      '--records',
      '100000',
      '--seed',
      '3',
      '-q',
    ]);
    t.is(cli.code, 0, cli.stderr);
    const a = (JSON.parse(cli.stdout) as Json)['records_per_sec'] as number;
    // One batch per submission on both sides (eddy bench's default, and Eddy's consume path).
    const p = await runPipelineBench({
      records: 200_000,
      partitions: w,
      rounds: 5,
      workers: [w],
      batchesPerSubmit: 16,
      log: () => {},
      quiet: true,
    });
    const b = (p['scaling'] as { records_per_sec: number }[])[0]!.records_per_sec;
    t.log(`eddy bench ${Math.round(a)} records/s, bench/pipeline ${Math.round(b)} records/s at W=${w}`);
    // How close the two rates are is a speed question for bench/ (a busy machine moves it 3× either
    // way); here both must run the same pool to a positive rate.
    t.true(a > 0 && b > 0, `ratio ${a / b}`);
  },
);

test('input: templates and the generator are deterministic for a seed; placeholders', (t) => {
  const gen = compileRecordTemplate(
    '{"id":"{{seq}}","n":{{int:5:7}},"w":"{{word}}","c":"{{choice:x|y}}","b":{{bool}},"f":{{float:1:2}},"t":{{ts}},"u":"{{uuid}}","s":"{{text:4}}"}',
  );
  const r1 = prng(9),
    r2 = prng(9);
  for (let i = 0; i < 50; i++) {
    const s = gen(i, r1);
    t.is(s, gen(i, r2));
    const o = JSON.parse(s) as Record<string, unknown>;
    t.is(o['id'], String(i));
    t.true([5, 6, 7].includes(o['n'] as number));
    t.regex(o['w'] as string, /^[a-z]{3,10}$/);
    t.true(['x', 'y'].includes(o['c'] as string));
    t.is(typeof o['b'], 'boolean');
    t.true((o['f'] as number) >= 1 && (o['f'] as number) <= 2);
    t.regex(o['u'] as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    t.is((o['s'] as string).length, 4);
  }
  t.throws(() => compileRecordTemplate('no placeholders'), { message: /no placeholder/ });
  t.throws(() => compileRecordTemplate('{{int:3:1}}'), { message: /MIN ≤ MAX/ });
  t.throws(() => compileRecordTemplate('{{seq'), { message: /not closed/ });
});

test('stats: percentile, spread, histogram', (t) => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  t.is(percentile(xs, 50), 50);
  t.is(percentile(xs, 99), 99);
  t.is(percentile(xs, 100), 100);
  t.is(spread([10, 10, 10]), 0);
  t.is(spread([9, 10, 11]), 0.2);
  const h = histogram(xs, 10);
  t.is(
    h.counts.reduce((a, b) => a + b, 0),
    100,
  );
  t.is(h.counts.length, 10);
});
