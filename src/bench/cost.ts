import type { RoundStats } from './runner.js';
import { median } from './stats.js';

/**
 * What a record costs, from the rounds of one run: CPU time per input record (every thread of
 * the process), its spread over the rounds, and its split into parts that add up to it. Every
 * number comes from the same rounds; nothing is calibrated apart.
 */

/** CPU time per input record (ns) by part; the parts add up to `BenchReport.cpu_ns_per_record`. */
export interface TimeSplit {
  /** Main thread: reading the input, packing request frames and posting them to the workers. */
  host_encode: number;
  /** Main thread: receiving result frames, unpacking them, delivering in order (its CPU time less encode and GC). */
  host_decode: number;
  /** Main thread: garbage collection. */
  host_gc: number;
  /** Workers: inside the engine (input into guest memory, the module's function, output read). */
  module: number;
  /**
   * Every other thread's CPU time: workers outside the engine (unpacking requests, copying outputs
   * into result frames, message passing, their GC) and V8's and libuv's helper threads.
   */
  workers_other: number;
}

/** A measure over the rounds: the whole run's value, and the lowest and highest round. */
export interface Spread {
  value: number;
  min: number;
  max: number;
  /** (max − min) / value: 0.05 means the rounds spanned 5% of it. */
  spread: number;
}

/** How the split was made, said in the report. */
export interface SplitMethod {
  /** True when main-thread CPU time was read per thread (Linux); else the main thread's busy time stands in for it. */
  main_thread_cpu_measured: boolean;
  /** The main thread's busy (wall) time ÷ its CPU time in the rounds: how much preemption stretched timed parts (1 = none). */
  preemption_factor: number;
  /**
   * True when measured parts exceeded the CPU time of their threads (wall time counted while a
   * thread was preempted, on a busy machine) and were scaled down to it, in proportion.
   */
  scaled: boolean;
  note: string;
}

export function spreadOf(value: number, perRound: readonly number[]): Spread {
  const min = perRound.length ? Math.min(...perRound) : value;
  const max = perRound.length ? Math.max(...perRound) : value;
  return { value, min, max, spread: value > 0 ? (max - min) / value : 0 };
}

/** CPU ns per input record of each round, and of the rounds together (total CPU ÷ total records). */
export function cpuCost(rounds: readonly RoundStats[]): Spread {
  const recIn = rounds.reduce((n, s) => n + s.recordsIn, 0);
  const cpu = rounds.reduce((n, s) => n + s.cpuMs, 0);
  return spreadOf(
    recIn > 0 ? (cpu * 1e6) / recIn : 0,
    rounds.filter((s) => s.recordsIn > 0).map((s) => (s.cpuMs * 1e6) / s.recordsIn),
  );
}

/**
 * Splits the rounds' CPU time so that the parts add up to it exactly. Timed parts are wall time,
 * which a busy machine inflates (a preempted thread's clock runs on), so they are used as
 * proportions, not as CPU: the main thread's CPU time (read per thread) is split in the proportions
 * of its busy time spent packing frames and in GC, the rest being receiving and delivering. The
 * other threads' CPU time (process CPU less the main thread's) holds the workers' engine time,
 * deflated by the main thread's own ratio of busy time to CPU time in the same rounds (the
 * preemption both saw), and the rest.
 */
export function splitCpu(rounds: readonly RoundStats[]): { split: TimeSplit; method: SplitMethod } {
  const sum = (f: (s: RoundStats) => number) => rounds.reduce((n, s) => n + f(s), 0);
  const recIn = sum((s) => s.recordsIn);
  const cpu = sum((s) => s.cpuMs);
  const mainCpu = sum((s) => s.mainCpuMs);
  const busy = sum((s) => s.mainBusyMs);
  const measured = Number.isFinite(mainCpu);
  // Off Linux the main thread's CPU is not readable alone: its event-loop busy time stands in.
  const main = Math.min(cpu, measured ? mainCpu : busy);
  const inflation = measured && main > 0 ? Math.max(1, busy / main) : 1;
  let scaled = false;
  const encodeWall = sum((s) => s.submitMs + s.readMs);
  const gcWall = sum((s) => s.gcMs);
  if (encodeWall + gcWall > busy) scaled = true;
  const of = Math.max(busy, encodeWall + gcWall);
  const encode = of > 0 ? (main * encodeWall) / of : 0;
  const gc = of > 0 ? (main * gcWall) / of : 0;
  const decode = Math.max(0, main - encode - gc);
  const others = cpu - main;
  let module = sum((s) => s.moduleMs) / inflation;
  if (module > others) {
    module = others;
    scaled = true;
  }
  const per = (ms: number) => (recIn > 0 ? (ms * 1e6) / recIn : 0);
  return {
    split: {
      host_encode: per(encode),
      host_decode: per(decode),
      host_gc: per(gc),
      module: per(module),
      workers_other: per(others - module),
    },
    method: {
      main_thread_cpu_measured: measured,
      preemption_factor: inflation,
      scaled,
      note:
        'The parts are CPU time of the measured rounds per input record, and add up to the measured CPU per record. ' +
        'Main thread: its CPU time split in the proportions of its busy time spent packing frames and in GC; the rest is receiving and delivering. ' +
        `Other threads (process CPU less the main thread's): the workers' time inside the engine, divided by the main thread's busy-to-CPU ratio of ${inflation.toFixed(2)} (time lost to preemption on this machine), and the rest.` +
        (measured ? '' : ' The main thread CPU is not readable here: its busy time stands in for it.') +
        (scaled ? ' Some timed parts exceeded the CPU time of their threads and were capped to it.' : ''),
    },
  };
}

/** Per-round paired ratios a/b (alternating rounds): the median, the range, and whether 1 lies within it. */
export function ratioVerdict(ratios: readonly number[]): {
  value: number;
  min: number;
  max: number;
  within_noise: boolean;
} {
  const min = Math.min(...ratios);
  const max = Math.max(...ratios);
  return { value: median(ratios), min, max, within_noise: min <= 1 && 1 <= max };
}

/** The verdict of a comparison, for people: which is faster, by how much, and whether that is noise. */
export function compareVerdict(
  a: string,
  b: string,
  v: { value: number; min: number; max: number; within_noise: boolean },
): string {
  const range = `per-round ratios ${v.min.toFixed(3)}–${v.max.toFixed(3)}`;
  if (v.within_noise) return `${a} and ${b} are within noise of each other (${range} span 1)`;
  const [fast, slow, r] = v.value >= 1 ? [a, b, v.value] : [b, a, 1 / v.value];
  return `${fast} is ${r.toFixed(2)}× as fast as ${slow} through the pool, beyond noise (${range}, every round on the same side of 1)`;
}
