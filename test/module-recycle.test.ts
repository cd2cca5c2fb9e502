import test from 'ava';
import { moduleLimits } from '../src/cli/common.js';
import { cliMessage } from '../src/cli/errors.js';
import { UsageError } from '../src/cli/format.js';
import { rustModulePath } from '../src/conformance/corpus.js';
import { runEddyChain } from '../src/conformance/eddy-side.js';
import { runFluvioChain } from '../src/conformance/fluvio-engine.js';
import { open } from '../src/index.js';
import { encodeRecords } from '../src/protocol/index.js';
import { Chain, type ChainStep, loadModule, SmartModuleMemoryLimitError } from '../src/smartmodule/index.js';
import { errorFromWire, errorToWire } from '../src/wire/wire-error.js';
import { firstDifference, harnessReady, loadCorpus } from './helpers/conformance.js';
import { tempDir } from './helpers/storage.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * Instances that keep their outputs (every Rust-built module: Fluvio's glue leaks each output) are
 * recycled once they have grown past `recycleAfter`: same params, same accumulator, same outputs,
 * and memory that no longer grows with the stream. SDK modules stand in for Rust ones here with
 * `freeOutput: false`, which makes them leak exactly as Fluvio's glue does.
 */

const MiB = 1024 * 1024;

/** `n` batches of 100 records of ~1 KB: about 100 KB of output per batch through a keep-all filter. */
function batches(n: number, value = (b: number, i: number) => `a value ${b}.${i} ${'a'.repeat(1000)}`) {
  return Array.from({ length: n }, (_, b) => ({
    baseOffset: b * 100,
    baseTimestamp: 1_700_000_000_000 + b,
    raw: encodeRecords(
      Array.from({ length: 100 }, (_, i) => ({ value: Buffer.from(value(b, i)), offsetDelta: i, timestampDelta: i })),
    ),
  }));
}

function runAll(chain: Chain, input: ReturnType<typeof batches>): Buffer {
  return Buffer.concat(input.map((b) => Buffer.from(chain.process(b).raw)));
}

test('an instance that keeps its outputs is recycled past recycleAfter: init runs again, outputs unchanged, memory bounded', async (t) => {
  const recycling = await loadModule(wasmPath('filter-param'), { recycleAfter: 2 * MiB });
  const keeping = await loadModule(wasmPath('filter-param'), { recycleAfter: false });
  const step = (module: typeof recycling): ChainStep => ({ module, params: { key: 'a' } });
  const a = Chain.create([step(recycling)], { freeOutput: false });
  const b = Chain.create([step(keeping)], { freeOutput: false });
  t.true(a.instances[0]!.keepsOutputs);
  const start = a.instances[0]!.memoryBytes;
  const input = batches(300);
  t.true(runAll(a, input).equals(runAll(b, input)), 'the same records, byte for byte, across recycles');
  t.true(a.metrics[0]!.recycles >= 5, `recycled ${a.metrics[0]!.recycles} times over ~30 MB of output`);
  t.is(b.metrics[0]!.recycles, 0);
  // Growth past the threshold is caught before the next batch: one batch's output (~100 KB) beyond
  // it, rounded up by the allocator's growth step (AssemblyScript's can double the memory).
  t.true(a.metrics[0]!.memoryBytes <= 2 * (start + 2 * MiB), `peak ${a.metrics[0]!.memoryBytes}`);
  t.true(b.instances[0]!.memoryBytes > start + 20 * MiB, `without recycling it grew to ${b.instances[0]!.memoryBytes}`);
  a.dispose();
  b.dispose();
});

test('a recycled aggregate carries its accumulator over (it is host-held)', async (t) => {
  const recycling = await loadModule(wasmPath('aggregate-sum'), { recycleAfter: 1 * MiB });
  const keeping = await loadModule(wasmPath('aggregate-sum'), { recycleAfter: false });
  const input = batches(200, (b, i) => `${(b * 100 + i) % 997}${' '.repeat(500)}`);
  const a = Chain.create([{ module: recycling }], { freeOutput: false, accumulators: [Buffer.from('5')] });
  const b = Chain.create([{ module: keeping }], { freeOutput: false, accumulators: [Buffer.from('5')] });
  t.true(runAll(a, input).equals(runAll(b, input)));
  t.true(a.metrics[0]!.recycles > 0, 'recycled at least once');
  t.deepEqual(a.accumulators, b.accumulators);
});

test('never recycled: modules that export look_back (state in statics), modules that free their outputs', async (t) => {
  const lookBack = await loadModule(wasmPath('filter-look-back'), { recycleAfter: 1 * MiB });
  const rising = batches(100, (b, i) => `${b * 100 + i + 1}${' '.repeat(1000)}`);
  for (const lookback of [{ last: 1 }, null]) {
    const chain = Chain.create([{ module: lookBack, lookback }], { freeOutput: false });
    chain.lookBack(() => encodeRecords([{ value: Buffer.from('0') }]));
    runAll(chain, rising);
    t.is(chain.metrics[0]!.recycles, 0, `look-back module, lookback ${JSON.stringify(lookback)}`);
    t.true(chain.instances[0]!.memoryBytes > 5 * MiB, 'it kept its outputs and grew');
  }
  const freeing = Chain.create([{ module: await loadModule(wasmPath('filter'), { recycleAfter: 1 * MiB }) }]);
  t.false(freeing.instances[0]!.keepsOutputs);
  runAll(freeing, batches(100));
  t.is(freeing.metrics[0]!.recycles, 0);
});

test('recycleAfter must be a size in bytes', async (t) => {
  await t.throwsAsync(loadModule(wasmPath('filter'), { recycleAfter: -1 }), { message: /recycleAfter must be/ });
});

const rust = harnessReady ? test : test.skip;

rust("Rust-built modules recycled mid-stream still agree byte for byte with Fluvio's engine", async (t) => {
  const corpus = loadCorpus();
  // The aggregate's outputs are short running totals (~1.5 KB a batch): a smaller threshold recycles it too.
  const thresholds: Record<string, number> = {
    'rust-map': MiB,
    'rust-filter-param': MiB,
    'rust-aggregate': 128 * 1024,
  };
  for (const [name, recycleAfter] of Object.entries(thresholds)) {
    const m = corpus.find((c) => c.name === name);
    if (!m)
      return t.fail(
        `${name} missing from the corpus (built from conformance/fluvio-modules: ${rustModulePath('map')})`,
      );
    const steps = [{ name, wasm: m.wasm, ...(m.params ? { params: m.params } : {}) }];
    const input = batches(120);
    const fluvio = runFluvioChain(steps, input);
    const eddy = await runEddyChain(steps, input, { recycleAfter });
    t.is(firstDifference(eddy, fluvio), '', `${name}: recycled instances differ from Fluvio's engine`);
    // The same run again, counted: the recycles above did happen.
    const chain = Chain.create([
      { module: await loadModule(m.wasm, { name, recycleAfter }), ...(m.params ? { params: m.params } : {}) },
    ]);
    runAll(chain, input);
    t.true(chain.metrics[0]!.recycles >= 1, `${name}: recycled ${chain.metrics[0]!.recycles} times`);
  }
});

rust(
  'open({ recycleAfter }) recycles a Rust map on the workers of a derived stream; status and /metrics count it',
  async (t) => {
    const eddy = await open(tempDir(t, 'eddy-recycle-'), {
      workers: 2,
      retentionCheckMs: 0,
      recycleAfter: MiB,
      http: '127.0.0.1:0',
    });
    t.teardown(() => eddy.close());
    await eddy.createTopic('in');
    await eddy.createTopic('out');
    const values = Array.from({ length: 6000 }, (_, i) => `value ${i} ${'x'.repeat(1000)}`);
    await eddy.produce(
      'in',
      values.map((v) => ({ value: Buffer.from(v) })),
    );
    await eddy.createDerived({
      name: 'upper',
      source: 'in',
      target: 'out',
      transforms: [{ uses: rustModulePath('map'), params: {}, lookback: null }],
    });
    await eddy.startDerived('upper');
    const deadline = Date.now() + 60_000;
    let st = eddy.telemetry.status().streams[0]!;
    while (st.recordsIn < values.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      st = eddy.telemetry.status().streams[0]!;
    }
    t.is(st.recordsIn, values.length);
    t.true(st.modules[0]!.recycles >= 2, `recycled ${st.modules[0]!.recycles} times over ~6 MB of output`);
    // The checkpoint can be read a moment before the output's write is acknowledged: follow waits for it.
    const out: string[] = [];
    for await (const r of eddy.consume('out', { limit: values.length, follow: true }))
      out.push(Buffer.from(r.value).toString());
    t.deepEqual(
      out,
      values.map((v) => v.toUpperCase()),
      'every record once, in order, mapped',
    );
    const metrics = await (await fetch(`${eddy.http!.url}metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('eddy_module_recycles_total{'));
    t.true(Number(line?.split(' ').pop()) >= 2, line ?? 'no eddy_module_recycles_total sample');
  },
);

test('--recycle-after takes a size; 0 turns recycling off; nonsense is a usage error naming the flag', (t) => {
  t.deepEqual(moduleLimits({ recycleAfter: '64MiB' }), { recycleAfter: 64 * MiB });
  t.deepEqual(moduleLimits({ recycleAfter: '0' }), { recycleAfter: false });
  t.deepEqual(moduleLimits({ recycleAfter: 'off' }), { recycleAfter: false });
  t.throws(() => moduleLimits({ recycleAfter: 'lots' }), { instanceOf: UsageError, message: /--recycle-after/ });
});

test('an instance that keeps its outputs and is not recycled meets the memory cap with an error that says why', async (t) => {
  const m = await loadModule(wasmPath('filter'), { memoryLimit: 8 * MiB, recycleAfter: false });
  const chain = Chain.create([{ module: m }], { freeOutput: false });
  const err = t.throws(() => runAll(chain, batches(200)), { instanceOf: SmartModuleMemoryLimitError })!;
  t.true(err.keptOutputs);
  t.regex(err.message, /kept every output it returned in its memory.*recycleAfter \(CLI: --recycle-after\)/);
  // The same words after the trip from a worker to the coordinator.
  const back = errorFromWire(errorToWire(err)) as SmartModuleMemoryLimitError;
  t.true(back.keptOutputs);
  t.is(back.message, err.message);
  // On the command line, the flags instead of the API's names.
  t.regex(cliMessage(err), /grow by --recycle-after \(default 32MiB\).*--memory-limit <size>/);
  // A module that frees its outputs and still eats memory is not told that story.
  const eater = (await loadModule(wasmPath('eat-memory'), { memoryLimit: 64 * MiB })).instantiate();
  const eaten = t.throws(
    () => eater.process({ baseOffset: 0, baseTimestamp: 0, raw: encodeRecords([{ value: Buffer.from('eat') }]) }),
    { instanceOf: SmartModuleMemoryLimitError },
  )!;
  t.false(eaten.keptOutputs);
  t.notRegex(eaten.message, /kept every output/);
});
