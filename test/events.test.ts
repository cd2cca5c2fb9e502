import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type Eddy, on, once, open, SmartModuleRuntimeError } from '../src/index.js';
import { wasmPath } from './helpers/wasm.js';

// `once(eddy, event)` and `on(eddy, event)`: Node's events.once/on with the event's argument types.

const fresh = async (): Promise<Eddy> =>
  open(mkdtempSync(join(tmpdir(), 'eddy-events-')), { workers: 1, retentionCheckMs: 0 });
const values = (list: string[]) => list.map((v) => ({ value: Buffer.from(v) }));

test('on(eddy, "lag") yields typed lag events of a derived stream until it caught up', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('in', { partitions: 1 });
  await eddy.createTopic('out', { partitions: 1 });
  await eddy.produce('in', values(['apple', 'kiwi', 'banana']));
  const lags = on(eddy, 'lag');
  await eddy.startDerived({ name: 'keep', source: 'in', target: 'out', transforms: [{ uses: wasmPath('filter') }] });
  for await (const [info] of lags) {
    t.is(info.stream, 'keep/0');
    t.is(info.partition, 0);
    if (info.lag === 0) break; // ends the iteration and removes its listeners
  }
  t.is(eddy.listenerCount('lag'), 0);
  await eddy.close();
});

test('once(eddy, "error") resolves with the failing stream and its typed error', async (t) => {
  const eddy = await fresh();
  await eddy.createTopic('in', { partitions: 1 });
  await eddy.createTopic('out', { partitions: 1 });
  await eddy.produce('in', values(['a1', 'bad']));
  const failed = once(eddy, 'error');
  await eddy.startDerived({
    name: 'fragile',
    source: 'in',
    target: 'out',
    transforms: [{ uses: wasmPath('fail-on') }],
  });
  const [{ stream, error }] = await failed;
  t.is(stream, 'fragile/0');
  t.true(error instanceof SmartModuleRuntimeError);
  t.is(error.code, 'EDDY_SM_RUNTIME');
  await eddy.close();
});

test('once rejects with an AbortError when its signal aborts', async (t) => {
  const eddy = await fresh();
  await t.throwsAsync(once(eddy, 'lag', { signal: AbortSignal.abort() }), { name: 'AbortError' });
  t.is(eddy.listenerCount('lag'), 0);
  await eddy.close();
});
