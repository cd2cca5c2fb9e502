import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { Status } from '../src/index.js';
import { eddyProcesses, until } from './helpers/eddy-process.js';
import { tempDir } from './helpers/storage.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * A real Prometheus (Debian's package, started by test/services/prometheus.sh with a 1 s scrape
 * interval) scrapes a real `eddy run --http` while records are produced through it. Every wait is
 * for a condition; the deadlines are generous.
 */

const script = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'test', 'services', 'prometheus.sh');

/** Runs a PromQL instant query; returns the single scalar of a one-series vector (undefined when empty). */
async function query(prom: string, q: string, time?: number): Promise<number | undefined> {
  const params = new URLSearchParams({ query: q, ...(time !== undefined ? { time: String(time) } : {}) });
  const r = await fetch(`${prom}api/v1/query?${params}`);
  const body = (await r.json()) as { status: string; data: { result: { value: [number, string] }[] }; error?: string };
  if (body.status !== 'success') throw new Error(`${q}: ${body.error}`);
  const v = body.data.result[0]?.value[1];
  return v === undefined ? undefined : Number(v);
}

async function waitFor<T>(f: () => Promise<T | undefined>, what: string, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('Prometheus scrapes eddy run: the records counted match those produced, and lag goes to 0', async (t) => {
  const install = spawnSync('bash', [script, '--install-only'], { encoding: 'utf8' });
  if (install.status !== 0)
    return t.fail(`Prometheus is missing and could not be installed: ${install.stderr.trim()} (.ci/run installs it)`);

  const dir = tempDir(t, 'eddy-prom-');
  const env = { ...process.env, EDDY_DATA_DIR: join(dir, 'data'), EDDY_WORKERS: '2' };
  const { start, ok } = eddyProcesses(t, dir, env);
  await ok(['topic', 'create', 'in', '-p', '2']);
  await ok(['topic', 'create', 'out']);
  await ok([
    'derive',
    'create',
    'keep-a',
    '--source',
    'in',
    '--target',
    'out',
    '--transform',
    JSON.stringify({ uses: wasmPath('filter') }),
  ]);

  const run = start(['run', '--http', '127.0.0.1:0']);
  await until(() => /status page on http:\/\/127\.0\.0\.1:\d+\//.test(run.err()), 60_000);
  const eddyUrl = /status page on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(run.err())![1]!;

  const prom = spawn('bash', [script, new URL(eddyUrl).host, join(dir, 'prometheus')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (prom.exitCode === null) prom.kill('SIGTERM');
  });
  let promOut = '';
  prom.stdout.on('data', (c: Buffer) => {
    promOut += c.toString();
  });
  prom.stderr.on('data', (c: Buffer) => {
    promOut += c.toString();
  });
  await until(() => /listening on http/.test(promOut) || prom.exitCode !== null, 60_000);
  const promUrl = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(promOut)?.[1];
  if (!promUrl) return t.fail(`prometheus did not start: ${promOut}`);

  // Before anything is produced: Prometheus has scraped the stream at 0.
  await waitFor(
    async () => ((await query(promUrl, 'sum(eddy_records_in_total{stream="keep-a"})')) === 0 ? true : undefined),
    'the first scrape',
  );
  // When that sample was scraped: the start of the window the rate is checked over.
  const t0 = (await query(promUrl, 'max(timestamp(eddy_records_in_total{stream="keep-a"}))'))!;
  t.is(await query(promUrl, 'up{job="eddy"}'), 1);

  // Rounds of records through the daemon; each round's total must reach Prometheus exactly.
  let produced = 0;
  for (let round = 1; round <= 4; round++) {
    const lines = `${Array.from({ length: 500 }, (_, i) => (i % 2 ? `apple ${round}.${i}` : `plum ${round}.${i}`)).join('\n')}\n`;
    await ok(['produce', 'in'], lines);
    produced += 500;
    const want = produced;
    await waitFor(
      async () => ((await query(promUrl, 'sum(eddy_records_in_total{stream="keep-a"})')) === want ? true : undefined),
      `Prometheus to count ${want} records`,
    );
  }
  t.true((await query(promUrl, 'sum(rate(eddy_records_in_total{stream="keep-a"}[10m]))'))! > 0);
  // Over the whole scrape window since before the first record, the counted rate is the produced rate, exactly.
  // Evaluated exactly `window` seconds after that first sample (at or just after now: the latest samples hold the final count).
  const window = Math.ceil(Date.now() / 1000 - t0);
  const at = t0 + window;
  const rate = await query(
    promUrl,
    `(sum(eddy_records_in_total{stream="keep-a"}) - sum(eddy_records_in_total{stream="keep-a"} offset ${window}s)) / ${window}`,
    at,
  );
  t.is(rate, produced / window);
  await waitFor(
    async () => ((await query(promUrl, 'sum(eddy_lag_records{stream="keep-a"})')) === 0 ? true : undefined),
    'lag 0',
  );
  await waitFor(
    async () =>
      (await query(promUrl, 'sum(eddy_records_out_total{stream="keep-a"})')) === produced / 2 ? true : undefined,
    'records out',
  );
  t.true((await query(promUrl, 'sum(eddy_batch_latency_seconds_count{stream="keep-a"})'))! > 0);
  t.true((await query(promUrl, 'sum(eddy_module_invocations_total{stream="keep-a"})'))! > 0);

  // One source of truth: `eddy derive list` (another process, reading the data directory) shows what the endpoint serves.
  const status = (await (await fetch(`${eddyUrl}api/status`)).json()) as Status;
  const list = spawnSync(
    process.execPath,
    [join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'eddy.js'), 'derive', 'list', '--json'],
    { env, encoding: 'utf8' },
  );
  const listed = JSON.parse(list.stdout) as {
    name: string;
    partitions: { offset: number; written: number; skipped: number; lag: number }[];
  }[];
  t.deepEqual(
    listed[0]!.partitions.map((p) => [p.offset, p.written, p.skipped, p.lag]),
    status.streams[0]!.partitions.map((p) => [p.recordsIn, p.recordsOut, p.skipped, p.lag]),
  );
  // And `eddy topic describe` shows what the endpoint serves for the source topic, which Prometheus has too.
  const described = spawnSync(
    process.execPath,
    [
      join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'eddy.js'),
      'topic',
      'describe',
      'in',
      '-O',
      'json',
    ],
    { env, encoding: 'utf8' },
  );
  const topic = JSON.parse(described.stdout) as {
    records: number;
    partitionInfo: Status['topics'][number]['partitions'];
  };
  t.deepEqual(topic.partitionInfo, status.topics.find((x) => x.name === 'in')!.partitions);
  t.is(topic.records, produced);
  await waitFor(
    async () => ((await query(promUrl, 'sum(eddy_topic_records{topic="in"})')) === produced ? true : undefined),
    'topic records',
  );

  run.child.kill('SIGTERM');
  t.is(await run.exited, 0);
});
