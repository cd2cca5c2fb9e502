import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { encodeRecords } from '../src/protocol/index.js';
import {
  loadModule,
  ModuleLoadError,
  type ModuleLoadReason,
  SmartModuleInstanceGoneError,
  SmartModuleMemoryLimitError,
  SmartModuleOutputError,
  SmartModuleStatusError,
  SmartModuleTrapError,
} from '../src/smartmodule/index.js';
import { text } from './helpers/hex.js';
import { smartModule, wat } from './helpers/wat.js';

const dir = mkdtempSync(join(tmpdir(), 'eddy-corpus-'));
const file = (name: string, bytes: Uint8Array | string) => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
const batch = (values: string[], baseOffset = 0) => ({
  baseOffset,
  baseTimestamp: 0,
  raw: encodeRecords(values.map((v) => ({ value: text(v) }))),
});
const good = smartModule({});

const CORPUS: [string, Uint8Array | string, ModuleLoadReason, RegExp][] = [
  ['text.wasm', 'hello, I am not wasm', 'not-wasm', /not a WebAssembly module/],
  ['empty.wasm', new Uint8Array(0), 'not-wasm', /empty/],
  ['header-only.wasm', good.subarray(0, 6), 'truncated', /truncated/],
  ['half.wasm', good.subarray(0, Math.floor(good.length / 2)), 'truncated', /truncated/],
  ['version2.wasm', new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]), 'not-wasm', /version 2/],
  [
    'no-memory.wasm',
    wat(`(module (import "env" "copy_records" (func (param i32 i32)))
      (func (export "alloc") (param i32) (result i32) (i32.const 0))
      (func (export "filter") (param i32 i32 i32) (result i32) (i32.const 0)))`),
    'missing-memory',
    /"memory"/,
  ],
  [
    'no-alloc.wasm',
    smartModule({ exportsAlloc: false }),
    'missing-alloc',
    /"alloc".*exports: memory \(memory\), filter \(function\)/,
  ],
  [
    'no-transform.wasm',
    smartModule({ transform: 'transmogrify' }),
    'no-transform',
    /exports: memory \(memory\), alloc \(function\), transmogrify \(function\)/,
  ],
  [
    'old-signature.wasm',
    wat(`(module (import "env" "copy_records" (func (param i32 i32))) (memory (export "memory") 1)
      (func (export "alloc") (param i32) (result i32) (i32.const 0))
      (func (export "filter") (param i32 i32) (result i32) (i32.const 0)))`),
    'bad-signature',
    /"filter" has type \(i32, i32\) -> i32; expected \(i32, i32, i32\) -> i32 \(a module built before Nov 2021/,
  ],
  [
    'bad-init.wasm',
    smartModule({ extra: '(func (export "init") (param i32) (result i32) (i32.const 0))' }),
    'bad-signature',
    /"init" has type \(i32\) -> i32/,
  ],
  [
    'bad-alloc.wasm',
    wat(`(module (import "env" "copy_records" (func (param i32 i32))) (memory (export "memory") 1)
      (func (export "alloc") (param i64) (result i32) (i32.const 0))
      (func (export "filter") (param i32 i32 i32) (result i32) (i32.const 0)))`),
    'bad-signature',
    /"alloc" has type \(i64\) -> i32/,
  ],
  [
    'bad-import.wasm',
    smartModule({ imports: '(import "env" "abort" (func (param i32 i32 i32 i32)))' }),
    'unsupported-import',
    /imports function "env.abort", which Eddy cannot provide/,
  ],
  [
    'not-preview1.wasm',
    smartModule({ imports: '(import "wasi_snapshot_preview1" "sock_open" (func (param i32) (result i32)))' }),
    'unsupported-import',
    /sock_open/,
  ],
  [
    'no-copy-records.wasm',
    smartModule({ copyRecords: false, body: '(i32.const 0)' }),
    'missing-copy-records',
    /copy_records/,
  ],
  // No transform export and no copy_records (Fluvio's filter_missing_attribute): the missing transform is the cause.
  [
    'no-transform-no-import.wasm',
    smartModule({ transform: 'transmogrify', copyRecords: false, body: '(i32.const 0)' }),
    'no-transform',
    /exports no SmartModule function \(filter, map, filter_map, array_map or aggregate\)/,
  ],
  [
    'huge-memory.wasm',
    smartModule({ memory: '20000' }),
    'memory-too-large',
    /initial memory, above the 1000000000-byte limit/,
  ],
];

for (const [name, bytes, reason, message] of CORPUS) {
  test(`bad module corpus: ${name} → ${reason}`, async (t) => {
    const path = file(name, bytes);
    const err = await t.throwsAsync(loadModule(path), { instanceOf: ModuleLoadError });
    t.is(err!.reason, reason);
    t.is(err!.code, 'EDDY_MODULE_INVALID');
    t.true(err!.message.startsWith(`${path}:`), 'the error names the file');
    t.regex(err!.message, message);
  });
}

test('a missing file is a clear load error', async (t) => {
  const err = await t.throwsAsync(loadModule(join(dir, 'nope.wasm')), { instanceOf: ModuleLoadError });
  t.is(err!.reason, 'unreadable');
  t.regex(err!.message, /nope\.wasm: no such file; give the path of a SmartModule \.wasm$/);
});

test('garbage after a valid header is refused by the compiler with its reason', async (t) => {
  const bytes = new Uint8Array([...good.subarray(0, 8), 0x01, 0x03, 0x01, 0x99, 0x00]);
  const err = await t.throwsAsync(loadModule(bytes, { name: 'garbage' }), { instanceOf: ModuleLoadError });
  t.regex(err!.message, /^garbage: /);
});

test('kind detection follows Fluvio order and checks the first match only', async (t) => {
  const both = smartModule({
    transform: 'map',
    extra:
      '(func (export "filter") (param i32 i32 i32) (result i32) (call $copy (i32.const 16) (i32.const 5)) (i32.const 0))',
  });
  t.is((await loadModule(both)).kind, 'filter');
  const agg = await loadModule(smartModule({ transform: 'aggregate' }));
  t.is(agg.kind, 'aggregate');
  t.false(agg.hasInit);
});

test('a trap is a typed error naming the module and the first offset; the instance is discarded and can be re-created', async (t) => {
  const mod = await loadModule(smartModule({ body: 'unreachable' }), { name: 'boom' });
  const inst = mod.instantiate();
  const err = t.throws(() => inst.process(batch(['x'], 42)), { instanceOf: SmartModuleTrapError });
  t.regex(err!.message, /^boom: trapped in filter on the batch at offset 42: unreachable/);
  t.is(err!.firstOffset, 42);
  t.throws(() => inst.process(batch(['x'])), { instanceOf: SmartModuleInstanceGoneError });
  t.throws(
    () => mod.instantiate().process(batch(['y'])),
    { instanceOf: SmartModuleTrapError },
    'a fresh instance works (and traps again)',
  );
});

test('out-of-bounds access and stack overflow are traps, not crashes', async (t) => {
  const oob = await loadModule(smartModule({ body: '(i32.load (i32.const 0x7ffffff0))' }), { name: 'oob' });
  t.regex(
    t.throws(() => oob.instantiate().process(batch(['x'])), { instanceOf: SmartModuleTrapError })!.message,
    /out of bounds/,
  );
  const deep = await loadModule(
    smartModule({
      body: '(call $rec (i32.const 0))',
      extra: '(func $rec (param i32) (result i32) (call $rec (i32.add (local.get 0) (i32.const 1))))',
    }),
    { name: 'deep' },
  );
  t.regex(
    t.throws(() => deep.instantiate().process(batch(['x'])), { instanceOf: SmartModuleTrapError })!.message,
    /stack overflow/,
  );
});

test('memory cap: a module that grows past the limit fails with an error naming the limit', async (t) => {
  // Grows 16 pages at a time until memory.grow fails, then aborts as a Rust/AS allocator does.
  const eater = smartModule({
    body: `(block $done (loop $more
      (br_if $done (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
      (br $more))) unreachable`,
  });
  const mod = await loadModule(eater, { name: 'eater', memoryLimit: 8 * 1024 * 1024 });
  const inst = mod.instantiate();
  const err = t.throws(() => inst.process(batch(['x'], 7)), { instanceOf: SmartModuleMemoryLimitError });
  t.is(err!.limit, 8 * 1024 * 1024);
  t.true(err!.current <= 8 * 1024 * 1024);
  t.regex(
    err!.message,
    /memory limit exceeded in filter on the batch at offset 7: \d+ bytes in use, limit 8388608 bytes/,
  );
  // The default cap is Fluvio's 1e9 bytes: the same module is stopped there, not at the process's limit.
  const dflt = (await loadModule(eater, { name: 'eater' })).instantiate();
  t.is(t.throws(() => dflt.process(batch(['x'])), { instanceOf: SmartModuleMemoryLimitError })!.limit, 1_000_000_000);
});

test('an input larger than the memory limit is refused as a memory-limit error', async (t) => {
  const growAlloc = wat(`(module (import "env" "copy_records" (func $copy (param i32 i32))) (memory (export "memory") 1)
    (data (i32.const 16) "\\00\\00\\00\\00\\00")
    (func (export "alloc") (param $n i32) (result i32)
      (if (i32.eq (memory.grow (i32.add (i32.shr_u (local.get $n) (i32.const 16)) (i32.const 1))) (i32.const -1)) (then unreachable))
      (i32.const 1024))
    (func (export "filter") (param i32 i32 i32) (result i32) (call $copy (i32.const 16) (i32.const 5)) (i32.const 0)))`);
  const mod = await loadModule(growAlloc, { name: 'small', memoryLimit: 4 * 65536 });
  const err = t.throws(() => mod.instantiate().process(batch(['x'.repeat(300_000)])), {
    instanceOf: SmartModuleMemoryLimitError,
  });
  t.true(err!.requested! > 300_000);
});

test("negative status codes fail the batch with Fluvio's description; unknown codes map to UnknownError", async (t) => {
  const m11 = await loadModule(smartModule({ body: '(i32.const -11)' }), { name: 'old' });
  const e = t.throws(() => m11.instantiate().process(batch(['a'], 3)), { instanceOf: SmartModuleStatusError });
  t.is(e!.status, -11);
  t.regex(e!.message, /old: filter returned status -11 on the batch at offset 3: DecodingBaseInput/);
  const m7 = await loadModule(smartModule({ body: '(i32.const -7)' }));
  t.is(t.throws(() => m7.instantiate().process(batch(['a'])), { instanceOf: SmartModuleStatusError })!.status, -1);
});

test('success without announced output, or an announced range outside memory, is an output error', async (t) => {
  const silent = await loadModule(smartModule({ body: '(i32.const 0)' }), { name: 'silent' });
  t.regex(
    t.throws(() => silent.instantiate().process(batch(['a'])), { instanceOf: SmartModuleOutputError })!.message,
    /announced no output/,
  );
  const wild = await loadModule(smartModule({ body: '(call $copy (i32.const 65530) (i32.const 100)) (i32.const 0)' }), {
    name: 'wild',
  });
  t.throws(() => wild.instantiate().process(batch(['a'])), { instanceOf: SmartModuleOutputError });
});

test('WASI sandbox: no environment, no preopens, stdout goes to the logger; grants are explicit', async (t) => {
  const probe = smartModule({
    imports: `(import "wasi_snapshot_preview1" "environ_sizes_get" (func $env (param i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))`,
    extra: '(data (i32.const 64) "hi from wasm\\npartial") (data (i32.const 32) "\\40\\00\\00\\00\\14\\00\\00\\00")',
    body: `(drop (call $env (i32.const 0) (i32.const 4)))
      (if (i32.ne (i32.load (i32.const 0)) (i32.const 0)) (then unreachable))
      (if (i32.ne (call $prestat (i32.const 3) (i32.const 8)) (i32.const 8)) (then unreachable))
      (drop (call $write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 40)))
      (call $copy (i32.const 16) (i32.const 5)) (i32.const 0)`,
  });
  process.env['EDDY_SECRET'] = 'x';
  const mod = await loadModule(probe, { name: 'probe' });
  const lines: string[] = [];
  const inst = mod.instantiate({ logger: (stream, line, module) => lines.push(`${module}:${stream}:${line}`) });
  const out = inst.process(batch(['a']));
  t.is(out.count, 0);
  inst.dispose();
  t.deepEqual(lines, ['probe:stdout:hi from wasm', 'probe:stdout:partial']);
  // With an environment granted, the probe sees it (and traps by design).
  t.throws(() => mod.instantiate({ sandbox: { env: { A: '1' } }, logger: () => {} }).process(batch(['a'])), {
    instanceOf: SmartModuleTrapError,
  });
  t.throws(() => mod.instantiate({ sandbox: { preopens: { '/data': dir } }, logger: () => {} }).process(batch(['a'])), {
    instanceOf: SmartModuleTrapError,
  });
});
