import test from 'ava';
import { decodeRecords, encodeRecords } from '../src/protocol/index.js';
import {
  loadModule,
  SmartModuleMemoryLimitError,
  SmartModuleStatusError,
  SmartModuleTrapError,
} from '../src/smartmodule/index.js';
import { wasmPath } from './helpers/wasm.js';

// The engine-test modules of test/fixtures/modules, through the engine (spin is left to the
// engine's own tests: it never returns).

const batch = (values: string[], baseTimestamp = 1700000000000) => ({
  baseOffset: 10,
  baseTimestamp,
  raw: encodeRecords(values.map((v, i) => ({ value: Buffer.from(v), offsetDelta: i }))),
});
const values = (raw: Uint8Array): string[] => decodeRecords(raw).map((r) => Buffer.from(r.value).toString());

test('trap: a trap fails the batch with SmartModuleTrapError', async (t) => {
  const inst = (await loadModule(wasmPath('trap'))).instantiate();
  t.deepEqual(values(inst.process(batch(['a', 'b'])).raw), ['a', 'b']);
  t.throws(() => inst.process(batch(['a', 'boom'])), { instanceOf: SmartModuleTrapError });
});

test('fail-on: runtime error with the successes before it', async (t) => {
  const inst = (await loadModule(wasmPath('fail-on'))).instantiate();
  const out = inst.process(batch(['x', 'bad', 'y']));
  t.deepEqual(values(out.raw), ['x']);
  t.like(out.error, { hint: 'cannot parse bad', offset: 11, kind: 'filter' });
  inst.dispose();
});

test('eat-memory: the memory cap stops it', async (t) => {
  const inst = (await loadModule(wasmPath('eat-memory'), { memoryLimit: 64 * 1024 * 1024 })).instantiate();
  t.deepEqual(values(inst.process(batch(['a'])).raw), ['a']);
  const err = t.throws(() => inst.process(batch(['eat'])));
  t.true(err instanceof SmartModuleMemoryLimitError || err instanceof SmartModuleTrapError, String(err));
});

test('legacy-v21: runs at v22, -11 at v25 (spec §5.11, TV6)', async (t) => {
  const mod = await loadModule(wasmPath('legacy-v21'));
  const v22 = mod.instantiate();
  t.deepEqual(values(v22.process(batch(['apple', 'kiwi'])).raw), ['apple']);
  const v25 = mod.instantiate({ version: 25 });
  const err = t.throws(() => v25.process(batch(['apple'])), { instanceOf: SmartModuleStatusError });
  t.is(err?.status, -11);
  // the SDK's current decoder handles v25
  const cur = (await loadModule(wasmPath('filter'))).instantiate({ version: 25 });
  t.deepEqual(values(cur.process(batch(['apple', 'kiwi'])).raw), ['apple']);
});

test('legacy-aggregate through the engine at v22 sees 0x8b as accumulator', async (t) => {
  const inst = (await loadModule(wasmPath('legacy-aggregate'))).instantiate({ initialAccumulator: Buffer.from('acc') });
  const out = inst.process(batch(['x']));
  t.is(Buffer.from(inst.accumulator).toString('hex'), '8b78');
  t.is(out.count, 1);
});

test('echo-params: params reach init sorted', async (t) => {
  const inst = (await loadModule(wasmPath('echo-params'))).instantiate({
    params: { zeta: '1', alpha: '2', mid: 'x=y' },
  });
  t.deepEqual(values(inst.process(batch(['v'])).raw), ['alpha=2;mid=x=y;zeta=1']);
  const none = (await loadModule(wasmPath('echo-params'))).instantiate();
  t.deepEqual(values(none.process(batch(['v'])).raw), ['']);
});
