import test from 'ava';
import { decodeRecords, encodeRecords, type RecordInput } from '../src/protocol/index.js';
import {
  type BatchInput,
  Chain,
  loadModule,
  SmartModuleInitError,
  SmartModuleMemoryLimitError,
  SmartModuleRuntimeError,
  SmartModuleStatusError,
  SmartModuleTrapError,
} from '../src/smartmodule/index.js';
import { appendCustomSection, DEALLOC_ANY_SIZE_SECTION } from '../src/smartmodule/wasm-binary.js';
import { text } from './helpers/hex.js';
import { wasmPath } from './helpers/wasm.js';
import { smartModule } from './helpers/wat.js';

const TS = 1_700_000_000_000;
const batch = (records: RecordInput[], baseOffset = 0, baseTimestamp = TS): BatchInput => ({
  baseOffset,
  baseTimestamp,
  raw: encodeRecords(records),
});
const vals = (raw: Uint8Array) => decodeRecords(raw).map((r) => Buffer.from(r.value).toString());
const v = (s: string, extra: Partial<RecordInput> = {}): RecordInput => ({ value: text(s), ...extra });

test('filter keeps records unchanged (deltas and keys kept), as TV1 says', async (t) => {
  const mod = await loadModule(wasmPath('filter'));
  t.is(mod.kind, 'filter');
  const inst = mod.instantiate();
  const out = inst.process(
    batch(
      [v('apple'), v('hello', { offsetDelta: 1 }), v('banana', { offsetDelta: 2, key: text('k'), timestampDelta: 9 })],
      100,
    ),
  );
  t.is(out.count, 2);
  t.is(out.error, null);
  const recs = decodeRecords(out.raw);
  t.deepEqual(
    recs.map((r) => [
      Buffer.from(r.value).toString(),
      r.offsetDelta,
      r.timestampDelta,
      r.key && Buffer.from(r.key).toString(),
    ]),
    [
      ['apple', 0, 0, null],
      ['banana', 2, 9, 'k'],
    ],
  );
  // Byte for byte what the spec's TV1 output holds.
  const tv1 = inst.process(batch([v('apple'), v('hello', { offsetDelta: 1 }), v('banana', { offsetDelta: 2 })], 100));
  t.is(Buffer.from(tv1.raw).toString('hex'), '0000000216000000000a6170706c650018000004000c62616e616e6100');
});

test('runtime error: typed error with hint, offset, kind, key, value; records before it kept', async (t) => {
  const mod = await loadModule(wasmPath('fail-on'), { name: 'fail-on' });
  const out = mod
    .instantiate()
    .process(batch([v('ok1'), v('bad', { key: text('k1'), offsetDelta: 1 }), v('ok2', { offsetDelta: 2 })], 40));
  t.deepEqual(vals(out.raw), ['ok1']);
  t.true(out.error instanceof SmartModuleRuntimeError);
  const e = out.error!;
  t.is(e.hint, 'cannot parse bad');
  t.is(e.offset, 41);
  t.is(e.kind, 'filter');
  t.deepEqual(e.key, text('k1'));
  t.deepEqual(e.value, text('bad'));
  t.is(e.module, 'fail-on');
  t.regex(
    e.message,
    /cannot parse bad\n\nSmartModule Info: \n {4}Type: filter\n {4}Offset: 41\n {4}Key: k1\n {4}Value: bad/,
  );
});

test('a trap from a real module names module and first offset; the module can be instantiated again', async (t) => {
  const mod = await loadModule(wasmPath('trap'));
  const inst = mod.instantiate();
  t.deepEqual(vals(inst.process(batch([v('fine')])).raw), ['fine']);
  const err = t.throws(() => inst.process(batch([v('boom')], 900)), { instanceOf: SmartModuleTrapError });
  t.is(err!.firstOffset, 900);
  t.regex(err!.message, /^trap: trapped in filter on the batch at offset 900/);
  t.deepEqual(vals(mod.instantiate().process(batch([v('again')])).raw), ['again']);
});

test('memory cap on a real module that eats memory: a clear error naming the limit, the process survives', async (t) => {
  const mod = await loadModule(wasmPath('eat-memory'), { memoryLimit: 64 * 1024 * 1024 });
  const inst = mod.instantiate();
  const err = t.throws(() => inst.process(batch([v('eat')], 3)), { instanceOf: SmartModuleMemoryLimitError });
  t.is(err!.limit, 64 * 1024 * 1024);
  t.regex(err!.message, /limit 67108864 bytes/);
  t.deepEqual(vals(mod.instantiate().process(batch([v('x')])).raw), ['x']);
});

test('memory stays flat over thousands of batches (output freed); without freeing it grows as in Fluvio', async (t) => {
  const mod = await loadModule(wasmPath('filter'));
  // The SDK declares a dealloc that frees any length, so the engine frees outputs by default.
  t.true(mod.descriptor.deallocAnySize);
  const records = Array.from({ length: 100 }, (_, i) => v(`value ${i} ${'a'.repeat(1000)}`, { offsetDelta: i }));
  const input = batch(records);
  const freed = mod.instantiate();
  const leaky = mod.instantiate({ freeOutput: false });
  for (let i = 0; i < 50; i++) {
    freed.process(input);
    leaky.process(input);
  }
  const freedStart = freed.memoryBytes;
  for (let i = 0; i < 3000; i++) freed.process(input);
  t.is(freed.memoryBytes, freedStart, 'freed: flat over 3000 batches of ~100 KB output');
  const leakyStart = leaky.memoryBytes;
  for (let i = 0; i < 300; i++) leaky.process(input);
  t.true(leaky.memoryBytes > leakyStart + 20 * 1024 * 1024, `leaky grew from ${leakyStart} to ${leaky.memoryBytes}`);
});

test("outputs are freed only for modules that declare a dealloc of any length (Rust's allocator traps on a wrong one)", async (t) => {
  // A dealloc that traps when called shows whether the engine calls it.
  const bytes = smartModule({ extra: '(func (export "dealloc") (param i32 i32) unreachable)' });
  const plain = await loadModule(bytes, { name: 'plain' });
  t.false(plain.descriptor.deallocAnySize);
  t.is(plain.instantiate().process(batch([v('x')])).raw.length, 4, "not freed: Fluvio's behaviour");
  const declared = await loadModule(appendCustomSection(bytes, DEALLOC_ANY_SIZE_SECTION), { name: 'declared' });
  t.true(declared.descriptor.deallocAnySize);
  t.is(
    t
      .throws(() => declared.instantiate().process(batch([v('x')])), { instanceOf: SmartModuleTrapError })!
      .message.includes('dealloc'),
    true,
  );
  t.throws(
    () => plain.instantiate({ freeOutput: true }).process(batch([v('x')])),
    { instanceOf: SmartModuleTrapError },
    'freeOutput: true forces it',
  );
});

test('init parameters arrive sorted; an init error surfaces the module hint', async (t) => {
  const echo = await loadModule(wasmPath('echo-params'));
  t.true(echo.hasInit);
  const inst = echo.instantiate({ params: { zeta: '1', alpha: 'x=y', key: 'a' } });
  t.deepEqual(vals(inst.process(batch([v('r')])).raw), ['alpha=x=y;key=a;zeta=1']);
  const param = await loadModule(wasmPath('filter-param'), { name: 'filter-param' });
  const err = t.throws(() => param.instantiate(), { instanceOf: SmartModuleInitError });
  t.is(err!.hint, 'Missing param key');
  t.regex(err!.message, /^filter-param: init failed: Missing param key/);
  t.deepEqual(vals(param.instantiate({ params: { key: 'an' } }).process(batch([v('banana'), v('apple')])).raw), [
    'banana',
  ]);
});

test('look_back: called after init with history, skipped when no lookback or an empty source', async (t) => {
  const mod = await loadModule(wasmPath('filter-look-back'));
  t.true(mod.hasLookBack);
  const withHistory = mod.instantiate({ lookback: { last: 1 } });
  withHistory.lookBack(encodeRecords([v('3')]));
  t.deepEqual(vals(withHistory.process(batch([v('2'), v('4'), v('3'), v('5')])).raw), ['4', '5']);
  const empty = mod.instantiate({ lookback: { last: 1 } });
  empty.lookBack(encodeRecords([]));
  t.is(empty.calls, 0, 'empty source: look_back not called');
  const none = mod.instantiate();
  none.lookBack(encodeRecords([v('100')]));
  t.is(none.calls, 0, 'no lookback configured: not called');
  t.deepEqual(vals(none.process(batch([v('1'), v('2')])).raw), ['1', '2']);
});

test('aggregate: accumulator carried across batches, initial value configurable, unchanged by an empty batch', async (t) => {
  const mod = await loadModule(wasmPath('aggregate-sum'));
  t.is(mod.kind, 'aggregate');
  const inst = mod.instantiate({ initialAccumulator: text('100') });
  t.deepEqual(vals(inst.process(batch([v('1'), v('2')])).raw), ['101', '103']);
  inst.process(batch([]));
  t.is(Buffer.from(inst.accumulator).toString(), '103');
  t.deepEqual(vals(inst.process(batch([v('10')])).raw), ['113']);
  const err = inst.process(batch([v('1'), v('x'), v('2')])).error;
  t.truthy(err);
  t.is(Buffer.from(inst.accumulator).toString(), '114', 'updated to the value after the last success');
});

test('chains: outputs feed the next module with the original base offset and timestamp', async (t) => {
  const filter = await loadModule(wasmPath('filter'));
  const upper = await loadModule(wasmPath('map-uppercase'));
  const sum = await loadModule(wasmPath('aggregate-sum'));
  const chain = Chain.create([{ module: filter }, { module: upper }]);
  const out = chain.process(
    batch([v('apple'), v('kiwi', { offsetDelta: 1 }), v('banana', { offsetDelta: 2, timestampDelta: 5 })], 10),
  );
  const recs = decodeRecords(out.raw);
  t.deepEqual(
    recs.map((r) => [Buffer.from(r.value).toString(), r.offsetDelta, r.timestampDelta]),
    [
      ['APPLE', 0, 0],
      ['BANANA', 2, 5],
    ],
  );
  // A runtime error in the middle ends the chain with that module's output.
  const failing = Chain.create([{ module: await loadModule(wasmPath('fail-on')) }, { module: sum }]);
  const f = failing.process(batch([v('1'), v('bad', { offsetDelta: 1 }), v('2', { offsetDelta: 2 })], 7));
  t.deepEqual(vals(f.raw), ['1'], "the failing module's successes, not the next module's");
  t.is(f.error!.offset, 8);
  // Skip policy steps over the failing record and runs the rest through the whole chain.
  const skipping = Chain.create([{ module: await loadModule(wasmPath('fail-on')) }, { module: sum }]);
  const s = skipping.processWith(batch([v('1'), v('bad', { offsetDelta: 1 }), v('2', { offsetDelta: 2 })], 7), 'skip');
  t.deepEqual(vals(s.raw), ['1', '3']);
  t.is(s.skipped.length, 1);
  t.is(s.error, null);
  t.deepEqual(
    skipping.metrics.map((m) => [m.module, m.invocations, m.recordsIn, m.recordsOut, m.errors]),
    [
      ['fail-on', 2, 4, 2, 1],
      ['aggregate-sum', 2, 2, 2, 0],
    ],
  );
  // An empty chain returns its input.
  const input = batch([v('x')]);
  t.is(Chain.create([]).process(input).raw, input.raw);
});

test('older crate decoders: legacy module works at v22 (Eddy default) and fails at v25 with a non-zero timestamp', async (t) => {
  const legacy = await loadModule(wasmPath('legacy-v21'));
  t.deepEqual(vals(legacy.instantiate().process(batch([v('apple'), v('kiwi')])).raw), ['apple']);
  const v25 = legacy.instantiate({ version: 25 });
  const err = t.throws(() => v25.process(batch([v('apple')])), { instanceOf: SmartModuleStatusError });
  t.is(err!.status, -11);
  // Old aggregate glue reads the accumulator from the timestamp bytes at v22, exactly as Fluvio does (spec §5.11).
  const agg = (await loadModule(wasmPath('legacy-aggregate'))).instantiate({ initialAccumulator: text('zz') });
  t.deepEqual(vals(agg.process(batch([v('a')], 0, 0)).raw), ['a'], 'base_timestamp 0: empty accumulator');
  const agg2 = (await loadModule(wasmPath('legacy-aggregate'))).instantiate({ initialAccumulator: text('zz') });
  t.deepEqual(
    decodeRecords(agg2.process(batch([v('a')], 0, TS)).raw).map((r) => [...r.value]),
    [[0x8b, 0x61]],
    'current timestamp: the 4th timestamp byte',
  );
});
