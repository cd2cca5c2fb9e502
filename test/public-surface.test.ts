import { readFileSync } from 'node:fs';
import test from 'ava';
import * as root from '../src/index.js';
import * as internals from '../src/internals.js';

// The package root is what an embedding program needs; the building blocks live in eddy/internals.

test('the root exports the façade, the logger helpers, step helpers and every error class', (t) => {
  for (const name of ['open', 'Eddy', 'on', 'once', 'DerivedStream', 'stderrLogger', 'quietLogger'])
    t.true(name in root, name);
  for (const name of ['resolveUses', 'anchorSteps', 'parseTransformSteps', 'readTransformsFile', 'parseDuration'])
    t.true(name in root, name);
  t.true(Object.keys(root.ERROR_CODES).length > 0);
  const errors = Object.entries(root).filter(
    ([, v]) => typeof v === 'function' && v.prototype instanceof root.EddyError,
  );
  for (const name of ['SmartModuleRuntimeError', 'UnknownTopicError', 'UnknownModuleError', 'SessionTimeoutError'])
    t.true(
      errors.some(([n]) => n === name),
      name,
    );
});

test('internals are not in the root but in eddy/internals', (t) => {
  const moved = [
    'WorkerPool',
    'ChainSession',
    'LOCK_FILE',
    'sipHash24',
    'fluvioKeyHash',
    'BATCH_HEADER_SIZE',
    'encodeRawBatch',
    'ResultFrameWriter',
    'PartitionLog',
    'openStorage',
  ];
  for (const name of moved) {
    t.false(name in root, `root exports ${name}`);
    t.true(name in internals, `internals lack ${name}`);
  }
  // The engine and the record encoding keep their own subpaths, not the root.
  for (const name of ['loadModule', 'Chain', 'encodeRecords']) t.false(name in root, name);
});

test('package.json declares eddy/internals next to the root, smartmodule and protocol', (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  t.deepEqual(Object.keys(pkg.exports), ['.', './smartmodule', './protocol', './internals']);
  t.is(pkg.exports['./internals'].default, './dist/src/internals.js');
});

test('the package resolves eddy/internals by name', async (t) => {
  const mod = await import('eddy/internals');
  t.is(mod.WorkerPool, internals.WorkerPool);
});
