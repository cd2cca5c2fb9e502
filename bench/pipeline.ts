import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineThreads } from '../src/bench/engine-thread.js';
import {
  type BatchSource,
  engineRate,
  mainThreadChain,
  PoolRig,
  type RoundStats,
  rangeSource,
} from '../src/bench/runner.js';
import { median, percentile, spread } from '../src/bench/stats.js';
import { WorkerPool } from '../src/coordinator/pool.js';
import { encodeRecords } from '../src/protocol/index.js';
import { wasmPath } from '../src/sdk-build/fixtures.js';
import { loadModule } from '../src/smartmodule/index.js';
import type { BatchInput } from '../src/smartmodule/types.js';
import { openStorage, type Storage } from '../src/storage/index.js';
import { table, writeResult } from './lib/harness.js';
import { sampleRecords } from './lib/records.js';

/**
 * bench/pipeline: the "value contains 'a'" filter over P partitions of a stored topic with W worker
 * threads, end to end: batches read from LMDB (readBatches, 1 MiB per read) on the main thread,
 * each read submitted as one frame to one ChainSession per partition with pipelining, results
 * delivered in order. Also the engine alone on W plain threads (the machine's own scaling), CPU
 * time per record (all threads, main thread) and where the main thread's time goes.
 *
 * Pipeline efficiency = end-to-end records/s ÷ (W × the engine's single-thread records/s on the
 * same batches), the single-thread rate measured in the same run, in rounds alternating with the
 * pipeline's (instance.process on the main thread, outputs borrowed as the workers do). Target on a
 * 2-core machine: ≥ 0.9. Reported for W = 1..cores (the scaling curve).
 *
 *   node dist/bench/pipeline.js        → table on stdout, JSON in bench/results/pipeline.json
 *
 * Environment (for experiments): PIPE_RECORDS (total records, default 4 000 000: rounds of ~0.2–0.4 s, long enough that one GC or scheduling hiccup does not decide a round), PIPE_PARTITIONS
 * (default 4), PIPE_RECORD_BYTES (100), PIPE_BATCH (records per stored batch, 1000),
 * PIPE_IN_FLIGHT (submissions outstanding per stream, 4), PIPE_PER_SUBMIT (batches per frame;
 * 0 = one storage read, the default), PIPE_READ_BYTES (bytes per read, 1 MiB), PIPE_ROUNDS
 * (alternating rounds, 7), PIPE_WORKERS (e.g. 1,2), PIPE_SOURCE=memory (no storage read),
 * PIPE_PROFILE=1 (pool rounds only, CPU per thread; for node --cpu-prof).
 */

/** CPU ms of every thread of this process by tid, with its name (Linux /proc; 10 ms ticks). */
function threadCpu(): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(tid, { name, ms: (Number(f[11]) + Number(f[12])) * 10 });
      } catch {
        /* thread ended */
      }
    }
  } catch {
    /* not Linux */
  }
  return out;
}

const env = (name: string, def: number): number => (process.env[name] ? Number(process.env[name]) : def);

export interface PipelineOptions {
  records?: number;
  partitions?: number;
  recordBytes?: number;
  batchRecords?: number;
  maxInFlight?: number;
  /** Batches per submission; 0 = one submission per storage read. */
  batchesPerSubmit?: number;
  /** Bytes per storage read (default 1 MiB). */
  readBytes?: number;
  rounds?: number;
  /** Pool rounds run before measuring, per worker count (default 3000 ms). */
  warmupMs?: number;
  workers?: number[];
  log?: (line: string) => void;
  /** No table on stdout. */
  quiet?: boolean;
}

export interface PipelinePoint {
  workers: number;
  records_per_sec: number;
  spread: number;
  engine_single_thread_records_per_sec: number;
  efficiency: number;
  efficiency_spread: number;
  /** The engine alone on W plain threads at once (no pool): what the machine gives W threads. */
  engine_w_threads_records_per_sec: number;
  /** W-thread engine ÷ (W × single-thread engine): the machine's own scaling. */
  machine_scaling: number;
  /** Per input record, ns of thread time. */
  main_thread_busy_ns: number;
  storage_read_ns: number;
  submit_ns: number;
  main_gc_ns: number;
  module_ns: number;
  worker_other_ns: number;
  main_thread_utilisation: number;
  /** CPU time per input record (ns): every thread of the process; the main thread alone. */
  cpu_ns: number;
  main_cpu_ns: number;
  /** CPU time per record of the engine alone on the main thread. */
  engine_cpu_ns: number;
  /** engine CPU ÷ pipeline CPU per record: the share of the pipeline's CPU that is the engine's work (robust to other load). */
  cpu_efficiency: number;
  latency_ms_p50: number;
  latency_ms_p99: number;
}

/** Topic `bench` with `records` sample records (bench/lib/records.ts) spread over `partitions`. */
export async function fill(
  store: Storage,
  partitions: number,
  records: number,
  size: number,
  batch: number,
): Promise<void> {
  await store.createTopic('bench', { partitions, retentionMs: null, maxPartitionBytes: null });
  const perPartition = Math.ceil(records / partitions);
  for (let p = 0; p < partitions; p++) {
    const log = store.partition('bench', p);
    const writes: Promise<unknown>[] = [];
    for (let n = 0, i = 0; n < perPartition; n += batch, i++) {
      const raw = encodeRecords(sampleRecords(Math.min(batch, perPartition - n), size, 1000 * p + i));
      writes.push(log.appendRaw({ raw, baseTimestamp: 1_700_000_000_000 + n }));
    }
    await Promise.all(writes);
  }
}

/** One pass over every partition, from the first stored offset, 1 MiB per read. */
export function storageSource(store: Storage, readBytes = 1 << 20): BatchSource {
  return function* (p: number): Generator<BatchInput[]> {
    const log = store.partition('bench', p);
    let from = log.startOffset;
    const end = log.nextOffset;
    while (from < end) {
      const batches = store.readBatches('bench', p, from, { maxBytes: readBytes });
      if (batches.length === 0) return;
      from = batches[batches.length - 1]!.lastOffset + 1;
      yield batches;
    }
  };
}

export async function runPipelineBench(o: PipelineOptions = {}): Promise<Record<string, unknown>> {
  const cores = availableParallelism();
  const records = o.records ?? env('PIPE_RECORDS', 4_000_000);
  const partitions = o.partitions ?? env('PIPE_PARTITIONS', 4);
  const recordBytes = o.recordBytes ?? env('PIPE_RECORD_BYTES', 100);
  const batchRecords = o.batchRecords ?? env('PIPE_BATCH', 1000);
  const maxInFlight = o.maxInFlight ?? env('PIPE_IN_FLIGHT', 4);
  // One submission (one frame to a worker) per storage read: each cross-thread message costs tens
  // of µs of CPU, so 1000-record batches one by one would measure mostly messaging (PIPE_PER_SUBMIT=1).
  const perSubmit = o.batchesPerSubmit ?? env('PIPE_PER_SUBMIT', 0);
  const readBytes = o.readBytes ?? env('PIPE_READ_BYTES', 1 << 20);
  const rounds = o.rounds ?? env('PIPE_ROUNDS', 7);
  const warmupMs = o.warmupMs ?? env('PIPE_WARMUP_MS', 3000);
  const workerCounts =
    o.workers ??
    (process.env['PIPE_WORKERS']
      ? process.env['PIPE_WORKERS'].split(',').map(Number)
      : Array.from({ length: cores }, (_, i) => i + 1));
  const log = o.log ?? ((l: string) => console.error(l));

  const dir = mkdtempSync(join(tmpdir(), 'eddy-bench-pipeline-'));
  const store = await openStorage(dir, { durability: 'commit', retentionCheckMs: 0 });
  const rigs: PoolRig[] = [];
  const threads: EngineThreads[] = [];
  const pools: WorkerPool[] = [];
  try {
    const tFill = performance.now();
    await fill(store, partitions, records, recordBytes, batchRecords);
    log(
      `pipeline: stored ${records} records of ${recordBytes} B in ${partitions} partitions (${(performance.now() - tFill).toFixed(0)} ms)`,
    );

    const mod = await loadModule(wasmPath('filter'));
    const steps = [{ module: mod }];
    // The same batches the pipeline reads, in memory, for the single-thread reference.
    const all: BatchInput[] = [];
    for (let p = 0; p < partitions; p++)
      for (const g of storageSource(store)(p) as Iterable<BatchInput[]>) all.push(...g);
    const chain = mainThreadChain(steps);

    for (const w of workerCounts) {
      const pool = new WorkerPool({ workers: w });
      pools.push(pool);
      rigs.push(await PoolRig.open({ workers: w, pool, partitions, steps, maxInFlight, batchesPerSubmit: perSubmit }));
    }
    const byPartition: BatchInput[][] = Array.from({ length: partitions }, (_, p) =>
      [...(storageSource(store)(p) as Iterable<BatchInput[]>)].flat(),
    );
    // PIPE_SOURCE=memory: the same batches from memory (isolates the storage read), for experiments.
    // Default: as Eddy's consumers and derived streams run, workers read the batches from LMDB by
    // offset range (PIPE_PER_SUBMIT batches per submission, 16 by default). PIPE_SOURCE=main reads
    // them on the main thread and sends the bytes; PIPE_SOURCE=memory skips storage altogether.
    const mode = process.env['PIPE_SOURCE'] ?? 'ranges';
    const source: BatchSource =
      mode === 'memory'
        ? (p) => [byPartition[p]!]
        : mode === 'main'
          ? storageSource(store, readBytes)
          : (p) => rangeSource(store, 'bench', p, perSubmit > 0 ? perSubmit : 16);
    // Warm-up: page cache, worker instances, and the JIT of every isolate. A round submits only a
    // few hundred frames, so the per-frame code of the coordinator and the workers takes seconds of
    // rounds to be optimised; until then TurboFan compiles on V8's helper threads, which share the
    // cores with the workers (perf: ~8 % of the machine over the first rounds at W=2). Measure the
    // steady state a long-running service sees.
    engineRate(chain, all, 200);
    for (const rig of rigs) {
      const until = performance.now() + warmupMs;
      do await rig.round(source);
      while (performance.now() < until);
    }

    for (const r of rigs) threads.push(await EngineThreads.open(r.workers, steps, all));
    const parallel: number[][] = rigs.map(() => []);
    const engine: number[] = [];
    const engineCpuNs: number[] = [];
    const perRig: { stats: RoundStats[]; eff: number[] }[] = rigs.map(() => ({ stats: [], eff: [] }));
    if (process.env['PIPE_PROFILE']) {
      // Pool rounds only (for --cpu-prof), and the CPU time of every thread over them.
      for (const rig of rigs) {
        const before = threadCpu();
        let recs = 0;
        for (let r = 0; r < rounds; r++) {
          const s = await rig.round(source);
          recs += s.recordsIn;
          log(
            `W=${rig.workers} ${((s.recordsIn * 1000) / s.elapsedMs / 1e6).toFixed(2)}M rec/s, main busy ${(s.mainBusyMs / s.elapsedMs).toFixed(2)}, CPU ${((s.cpuMs * 1e6) / s.recordsIn).toFixed(0)} ns/rec`,
          );
        }
        const byName = new Map<string, number>();
        for (const [tid, t] of threadCpu()) {
          const d = t.ms - (before.get(tid)?.ms ?? 0);
          const key = tid === String(process.pid) ? 'main' : `${t.name}:${tid}`;
          if (d > 0) byName.set(key, (byName.get(key) ?? 0) + d);
        }
        log(
          `W=${rig.workers} CPU ns per record by thread: ${[...byName]
            .sort((a, b) => b[1] - a[1])
            .map(([k, v]) => `${k} ${((v * 1e6) / recs).toFixed(0)}`)
            .join(', ')}`,
        );
      }
      return {};
    }
    for (let r = 0; r < rounds; r++) {
      const er = engineRate(chain, all, 250);
      const e = er.recordsPerSec;
      engine.push(e);
      engineCpuNs.push((er.cpuMs * 1e6) / er.records);
      const line: string[] = [`round ${r + 1}/${rounds}: engine ${(e / 1e6).toFixed(2)}M rec/s`];
      for (let i = 0; i < rigs.length; i++) {
        const s = await rigs[i]!.round(source);
        const rate = (s.recordsIn * 1000) / s.elapsedMs;
        perRig[i]!.stats.push(s);
        perRig[i]!.eff.push(rate / (rigs[i]!.workers * e));
        const par = await threads[i]!.rate(250);
        parallel[i]!.push(par);
        line.push(
          `W=${rigs[i]!.workers} ${(rate / 1e6).toFixed(2)}M (${(rate / (rigs[i]!.workers * e)).toFixed(2)}) engine×W ${(par / 1e6).toFixed(2)}M`,
        );
      }
      log(line.join(', '));
    }

    const points: PipelinePoint[] = rigs.map((rig, i) => {
      const { stats, eff } = perRig[i]!;
      const rates = stats.map((s) => (s.recordsIn * 1000) / s.elapsedMs);
      const per = (f: (s: RoundStats) => number) => median(stats.map((s) => (f(s) * 1e6) / s.recordsIn));
      const lat = stats.flatMap((s) => s.latenciesMs);
      return {
        workers: rig.workers,
        records_per_sec: median(rates),
        spread: spread(rates),
        engine_single_thread_records_per_sec: median(engine),
        efficiency: median(eff),
        efficiency_spread: spread(eff),
        engine_w_threads_records_per_sec: median(parallel[i]!),
        machine_scaling: median(parallel[i]!) / (rig.workers * median(engine)),
        main_thread_busy_ns: per((s) => s.mainBusyMs),
        storage_read_ns: per((s) => s.readMs),
        submit_ns: per((s) => s.submitMs),
        main_gc_ns: per((s) => s.gcMs),
        module_ns: per((s) => s.moduleMs),
        worker_other_ns: per((s) => s.elapsedMs * rig.workers - s.moduleMs),
        main_thread_utilisation: median(stats.map((s) => s.mainBusyMs / s.elapsedMs)),
        cpu_ns: per((s) => s.cpuMs),
        main_cpu_ns: per((s) => s.mainCpuMs),
        engine_cpu_ns: median(engineCpuNs),
        cpu_efficiency: median(engineCpuNs) / per((s) => s.cpuMs),
        latency_ms_p50: percentile(lat, 50),
        latency_ms_p99: percentile(lat, 99),
      };
    });

    if (!o.quiet)
      console.log(
        `filter ("contains a"), ${records} × ${recordBytes}-byte records in ${batchRecords}-record batches, ${partitions} partitions, from LMDB through the pool`,
      );
    if (!o.quiet)
      console.log(
        table([
          [
            'workers',
            'records/s',
            'spread',
            'engine 1-thread rec/s',
            'efficiency',
            'engine on W threads',
            'machine scaling',
            'main busy ns/rec',
            'read ns/rec',
            'submit ns/rec',
            'main GC ns/rec',
            'module ns/rec',
            'worker other ns/rec',
            'CPU ns/rec',
            'main CPU ns/rec',
            'engine CPU ns/rec',
            'CPU efficiency',
            'p50 ms',
            'p99 ms',
          ],
          ...points.map((p) => [
            p.workers,
            p.records_per_sec,
            p.spread,
            p.engine_single_thread_records_per_sec,
            p.efficiency,
            p.engine_w_threads_records_per_sec,
            p.machine_scaling,
            p.main_thread_busy_ns,
            p.storage_read_ns,
            p.submit_ns,
            p.main_gc_ns,
            p.module_ns,
            p.worker_other_ns,
            p.cpu_ns,
            p.main_cpu_ns,
            p.engine_cpu_ns,
            p.cpu_efficiency,
            p.latency_ms_p50,
            p.latency_ms_p99,
          ]),
        ]),
      );
    return {
      bench: 'pipeline',
      description:
        'filter over P partitions with W workers from LMDB through the pool; efficiency = records/s ÷ (W × single-thread engine records/s on the same batches, same run)',
      target_efficiency: 0.9,
      config: {
        records,
        partitions,
        record_bytes: recordBytes,
        batch_records: batchRecords,
        max_in_flight: maxInFlight,
        batches_per_submit: perSubmit === 0 ? 'one storage read' : perSubmit,
        read_bytes: readBytes,
        rounds,
      },
      scaling: points,
    };
  } finally {
    for (const t of threads) await t.close();
    for (const r of rigs) await r.close();
    for (const p of pools) await p.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runPipelineBench();
  console.log(`\nwrote ${writeResult('pipeline', r)}`);
}
