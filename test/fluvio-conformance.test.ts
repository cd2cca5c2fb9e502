import { existsSync } from 'node:fs';
import test from 'ava';
import { runEddyChain } from '../src/conformance/eddy-side.js';
import { type FluvioBatch, fluvioEnginePath, runFluvioChain } from '../src/conformance/fluvio-engine.js';
import { encodeRecords } from '../src/protocol/index.js';
import {
  assertSame,
  firstDifference,
  harnessReady,
  type LoadedModule,
  loadCorpus,
  makeBatch,
  missingMessage,
  prng,
  stepFor,
} from './helpers/conformance.js';

/**
 * Differential tests: every module the project builds runs the same seeded input through Eddy's
 * engine and through Fluvio's own engine (the fluvio-smartengine crate, driven as the SPU drives
 * it, by conformance/fluvio-engine); records, runtime errors and init/look-back errors must agree
 * byte for byte. Where Eddy differs on purpose, the test says so by name. In CI the harness is
 * built by .ci/run, and a missing harness fails these tests with the command that builds it.
 */

const run = harnessReady ? test : test.skip;
const text = (s: string) => new Uint8Array(Buffer.from(s));
const BASE_TS = 1_700_000_000_000;

run('the harness and the Rust-built modules are there (CI builds them in .ci/run)', (t) => {
  t.true(
    existsSync(fluvioEnginePath()),
    `no harness at ${fluvioEnginePath()}: run \`bash conformance/build-fluvio-engine.sh\``,
  );
  t.is(missingMessage(), '');
});

const corpus = harnessReady ? loadCorpus() : [];

/** Seeded batches covering the input list, for one module. */
function mixedBatches(seed: number): FluvioBatch[] {
  const rand = prng(seed);
  return [
    { baseOffset: 0, baseTimestamp: BASE_TS, raw: encodeRecords([]) },
    makeBatch(rand, 0, BASE_TS, { records: 6, withKeys: 'none' }),
    makeBatch(rand, 10, BASE_TS + 1000, { records: 25, withKeys: 'some' }),
    makeBatch(rand, 40, BASE_TS + 2000, { records: 3, withKeys: 'all', large: 1 << 20 }),
    makeBatch(rand, 50, 0, { records: 2000, withKeys: 'some' }),
    makeBatch(rand, 5000, BASE_TS + 9000, { records: 8, withKeys: 'all' }),
  ];
}

/** History records for look_back: base offset and timestamp are 0 there, deltas as given (spec §6.7). */
function history(values: string[]): Uint8Array {
  return encodeRecords(
    values.map((v, i) => ({
      value: text(v),
      key: i % 2 ? text(`h${i}`) : null,
      offsetDelta: 100 + i,
      timestampDelta: i * 10,
    })),
  );
}

for (const m of corpus) {
  run(`${m.origin} ${m.name}: seeded mixed batches agree with Fluvio's engine`, async (t) => {
    const steps = [
      stepFor(m, {
        params: { ...m.params, unused: 'x' },
        ...(m.lookback ? { history: history(['3', '9', 'apple', '12']) } : {}),
      }),
    ];
    await assertSame(t, m.name, steps, mixedBatches(hashName(m.name)));
  });

  if (m.params) {
    run(`${m.origin} ${m.name}: params missing and present agree`, async (t) => {
      const { fluvio } = await assertSame(
        t,
        `${m.name} without params`,
        [stepFor(m, { params: {} })],
        mixedBatches(7).slice(0, 3),
      );
      t.is(fluvio.setupFailure?.kind, 'init', 'the module needs its parameters');
      await assertSame(
        t,
        `${m.name} with other params`,
        [stepFor(m, { params: Object.fromEntries(Object.keys(m.params!).map((k) => [k, 'an'])) })],
        mixedBatches(8).slice(0, 3),
      );
    });
  }

  if (m.lookback) {
    run(`${m.origin} ${m.name}: look-back histories agree (none, short, long)`, async (t) => {
      for (const h of [[], ['5'], Array.from({ length: 40 }, (_, i) => String(i * 3))]) {
        await assertSame(
          t,
          `${m.name} history ${h.length}`,
          [stepFor(m, { history: history(h) })],
          mixedBatches(h.length).slice(0, 3),
        );
      }
    });
  }
}

const aggregates = corpus.filter((m) => /aggregate/.test(m.name));
run('aggregates carry their accumulator across batches as Fluvio does, with and without an initial one', async (t) => {
  t.true(aggregates.length >= 3);
  for (const m of aggregates) {
    for (const initial of [null, '10', '{"average":4.0,"count":2}', 'junk']) {
      const rand = prng(initial?.length ?? 0);
      const batches = [0, 1, 2, 3].map((i) =>
        makeBatch(rand, i * 100, BASE_TS + i, { records: 5 + i * 3, withKeys: 'some' }),
      );
      await assertSame(
        t,
        `${m.name} initial ${initial}`,
        [stepFor(m, { accumulator: initial === null ? null : text(initial) })],
        batches,
      );
    }
  }
});

run(
  'records a module rejects: runtime errors agree (hint, offset, kind, key, value) and the successes before them',
  async (t) => {
    const rejecting = corpus.filter((m) =>
      [
        'fail-on',
        'filter',
        'map-double',
        'rust-filter',
        'rust-map',
        'rust-filter-map',
        'rust-array-map',
        'rust-aggregate',
        'rust-json-array-map',
      ].includes(m.name),
    );
    t.true(rejecting.length >= 3);
    for (const m of rejecting) {
      const values = ['apple', 'kiwi', 'bad', 'reject me', 'banana']
        .map((v) => text(v))
        .concat([Uint8Array.of(0xff, 0x61)]);
      const raw = encodeRecords(
        values.map((value, i) => ({ value, key: i === 2 ? text('kk') : null, offsetDelta: i, timestampDelta: i * 5 })),
      );
      const { fluvio } = await assertSame(t, m.name, [stepFor(m)], [{ baseOffset: 70, baseTimestamp: BASE_TS, raw }]);
      t.is(fluvio.batches[0]?.kind, 'runtime-error', `${m.name} rejects one of the records`);
    }
  },
);

run('a trap ends the chain in both engines', async (t) => {
  const m = byName('trap');
  const batches = [['a'], ['b', 'boom', 'c'], ['d']].map((vs, i) => ({
    baseOffset: i * 10,
    baseTimestamp: BASE_TS,
    raw: encodeRecords(vs.map((v) => ({ value: text(v) }))),
  }));
  const { fluvio } = await assertSame(t, 'trap', [stepFor(m)], batches);
  t.deepEqual(
    fluvio.batches.map((b) => b.kind),
    ['ok', 'failed'],
  );
});

run('the memory cap: a module that grows past the limit fails with a memory error in both engines', async (t) => {
  const m = byName('eat-memory');
  const batches = [['a'], ['eat']].map((vs) => ({
    baseOffset: 0,
    baseTimestamp: BASE_TS,
    raw: encodeRecords(vs.map((v) => ({ value: text(v) }))),
  }));
  const { fluvio } = await assertSame(t, 'eat-memory', [stepFor(m)], batches, { memoryLimit: 32 << 20 });
  t.is(fluvio.batches[1]?.kind === 'failed' ? fluvio.batches[1].failure.kind : null, 'memory');
});

run(
  'difference by design, protocol version: Eddy sends 22 where the SPU sends 25; both engines agree at each version',
  async (t) => {
    const m = byName('legacy-v21');
    const batches = [
      {
        baseOffset: 3,
        baseTimestamp: BASE_TS,
        raw: encodeRecords([{ value: text('apple') }, { value: text('plum'), offsetDelta: 1 }]),
      },
    ];
    const at22 = await assertSame(t, 'v22', [stepFor(m, { version: 22 })], batches);
    const at25 = await assertSame(t, 'v25', [stepFor(m, { version: 25 })], batches);
    // A module built with a pre-2023 SmartModule crate works at 22 and fails every batch at 25.
    t.is(at22.fluvio.batches[0]?.kind, 'ok');
    const f25 = at25.fluvio.batches[0];
    t.is(f25?.kind === 'failed' ? `${f25.failure.kind} ${f25.failure.status}` : f25?.kind, 'transform-status -11');
  },
);

run(
  'difference by design, output buffers: Eddy frees each output, Fluvio leaks it, so only Fluvio runs into the memory cap',
  async (t) => {
    const m = byName('map-uppercase');
    const big = new Uint8Array(1 << 20).fill(0x61);
    const batches = Array.from({ length: 40 }, (_, i) => ({
      baseOffset: i,
      baseTimestamp: BASE_TS,
      raw: encodeRecords([{ value: big }]),
    }));
    const options = { memoryLimit: 24 << 20 };
    const fluvio = runFluvioChain([stepFor(m)], batches, options);
    const eddy = await runEddyChain([stepFor(m)], batches, options);
    const failedAt = fluvio.batches.findIndex((b) => b.kind === 'failed');
    t.true(failedAt > 0, "Fluvio's engine reaches the cap after some batches");
    t.is(fluvio.batches[failedAt]!.kind === 'failed' && fluvio.batches[failedAt]!.failure.kind, 'memory');
    t.is(eddy.batches.length, 40);
    t.true(
      eddy.batches.every((b) => b.kind === 'ok'),
      'Eddy runs all 40 batches',
    );
    // Up to the point where Fluvio's engine ran out of memory, the outputs are the same bytes.
    for (let i = 0; i < failedAt; i++) t.deepEqual(eddy.batches[i], fluvio.batches[i]);
  },
);

// Rust's dlmalloc traps when `dealloc` is told a length other than the block's capacity, which the
// host cannot know; Eddy frees outputs only of modules that declare a dealloc of any length (its
// SDK's), so Rust-built modules run with their defaults as in Fluvio, never trapping.
(harnessReady ? test : test.skip)(
  "Rust-built modules run with Eddy's default options: outputs are not freed behind their allocator's back",
  async (t) => {
    const m = byName('rust-filter');
    // Batches of 1 to 40 records: most of them leave the output Vec with spare capacity.
    const batches = Array.from({ length: 40 }, (_, n) => ({
      baseOffset: n * 100,
      baseTimestamp: BASE_TS,
      raw: encodeRecords(Array.from({ length: n + 1 }, (_, i) => ({ value: text(`apple${i}`), offsetDelta: i }))),
    }));
    const eddy = await runEddyChain([stepFor(m)], batches);
    const fluvio = runFluvioChain([stepFor(m)], batches);
    t.is(firstDifference(eddy, fluvio), '');
    // Forcing the free is still possible, and shows why it is not the default.
    const forced = await runEddyChain([stepFor(m)], batches, { freeOutput: true });
    t.true(
      forced.batches.some((b) => b.kind === 'failed'),
      "freeing a Rust-built module's outputs traps in its allocator",
    );
  },
);

function byName(name: string): LoadedModule {
  const m = corpus.find((c) => c.name === name);
  if (!m) throw new Error(`no corpus module ${name}`);
  return m;
}

function hashName(s: string): number {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}
