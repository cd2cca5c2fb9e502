import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { SessionStep } from '../coordinator/chain-session.js';
import { COORDINATOR_DEFAULTS } from '../coordinator/defaults.js';
import { WorkerPool } from '../coordinator/pool.js';
import { EddyError } from '../errors.js';
import type { SmartModule } from '../smartmodule/module.js';
import type { BatchInput } from '../smartmodule/types.js';
import {
  compareVerdict,
  cpuCost,
  ratioVerdict,
  type SplitMethod,
  type Spread,
  splitCpu,
  spreadOf,
  type TimeSplit,
} from './cost.js';
import { BENCH_DEFAULTS } from './defaults.js';
import { compareEngines, type EngineComparison } from './fluvio.js';
import type { BenchInput } from './input.js';
import { fmtRate } from './report-text.js';
import { type BatchSource, engineRate, mainThreadChain, PoolRig, type RoundStats } from './runner.js';
import { type Histogram, histogram, median, percentile, repeatUntilStable, spread } from './stats.js';

/**
 * `eddy bench`: a module (or chain) through Eddy's worker pool on in-memory batches, one ordered
 * stream per worker, measured in rounds (one pass over the input each) after a warm-up, repeated
 * until the spread of the last rounds is small or the time budget is spent; the same at
 * W = 1..cores; optionally against a second module on identical input, in alternating rounds.
 */

export interface BenchChain {
  /** How the chain is named in reports (file name, or the transforms file). */
  label: string;
  steps: SessionStep[];
  /** Where each step's module came from. */
  sources: string[];
  /** Compile time of each module (ms). */
  compileMs: number[];
}

export interface BenchOptions {
  chain: BenchChain;
  compare?: BenchChain | undefined;
  input: BenchInput;
  /** Workers of the main measurement. */
  workers: number;
  /** Worker counts to measure (the scaling curve); must include `workers`. */
  scaling: number[];
  /** Time budget per measured configuration (ms). */
  durationMs: number;
  /** Stop repeating once the last rounds' spread is at most this. Default 0.05. */
  maxSpread?: number;
  /** Submissions outstanding per stream. Default 4. */
  maxInFlight?: number;
  /** Batches per submission (one frame to a worker). Default: as Eddy's consumers submit (COORDINATOR_DEFAULTS). */
  frameBatches?: number;
  progress?: (line: string) => void;
  /** Also run the chain through Fluvio's own engine (the conformance harness) on one thread. */
  compareFluvio?: boolean;
}

export type { SplitMethod, Spread, TimeSplit } from './cost.js';

export interface ScalingPoint {
  workers: number;
  records_per_sec: number;
  spread: number;
  rounds: number;
  /** records/s ÷ (workers × the single-thread engine records/s measured in the same rounds). */
  efficiency: number;
  engine_single_thread_records_per_sec: number;
  batch_latency_ms_p50: number;
  batch_latency_ms_p99: number;
}

export interface CompareSide {
  label: string;
  records_per_sec: number;
  /** records/s of the run and of its slowest and fastest round: the error bar. */
  records_per_sec_spread: Spread;
  /** CPU time per input record (ns, every thread), with its lowest and highest round. */
  cpu_ns_per_record: Spread;
  ns_per_record: number;
  selectivity: number;
  batch_latency_ms_p50: number;
  engine_single_thread_records_per_sec: number;
  errors: number;
}

export interface BenchReport {
  tool: 'eddy bench';
  machine: { cpu: string; cores: number; node: string; platform: string; date: string };
  module: {
    label: string;
    steps: {
      source: string;
      name: string;
      kind: string;
      size: number;
      sha256: string;
      params: Record<string, string>;
    }[];
  };
  input: {
    description: string;
    source: string;
    records: number;
    batches: number;
    batch_size: number;
    bytes: number;
    value_bytes: number;
    seed: number | null;
    sample: string[];
  };
  workers: number;
  partitions: number;
  frame_batches: number;
  /** End-to-end input records per second at `workers`. */
  records_per_sec: number;
  records_out_per_sec: number;
  mb_per_sec_in: number;
  mb_per_sec_out: number;
  /** Wall time per input record (1e9 / records_per_sec). */
  ns_per_record: number;
  /** Output records ÷ input records. */
  selectivity: number;
  spread: number;
  rounds: number;
  stable: boolean;
  batch_latency_ms_p50: number;
  batch_latency_ms_p99: number;
  batch_latency_histogram_ms: Histogram;
  /**
   * The headline: CPU time per input record over every thread of the process (ns), for the run and
   * its cheapest and dearest round. CPU time holds up on a shared machine where wall time does not.
   */
  cost_ns_per_record: Spread;
  /** `cpu_ns_per_record` by part (see TimeSplit): the parts add up to it. */
  time_split_ns_per_record: TimeSplit;
  time_split_method: SplitMethod;
  main_thread_utilisation: number;
  /** CPU time per input record (ns): every thread of the process (workers, main, GC helpers), and the main thread alone (Linux). Unlike wall times, these hold on a shared machine. */
  cpu_ns_per_record: number;
  main_thread_cpu_ns_per_record: number | null;
  peak_module_memory_bytes: number;
  /** Instances recycled over the run, warm-up included: the module keeps its outputs (see recycleAfter). */
  module_recycles: number;
  compile_ms: number;
  instantiate_ms: number;
  init_ms: number;
  stream_open_ms: number;
  encode_input_ns_per_record: number;
  engine_single_thread_records_per_sec: number;
  efficiency: number;
  errors: number;
  first_error: string | null;
  scaling: ScalingPoint[];
  compare?: {
    a: CompareSide;
    b: CompareSide;
    ratio: number;
    /** Lowest and highest per-round ratio (a and b run in alternating rounds, so each round pairs them). */
    ratio_min: number;
    ratio_max: number;
    /** The per-round ratios fall on both sides of 1: no difference beyond the machine's noise. */
    within_noise: boolean;
    /** One sentence saying which is faster and whether that is beyond the noise. */
    verdict: string;
    spread: number;
    rounds: number;
    engine_ratio: number;
    workers: number;
  };
  /** `--compare-fluvio`: the chain through Fluvio's engine and Eddy's, one thread each, alternating rounds. */
  fluvio?: FluvioSection;
  duration_ms: number;
}

export interface FluvioSection extends EngineComparison {
  /** Eddy through the pool at `workers` (records/s above) ÷ Fluvio's one chain instance. */
  eddy_workers_vs_fluvio: number;
  workers: number;
}

interface Measured {
  workers: number;
  partitions: number;
  rounds: RoundStats[];
  engine: number[];
  efficiencies: number[];
  stable: boolean;
  spread: number;
  openMs: number;
}

const rateOf = (s: RoundStats): number => (s.recordsIn * 1000) / s.elapsedMs;

/** The input split over `partitions` streams, batch i to partition i mod P; `passes()` passes per round. */
function memorySource(batches: readonly BatchInput[], partitions: number, passes: () => number): BatchSource {
  const parts: BatchInput[][] = Array.from({ length: partitions }, () => []);
  batches.forEach((b, i) => {
    parts[i % partitions]!.push(b);
  });
  return (p) => Array.from({ length: passes() }, () => parts[p]!);
}

/** Shortest round worth timing (ms): small inputs are passed over several times per round. */
const MIN_ROUND_MS = 150;

/** Instantiate and init times of a chain on the main thread (ms, median of a few). */
export function instanceTimes(steps: readonly SessionStep[]): { instantiateMs: number; initMs: number } {
  const inst: number[] = [];
  const full: number[] = [];
  for (let r = 0; r < 5; r++) {
    let a = 0,
      b = 0;
    for (const s of steps) {
      // Bare instantiation: every import stubbed (a SmartModule imports only functions).
      const stubs: WebAssembly.Imports = {};
      for (const imp of WebAssembly.Module.imports(s.module.compiled)) (stubs[imp.module] ??= {})[imp.name] = () => 0;
      let t = performance.now();
      new WebAssembly.Instance(s.module.compiled, stubs);
      a += performance.now() - t;
      t = performance.now();
      const i = s.module.instantiate({ params: s.params ?? {} });
      b += performance.now() - t;
      i.dispose();
    }
    inst.push(a);
    full.push(b);
  }
  const instantiateMs = median(inst);
  const hasInit = steps.some((s) => s.module.hasInit);
  return { instantiateMs, initMs: hasInit ? Math.max(0, median(full) - instantiateMs) : 0 };
}

async function measure(
  opts: BenchOptions,
  chain: BenchChain,
  workers: number,
  pool: WorkerPool | null,
  label: string,
): Promise<Measured> {
  const say = opts.progress ?? (() => {});
  const own = pool ?? new WorkerPool({ workers });
  const rig = await PoolRig.open({
    workers,
    pool: own,
    steps: chain.steps,
    maxInFlight: opts.maxInFlight ?? COORDINATOR_DEFAULTS.maxInFlight,
    partitions: workers,
    batchesPerSubmit: opts.frameBatches ?? COORDINATOR_DEFAULTS.batchesPerSubmission,
  });
  const engineChain = mainThreadChain(chain.steps);
  try {
    let passes = 1;
    const source = memorySource(opts.input.batches, rig.partitions, () => passes);
    // Warm-up: at least one round and about 300 ms (JIT, worker instances, guest memory growth);
    // then as many passes per round as make it last MIN_ROUND_MS.
    const w0 = performance.now();
    engineRate(engineChain, opts.input.batches, 100);
    let pass: RoundStats;
    do pass = await rig.round(source);
    while (performance.now() - w0 < 300);
    passes = Math.min(1000, Math.max(1, Math.ceil(MIN_ROUND_MS / Math.max(0.01, pass.elapsedMs))));
    const engine: number[] = [];
    const efficiencies: number[] = [];
    let last = 200;
    const res = await repeatUntilStable(
      async (i) => {
        const e = engineRate(engineChain, opts.input.batches, Math.min(300, Math.max(100, last))).recordsPerSec;
        const s = await rig.round(source);
        last = s.elapsedMs;
        engine.push(e);
        efficiencies.push(rateOf(s) / (workers * e));
        say(
          `${label} W=${workers} round ${i + 1}: ${fmtRate(rateOf(s))} records/s (engine alone ${fmtRate(e)}/s per thread)`,
        );
        return s;
      },
      rateOf,
      {
        minRounds: 3,
        maxRounds: 50,
        window: 3,
        maxSpread: opts.maxSpread ?? BENCH_DEFAULTS.maxSpread,
        budgetMs: opts.durationMs,
      },
    );
    return {
      workers,
      partitions: rig.partitions,
      rounds: res.window,
      engine: engine.slice(-res.window.length),
      efficiencies: efficiencies.slice(-res.window.length),
      stable: res.stable,
      spread: res.spread,
      openMs: rig.openMs,
    };
  } finally {
    engineChain.dispose();
    await rig.close();
    if (!pool) await own.close();
  }
}

function point(m: Measured): ScalingPoint {
  const rates = m.rounds.map(rateOf);
  const lat = m.rounds.flatMap((s) => s.latenciesMs);
  return {
    workers: m.workers,
    records_per_sec: median(rates),
    spread: spread(rates),
    rounds: m.rounds.length,
    efficiency: median(m.efficiencies),
    engine_single_thread_records_per_sec: median(m.engine),
    batch_latency_ms_p50: percentile(lat, 50),
    batch_latency_ms_p99: percentile(lat, 99),
  };
}

async function compareRun(
  opts: BenchOptions,
  a: BenchChain,
  b: BenchChain,
): Promise<NonNullable<BenchReport['compare']>> {
  const say = opts.progress ?? (() => {});
  const W = opts.workers;
  const pool = new WorkerPool({ workers: W });
  const rigs: PoolRig[] = [];
  const chains = [mainThreadChain(a.steps), mainThreadChain(b.steps)];
  try {
    for (const side of [a, b]) {
      rigs.push(
        await PoolRig.open({
          workers: W,
          pool,
          steps: side.steps,
          partitions: W,
          maxInFlight: opts.maxInFlight ?? COORDINATOR_DEFAULTS.maxInFlight,
          batchesPerSubmit: opts.frameBatches ?? COORDINATOR_DEFAULTS.batchesPerSubmission,
        }),
      );
    }
    let passes = 1;
    const source = memorySource(opts.input.batches, W, () => passes);
    const w0 = performance.now();
    let pass: RoundStats;
    do {
      pass = await rigs[0]!.round(source);
      await rigs[1]!.round(source);
    } while (performance.now() - w0 < 300);
    passes = Math.min(1000, Math.max(1, Math.ceil(MIN_ROUND_MS / Math.max(0.01, pass.elapsedMs))));
    const sa: RoundStats[] = [],
      sb: RoundStats[] = [],
      ea: number[] = [],
      eb: number[] = [];
    const res = await repeatUntilStable(
      async (i) => {
        const x = await rigs[0]!.round(source);
        const y = await rigs[1]!.round(source);
        ea.push(engineRate(chains[0]!, opts.input.batches, 120).recordsPerSec);
        eb.push(engineRate(chains[1]!, opts.input.batches, 120).recordsPerSec);
        sa.push(x);
        sb.push(y);
        const ratio = rateOf(x) / rateOf(y);
        say(
          `compare W=${W} round ${i + 1}: ${a.label} ${fmtRate(rateOf(x))}/s, ${b.label} ${fmtRate(rateOf(y))}/s, ratio ${ratio.toFixed(3)}`,
        );
        return ratio;
      },
      (r) => r,
      {
        minRounds: 3,
        maxRounds: 50,
        window: 5,
        maxSpread: opts.maxSpread ?? BENCH_DEFAULTS.maxSpread,
        budgetMs: opts.durationMs * 2,
      },
    );
    const k = res.window.length;
    const side = (label: string, s: RoundStats[], e: number[]): CompareSide => {
      const w = s.slice(-k);
      const rate = median(w.map(rateOf));
      const recIn = w.reduce((n, x) => n + x.recordsIn, 0);
      return {
        label,
        records_per_sec: rate,
        records_per_sec_spread: spreadOf(rate, w.map(rateOf)),
        cpu_ns_per_record: cpuCost(w),
        ns_per_record: 1e9 / rate,
        selectivity: recIn > 0 ? w.reduce((n, x) => n + x.recordsOut, 0) / recIn : 0,
        batch_latency_ms_p50: percentile(
          w.flatMap((x) => x.latenciesMs),
          50,
        ),
        engine_single_thread_records_per_sec: median(e.slice(-k)),
        errors: w.reduce((n, x) => n + x.errors, 0),
      };
    };
    const A = side(a.label, sa, ea),
      B = side(b.label, sb, eb);
    const engineRatios = ea.slice(-k).map((x, i) => x / eb.slice(-k)[i]!);
    const v = ratioVerdict(res.window);
    return {
      a: A,
      b: B,
      ratio: v.value,
      ratio_min: v.min,
      ratio_max: v.max,
      within_noise: v.within_noise,
      verdict: compareVerdict(A.label, B.label, v),
      spread: res.spread,
      rounds: res.results.length,
      engine_ratio: median(engineRatios),
      workers: W,
    };
  } finally {
    for (const c of chains) c.dispose();
    for (const r of rigs) await r.close();
    await pool.close();
  }
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const t0 = performance.now();
  const say = opts.progress ?? (() => {});
  const { chain, input } = opts;
  const times = instanceTimes(chain.steps);
  // A trap, a bad status or the memory cap on this input ends the bench here, before any pool.
  probe(chain.steps, input.batches);
  if (opts.compare) probe(opts.compare.steps, input.batches);

  const counts = [...new Set([...opts.scaling, opts.workers])].sort((x, y) => x - y);
  const measured: Measured[] = [];
  for (const w of counts) measured.push(await measure(opts, chain, w, null, chain.label));
  const main = measured.find((m) => m.workers === opts.workers)!;

  const rounds = main.rounds;
  const sum = (f: (s: RoundStats) => number) => rounds.reduce((n, s) => n + f(s), 0);
  const recIn = sum((s) => s.recordsIn);
  const perRecord = (f: (s: RoundStats) => number) => (recIn > 0 ? (sum(f) * 1e6) / recIn : 0);
  const rates = rounds.map(rateOf);
  const rate = median(rates);
  const elapsed = sum((s) => s.elapsedMs);
  const selectivity = recIn > 0 ? sum((s) => s.recordsOut) / recIn : 0;
  const lat = rounds.flatMap((s) => s.latenciesMs);
  const cost = cpuCost(rounds);
  const { split, method } = splitCpu(rounds);
  const p = point(main);

  const report: BenchReport = {
    tool: 'eddy bench',
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: availableParallelism(),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      date: new Date().toISOString(),
    },
    module: {
      label: chain.label,
      steps: chain.steps.map((s, i) => ({
        source: chain.sources[i]!,
        name: s.module.name,
        kind: s.module.kind,
        size: s.module.size,
        sha256: s.module.sha256,
        params: { ...(s.params ?? {}) },
      })),
    },
    input: {
      description: input.description,
      source: input.source,
      records: input.records,
      batches: input.batches.length,
      batch_size: input.batchSize,
      bytes: input.bytes,
      value_bytes: input.valueBytes,
      seed: input.seed,
      sample: input.sample,
    },
    workers: main.workers,
    partitions: main.partitions,
    frame_batches: opts.frameBatches ?? 1,
    records_per_sec: rate,
    records_out_per_sec: rate * selectivity,
    mb_per_sec_in: elapsed > 0 ? sum((s) => s.bytesIn) / elapsed / 1e3 : 0,
    mb_per_sec_out: elapsed > 0 ? sum((s) => s.bytesOut) / elapsed / 1e3 : 0,
    ns_per_record: 1e9 / rate,
    selectivity,
    spread: spread(rates),
    rounds: rounds.length,
    stable: main.stable,
    batch_latency_ms_p50: percentile(lat, 50),
    batch_latency_ms_p99: percentile(lat, 99),
    batch_latency_histogram_ms: histogram(lat, 30),
    cost_ns_per_record: cost,
    time_split_ns_per_record: split,
    time_split_method: method,
    main_thread_utilisation: elapsed > 0 ? sum((s) => s.mainBusyMs) / elapsed : 0,
    cpu_ns_per_record: cost.value,
    main_thread_cpu_ns_per_record: Number.isFinite(perRecord((s) => s.mainCpuMs))
      ? perRecord((s) => s.mainCpuMs)
      : null,
    peak_module_memory_bytes: Math.max(...measured.flatMap((m) => m.rounds.map((s) => s.peakMemoryBytes))),
    module_recycles: Math.max(...measured.flatMap((m) => m.rounds.map((s) => s.recycles))),
    compile_ms: chain.compileMs.reduce((n, x) => n + x, 0),
    instantiate_ms: times.instantiateMs,
    init_ms: times.initMs,
    stream_open_ms: main.openMs,
    encode_input_ns_per_record: input.records > 0 ? (input.encodeMs * 1e6) / input.records : 0,
    engine_single_thread_records_per_sec: p.engine_single_thread_records_per_sec,
    efficiency: p.efficiency,
    errors: sum((s) => s.errors),
    first_error: rounds.find((s) => s.firstError)?.firstError ?? null,
    scaling: measured.filter((m) => opts.scaling.includes(m.workers)).map(point),
    duration_ms: 0,
  };
  if (opts.compare) {
    say(`comparing ${chain.label} with ${opts.compare.label} at W=${opts.workers}`);
    report.compare = await compareRun(opts, chain, opts.compare);
  }
  if (opts.compareFluvio) {
    say(`running ${chain.label} through Fluvio's engine and Eddy's, one thread each`);
    // Rounds of ~1/10 of the budget each (at least 50 ms): 5 rounds per side fit in the budget.
    const c = await compareEngines(chain.steps, chain.sources, input.batches, {
      rounds: 5,
      roundMs: Math.max(50, Math.min(300, opts.durationMs / 10)),
      progress: say,
    });
    report.fluvio = { ...c, eddy_workers_vs_fluvio: rate / c.fluvio_records_per_sec, workers: main.workers };
  }
  report.duration_ms = performance.now() - t0;
  return report;
}

/** Runs the chain once over every batch on the main thread; a failure that is not a per-record error stops the bench. */
function probe(steps: readonly SessionStep[], batches: readonly BatchInput[]): void {
  const chain = mainThreadChain(steps);
  try {
    for (const b of batches) chain.processWith(b, 'skip');
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new EddyError(
      'EDDY_BENCH_MODULE_FAILED',
      `the module cannot run on this input, so there is nothing to measure: ${why}\n(give it records it accepts with --file or --json-template)`,
      { cause: err },
    );
  } finally {
    chain.dispose();
  }
}

/** The chain's kind(s), e.g. "filter" or "filter → map". */
export function kindsOf(steps: readonly { module: SmartModule }[]): string {
  return steps.map((s) => s.module.kind).join(' → ');
}
