import test from 'ava';
import fc from 'fast-check';
import { type FluvioBatch, FluvioEngineServer, type FluvioStep } from '../src/conformance/fluvio-engine.js';
import { encodeRecords, type RecordInput } from '../src/protocol/index.js';
import { assertSameQuiet, harnessReady, loadCorpus, VALUE_POOL } from './helpers/conformance.js';

/**
 * Property: any chain of 1–4 corpus modules, over any batches, gives the same bytes, runtime
 * errors and failures through Eddy's engine and Fluvio's. One long-lived harness process answers
 * every case, each with a new chain, and compiles each corpus module once (its compile cache), so
 * the 1000 cases per run stay cheap. EDDY_CONFORMANCE_RUNS sets the number of cases
 * (default below); a failure prints fast-check's seed and path, which replay it exactly
 * (fc.assert's `seed` and `path`).
 */

const run = harnessReady ? test : test.skip;
const RUNS = Number(process.env['EDDY_CONFORMANCE_RUNS'] ?? 1000);
const corpus = harnessReady ? loadCorpus() : [];

const value = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...VALUE_POOL) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => new Uint8Array(Buffer.from(s))) },
);

const record = fc.record({
  key: fc.option(
    fc.constantFrom('k', 'key-2', 'ключ').map((s) => new Uint8Array(Buffer.from(s))),
    { nil: null },
  ),
  value,
  gap: fc.integer({ min: 1, max: 3 }),
  ts: fc.integer({ min: 0, max: 5000 }),
});

const batch = fc
  .record({
    baseOffset: fc.integer({ min: 0, max: 1_000_000 }),
    baseTimestamp: fc.oneof(fc.constant(0), fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 })),
    records: fc.array(record, { maxLength: 30 }),
  })
  .map(({ baseOffset, baseTimestamp, records }): FluvioBatch => {
    let offset = 0;
    const recs: RecordInput[] = records.map((r) => {
      const out = { key: r.key, value: r.value, offsetDelta: offset, timestampDelta: r.ts };
      offset += r.gap;
      return out;
    });
    return { baseOffset, baseTimestamp, raw: encodeRecords(recs) };
  });

const chain = fc.record({
  modules: fc.array(fc.integer({ min: 0, max: Math.max(0, corpus.length - 1) }), { minLength: 1, maxLength: 4 }),
  version: fc.constantFrom(22, 25),
  withParams: fc.boolean(),
  accumulator: fc.option(fc.constantFrom('0', '5', 'x'), { nil: null }),
});

run(`random chains of 1–4 corpus modules over random batches agree with Fluvio's engine (${RUNS} cases)`, async (t) => {
  // The first cases compile the corpus with wasmtime (when the compile cache is cold); a slow, shared
  // machine must not fail the test.
  t.timeout(15 * 60_000);
  t.true(corpus.length > 10);
  const server = new FluvioEngineServer();
  t.teardown(() => server.close());
  await fc.assert(
    fc.asyncProperty(chain, fc.array(batch, { minLength: 1, maxLength: 8 }), async (c, batches) => {
      const steps: FluvioStep[] = c.modules.map((i) => {
        const m = corpus[i]!;
        return {
          name: m.name,
          wasm: m.wasm,
          version: c.version,
          params: c.withParams ? { key: 'a', contains: 'a', ...m.params } : {},
          ...(m.lookback ? { lookback: m.lookback } : {}),
          ...(c.accumulator !== null ? { accumulator: new Uint8Array(Buffer.from(c.accumulator)) } : {}),
        };
      });
      const diff = await assertSameQuiet(steps, batches, {}, server);
      if (diff) throw new Error(`chain ${c.modules.map((i) => corpus[i]!.name).join(' → ')} at v${c.version}: ${diff}`);
    }),
    { numRuns: RUNS },
  );
  t.pass();
});
