import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { fluvioEnginePath } from '../src/conformance/fluvio-engine.js';
import { setup } from './helpers/cli-process.js';
import { harnessReady } from './helpers/conformance.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * `eddy bench --compare-fluvio`, run as a user runs it (the real CLI in its own process): the
 * module, and a chain, through Fluvio's own engine (the conformance harness) and Eddy's in one
 * report, as text, JSON and HTML. Without the harness the command stops at once with one line
 * saying how to build it. Small inputs and short budgets: the numbers must be there and sane,
 * not precise.
 */

type Json = Record<string, unknown>;
const QUICK = ['--no-scaling', '--duration', '300ms', '--records', '8000', '--seed', '5', '-q'];

test('eddy bench --compare-fluvio without the harness: one line saying how to build it, before any measuring', async (t) => {
  const { eddy, work } = setup(t, 'eddy-bench-fluvio-');
  const missing = join(work, 'no-such-harness');
  const r = await eddy(['bench', '--wasm-file', wasmPath('filter'), '--compare-fluvio', ...QUICK], '', work, {
    env: { ...process.env, EDDY_FLUVIO_ENGINE: missing },
  });
  t.is(r.code, 1);
  t.is(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.true(lines[0]!.startsWith("Error: Fluvio's engine harness is not built"), r.stderr);
  t.true(lines[0]!.includes(missing));
  t.regex(lines[0]!, /bash conformance\/build-fluvio-engine\.sh/);
  t.regex(lines[0]!, /EDDY_FLUVIO_ENGINE/);
});

// CI builds the harness (.ci/run), so there this runs; elsewhere it is skipped only when the
// harness is not built (harnessReady: built, or in CI where a missing build fails the test).
const run = harnessReady ? test.serial : test.serial.skip;
const built = harnessReady
  ? ''
  : ` (skipped: no Fluvio engine harness at ${fluvioEnginePath()}; build it with bash conformance/build-fluvio-engine.sh)`;

run(`eddy bench --compare-fluvio: one module through both engines, as JSON, text and HTML${built}`, async (t) => {
  const { eddy, work } = setup(t, 'eddy-bench-fluvio-');
  const json = await eddy(['bench', '--wasm-file', wasmPath('filter'), '--compare-fluvio', '--json', ...QUICK]);
  t.is(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as Json;
  const f = report['fluvio'] as Json;
  t.truthy(f, 'the report has a fluvio section');
  for (const k of [
    'fluvio_records_per_sec',
    'eddy_records_per_sec',
    'ratio',
    'eddy_workers_vs_fluvio',
    'fluvio_cpu_ns_per_record',
    'eddy_cpu_ns_per_record',
    'cpu_ratio',
  ]) {
    t.is(typeof f[k], 'number', k);
    t.true(Number.isFinite(f[k] as number) && (f[k] as number) > 0, `${k} > 0`);
  }
  t.is(f['rounds'], 5);
  t.is(f['harness'], fluvioEnginePath());
  t.true((f['spread'] as number) >= 0);
  t.is(f['workers'], report['workers']);
  // The ratio is of the per-round ratios, so it lies between the extremes the medians allow.
  t.true(Math.abs(Math.log((f['eddy_records_per_sec'] as number) / (f['fluvio_records_per_sec'] as number))) < 20);

  const text = await eddy([
    'bench',
    '--wasm-file',
    wasmPath('filter'),
    '--compare-fluvio',
    '--html',
    'report.html',
    ...QUICK,
  ]);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /Fluvio's engine, one thread +[\d.]+[kM]? +[\d.]+/);
  t.regex(text.stdout, /Eddy's engine, one thread +[\d.]+[kM]?/);
  t.regex(text.stdout, /ratio Eddy's engine \/ Fluvio's engine: \d+\.\d{3}/);
  t.regex(text.stdout, /CPU per record of each engine's thread: Fluvio [\d.]+ ns, Eddy [\d.]+ ns/);
  const html = await readFile(join(work, 'report.html'), 'utf8');
  t.true(html.includes('id="chart-fluvio"'));
  t.true(html.includes('Fluvio&#39;s engine, one thread'));
});

run(`eddy bench --compare-fluvio on a chain with parameters (transforms file, -e)${built}`, async (t) => {
  const { eddy, work } = setup(t, 'eddy-bench-fluvio-');
  await writeFile(
    join(work, 'chain.yaml'),
    `transforms:\n  - uses: ${wasmPath('filter-param')}\n  - uses: ${wasmPath('map-uppercase')}\n`,
  );
  const r = await eddy(['bench', '-t', 'chain.yaml', '-e', 'key=b', '--compare-fluvio', '--json', ...QUICK]);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Json;
  t.is((report['module'] as { steps: Json[] }).steps.map((s) => s['kind']).join(','), 'filter,map');
  const f = report['fluvio'] as Json;
  t.true((f['fluvio_records_per_sec'] as number) > 0);
  t.true((f['eddy_records_per_sec'] as number) > 0);
});
