import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { resolveUses, UnknownModuleError as UnknownStepModuleError } from '../src/coordinator/resolve.js';
import { openStorage } from '../src/internals.js';
import {
  formatModuleTable,
  InvalidModuleError,
  ModuleExistsError,
  openStorage as openStorageOnly,
  UnknownModuleError,
} from '../src/storage/index.js';
import { tempDir, tempStorage } from './helpers/storage.js';
import { wasmPath } from './helpers/wasm.js';
import { smartModule } from './helpers/wat.js';

test('register by bytes or path, list, get, delete; kind, size and hash come from the engine', async (t) => {
  const dir = tempDir(t);
  let store = await openStorage(dir, { retentionCheckMs: 0 });
  const mapBytes = smartModule({ transform: 'map' });
  const a = await store.modules.register('my-map', mapBytes);
  t.like(a, {
    name: 'my-map',
    kind: 'map',
    size: mapBytes.length,
    sha256: createHash('sha256').update(mapBytes).digest('hex'),
  });
  const filterFile = wasmPath('filter');
  const b = await store.modules.register('infinyon/filter@0.1.0', filterFile);
  t.is(b.kind, 'filter');
  t.is(b.size, readFileSync(filterFile).length);
  t.deepEqual(
    store.modules.list().map((m) => m.name),
    ['infinyon/filter@0.1.0', 'my-map'],
  );
  await store.close();

  store = await openStorage(dir, { retentionCheckMs: 0 });
  t.teardown(() => store.close());
  const got = store.modules.get('my-map')!;
  t.deepEqual(Buffer.from(got.bytes), Buffer.from(mapBytes));
  t.is(got.kind, 'map');
  t.deepEqual(Buffer.from(store.modules.bytes('infinyon/filter@0.1.0')!), readFileSync(filterFile));
  // A step's `uses`: the registered name first, else a file.
  const uses = { registry: store.modules, baseDir: dir };
  t.deepEqual(resolveUses('infinyon/filter@0.1.0', uses), { registered: 'infinyon/filter@0.1.0' });
  t.deepEqual(resolveUses(filterFile, uses), { file: filterFile });
  t.throws(() => resolveUses('no-such-module', uses, 'transforms[0].uses'), {
    instanceOf: UnknownStepModuleError,
    message: /^transforms\[0\]\.uses: SmartModule "no-such-module" is not registered and is not a \.wasm file/,
  });

  await store.modules.delete('my-map');
  t.deepEqual(
    store.modules.list().map((m) => m.name),
    ['infinyon/filter@0.1.0'],
  );
  t.is(store.modules.get('my-map'), undefined);
  const gone = await t.throwsAsync(store.modules.delete('my-map'), {
    instanceOf: UnknownModuleError,
    code: 'EDDY_UNKNOWN_MODULE',
  });
  t.regex(gone!.message, /no SmartModule named "my-map" is registered/);
  // One class for an unknown module, whether the registry or a transform step found it missing.
  t.is(UnknownModuleError, UnknownStepModuleError);
});

test('invalid modules are refused with the engine reason and nothing is stored', async (t) => {
  const { store, dir } = await tempStorage(t);
  await store.modules.register('ok', smartModule({}));
  const garbage = await t.throwsAsync(store.modules.register('garbage', new Uint8Array([1, 2, 3, 4])), {
    instanceOf: InvalidModuleError,
  });
  t.is(garbage?.code, 'EDDY_MODULE_INVALID');
  t.regex(garbage!.message, /^SmartModule "garbage" is not valid: .+; nothing was registered$/);
  t.truthy(garbage!.cause, 'the engine error is kept as the cause');
  const noTransform = await t.throwsAsync(
    store.modules.register('nothing', smartModule({ transform: 'something_else' })),
    { instanceOf: InvalidModuleError },
  );
  t.regex(noTransform!.message, /exports no SmartModule function/);
  const noCopy = await t.throwsAsync(
    store.modules.register('nocopy', smartModule({ copyRecords: false, body: '(i32.const 0)' })),
    { instanceOf: InvalidModuleError },
  );
  t.regex(noCopy!.message, /copy_records/);
  const missing = join(dir, 'missing.wasm');
  await t.throwsAsync(store.modules.register('file', missing), {
    instanceOf: InvalidModuleError,
    message: /cannot read .*missing\.wasm: no such file \(ENOENT\)/,
  });
  t.deepEqual(
    store.modules.list().map((m) => m.name),
    ['ok'],
  );
  // Names already taken, bad names.
  await t.throwsAsync(store.modules.register('ok', smartModule({})), { instanceOf: ModuleExistsError });
  const replaced = await store.modules.register('ok', smartModule({ transform: 'aggregate' }), { replace: true });
  t.is(replaced.kind, 'aggregate');
  await t.throwsAsync(store.modules.register('has space', smartModule({})), { code: 'EDDY_INVALID_ARGUMENT' });
});

test('module names are validated as Fluvio validates resource names; Hub package names group/name@version are accepted', async (t) => {
  const { store } = await tempStorage(t, {
    validateModule: async (bytes) => ({ kind: 'filter', size: bytes.length, sha256: '' }),
  });
  const good = [
    'regex-filter',
    'm',
    '0',
    'a1-b2',
    'x'.repeat(63),
    'infinyon/regex-filter@0.1.0',
    'my-group/jolt@1',
    'g/n@1.2',
    'g/n@1.0.0-beta.1',
  ];
  for (const name of good) await t.notThrowsAsync(store.modules.register(name, new Uint8Array([1])), name);
  const bad = [
    'Upper',
    'under_score',
    'dot.name',
    '-lead',
    'trail-',
    'has space',
    'x'.repeat(64),
    '',
    'group/name',
    'group/name@',
    'group/name@1.',
    'Group/name@1.0.0',
    'group/Name@1.0.0',
    '/name@1.0.0',
    'a/b/c@1.0.0',
    'g/n@x.y',
  ];
  for (const name of bad) {
    const err = await t.throwsAsync(
      store.modules.register(name, new Uint8Array([1])),
      { code: 'EDDY_INVALID_ARGUMENT' },
      name,
    );
    t.regex(err!.message, /lowercase letters, digits and '-'.*group\/name@version/, name);
  }
  t.deepEqual(
    store.modules
      .list()
      .map((m) => m.name)
      .sort(),
    [...good].sort(),
  );
});

test('the validator can be injected', async (t) => {
  const calls: string[] = [];
  const { store } = await tempStorage(t, {
    validateModule: async (bytes, name) => {
      calls.push(name);
      if (bytes[0] === 0) throw new Error('custom refusal');
      return { kind: 'filter', size: bytes.length, sha256: '' };
    },
  });
  t.is((await store.modules.register('x', new Uint8Array([1]))).kind, 'filter');
  await t.throwsAsync(store.modules.register('y', new Uint8Array([0])), { message: /custom refusal/ });
  t.deepEqual(calls, ['x', 'y']);
});

test('list prints NAME STATUS SIZE as fluvio smart-module list does', async (t) => {
  const { store, dir } = await tempStorage(t);
  t.is(store.modules.formatList(), 'no smart modules\n');
  const bytes = smartModule({});
  await store.modules.register('regex-filter', bytes);
  const file = join(dir, 'a.wasm');
  writeFileSync(file, smartModule({ transform: 'map', extra: '(func $pad)' }));
  await store.modules.register('m', file);
  const out = store.modules.formatList();
  const lines = out.trimEnd().split('\n');
  t.is(lines.length, 3);
  t.regex(lines[0]!, /^ NAME +STATUS +SIZE$/);
  t.regex(lines[1]!, /^ +m +ready +\d+$/);
  t.regex(lines[2]!, new RegExp(`^ regex-filter +ready +${bytes.length}$`));
  t.is(formatModuleTable([]), 'no smart modules\n');
});

test('a read-only storage cannot register modules', async (t) => {
  const { store, dir } = await tempStorage(t);
  await store.modules.register('a', smartModule({}));
  const reader = await openStorage(dir, { readOnly: true });
  t.teardown(() => reader.close());
  t.deepEqual(
    reader.modules.list().map((m) => m.name),
    ['a'],
  );
  await t.throwsAsync(reader.modules.register('b', smartModule({})), { code: 'EDDY_READ_ONLY' });
});

test("storage opened on its own has no engine: registering needs a validator handed in; the package's openStorage hands the engine's", async (t) => {
  const dir = tempDir(t);
  const bare = await openStorageOnly(dir, { retentionCheckMs: 0 });
  const err = await t.throwsAsync(bare.modules.register('a', smartModule({})), { code: 'EDDY_NO_MODULE_VALIDATOR' });
  t.regex(err!.message, /cannot register SmartModule "a": .*pass validateModule; nothing was registered/);
  t.deepEqual(bare.modules.list(), []);
  await bare.close();
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  t.teardown(() => store.close());
  await t.throwsAsync(store.modules.register('garbage', new Uint8Array([1, 2, 3, 4])), {
    instanceOf: InvalidModuleError,
  });
  t.is((await store.modules.register('a', smartModule({}))).kind, 'filter');
});
