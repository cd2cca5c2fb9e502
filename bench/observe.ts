import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type DeriveConfig, DerivedStream } from '../src/coordinator/derived.js';
import { ModuleResolver } from '../src/coordinator/resolve.js';
import { type Eddy, open } from '../src/eddy.js';
import { createRegistry } from '../src/observe/metrics.js';
import { type ObserveServer, serveObserve } from '../src/observe/server.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import { median, spread, table, writeResult } from './lib/harness.js';
import { sampleRecords } from './lib/records.js';

/**
 * What watching costs the pipeline. The SDK filter (examples/filter) runs as a derived stream over
 * 100-byte records, from offset 0 until its lag is 0, in alternating rounds of:
 *   bare     — a DerivedStream nobody observes (no telemetry, no server, no sampler);
 *   observed — as `eddy run --http`: tracked by the telemetry, the server and its sampler up, and
 *              one client scraping /metrics every 250 ms (4× Prometheus at 1 s);
 * In every mode the stream's config is saved, as `eddy run`'s are, so the scrapes render its
 * series (read from its committed checkpoints); it is deleted after its round.
 *   stormed  — as observed, but 100 clients scraping at once every 250 ms.
 * The clients run in another process. Reported: median per-round ratios observed ÷ bare and
 * stormed ÷ bare of records/s (targets: cost ≤ 2 %, ≤ 5 % under the 100 scrapers), the longest
 * synchronous request handler, and the CPU time of one uncached /metrics rendering (the most a
 * request can keep the coordinator's event loop busy; target ≤ 1 ms).
 */

interface Options {
  records: number;
  partitions: number;
  rounds: number;
  workers: number;
  quiet?: boolean;
}

type Mode = 'bare' | 'observed' | 'stormed';

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
  await done;
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  eddy.telemetry.untrack(config.name);
  await d.stop();
  await eddy.deleteDerived(config.name);
  await eddy.deleteTopic(target);
  return { rate: records / seconds, cpuNs: ((cpu.user + cpu.system) * 1000) / records };
}

/** `n` scrape clients in another process, all at once every `periodMs` (bench/lib/scrapers.ts). */
async function scrapers(url: string, n: number, periodMs: number): Promise<{ stop(): Promise<number> }> {
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
      return Number(out.split('\n')[1] ?? 0);
    },
  };
}

/** CPU time of one uncached /metrics rendering and of one status snapshot, idle (what a request costs the event loop at most). */
async function renderCost(eddy: Eddy): Promise<{ metrics_render_ms: number; status_snapshot_ms: number }> {
  // With one saved stream over the bench's topic, so its series are rendered too.
  await eddy.createTopic('out-render');
  await eddy.createDerived({
    name: 'f-render',
    source: 'in',
    target: 'out-render',
    transforms: [{ uses: wasmPath('filter'), params: {}, lookback: null }],
  });
  const registry = createRegistry(eddy.telemetry);
  const n = 200;
  let cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    eddy.telemetry.status(true);
    await registry.metrics();
  }
  const both = process.cpuUsage(cpu);
  cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) eddy.telemetry.status(true);
  const status = process.cpuUsage(cpu);
  await eddy.deleteDerived('f-render');
  await eddy.deleteTopic('out-render');
  const ms = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000 / n;
  return { metrics_render_ms: ms(both), status_snapshot_ms: ms(status) };
}

export async function runObserveBench(o: Options): Promise<Record<string, unknown>> {
  const log = o.quiet ? () => {} : (s: string) => process.stdout.write(`${s}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-observe-'));
  const eddy = await open(dir, { workers: o.workers, retentionCheckMs: 0 });
  try {
    await produce(eddy, o.records, o.partitions);
    const resolver = new ModuleResolver(eddy.storage.modules);
    let maxHandlerMs = 0;
    const rates: Record<Mode, number[]> = { bare: [], observed: [], stormed: [] };
    const cpus: Record<Mode, number[]> = { bare: [], observed: [], stormed: [] };
    let scrapes = 0;
    const loop = monitorEventLoopDelay({ resolution: 1 });
    // One warm-up of each, not counted.
    for (let round = -1; round < o.rounds; round++) {
      for (const mode of ['bare', 'observed', 'stormed'] as const) {
        // The server (and its once-a-second sampler) is up only while observed.
        const server: ObserveServer | null = mode === 'bare' ? null : await serveObserve(eddy.telemetry, '127.0.0.1:0');
        const prom = server ? await scrapers(`${server.url}metrics`, mode === 'stormed' ? 100 : 1, 250) : null;
        if (round >= 0 && mode === 'stormed') loop.enable();
        const r = await runOnce(eddy, resolver, round + 1, mode, o.records, o.partitions);
        scrapes += (await prom?.stop()) ?? 0;
        loop.disable();
        // Not counted in the warm-up round.
        if (server && round >= 0) maxHandlerMs = Math.max(maxHandlerMs, server.maxHandlerMs);
        await server?.close();
        if (round >= 0) {
          rates[mode].push(r.rate);
          cpus[mode].push(r.cpuNs);
        }
      }
      const last = (m: Mode) =>
        `${m} ${(rates[m].at(-1)! / 1e6).toFixed(2)}M/s ${cpus[m].at(-1)!.toFixed(0)} CPU ns/record`;
      if (round >= 0) log(`round ${round + 1}: ${last('bare')}, ${last('observed')}, ${last('stormed')}`);
    }
    const cost = await renderCost(eddy);
    const ratio = (m: Mode) => rates[m].map((r, i) => r / rates.bare[i]!);
    // CPU per record is steadier than wall time on a shared machine: the cost as extra CPU.
    const cpuRatio = (m: Mode) => cpus[m].map((c, i) => c / cpus.bare[i]!);
    const result = {
      records: o.records,
      record_bytes: 100,
      partitions: o.partitions,
      workers: o.workers,
      rounds: o.rounds,
      records_per_sec: { bare: median(rates.bare), observed: median(rates.observed), stormed: median(rates.stormed) },
      cpu_ns_per_record: { bare: median(cpus.bare), observed: median(cpus.observed), stormed: median(cpus.stormed) },
      observed_vs_bare: {
        ratio: median(ratio('observed')),
        spread: spread(ratio('observed')),
        cpu_ratio: median(cpuRatio('observed')),
        cpu_spread: spread(cpuRatio('observed')),
        target_cost: 0.02,
      },
      stormed_vs_bare: {
        ratio: median(ratio('stormed')),
        spread: spread(ratio('stormed')),
        cpu_ratio: median(cpuRatio('stormed')),
        cpu_spread: spread(cpuRatio('stormed')),
        target_cost: 0.05,
      },
      scrapes,
      max_request_ms: maxHandlerMs,
      ...cost,
      event_loop_delay_under_storm_ms: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      target_request_ms: 1,
    };
    log(
      table([
        ['measure', 'result', 'target'],
        ['records/s bare', `${(result.records_per_sec.bare / 1e6).toFixed(2)}M`, ''],
        [
          'observed ÷ bare (median, spread)',
          `${result.observed_vs_bare.ratio.toFixed(3)} (${result.observed_vs_bare.spread.toFixed(2)})`,
          '≥ 0.98',
        ],
        [
          '100 scrapers at once ÷ bare (median, spread)',
          `${result.stormed_vs_bare.ratio.toFixed(3)} (${result.stormed_vs_bare.spread.toFixed(2)})`,
          '≥ 0.95',
        ],
        [
          'CPU per record: observed ÷ bare (median, spread)',
          `${result.observed_vs_bare.cpu_ratio.toFixed(3)} (${result.observed_vs_bare.cpu_spread.toFixed(2)})`,
          '≤ 1.02',
        ],
        [
          'CPU per record: 100 scrapers ÷ bare (median, spread)',
          `${result.stormed_vs_bare.cpu_ratio.toFixed(3)} (${result.stormed_vs_bare.cpu_spread.toFixed(2)})`,
          '≤ 1.05',
        ],
        [
          'longest synchronous request handler',
          `${result.max_request_ms.toFixed(3)} ms (${scrapes} scrapes)`,
          '≤ 1 ms',
        ],
        [
          'CPU of one uncached /metrics render (status snapshot alone)',
          `${cost.metrics_render_ms.toFixed(3)} ms (${cost.status_snapshot_ms.toFixed(3)} ms)`,
          '≤ 1 ms',
        ],
        [
          'event-loop delay during the storm, p99 / max',
          `${result.event_loop_delay_under_storm_ms.p99.toFixed(1)} / ${result.event_loop_delay_under_storm_ms.max.toFixed(1)} ms`,
          '',
        ],
      ]),
    );
    return result;
  } finally {
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
    records: arg('records', 400_000),
    partitions: arg('partitions', 2),
    rounds: arg('rounds', 5),
    workers: arg('workers', 2),
  });
  writeResult('observe', result);
}
