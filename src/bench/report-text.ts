import type { BenchReport } from './bench.js';

/** Lines of `eddy bench`'s text report about cost: the headline, the split that adds up to it, and a comparison's spreads. */

const n3 = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

/** The headline (CPU per record with its range over the rounds) and its split. */
export function costLines(r: BenchReport): string[] {
  const c = r.cost_ns_per_record;
  const s = r.time_split_ns_per_record;
  const part = (x: number) => `${n3(x)} (${c.value > 0 ? ((100 * x) / c.value).toFixed(0) : '0'}%)`;
  return [
    `cost: ${n3(c.value)} ns of CPU per input record, all threads (rounds ${n3(c.min)}–${n3(c.max)}, spread ${(c.spread * 100).toFixed(1)}%)`,
    `  = module ${part(s.module)} + workers' other work ${part(s.workers_other)} + host encode ${part(s.host_encode)} + ` +
      `host decode ${part(s.host_decode)} + host GC ${part(s.host_gc)}` +
      `${r.time_split_method.scaled ? ' (timed parts scaled to their threads’ CPU time)' : ''}` +
      `${r.time_split_method.main_thread_cpu_measured ? '' : ' (main thread: busy time stands in for its CPU time)'}`,
    `main thread busy ${(r.main_thread_utilisation * 100).toFixed(0)}% of the wall time`,
  ];
}

/** A comparison's error bars and verdict. */
export function compareLines(r: BenchReport): string[] {
  const c = r.compare;
  if (!c) return [];
  const side = (x: NonNullable<BenchReport['compare']>['a']) =>
    `${x.label}: records/s ${n3(x.records_per_sec_spread.min / 1e3)}k–${n3(x.records_per_sec_spread.max / 1e3)}k over the rounds, ` +
    `CPU ${n3(x.cpu_ns_per_record.value)} ns/record (${n3(x.cpu_ns_per_record.min)}–${n3(x.cpu_ns_per_record.max)})`;
  return [side(c.a), side(c.b), c.verdict];
}

export function fmtRate(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}
