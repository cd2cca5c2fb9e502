import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type IntervalHistogram, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { type DeriveConfig, DerivedStream } from '../src/coordinator/derived.js';
import { ModuleResolver } from '../src/coordinator/resolve.js';
import { type Eddy, open } from '../src/eddy.js';
import type { Blocking } from '../src/observe/blocking.js';
import { createRegistry } from '../src/observe/metrics.js';
import { Renderings } from '../src/observe/rendering.js';
import { type ObserveServer, serveObserve } from '../src/observe/server.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import { median, spread, table, writeResult } from './lib/harness.js';
import { sampleRecords } from './lib/records.js';

/**
 * What watching costs the pipeline. The SDK filter (examples/filter) runs as a derived stream over
 * 100-byte records, from offset 0 until its lag is 0, in rounds of:
 *   bare     — a DerivedStream nobody observes (no telemetry, no server, no sampler);
 *   observed — as `eddy run --http`: tracked by the telemetry, the server and its sampler up, and
 *              one client scraping /metrics every second (Prometheus at the tests' interval);
 *   stormed  — as observed, but 100 clients scraping at once every second (100 Prometheus servers
 *              at the 1 s interval the tests use);
 *   stormed4 — as stormed, every 250 ms (400 requests a second: harsher than the goal asks).
 * The modes' order rotates from round to round, so none always runs first after a cleanup. In
 * every mode the stream's config is saved, as `eddy run`'s are, so the scrapes render its series
 * (read from its committed checkpoints); it is deleted after its round. The clients run in
 * another process. Reported: median per-round ratios to bare of records/s and of CPU per record
 * (this process, all threads; targets: cost ≤ 2 % observed, ≤ 5 % under the 100 scrapers); the
 * longest time the coordinator's event loop was held in one go for the endpoint while the stream
 * ran (answering the HTTP thread's question for a snapshot, or for health and readiness; the
 * requests and renders run on that thread), in wall time, so preemption by other processes counts
 * too (target ≤ 1 ms); the
 * event-loop delay while the stream ran under the storm; and the CPU of one /metrics render taken
 * as a scrape takes it, every 250 ms.
 */

interface Options {
  records: number;
  partitions: number;
  rounds: number;
  workers: number;
  /** Have each hold read how long it waited for a core, in the rounds too (costs CPU: not for the ratios). */
  runQueue?: boolean;
  /** The modes to run (all by default); one alone is for profiling it (`--modes observed`). */
  modes?: Mode[];
  quiet?: boolean;
}

type Mode = 'bare' | 'observed' | 'stormed' | 'stormed4';
const MODES: Mode[] = ['bare', 'observed', 'stormed', 'stormed4'];
/** Scrape clients and their period, per mode. */
const CLIENTS: Record<Exclude<Mode, 'bare'>, { n: number; periodMs: number }> = {
  observed: { n: 1, periodMs: 1000 },
  stormed: { n: 100, periodMs: 1000 },
  stormed4: { n: 100, periodMs: 250 },
};

async function produce(eddy: Eddy, records: number, partitions: number): Promise<void> {
  await eddy.createTopic('in', { partitions });
  const chunk = 10_000;
  for (let i = 0; i < records; i += chunk) {
    const rs = sampleRecords(Math.min(chunk, records - i), 100, i);
    await eddy.produce(
      'in',
      rs.map((r, j) => ({ value: r.value!, partition: (i + j) % partitions })),
    );
  }
}

/** Runs one derived stream from offset 0 to lag 0; returns records/s and CPU ns per record (all threads of this process). */
async function runOnce(
  eddy: Eddy,
  resolver: ModuleResolver,
  round: number,
  mode: Mode,
  records: number,
  partitions: number,
  running: { start(): void; end(): void },
): Promise<{ rate: number; cpuNs: number }> {
  const target = `out-${mode}-${round}`;
  await eddy.createTopic(target);
  const config: DeriveConfig = {
    name: `f-${mode}-${round}`,
    source: 'in',
    target,
    transforms: [{ uses: wasmPath('filter'), params: {}, lookback: null }],
  };
  await eddy.createDerived(config);
  const d = new DerivedStream(config, eddy.storage, eddy.pool, resolver);
  const caughtUp = new Set<number>();
  const done = new Promise<void>((resolve) =>
    d.on('lag', (l) => {
      if (l.lag === 0) {
        caughtUp.add(l.partition);
        if (caughtUp.size === partitions) resolve();
      }
    }),
  );
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const started = d.start();
  if (mode !== 'bare') eddy.telemetry.track(d, started);
  await started;
  running.start();
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  running.end();
  eddy.telemetry.untrack(config.name);
  await d.stop();
  await eddy.deleteDerived(config.name);
  await eddy.deleteTopic(target);
  return { rate: records / seconds, cpuNs: ((cpu.user + cpu.system) * 1000) / records };
}

/** `n` scrape clients in another process, all at once every `periodMs` (bench/lib/scrapers.ts). */
async function scrapers(
  url: string,
  n: number,
  periodMs: number,
): Promise<{ stop(): Promise<{ answers: number; cpuMs: number }> }> {
  const child = spawn(
    process.execPath,
    [new URL('./lib/scrapers.js', import.meta.url).pathname, url, String(n), String(periodMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  await new Promise<void>((resolve) =>
    child.stdout.on('data', () => {
      if (out.startsWith('ready')) resolve();
    }),
  );
  return {
    async stop() {
      const exited = new Promise((r) => child.on('close', r));
      child.kill('SIGTERM');
      await exited;
      const [, answers, cpuMs] = out.split('\n');
      return { answers: Number(answers ?? 0), cpuMs: Number(cpuMs ?? 0) };
    },
  };
}

/**
 * CPU of one /metrics render (snapshot and text) and of the snapshot alone, taken as scrapes take
 * them: one every 250 ms, the code not kept hot by a loop, the server idle otherwise. Then the
 * holds of the coordinator's event loop for the HTTP thread's snapshots under 100 scrapers every
 * 250 ms (src/observe/blocking.ts).
 */
async function renderCost(eddy: Eddy): Promise<{
  metrics_render_ms: number;
  metrics_served_ms: number;
  status_snapshot_ms: number;
  idle_storm_block: IdleStormBlock;
}> {
  // With one saved stream over the bench's topic, so its series are rendered too.
  await eddy.createTopic('out-render');
  await eddy.createDerived({
    name: 'f-render',
    source: 'in',
    target: 'out-render',
    transforms: [{ uses: wasmPath('filter'), params: {}, lookback: null }],
  });
  // Rendered here, on this thread, to time them alone (the server renders in its HTTP thread).
  let taken = eddy.telemetry.status();
  const registry = createRegistry(eddy.telemetry.latency, () => taken);
  // As the HTTP thread renders: families whose rows did not change keep their last text.
  let served: Renderings | null = null;
  const servedRegistry = createRegistry(eddy.telemetry.latency, () => served!.source());
  served = new Renderings(servedRegistry);
  const n = 20;
  const pause = () => new Promise((r) => setTimeout(r, 250));
  const render: number[] = [];
  const snapshot: number[] = [];
  const reused: number[] = [];
  const ms = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  for (let i = 0; i < n; i++) {
    await pause();
    const cpu3 = process.cpuUsage();
    await served.metrics(eddy.telemetry.status());
    reused.push(ms(process.cpuUsage(cpu3)));
    await pause();
    const cpu = process.cpuUsage();
    taken = eddy.telemetry.status();
    await registry.metrics();
    render.push(ms(process.cpuUsage(cpu)));
    await pause();
    const cpu2 = process.cpuUsage();
    eddy.telemetry.status();
    snapshot.push(ms(process.cpuUsage(cpu2)));
  }
  // The holds of the event loop with no stream running: the serving code alone (and what the
  // machine's other processes take from it), each hold also reading how long it waited for a core.
  const server = await serveObserve(eddy.telemetry, '127.0.0.1:0');
  server.measureRunQueue(true);
  const prom = await scrapers(`${server.url}metrics`, 100, 250);
  await new Promise((r) => setTimeout(r, 1000));
  const since = gcs.length;
  server.resetBlocking();
  await new Promise((r) => setTimeout(r, 5000));
  const held = server.blocking;
  await prom.stop();
  await server.close();
  await eddy.deleteDerived('f-render');
  await eddy.deleteTopic('out-render');
  const during = gcs.slice(since);
  return {
    metrics_render_ms: median(render),
    metrics_served_ms: median(reused),
    status_snapshot_ms: median(snapshot),
    idle_storm_block: {
      ...holds(held),
      ...explain(held.long),
      gc_pauses: during.length,
      longest_gc_ms: Math.max(0, ...during.map((g) => g.end - g.start)),
    },
  };
}

/**
 * Garbage collections seen (performance.now() times): a young-generation collection that the
 * allocations trigger pauses whatever runs, so holds it overlaps are told apart.
 */
const gcs: { start: number; end: number }[] = [];

/**
 * What the holds over 1 ms were: paused by a GC; spent mostly (half or more) waiting for a core
 * (measured only with the run-queue reading on); and the longest of them with its wait taken out,
 * which is the time serving itself ran.
 */
function explain(long: Blocking['long']) {
  const inGc = (h: Blocking['long'][number]) => gcs.some((g) => g.start < h.at + h.ms && g.end > h.at);
  const measured = long.some((h) => h.waitedMs !== undefined);
  const waited = long.filter((h) => (h.waitedMs ?? 0) >= h.ms / 2);
  const own = long.filter((h) => !inGc(h)).map((h) => h.ms - (h.waitedMs ?? 0));
  return {
    over_1ms_during_gc: long.filter(inGc).length,
    over_1ms_mostly_waiting: measured ? waited.length : null,
    // Still over 1 ms with the wait taken out (GC pauses included): serving's own long holds.
    over_1ms_less_waits: measured ? long.filter((h) => h.ms - (h.waitedMs ?? 0) > 1).length : null,
    max_ms_outside_gc_less_waits: Math.max(0, ...own),
  };
}

/** Holds of the coordinator's event loop answering the HTTP thread, wall time (preemption by other processes included). */
function holds(b: Blocking) {
  return { holds: b.count, over_1ms: b.overMs, p50_ms: b.p50Ms, p99_ms: b.p99Ms, p999_ms: b.p999Ms, max_ms: b.maxMs };
}

type Holds = ReturnType<typeof holds>;
interface IdleStormBlock extends Holds, ReturnType<typeof explain> {
  gc_pauses: number;
  longest_gc_ms: number;
}

/** Holds of several rounds together: counts summed, the worst round's percentiles; what the long ones were. */
function mergeHolds(bs: Blocking[]): Holds & ReturnType<typeof explain> {
  const worst = (f: (b: Blocking) => number) => Math.max(0, ...bs.map(f));
  return {
    holds: bs.reduce((a, b) => a + b.count, 0),
    over_1ms: bs.reduce((a, b) => a + b.overMs, 0),
    p50_ms: worst((b) => b.p50Ms),
    p99_ms: worst((b) => b.p99Ms),
    p999_ms: worst((b) => b.p999Ms),
    max_ms: worst((b) => b.maxMs),
    ...explain(bs.flatMap((b) => b.long)),
  };
}

const overOne = (b: Holds & ReturnType<typeof explain>) =>
  b.over_1ms_mostly_waiting === null
    ? 'holds over 1 ms: paused by a GC; longest of the others'
    : 'holds over 1 ms: paused by a GC; half or more waiting for a core; over 1 ms without the wait; longest of those not in a GC, its wait taken out';
const explained = (b: Holds & ReturnType<typeof explain>) =>
  [
    `${b.over_1ms_during_gc} of ${b.over_1ms}`,
    ...(b.over_1ms_mostly_waiting === null
      ? []
      : [`${b.over_1ms_mostly_waiting} of ${b.over_1ms}`, `${b.over_1ms_less_waits} still over 1 ms without it`]),
    `${b.max_ms_outside_gc_less_waits.toFixed(2)} ms`,
  ].join('; ');

export async function runObserveBench(o: Options): Promise<Record<string, unknown>> {
  const log = o.quiet ? () => {} : (s: string) => process.stdout.write(`${s}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-observe-'));
  const eddy = await open(dir, { workers: o.workers, retentionCheckMs: 0 });
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration });
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  try {
    await produce(eddy, o.records, o.partitions);
    const resolver = new ModuleResolver(eddy.storage.modules);
    const none = () => Object.fromEntries(MODES.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
    const rates = none();
    const cpus = none();
    const blocks = Object.fromEntries(MODES.map((m) => [m, [] as Blocking[]])) as Record<Mode, Blocking[]>;
    const answers = none();
    const clientCpuMs = none();
    // A monitor per round: one enabled again after a pause would count the pause as a delay.
    let loop: IntervalHistogram | null = null;
    const delays: { p99: number; max: number }[] = [];
    // One warm-up round, not counted; then the modes in an order that rotates by one each round.
    const modes = o.modes ?? MODES;
    for (let round = -1; round < o.rounds; round++) {
      const order = modes.map((_, i) => modes[(i + Math.max(0, round)) % modes.length]!);
      for (const mode of order) {
        // The server (and its once-a-second sampler) is up only while observed.
        const server: ObserveServer | null = mode === 'bare' ? null : await serveObserve(eddy.telemetry, '127.0.0.1:0');
        // Costs ~10 µs a hold: only when asked, to tell preemption from serving's own work.
        if (o.runQueue) server?.measureRunQueue(true);
        const clients = mode === 'bare' ? null : CLIENTS[mode];
        const prom = server && clients ? await scrapers(`${server.url}metrics`, clients.n, clients.periodMs) : null;
        // Blocking and delay are taken while the stream runs, not while the round sets up or cleans up.
        const r = await runOnce(eddy, resolver, round + 1, mode, o.records, o.partitions, {
          start() {
            server?.resetBlocking();
            if (round >= 0 && mode === 'stormed') {
              loop = monitorEventLoopDelay({ resolution: 1 });
              loop.enable();
            }
          },
          end() {
            if (loop) {
              loop.disable();
              delays.push({ p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 });
              loop = null;
            }
            if (server && round >= 0) blocks[mode].push(server.blocking);
          },
        });
        const scraped = await prom?.stop();
        await server?.close();
        if (round >= 0) {
          rates[mode].push(r.rate);
          cpus[mode].push(r.cpuNs);
          if (scraped) {
            answers[mode].push(scraped.answers);
            clientCpuMs[mode].push(scraped.cpuMs);
          }
        }
      }
      const last = (m: Mode) => `${m} ${(rates[m].at(-1)! / 1e6).toFixed(2)}M/s ${cpus[m].at(-1)!.toFixed(0)} ns`;
      if (round >= 0) log(`round ${round + 1} (CPU per record): ${modes.map(last).join(', ')}`);
    }
    if (o.modes) {
      // Some modes alone (a profile, or the holds with --run-queue): no ratios, the holds as measured.
      for (const m of modes.filter((x) => x !== 'bare')) {
        const b = mergeHolds(blocks[m]);
        log(
          `${m}: holds ${b.holds}, over 1 ms ${b.over_1ms}, max ${b.max_ms.toFixed(1)} ms; ${overOne(b)}: ${explained(b)}`,
        );
      }
      return { records_per_sec: rates, cpu_ns_per_record: cpus };
    }
    const cost = await renderCost(eddy);
    const ratio = (m: Mode) => rates[m].map((r, i) => r / rates.bare[i]!);
    // CPU per record is steadier than wall time on a shared machine: the cost as extra CPU.
    const cpuRatio = (m: Mode) => cpus[m].map((c, i) => c / cpus.bare[i]!);
    const versus = (m: Mode, target: number) => ({
      ratio: median(ratio(m)),
      spread: spread(ratio(m)),
      cpu_ratio: median(cpuRatio(m)),
      cpu_spread: spread(cpuRatio(m)),
      // The same as CPU time a second of running: watching costs per second, the stream per record,
      // so the ratio grows as the stream gets less of the machine.
      extra_cpu_ms_per_s: median(cpus[m].map((c, i) => ((c - cpus.bare[i]!) * rates[m][i]!) / 1e6)),
      // Serving's holds of the event loop while the stream ran, in wall time (preemption included).
      block: mergeHolds(blocks[m]),
      requests: answers[m].reduce((a, b) => a + b, 0),
      client_cpu_ms_per_request:
        clientCpuMs[m].reduce((a, b) => a + b, 0) /
        Math.max(
          1,
          answers[m].reduce((a, b) => a + b, 0),
        ),
      ...CLIENTS[m as Exclude<Mode, 'bare'>],
      target_cost: target,
    });
    const result = {
      records: o.records,
      record_bytes: 100,
      partitions: o.partitions,
      workers: o.workers,
      rounds: o.rounds,
      records_per_sec: Object.fromEntries(MODES.map((m) => [m, median(rates[m])])),
      cpu_ns_per_record: Object.fromEntries(MODES.map((m) => [m, median(cpus[m])])),
      observed_vs_bare: versus('observed', 0.02),
      stormed_vs_bare: versus('stormed', 0.05),
      stormed4_vs_bare: versus('stormed4', 0.05),
      ...cost,
      // The worst round's.
      event_loop_delay_under_storm_ms: {
        p99: Math.max(0, ...delays.map((d) => d.p99)),
        max: Math.max(0, ...delays.map((d) => d.max)),
      },
      target_request_ms: 1,
    };
    const row = (label: string, v: ReturnType<typeof versus>, target: string, cpuTarget: string) => [
      [`${label}: records/s ÷ bare (median, spread)`, `${v.ratio.toFixed(3)} (${v.spread.toFixed(2)})`, target],
      [
        `${label}: CPU per record ÷ bare (median, spread)`,
        `${v.cpu_ratio.toFixed(3)} (${v.cpu_spread.toFixed(2)})`,
        cpuTarget,
      ],
      [`${label}: the extra CPU, ms per second of running (median)`, v.extra_cpu_ms_per_s.toFixed(1), ''],
      [
        `${label}: holds of the coordinator's loop for snapshots (wall), p99 / p99.9 / max; over 1 ms`,
        `${v.block.p99_ms.toFixed(3)} / ${v.block.p999_ms.toFixed(3)} / ${v.block.max_ms.toFixed(1)} ms; ${v.block.over_1ms} of ${v.block.holds} (${v.requests} requests)`,
        '≤ 1 ms',
      ],
      [`  ${overOne(v.block)}`, explained(v.block), ''],
    ];
    log(
      table([
        ['measure', 'result', 'target'],
        ['records/s bare', `${(result.records_per_sec.bare! / 1e6).toFixed(2)}M`, ''],
        ...row('1 scraper / 1 s', result.observed_vs_bare, '≥ 0.98', '≤ 1.02'),
        ...row('100 scrapers / 1 s', result.stormed_vs_bare, '≥ 0.95', '≤ 1.05'),
        ...row('100 scrapers / 250 ms', result.stormed4_vs_bare, '', ''),
        [
          'CPU of one /metrics render as scraped (snapshot alone)',
          `${cost.metrics_render_ms.toFixed(3)} ms (${cost.status_snapshot_ms.toFixed(3)} ms)`,
          '',
        ],
        [
          'CPU of one /metrics render as served, no stream running (unchanged families reused)',
          `${cost.metrics_served_ms.toFixed(3)} ms`,
          '',
        ],
        [
          "no stream running, 100 scrapers / 250 ms: holds of the coordinator's loop for snapshots (wall), p50 / p99 / p99.9 / max",
          `${cost.idle_storm_block.p50_ms.toFixed(3)} / ${cost.idle_storm_block.p99_ms.toFixed(3)} / ${cost.idle_storm_block.p999_ms.toFixed(3)} / ${cost.idle_storm_block.max_ms.toFixed(1)} ms`,
          '≤ 1 ms',
        ],
        [
          `  ${overOne(cost.idle_storm_block)}`,
          `${explained(cost.idle_storm_block)} (${cost.idle_storm_block.gc_pauses} GCs, longest ${cost.idle_storm_block.longest_gc_ms.toFixed(1)} ms)`,
          '',
        ],
        [
          'event-loop delay while 100 scrapers / 1 s, p99 / max',
          `${result.event_loop_delay_under_storm_ms.p99.toFixed(1)} / ${result.event_loop_delay_under_storm_ms.max.toFixed(1)} ms`,
          '',
        ],
      ]),
    );
    return result;
  } finally {
    gcObserver.disconnect();
    await eddy.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, d: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const result = await runObserveBench({
    records: arg('records', 3_000_000),
    partitions: arg('partitions', 2),
    rounds: arg('rounds', 6),
    workers: arg('workers', 2),
    runQueue: process.argv.includes('--run-queue'),
    modes: process.argv.includes('--modes')
      ? (process.argv[process.argv.indexOf('--modes') + 1]!.split(',') as Mode[])
      : undefined,
  });
  // A run of some modes only (for a profile) is not the bench's result.
  if (!process.argv.includes('--modes')) writeResult('observe', result);
}
