import { mkdtempSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { unpack } from 'msgpackr';
import { FailoverProducer } from '../src/cli/failover-producer.js';
import { RemoteProducer } from '../src/cli/remote-producer.js';
import { encodeFrame, FrameReader, type Reply } from '../src/cli/writer-protocol.js';
import { serveWrites, socketPath } from '../src/cli/writer-socket.js';
import { type Eddy, open } from '../src/index.js';
import { encodeRecords } from '../src/protocol/record.js';
import { DataDirLockedError } from '../src/storage/errors.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');

/** A data directory held by this process with `topics` created and its writer socket served. */
type TopicOptions = Parameters<Eddy['createTopic']>[1];
async function served(t: ExecutionContext, topics: [string, TopicOptions?][]) {
  const dir = mkdtempSync(join(tmpdir(), 'eddy-socket-encoded-'));
  const eddy = await open(dir, { workers: 1, retentionCheckMs: 0 });
  t.teardown(() => eddy.close());
  for (const [name, options] of topics) await eddy.createTopic(name, options);
  const server = await serveWrites(eddy, dir);
  if (!server) throw new Error('no socket');
  t.teardown(() => server.close());
  return { dir, eddy };
}

test('the writer socket stores an encoded batch as it is, refuses a malformed one and keeps the session', async (t) => {
  const { dir, eddy } = await served(t, [['t', { partitions: 2 }]]);

  const socket = createConnection(socketPath(dir));
  const replies: Reply[] = [];
  const waiting: (() => void)[] = [];
  const reader = new FrameReader(
    1 << 20,
    (body) => {
      replies.push(unpack(body) as Reply);
      waiting.shift()?.();
    },
    () => {},
  );
  socket.on('data', (c: Buffer) => reader.push(c));
  const ask = (req: unknown) =>
    new Promise<Reply>((resolve) => {
      waiting.push(() => resolve(replies.shift()!));
      socket.write(encodeFrame(req));
    });

  t.deepEqual(await ask({ op: 'open', topic: 't', steps: [], options: {} }), { ok: true, encodedPartitions: 2 });
  const raw = encodeRecords([
    { key: bytes('k'), value: bytes('one'), offsetDelta: 0, timestampDelta: 0 },
    { value: bytes('two'), offsetDelta: 1, timestampDelta: 3 },
  ]);
  t.deepEqual(await ask({ op: 'sendEncoded', raw, baseTimestamp: 5000, partition: 1 }), { ok: true });
  const bad = await ask({ op: 'sendEncoded', raw: raw.subarray(0, raw.length - 1), baseTimestamp: 1, partition: 1 });
  t.true('error' in bad && /encoded batch for t\/1: record 1/.test(bad.error.message), JSON.stringify(bad));
  const unnamed = await ask({ op: 'sendEncoded', raw, baseTimestamp: 1 });
  t.true('error' in unnamed && /2 partitions/.test(unnamed.error.message), JSON.stringify(unnamed));
  t.deepEqual(await ask({ op: 'flush' }), { ok: true }, 'the session goes on after a refused batch');
  socket.end();

  const got: [number, string | null, string, number][] = [];
  for await (const r of eddy.consume('t')) {
    got.push([r.offset, r.key ? Buffer.from(r.key).toString() : null, Buffer.from(r.value).toString(), r.timestamp]);
  }
  t.deepEqual(got, [
    [0, 'k', 'one', 5000],
    [1, null, 'two', 5003],
  ]);
});

/** A produce that joins the writer serving `dir` (this process holds the directory, so it cannot lead). */
function joining(dir: string, topic: string, options: { batchSize?: number } = {}) {
  return FailoverProducer.open({
    dataDir: dir,
    session: { topic, steps: [], baseDir: dir, options },
    openLocal: () => {
      throw new DataDirLockedError(dir, {
        pid: 1,
        hostname: 'elsewhere',
        startTime: null,
        command: 'test',
        openedAt: 0,
      });
    },
    waitMs: 5000,
  });
}

test('a joining producer encodes its records when the writer can store batches as they are, and sends records otherwise', async (t) => {
  const { dir, eddy } = await served(t, [['one'], ['once', { dedup: { count: 10, ageMs: 60_000 } }]]);

  const via = async (topic: string) => {
    const producer = await joining(dir, topic, { batchSize: 64 });
    const encoded = (producer as unknown as { remote: RemoteProducer }).remote.opened.encodedPartitions;
    await producer.sendAll(
      Array.from({ length: 10 }, (_, i) => ({ key: i % 2 ? null : bytes('same'), value: bytes(`${topic}-${i}`) })),
    );
    await producer.close();
    const got: string[] = [];
    for await (const r of eddy.consume(topic)) got.push(`${r.offset}:${Buffer.from(r.value).toString()}`);
    return { encoded, got, acknowledged: producer.stored };
  };
  const one = await via('one');
  t.is(one.encoded, 1);
  t.is(one.acknowledged, 10);
  t.deepEqual(
    one.got,
    Array.from({ length: 10 }, (_, i) => `${i}:one-${i}`),
  );
  t.true(eddy.describeTopic('one').partitionInfo[0]!.batches > 1, 'cut at the batch size');
  const once = await via('once');
  t.is(once.encoded, undefined, 'dedup needs records');
  t.deepEqual(once.got, ['0:once-0', '1:once-1', '2:once-3', '3:once-5', '4:once-7', '5:once-9']);
});

test('numbered batches: a writer tells a producer that opens again which of its batches it stored in each partition, and stores them with the batch', async (t) => {
  const { dir, eddy } = await served(t, [['t', { partitions: 2 }]]);
  const raw = encodeRecords([{ value: bytes('v'), offsetDelta: 0, timestampDelta: 0 }]);
  const opening = { op: 'open', topic: 't', steps: [], options: {}, producerId: 'p1' } as const;
  const first = await RemoteProducer.open(dir, { ...opening, steps: [] });
  if (!first) return t.fail('no writer');
  t.deepEqual(first.opened.storedSeqs, []);
  const sends = [
    [0, 0],
    [1, 1],
    [2, 0],
    [3, 1],
    [4, 1],
  ].map(([seq, partition]) => first.request({ op: 'sendEncoded', raw, baseTimestamp: 1, seq, partition }));
  await Promise.all(sends);
  first.end();
  const again = await RemoteProducer.open(dir, { ...opening, steps: [] });
  t.deepEqual(again?.opened.storedSeqs, [
    [0, 2],
    [1, 4],
  ]);
  again?.end();
  t.deepEqual(eddy.storage.producerSequences.stored('other'), []);
  t.is(await eddy.storage.producerSequences.prune(Date.now() + 2 * 24 * 3600_000), 2, 'a day later the entries go');
  t.deepEqual(eddy.storage.producerSequences.stored('p1'), []);
});
