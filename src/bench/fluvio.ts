import { existsSync, readFileSync } from 'node:fs';
import {
  type FluvioBatch,
  FluvioEngineMissingError,
  type FluvioStep,
  fluvioEnginePath,
} from '../conformance/fluvio-engine.js';
import { FluvioTimer } from '../conformance/fluvio-timer.js';
import type { SessionStep } from '../coordinator/chain-session.js';
import { recordListCount } from '../protocol/record.js';
import { Chain } from '../smartmodule/chain.js';
import type { BatchInput } from '../smartmodule/types.js';
import { threadCpuNs } from './runner.js';
import { median, spread } from './stats.js';

/**
 * A chain through Fluvio's own engine (the conformance harness in timing mode: one chain instance
 * on one thread, as an SPU runs it, each batch copied in and its output encoded) against the same
 * chain through Eddy's engine on this thread (outputs copied out, as Fluvio's are), in alternating
 * rounds on the same batches. Used by bench/fluvio-compare and `eddy bench --compare-fluvio`.
 */

/** Throws the one-line "not built, here is how" error when the harness binary is missing. */
export function requireFluvioEngine(): string {
  const bin = fluvioEnginePath();
  if (!existsSync(bin)) throw new FluvioEngineMissingError(bin);
  return bin;
}

/** The harness's view of chain steps whose modules came from `sources` (.wasm paths). */
export function fluvioSteps(steps: readonly SessionStep[], sources: readonly string[]): FluvioStep[] {
  return steps.map((s, i) => ({
    name: s.module.name,
    wasm: readFileSync(sources[i]!),
    ...(s.params && Object.keys(s.params).length > 0 ? { params: { ...s.params } } : {}),
    ...(s.lookback ? { lookback: s.lookback } : {}),
  }));
}

/** Eddy's side of the comparison: a chain that owns its outputs, with an (empty) look-back pass done. */
export function ownedChain(steps: readonly SessionStep[]): Chain {
  const chain = Chain.create(
    steps.map((s) => ({ module: s.module, params: s.params ?? {}, lookback: s.lookback ?? null })),
  );
  chain.lookBack(() => EMPTY_LIST);
  return chain;
}

const EMPTY_LIST = new Uint8Array(4);

export { FluvioTimer };

/** One round of one engine: wall-clock records/s and CPU ns per record of the thread that ran it. */
export interface EngineRound {
  recordsPerSec: number;
  cpuNsPerRecord: number;
}

export interface FluvioPeer {
  /** One round of about the given length through Fluvio's engine. */
  round(): Promise<EngineRound>;
  /** Ends the harness process (also when a running FluvioTimer was given). */
  stop(): Promise<void>;
}

/**
 * Fluvio's engine on `batches` in rounds of about `roundMs` of engine time, one harness process
 * kept running between rounds (see FluvioTimer). The first call warms that process up and sizes
 * the rounds.
 */
export async function fluvioPeer(
  steps: readonly FluvioStep[] | FluvioTimer,
  batches: readonly BatchInput[],
  roundMs: number,
): Promise<FluvioPeer> {
  const list: FluvioBatch[] = batches.map((b) => ({
    baseOffset: b.baseOffset,
    baseTimestamp: b.baseTimestamp,
    raw: b.raw,
  }));
  const timer = steps instanceof FluvioTimer ? steps : new FluvioTimer(steps);
  // Messages per round for about roundMs, from the last round's cost: the larger of its wall and CPU
  // time (on a loaded machine a round sized by CPU alone lasts several times roundMs in wall time,
  // which made this side the longest of a bench round), kept within [1, 4096] whatever the clocks said.
  const size = (messages: number, t: { nanos: number; cpuNanos: number }): number => {
    const ns = Math.max(t.nanos, Number.isFinite(t.cpuNanos) ? t.cpuNanos : 0);
    return Math.max(1, Math.min(4096, Math.round((messages * roundMs * 1e6) / Math.max(1e3, ns))));
  };
  let messages = size(list.length, await timer.time(list, list.length));
  return {
    async round() {
      const t = await timer.time(list, messages);
      messages = size(messages, t);
      return { recordsPerSec: (t.recordsIn * 1e9) / t.nanos, cpuNsPerRecord: t.cpuNanos / t.recordsIn };
    },
    stop: () => timer.stop(),
  };
}

/** Eddy's engine over `batches` for about `ms`: records/s, and CPU ns per record of this thread. */
export function eddyEngineRound(chain: Chain, batches: readonly BatchInput[], ms: number): EngineRound {
  const counts = batches.map((b) => recordListCount(b.raw));
  let records = 0;
  let i = 0;
  const cpu0 = threadCpuNs();
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    chain.processWith(batches[i]!, 'skip');
    records += counts[i]!;
    i = (i + 1) % batches.length;
    elapsed = performance.now() - t0;
  }
  return { recordsPerSec: (records * 1000) / elapsed, cpuNsPerRecord: (threadCpuNs() - cpu0) / records };
}

export interface EngineComparison {
  fluvio_records_per_sec: number;
  eddy_records_per_sec: number;
  /** Median of per-round Eddy ÷ Fluvio records/s (wall clock). */
  ratio: number;
  spread: number;
  /** CPU ns per record of the thread running each engine (Linux; NaN elsewhere). */
  fluvio_cpu_ns_per_record: number;
  eddy_cpu_ns_per_record: number;
  /** Median of per-round Fluvio ÷ Eddy CPU per record: Eddy's speed in CPU time, which holds on a busy machine. */
  cpu_ratio: number;
  cpu_spread: number;
  rounds: number;
  harness: string;
}

/** Both engines on one thread in `rounds` alternating rounds of about `roundMs` each. */
export async function compareEngines(
  steps: readonly SessionStep[],
  sources: readonly string[],
  batches: readonly BatchInput[],
  opts: { rounds?: number; roundMs?: number; progress?: (line: string) => void } = {},
): Promise<EngineComparison> {
  const harness = requireFluvioEngine();
  const rounds = opts.rounds ?? 5;
  const roundMs = opts.roundMs ?? 150;
  // At most ~64 batches per harness request: the request carries every batch's bytes.
  const sample = batches.slice(0, 64);
  const peer = await fluvioPeer(fluvioSteps(steps, sources), sample, roundMs);
  const chain = ownedChain(steps);
  try {
    eddyEngineRound(chain, sample, Math.min(300, roundMs * 2)); // warm-up (V8 tiers up)
    const fl: number[] = [],
      ed: number[] = [],
      ratios: number[] = [],
      fc: number[] = [],
      ec: number[] = [],
      cpuRatios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const f = await peer.round();
      const e = eddyEngineRound(chain, sample, roundMs);
      fl.push(f.recordsPerSec);
      ed.push(e.recordsPerSec);
      ratios.push(e.recordsPerSec / f.recordsPerSec);
      fc.push(f.cpuNsPerRecord);
      ec.push(e.cpuNsPerRecord);
      cpuRatios.push(f.cpuNsPerRecord / e.cpuNsPerRecord);
      opts.progress?.(
        `Fluvio's engine round ${r + 1}: Fluvio ${f.recordsPerSec.toFixed(0)} records/s, Eddy ${e.recordsPerSec.toFixed(0)} records/s`,
      );
    }
    return {
      fluvio_records_per_sec: median(fl),
      eddy_records_per_sec: median(ed),
      ratio: median(ratios),
      spread: spread(ratios),
      fluvio_cpu_ns_per_record: median(fc),
      eddy_cpu_ns_per_record: median(ec),
      cpu_ratio: median(cpuRatios),
      cpu_spread: spread(cpuRatios),
      rounds,
      harness,
    };
  } finally {
    chain.dispose();
    await peer.stop();
  }
}
