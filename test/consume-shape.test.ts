import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type ConsumedBatch, type Eddy, InvalidArgumentError, open, type RecordStream } from '../src/index.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * `eddy.consume` returns one shape whatever the options (all partitions, one partition, several,
 * with or without transforms): records by iteration or `.records()`, partition-tagged batches by
 * `.batches()`, positions, `commit()` for a named consumer, `close()`, and the abort signal.
 */

const fresh = async (): Promise<Eddy> =>
  open(mkdtempSync(join(tmpdir(), 'eddy-shape-')), { workers: 2, retentionCheckMs: 0 });
const str = (b: Uint8Array) => Buffer.from(b).toString();

async function fruit(eddy: Eddy): Promise<void> {
  await eddy.createTopic('f', { partitions: 2 });
  // Two stored batches on partition 0, one on partition 1.
  await eddy.produce('f', [
    { value: 'apple', partition: 0, headers: { src: 'x' } },
    { value: 'kiwi', partition: 0 },
  ]);
  await eddy.produce('f', [{ value: 'avocado', partition: 0 }]);
  await eddy.produce('f', [{ value: 'banana', partition: 1 }]);
}

const shapes = [
  ['all partitions', {}],
  ['one partition', { partition: 0 }],
  ['several partitions', { partitions: [1, 0] }],
  ['transforms', { transforms: [{ uses: wasmPath('filter') }] }],
] as const;

for (const [name, options] of shapes) {
  test(`the same members whatever the options: ${name}`, async (t) => {
    const eddy = await fresh();
    await fruit(eddy);
    const s: RecordStream = eddy.consume('f', options);
    for (const m of ['records', 'batches', 'commit', 'close', Symbol.asyncIterator, Symbol.asyncDispose] as const)
      t.is(typeof s[m], 'function', String(m));
    t.true(s.positions instanceof Map);
    const values: string[] = [];
    for await (const r of s) values.push(str(r.value));
    t.true(values.length > 0);
    await t.throwsAsync(s.records().next(), { instanceOf: InvalidArgumentError, message: /read once/ });
    await eddy.close();
  });
}

test('batches() without transforms: the stored batches, cut, tagged with topic and partition, headers kept', async (t) => {
  const eddy = await fresh();
  await fruit(eddy);
  const batches: ConsumedBatch[] = [];
  const s = eddy.consume('f', { from: 'beginning' });
  for await (const b of s.batches()) batches.push(b);
  const p0 = batches.filter((b) => b.partition === 0);
  t.deepEqual(
    p0.map((b) => [b.topic, b.baseOffset, b.lastOffset, b.count, b.oneToOne, b.error]),
    [
      ['f', 0, 1, 2, true, null],
      ['f', 2, 2, 1, true, null],
    ],
  );
  t.deepEqual(
    p0[0]!.headers!.get(0)!.map(([k, v]) => [k, str(v)]),
    [['src', 'x']],
  );
  t.is(p0[1]!.headers, null);
  t.deepEqual(
    batches.filter((b) => b.partition === 1).map((b) => b.count),
    [1],
  );
  t.deepEqual(Object.fromEntries(s.positions), { 0: 3, 1: 1 });

  // A start inside a batch cuts it to the wanted records, as records() would.
  const cut: ConsumedBatch[] = [];
  for await (const b of eddy.consume('f', { partition: 0, from: { offset: 1 } }).batches()) cut.push(b);
  t.deepEqual(
    cut.map((b) => [b.baseOffset, b.lastOffset, b.count]),
    [
      [0, 1, 1],
      [2, 2, 1],
    ],
  );
  const records: string[] = [];
  for await (const r of eddy.consume('f', { partition: 0, from: { offset: 1 } }).records()) records.push(str(r.value));
  t.deepEqual(records, ['kiwi', 'avocado']);
  await eddy.close();
});

test('batches() with transforms: the chain output, tagged with partition, positions past filtered inputs', async (t) => {
  const eddy = await fresh();
  await fruit(eddy);
  const s = eddy.consume('f', { transforms: [{ uses: wasmPath('filter') }] });
  const out: [number, string][] = [];
  for await (const b of s.batches()) {
    t.is(b.topic, 'f');
    t.is(b.headers, null);
    out.push([b.partition, `${b.count}`]);
  }
  t.true(out.some(([p]) => p === 1));
  t.deepEqual(Object.fromEntries(s.positions), { 0: 3, 1: 1 });
  await eddy.close();
});

test('the abort signal and close() end a following consume quietly, with and without transforms', async (t) => {
  const eddy = await fresh();
  await fruit(eddy);
  for (const transforms of [undefined, [{ uses: wasmPath('filter') }]]) {
    const ac = new AbortController();
    const s = eddy.consume('f', { follow: true, signal: ac.signal, ...(transforms ? { transforms } : {}) });
    let n = 0;
    for await (const _ of s) if (++n === 1) setImmediate(() => ac.abort());
    t.true(n >= 1);

    // close() from inside the loop, once a batch arrived: the loop ends instead of waiting at the end of the log.
    const c = eddy.consume('f', { follow: true, ...(transforms ? { transforms } : {}) });
    let k = 0;
    for await (const _ of c.batches()) if (++k === 1) void c.close();
    await c.close();
    t.true(k >= 1);
  }
  await eddy.close();
});

test('a named consumer: commit() commits the positions; refused without a name; autoCommit commits as delivered', async (t) => {
  const eddy = await fresh();
  await fruit(eddy);
  const committed = (name: string) =>
    Object.fromEntries(
      eddy.storage
        .listCommittedOffsets()
        .filter((o) => o.consumer === name)
        .map((o) => [o.partition, o.offset]),
    );
  const manual = eddy.consume('f', { consumer: 'm', autoCommit: false });
  for await (const r of manual) if (r.partition === 0 && r.offset === 1) break;
  t.deepEqual(committed('m'), {}, 'autoCommit: false commits nothing by itself');
  await manual.commit();
  t.is(committed('m')[0], 2);

  await t.throwsAsync(eddy.consume('f').commit(), { instanceOf: InvalidArgumentError, message: /named consumer/ });

  for (const [name, transforms] of [
    ['auto', undefined],
    ['auto-t', [{ uses: wasmPath('filter') }]],
  ] as const) {
    await using s = eddy.consume('f', { consumer: name, ...(transforms ? { transforms } : {}) });
    for await (const _ of s.batches());
    t.deepEqual(committed(name), { 0: 3, 1: 1 }, name);
  }
  await eddy.close();
});

test('an unknown topic fails when the iteration starts, not when consume is called', async (t) => {
  const eddy = await fresh();
  const s = eddy.consume('missing');
  await t.throwsAsync(async () => {
    for await (const _ of s);
  });
  await eddy.close();
});
