import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { open } from '../src/index.js';
import type { StoredBatch } from '../src/storage/batch-format.js';
import type { Storage, TopicConfig } from '../src/storage/index.js';
import { ReadArena } from '../src/storage/read-arena.js';
import { tempStorage } from './helpers/storage.js';

/**
 * Reads into a ReadArena (the `reuseBuffers` consume option, what `eddy consume` prints through)
 * give exactly what reads into fresh Buffers give, and a batch stays intact while the next read
 * fills the other buffer.
 */

/** Every field of a stored batch, bytes as arrays: comparable, and a copy that outlives the arena. */
const plain = (b: StoredBatch) => ({
  baseOffset: b.baseOffset,
  lastOffset: b.lastOffset,
  count: b.count,
  baseTimestamp: b.baseTimestamp,
  maxTimestamp: b.maxTimestamp,
  raw: [...b.raw],
  headerSection: b.headerSection ? [...b.headerSection] : null,
  value: [...b.value],
});

/** 12 batches of 1..12 records (some with keys and headers) on partition 0 of topic `t`. */
async function fill(store: Storage, config: TopicConfig = {}): Promise<number> {
  await store.createTopic('t', config);
  let offset = 0;
  for (let n = 1; n <= 12; n++) {
    await store.append(
      't',
      0,
      Array.from({ length: n }, (_, i) => ({
        key: i % 3 === 0 ? `k${offset + i}` : null,
        value: `value ${offset + i} ${'x'.repeat((offset + i) % 50)}`,
        ...(i % 4 === 1 ? { headers: { h: `${offset + i}` } } : {}),
      })),
    );
    offset += n;
  }
  return offset;
}

/** Reads the whole partition from `from` in reads of `maxBytes`, as the consumer does; one entry per read. */
function readAll(store: Storage, from: number, options: { maxBytes: number; endOffset?: number }, arena?: ReadArena) {
  const reads: ReturnType<typeof plain>[][] = [];
  for (let at = from; ; ) {
    const got = store.readBatches('t', 0, at, { ...options, ...(arena ? { arena } : {}) });
    if (got.length === 0) break;
    reads.push(got.map(plain));
    at = got[got.length - 1]!.lastOffset + 1;
    if (options.endOffset !== undefined && at > options.endOffset) break;
  }
  return reads;
}

for (const [name, config] of [
  ['uncompressed', {}],
  ['gzip batches', { compression: 'gzip' }],
  ['lz4 values', { compression: 'lz4' }],
] as const) {
  test(`readBatches into an arena gives what fresh Buffers give: ${name}`, async (t) => {
    const { store } = await tempStorage(t);
    const total = await fill(store, config as TopicConfig);
    const arena = new ReadArena();
    for (const from of [0, 1, 4, 20, total - 1]) {
      for (const maxBytes of [1, 300, 1 << 20]) {
        t.deepEqual(readAll(store, from, { maxBytes }, arena), readAll(store, from, { maxBytes }), `from ${from}`);
        const endOffset = from + 9;
        t.deepEqual(
          readAll(store, from, { maxBytes, endOffset }, arena),
          readAll(store, from, { maxBytes, endOffset }),
          `from ${from} to ${endOffset}`,
        );
      }
    }
    t.deepEqual(store.readBatches('t', 0, total, { arena }), []);
  });
}

test('a batch read into an arena stays intact while the next read fills the other buffer', async (t) => {
  const { store } = await tempStorage(t);
  await fill(store);
  const arena = new ReadArena();
  const first = store.readBatches('t', 0, 0, { maxBatches: 3, arena });
  const kept = first.map(plain);
  const second = store.readBatches('t', 0, first[2]!.lastOffset + 1, { maxBatches: 3, arena });
  t.deepEqual(first.map(plain), kept, 'the first read is unchanged by the second');
  t.not(first[0]!.value.buffer, second[0]!.value.buffer, 'the reads use different buffers');
  const third = store.readBatches('t', 0, second[2]!.lastOffset + 1, { maxBatches: 3, arena });
  t.is(third[0]!.value.buffer, first[0]!.value.buffer, 'the read after next reuses the first buffer');
});

test('values larger than the arena: it grows, and what was read before keeps its bytes', async (t) => {
  const { store } = await tempStorage(t, { maxRecordBytes: 4 << 20, maxBatchBytes: 4 << 20 });
  await store.createTopic('t');
  // Batches of 0.5, 1.5 and 3 MiB: past the arena's first size (1.25 MiB), then past its double.
  for (const [i, size] of [0.5, 1.5, 3].entries())
    await store.append('t', 0, [{ value: Buffer.alloc(size * (1 << 20), 97 + i) }]);
  const arena = new ReadArena();
  const got = store.readBatches('t', 0, 0, { maxBytes: 16 << 20, arena });
  const copied = store.readBatches('t', 0, 0, { maxBytes: 16 << 20 });
  t.is(got.length, 3);
  // Compared as Buffers: a deep comparison of MiB-long arrays takes minutes.
  for (const [i, b] of got.entries()) {
    t.is(b.baseOffset, i);
    t.true(Buffer.from(b.value.buffer, b.value.byteOffset, b.value.length).equals(copied[i]!.value), `batch ${i}`);
    t.true(Buffer.from(b.raw.buffer, b.raw.byteOffset, b.raw.length).equals(copied[i]!.raw), `batch ${i}`);
  }
  t.not(got[0]!.value.buffer, got[2]!.value.buffer, 'the arena grew during the read');
});

test('consume with reuseBuffers delivers what a copying consume delivers, over merged partitions read ahead', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-arena-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const eddy = await open(dir, { workers: 1, retentionCheckMs: 0 });
  t.teardown(() => eddy.close());
  await eddy.createTopic('m', { partitions: 3 });
  for (let round = 0; round < 40; round++) {
    await eddy.produce(
      'm',
      Array.from({ length: 30 }, (_, i) => ({
        partition: (round + i) % 3,
        value: `r${round}-${i}-${'y'.repeat(i * 7)}`,
        ...(i === 5 ? { headers: { n: `${round}` } } : {}),
      })),
    );
  }
  // Small reads, so each partition's reads turn over many times while the merge holds a batch.
  const options = { from: 'beginning' as const, maxBytes: 512 };
  const batches = async (reuseBuffers: boolean) => {
    const out: unknown[] = [];
    for await (const b of eddy.consume('m', { ...options, reuseBuffers }).batches()) {
      // Copied at delivery: the contract is that the bytes are valid until the next batch is asked for.
      out.push({
        p: b.partition,
        base: b.baseOffset,
        last: b.lastOffset,
        raw: [...b.raw],
        headers: b.headers ? [...b.headers].map(([d, h]) => [d, h.map(([k, v]) => [k, [...v]])]) : null,
      });
    }
    return out.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  };
  const records = async (reuseBuffers: boolean) => {
    const out: string[] = [];
    for await (const r of eddy.consume('m', { ...options, reuseBuffers }))
      out.push(`${r.partition}:${r.offset}:${Buffer.from(r.value).toString()}`);
    return out.sort();
  };
  const copied = await batches(false);
  t.is(copied.length > 100, true);
  t.deepEqual(await batches(true), copied);
  t.deepEqual(await records(true), await records(false));
  // Headers of a reused read are copied: they outlive the batch.
  const headers: Uint8Array[] = [];
  for await (const b of eddy.consume('m', { ...options, reuseBuffers: true }).batches())
    for (const list of b.headers?.values() ?? []) for (const [, v] of list) headers.push(v);
  t.deepEqual(
    headers.map((v) => Buffer.from(v).toString()).sort(),
    Array.from({ length: 40 }, (_, round) => `${round}`).sort(),
  );
});
