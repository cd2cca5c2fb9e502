import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { type Eddy, type EddyError, open } from '../src/index.js';
import { wasmPath } from './helpers/wasm.js';

/** Derived streams through the embedding API: how failures, skips and refusals reach the host. */

const fresh = () => open(mkdtempSync(join(tmpdir(), 'eddy-derive-api-')), { workers: 2, retentionCheckMs: 0 });
const step = (name: string) => ({ uses: wasmPath(name), params: {}, lookback: null });

/** A fresh data directory with topics `in` (holding `records`) and `out`; closed when the test ends. */
async function withTopics(t: ExecutionContext, records: string[]): Promise<Eddy> {
  const eddy = await fresh();
  t.teardown(() => eddy.close());
  await eddy.createTopic('in');
  await eddy.createTopic('out');
  await eddy.produce(
    'in',
    records.map((v) => ({ value: Buffer.from(v) })),
  );
  return eddy;
}

test('a derived stream that stops with no error listener: a process warning, listed as stopped with its failure', async (t) => {
  const eddy = await withTopics(t, ['a1', 'bad', 'a2']);
  await eddy.createDerived({ name: 'fragile', source: 'in', target: 'out', transforms: [step('fail-on')] });
  const warnings: Error[] = [];
  const onWarning = (w: Error) => {
    if (w.name === 'EddyWarning' && w.message.includes('fragile/0')) warnings.push(w);
  };
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  t.is(eddy.listenerCount('error'), 0);
  const d = await eddy.startDerived('fragile');
  await d.done();
  // process.emitWarning emits on the next tick.
  await new Promise((r) => setImmediate(r));
  t.is(warnings.length, 1);
  t.is((warnings[0] as Error & { code?: string }).code, 'EDDY_SM_RUNTIME');
  t.regex(warnings[0]!.message, /^derived stream fragile\/0 stopped: fail-on: cannot parse bad/);
  const info = eddy.listDerived()[0]!;
  t.false(info.running, 'a stream whose every partition stopped is not running');
  t.deepEqual(
    info.partitions.map((p) => [p.offset, p.written, p.failure?.code, p.failure?.offset]),
    [[1, 1, 'EDDY_SM_RUNTIME', 1]],
  );
});

test('with an error listener the listener gets it (no warning); skip events carry each skipped record', async (t) => {
  const eddy = await withTopics(t, ['bad', 'a1', 'bad']);
  const skips: { stream: string; offset: number; code: string; deadLetterTopic: string }[] = [];
  eddy.on('skip', (s) =>
    skips.push({ stream: s.stream, offset: s.offset, code: s.error.code, deadLetterTopic: s.deadLetterTopic }),
  );
  const d = await eddy.startDerived({
    name: 'tolerant',
    source: 'in',
    target: 'out',
    transforms: [step('fail-on')],
    policy: 'skip',
    deadLetterTopic: 'rejected',
  });
  while (skips.length < 2) await new Promise((r) => setTimeout(r, 20));
  await eddy.stopDerived('tolerant');
  t.deepEqual(skips, [
    { stream: 'tolerant/0', offset: 0, code: 'EDDY_SM_RUNTIME', deadLetterTopic: 'rejected' },
    { stream: 'tolerant/0', offset: 2, code: 'EDDY_SM_RUNTIME', deadLetterTopic: 'rejected' },
  ]);
  t.deepEqual(d.checkpoint(0), { ...d.checkpoint(0)!, offset: 3, written: 1, skipped: 2 });
  const letters: string[] = [];
  for await (const r of eddy.consume('rejected', { from: 'beginning', partition: 0 }).records())
    letters.push(Buffer.from(r.key!).toString());
  t.deepEqual(letters, ['0/0', '0/2']);

  await eddy.createDerived({ name: 'brittle', source: 'in', target: 'out', transforms: [step('fail-on')] });
  const heard: EddyError[] = [];
  eddy.on('error', ({ error }) => heard.push(error));
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  await (await eddy.startDerived('brittle')).done();
  await new Promise((r) => setImmediate(r));
  t.deepEqual(
    heard.map((e) => e.code),
    ['EDDY_SM_RUNTIME'],
  );
  // (Tests of this file share the process: only this stream's warnings count.)
  t.deepEqual(
    warnings.filter((w) => w.message.includes('brittle')),
    [],
  );
});

test('createDerived and startDerived refuse invalid names and cycles', async (t) => {
  const eddy = await fresh();
  t.teardown(() => eddy.close());
  await eddy.createTopic('a');
  await eddy.createTopic('b');
  for (const name of ['', '../x', 'x'.repeat(64)]) {
    await t.throwsAsync(eddy.createDerived({ name, source: 'a', target: 'b', transforms: [step('filter')] }), {
      code: 'EDDY_DERIVE_NAME',
    });
  }
  await t.throwsAsync(eddy.createDerived({ name: 'self', source: 'a', target: 'a', transforms: [step('filter')] }), {
    code: 'EDDY_DERIVE_CYCLE',
    message: /a → \(self\) → a is a cycle/,
  });
  await t.throwsAsync(eddy.startDerived({ name: 'self', source: 'b', target: 'b', transforms: [step('filter')] }), {
    code: 'EDDY_DERIVE_CYCLE',
  });
  // A running stream that was never saved counts too.
  await eddy.startDerived({ name: 'ab', source: 'a', target: 'b', transforms: [step('filter')] });
  await t.throwsAsync(eddy.createDerived({ name: 'ba', source: 'b', target: 'a', transforms: [step('filter')] }), {
    code: 'EDDY_DERIVE_CYCLE',
    message: /b → \(ba\) → a → \(ab\) → b/,
  });
  t.deepEqual(eddy.listDerived(), []);
});
