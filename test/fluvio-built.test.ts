import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { decodeRecords, encodeRecords } from '../src/protocol/index.js';
import { loadModule, ModuleLoadError, SmartModuleInitError, SmartModuleStatusError } from '../src/smartmodule/index.js';

/**
 * Conformance against modules built by Fluvio's own Rust toolchain. They cannot be built here (no
 * wasm32 Rust target, no crates.io) nor committed (they are Fluvio's files), so this runs only when
 * EDDY_FLUVIO_WASM_DIR names a directory holding copies of Fluvio's test fixtures:
 *   sm_ok.wasm            crates/fluvio-hub-util/tests/sm_ok.wasm (a filter with init needing `key`)
 *   sm_need_more_data.wasm, filter_missing_attribute.wasm (modules Fluvio's own tests refuse)
 */
const dir = process.env['EDDY_FLUVIO_WASM_DIR'];
const have = (name: string) => !!dir && existsSync(join(dir, name));
const run = have('sm_ok.wasm') ? test : test.skip;

run('a Fluvio-built filter with init behaves as the spec vectors recorded from it (TV2, TV6, TV8)', async (t) => {
  const mod = await loadModule(join(dir!, 'sm_ok.wasm'), { name: 'sm_ok' });
  t.is(mod.kind, 'filter');
  t.true(mod.hasInit);
  t.is(t.throws(() => mod.instantiate(), { instanceOf: SmartModuleInitError })!.hint, 'Missing param key');
  const inst = mod.instantiate({ params: { key: 'a' } });
  const tv1 = inst.process({
    baseOffset: 100,
    baseTimestamp: 1_700_000_000_000,
    raw: encodeRecords(['apple', 'hello', 'banana'].map((v, i) => ({ value: Buffer.from(v), offsetDelta: i }))),
  });
  t.is(Buffer.from(tv1.raw).toString('hex'), '0000000216000000000a6170706c650018000004000c62616e616e6100');
  const tv2 = inst.process({
    baseOffset: 100,
    baseTimestamp: 1_700_000_000_000,
    raw: encodeRecords([
      { key: Buffer.from('k0'), value: Buffer.from('apple') },
      { key: Buffer.from('k1'), value: Buffer.from([0xff, 0x61]), offsetDelta: 1 },
      { value: Buffer.from('banana'), offsetDelta: 2 },
    ]),
  });
  t.deepEqual(
    decodeRecords(tv2.raw).map((r) => Buffer.from(r.value).toString()),
    ['apple'],
  );
  t.is(tv2.error!.hint, 'invalid utf-8 sequence of 1 bytes from index 0');
  t.is(tv2.error!.offset, 101);
  const v25 = mod.instantiate({ params: { key: 'a' }, version: 25 });
  t.is(
    t.throws(
      () =>
        v25.process({
          baseOffset: 0,
          baseTimestamp: 1_700_000_000_000,
          raw: encodeRecords([{ value: Buffer.from('a') }]),
        }),
      { instanceOf: SmartModuleStatusError },
    )!.status,
    -11,
  );
});

run("modules Fluvio's own tests refuse are refused with named causes", async (t) => {
  for (const [file, reason] of [
    ['sm_need_more_data.wasm', 'truncated'],
    ['filter_missing_attribute.wasm', 'no-transform'],
  ] as const) {
    if (!have(file)) continue;
    const err = await t.throwsAsync(loadModule(join(dir!, file)), { instanceOf: ModuleLoadError });
    t.is(err!.reason, reason, file);
  }
  t.true(readdirSync(dir!).length > 0);
});
