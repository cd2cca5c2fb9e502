import { existsSync, readFileSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { type CorpusModule, corpus, missingRustModules, rustModuleDir } from '../../src/conformance/corpus.js';
import { runEddyChain } from '../../src/conformance/eddy-side.js';
import {
  BUILD_HINT,
  type FluvioBatch,
  type FluvioBatchReply,
  type FluvioEngineServer,
  type FluvioFailure,
  type FluvioRun,
  type FluvioStep,
  fluvioEnginePath,
  type HarnessOptions,
  runFluvioChain,
} from '../../src/conformance/fluvio-engine.js';
import { decodeRecords, encodeRecords, type RecordInput } from '../../src/protocol/index.js';
import { wasmBytes } from './wasm.js';

export { prng } from '../../src/bench/input.js';

/**
 * Shared by the differential tests: the corpus with its bytes, seeded inputs, and the comparison
 * of one request run through Eddy's engine and through Fluvio's.
 */

/** Run the conformance tests when the harness is built, and always in CI (where a missing build is a failure). */
export const harnessReady = existsSync(fluvioEnginePath()) || process.env['CI'] === 'true';

export function missingMessage(): string {
  const missing = missingRustModules();
  return missing.length
    ? `Rust-built modules missing from ${rustModuleDir()}: ${missing.join(', ')}; ${BUILD_HINT} (it also needs the wasm32-unknown-unknown Rust target)`
    : '';
}

export interface LoadedModule extends CorpusModule {
  wasm: Uint8Array;
}

/** The corpus with its bytes (AssemblyScript modules are built on demand). */
export function loadCorpus(): LoadedModule[] {
  return corpus({ rust: missingRustModules().length === 0 }).map((m) => ({
    ...m,
    wasm: m.origin === 'rust' ? readFileSync(m.path) : wasmBytes(m.name),
  }));
}

/** Values that exercise the corpus: words, numbers, JSON, separators, binary, and ones modules reject. */
export const VALUE_POOL: readonly Uint8Array[] = [
  'apple',
  'banana',
  'kiwi',
  'a',
  '',
  '42',
  '-7',
  ' 3\n',
  '2147483647',
  'not a number',
  '{"level":"info","message":"up"}',
  '{"level":"debug"}',
  '[1,"two",{"three":3},null]',
  '[]',
  '{"average":2.5,"count":2}',
  '7.25',
  'a,b,,c',
  'reject this',
  'bad',
  'poison',
  'UPPER lower',
  'ünïcödé',
  'abcd',
]
  .map((s) => new Uint8Array(Buffer.from(s)))
  .concat([Uint8Array.of(0xff, 0xfe, 0x00, 0x61), Uint8Array.of(0xc3), Uint8Array.of(0x80, 0x61, 0x2c, 0x62)]);

export interface BatchShape {
  records: number;
  withKeys: 'none' | 'all' | 'some';
  /** Adds one value of this many bytes. */
  large?: number;
}

/** A batch of records drawn from the pool with seeded choices: keys, offset gaps, timestamp deltas. */
export function makeBatch(
  rand: () => number,
  baseOffset: number,
  baseTimestamp: number,
  shape: BatchShape,
  extra: readonly Uint8Array[] = [],
): FluvioBatch {
  const pool = [...VALUE_POOL, ...extra];
  const recs: RecordInput[] = [];
  let offset = 0;
  let ts = 0;
  for (let i = 0; i < shape.records; i++) {
    const value = pool[Math.floor(rand() * pool.length)]!;
    const keyed = shape.withKeys === 'all' || (shape.withKeys === 'some' && rand() < 0.5);
    recs.push({
      value,
      key: keyed ? new Uint8Array(Buffer.from(`k${i % 7}`)) : null,
      offsetDelta: offset,
      timestampDelta: ts,
    });
    offset += rand() < 0.9 ? 1 : 2;
    ts += Math.floor(rand() * 50);
  }
  if (shape.large) {
    const big = new Uint8Array(shape.large);
    for (let i = 0; i < big.length; i++) big[i] = 97 + ((i * 7) % 26);
    recs.push({ value: big, key: null, offsetDelta: offset, timestampDelta: ts });
  }
  return { baseOffset, baseTimestamp, raw: encodeRecords(recs) };
}

/** A run as comparable data: raw outputs as hex; failures by kind and the module's own fields, not engine wording. */
export function comparable(run: FluvioRun): unknown {
  return { setup: run.setupFailure && failure(run.setupFailure), batches: run.batches.map(reply) };
}

const hex = (b: Uint8Array | null | undefined) => (b == null ? b : Buffer.from(b).toString('hex'));

function failure(f: FluvioFailure): unknown {
  // Traps, load refusals and the memory cap are worded by each engine; their kind must agree.
  if (f.kind === 'other' || f.kind === 'memory') return { kind: f.kind };
  return { kind: f.kind, hint: f.hint, status: f.status, offset: f.offset, key: hex(f.key), value: hex(f.value) };
}

function reply(r: FluvioBatchReply): unknown {
  if (r.kind === 'failed') return { kind: 'failed', failure: failure(r.failure) };
  const out = { kind: r.kind, raw: hex(r.raw) };
  return r.kind === 'runtime-error'
    ? { ...out, error: { ...r.error, key: hex(r.error.key), value: hex(r.error.value) } }
    : out;
}

/** Where two runs first differ, in words (records decoded), for a readable failure. */
export function firstDifference(eddy: FluvioRun, fluvio: FluvioRun): string {
  const a = comparable(eddy) as { setup: unknown; batches: unknown[] };
  const b = comparable(fluvio) as { setup: unknown; batches: unknown[] };
  if (JSON.stringify(a.setup) !== JSON.stringify(b.setup))
    return `setup: eddy ${JSON.stringify(a.setup)} (${eddy.setupFailure?.message}) vs fluvio ${JSON.stringify(b.setup)} (${fluvio.setupFailure?.message})`;
  if (a.batches.length !== b.batches.length)
    return `batch count: eddy ${a.batches.length} vs fluvio ${b.batches.length}`;
  for (let i = 0; i < a.batches.length; i++) {
    if (JSON.stringify(a.batches[i]) === JSON.stringify(b.batches[i])) continue;
    return `batch ${i}: eddy ${describe(eddy.batches[i]!)} vs fluvio ${describe(fluvio.batches[i]!)}`;
  }
  return '';
}

function describe(r: FluvioBatchReply): string {
  if (r.kind === 'failed') return `failed ${r.failure.kind}: ${r.failure.message}`;
  let records: string;
  try {
    records = JSON.stringify(
      decodeRecords(r.raw)
        .slice(0, 5)
        .map((x) => ({ ...x, key: hex(x.key), value: Buffer.from(x.value).toString('latin1').slice(0, 40) })),
    );
  } catch (err) {
    records = `undecodable (${(err as Error).message})`;
  }
  return `${r.kind} ${r.raw.length} bytes ${records}${r.kind === 'runtime-error' ? ` error ${JSON.stringify({ ...r.error, key: hex(r.error.key), value: hex(r.error.value) })}` : ''}`;
}

/** Runs the request through both engines and asserts they agree byte for byte. */
export async function assertSame(
  t: ExecutionContext,
  label: string,
  steps: FluvioStep[],
  batches: FluvioBatch[],
  options: HarnessOptions = {},
): Promise<{ eddy: FluvioRun; fluvio: FluvioRun }> {
  const fluvio = runFluvioChain(steps, batches, options);
  const eddy = await runEddyChain(steps, batches, options);
  t.is(firstDifference(eddy, fluvio), '', `${label}: Eddy and Fluvio's engine differ`);
  return { eddy, fluvio };
}

/** A one-module chain step for a corpus module, with its needed parameters and lookback. */
export function stepFor(m: LoadedModule, extra: Partial<FluvioStep> = {}): FluvioStep {
  return {
    name: m.name,
    wasm: m.wasm,
    ...(m.params ? { params: m.params } : {}),
    ...(m.lookback ? { lookback: m.lookback } : {}),
    ...extra,
  };
}

/**
 * As assertSame, for property tests: returns where the runs differ ('' when they agree). With a
 * server, Fluvio's side runs in that long-lived harness instead of a new process.
 */
export async function assertSameQuiet(
  steps: FluvioStep[],
  batches: FluvioBatch[],
  options: HarnessOptions = {},
  server?: FluvioEngineServer,
): Promise<string> {
  const fluvio = server ? await server.run(steps, batches, options) : runFluvioChain(steps, batches, options);
  const eddy = await runEddyChain(steps, batches, options);
  return firstDifference(eddy, fluvio);
}
