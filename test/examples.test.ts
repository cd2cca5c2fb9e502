import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { decodeRecords, encodeRecords } from '../src/protocol/index.js';
import { eddyRoot } from '../src/sdk-build/compile.js';
import { loadModule, SmartModuleInitError, SmartModuleLookbackError } from '../src/smartmodule/index.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * Behaviour of every example THROUGH THE ENGINE, from examples/<name>/cases.json. Expected outputs
 * are what the Rust original of each example gives (see the comment at the top of its source); the
 * JSON examples' error hints use the SDK reader's words (a byte offset, not serde's line and column).
 */

interface RecordSpec {
  value?: string;
  valueHex?: string;
  key?: string | null;
  keyHex?: string;
  offsetDelta?: number;
  timestampDelta?: number;
}
interface BatchSpec {
  baseOffset?: number;
  baseTimestamp?: number;
  records: RecordSpec[];
  output: RecordSpec[];
  error?: { hint: string; offset: number; kind: string; key?: string | null; value?: string; valueHex?: string } | null;
  accumulator?: string;
}
interface CaseSpec {
  name: string;
  params?: Record<string, string>;
  lookback?: { last: number; ageMs?: number };
  history?: RecordSpec[];
  initialAccumulator?: string;
  initError?: string;
  lookbackError?: { hint: string; offset: number; value: string };
  batches?: BatchSpec[];
}
interface ExampleSpec {
  kind: string;
  hasInit?: boolean;
  hasLookBack?: boolean;
  cases: CaseSpec[];
}

const bytesOf = (text: string | undefined, hexText: string | undefined): Uint8Array =>
  hexText !== undefined ? new Uint8Array(Buffer.from(hexText, 'hex')) : new Uint8Array(Buffer.from(text ?? ''));

function keyOf(r: RecordSpec): Uint8Array | null {
  if (r.keyHex !== undefined) return bytesOf(undefined, r.keyHex);
  return r.key == null ? null : bytesOf(r.key, undefined);
}

const encode = (records: RecordSpec[]): Uint8Array =>
  encodeRecords(
    records.map((r) => ({
      key: keyOf(r),
      value: bytesOf(r.value, r.valueHex),
      offsetDelta: r.offsetDelta ?? 0,
      timestampDelta: r.timestampDelta ?? 0,
    })),
  );

const show = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('hex'));

const root = join(eddyRoot(), 'examples');
for (const name of readdirSync(root).sort()) {
  const file = join(root, name, 'cases.json');
  if (!existsSync(file)) continue;
  const spec = JSON.parse(readFileSync(file, 'utf8')) as ExampleSpec;

  test(`example ${name}: module shape`, async (t) => {
    const mod = await loadModule(wasmPath(name));
    t.is(mod.kind as string, spec.kind);
    t.is(mod.hasInit, spec.hasInit ?? false);
    t.is(mod.hasLookBack, spec.hasLookBack ?? false);
  });

  for (const c of spec.cases) {
    test(`example ${name}: ${c.name}`, async (t) => {
      const mod = await loadModule(wasmPath(name));
      const options = {
        ...(c.params ? { params: c.params } : {}),
        ...(c.lookback ? { lookback: c.lookback } : {}),
        ...(c.initialAccumulator !== undefined ? { initialAccumulator: bytesOf(c.initialAccumulator, undefined) } : {}),
      };
      if (c.initError !== undefined) {
        const err = t.throws(() => mod.instantiate(options), { instanceOf: SmartModuleInitError });
        t.is(err?.hint, c.initError);
        return;
      }
      const inst = mod.instantiate(options);
      try {
        if (c.history) {
          if (c.lookbackError) {
            const err = t.throws(() => inst.lookBack(encode(c.history!)), { instanceOf: SmartModuleLookbackError });
            t.like(err, { hint: c.lookbackError.hint, offset: c.lookbackError.offset });
            t.is(Buffer.from(err!.value).toString(), c.lookbackError.value);
            return;
          }
          inst.lookBack(encode(c.history));
        }
        for (const [i, b] of (c.batches ?? []).entries()) {
          const out = inst.process({
            baseOffset: b.baseOffset ?? 0,
            baseTimestamp: b.baseTimestamp ?? 0,
            raw: encode(b.records),
          });
          const got = decodeRecords(out.raw).map((r) => ({
            key: show(r.key),
            value: show(r.value),
            offsetDelta: r.offsetDelta,
            timestampDelta: r.timestampDelta,
          }));
          const want = b.output.map((r) => ({
            key: show(keyOf(r)),
            value: show(bytesOf(r.value, r.valueHex)),
            offsetDelta: r.offsetDelta ?? 0,
            timestampDelta: r.timestampDelta ?? 0,
          }));
          t.deepEqual(got, want, `batch ${i} output`);
          t.is(out.count, b.output.length, `batch ${i} count`);
          if (b.error) {
            t.truthy(out.error, `batch ${i} error expected`);
            t.is(out.error?.hint, b.error.hint, `batch ${i} hint`);
            t.is(out.error?.offset, b.error.offset, `batch ${i} error offset`);
            t.is(out.error?.kind, b.error.kind, `batch ${i} error kind`);
            t.is(
              show(out.error?.key ?? null),
              show(b.error.key == null ? null : bytesOf(b.error.key, undefined)),
              `batch ${i} error key`,
            );
            t.is(
              show(out.error?.value ?? null),
              show(bytesOf(b.error.value, b.error.valueHex)),
              `batch ${i} error value`,
            );
          } else {
            t.is(out.error, null, `batch ${i}: unexpected error ${out.error?.hint}`);
          }
          if (b.accumulator !== undefined)
            t.is(Buffer.from(inst.accumulator).toString(), b.accumulator, `batch ${i} accumulator`);
        }
      } finally {
        inst.dispose();
      }
    });
  }
}
