import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { open } from '../src/eddy.js';
import { decodeRecords, encodeRecords } from '../src/protocol/index.js';
import { Chain, loadModule } from '../src/smartmodule/index.js';
import { type EddyProcess, eddyProcesses, until } from './helpers/eddy-process.js';
import { deriveCreate, kafkaSuite, kafkaTestClient, numberRounds, owned, sendOnce, unique } from './helpers/kafka.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * Derived streams over a real Apache Kafka broker (KRaft, started by scripts/kafka.sh on
 * 127.0.0.1): several `eddy run` processes share a source topic's partitions through the consumer
 * group, and the output, read with read_committed, equals the chain applied once.
 */

// Skipped (saying why) where no broker can run; in CI a missing broker is a failure, not a skip.
const { kafkaTest, cluster } = kafkaSuite(1);

const { client, withAdmin, createTopics, readCommitted, readToEnd } = kafkaTestClient(() => cluster().bootstrap);

function workDir(): { work: string; transforms: string } {
  const work = mkdtempSync(join(tmpdir(), 'eddy-kafka-test-'));
  copyFileSync(wasmPath('filter-map'), join(work, 'filter-map.wasm'));
  const transforms = join(work, 'halve-evens.yaml');
  writeFileSync(transforms, 'transforms:\n  - uses: filter-map.wasm\n');
  return { work, transforms };
}

kafkaTest(
  'three eddy run processes share a 12-partition Kafka source; the output, read_committed, equals the chain applied once, in order',
  async (t) => {
    t.timeout(400_000);
    const PARTITIONS = 12;
    const PER_PARTITION = 300;
    const source = unique('numbers');
    const target = unique('halves');
    const name = unique('halve');
    await createTopics(PARTITIONS, source, target);
    const bootstrap = cluster().bootstrap;

    // Three machines' worth of eddy: each its own data directory with the same stream definition.
    const runs: EddyProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const { work, transforms } = workDir();
      const { ok, start } = eddyProcesses(t, work, {
        ...process.env,
        EDDY_DATA_DIR: join(work, 'data'),
        EDDY_WORKERS: '1',
      });
      await ok(deriveCreate(name, `kafka://${bootstrap}/${source}`, `kafka://${bootstrap}/${target}`, transforms));
      runs.push(start(['run', '--status-interval', '500ms']));
    }
    // Wait until the group settled: the three own disjoint, non-empty sets that cover every partition.
    await until(() => {
      const sets = runs.map(owned);
      if (sets.some((s) => s === null || s.length === 0)) return false;
      const all = sets.flatMap((s) => s!).sort((a, b) => a - b);
      return all.length === PARTITIONS && all.every((p, i) => p === i);
    }, 120_000);

    // Produce in several sends per partition, so each partition is processed over several batches.
    const producer = client().producer(sendOnce);
    await producer.connect();
    const sent: string[][] = Array.from({ length: PARTITIONS }, () => []);
    for (let round = 0; round < 6; round++) {
      const messages = [];
      for (let p = 0; p < PARTITIONS; p++) {
        for (let i = 0; i < PER_PARTITION / 6; i++) {
          const v = String((p * 7919 + sent[p]!.length * 13) % 1000);
          sent[p]!.push(v);
          messages.push({ partition: p, value: v });
        }
      }
      await producer.send({ topic: source, messages });
    }
    await producer.disconnect();

    // The reference: the same module, applied once to each partition's records by the engine directly.
    const fm = await loadModule(wasmPath('filter-map'));
    const expected = sent.map((values) => {
      const out = Chain.create([{ module: fm }]).process({
        baseOffset: 0,
        baseTimestamp: 0,
        raw: encodeRecords(values.map((v) => ({ value: Buffer.from(v) }))),
      });
      return decodeRecords(out.raw).map((r) => Buffer.from(r.value).toString());
    });
    const total = expected.reduce((s, e) => s + e.length, 0);
    t.true(total > 0);

    const { values } = await readCommitted(target, PARTITIONS, total);
    // Stopped cleanly, each process commits or aborts what it holds and exits 0.
    for (const r of runs) r.child.kill('SIGTERM');
    const codes = await Promise.all(runs.map((r) => r.exited));
    t.deepEqual(codes, [0, 0, 0], runs.map((r) => r.err()).join('\n---\n'));
    for (let p = 0; p < PARTITIONS; p++) t.deepEqual(values[p], expected[p], `partition ${p}`);

    // Nothing after the expected records: each partition ends with the commit marker of the
    // transaction that wrote its last record (a duplicated batch would sit after it).
    const ends = await withAdmin((a) => a.fetchTopicOffsets(target));
    const again = await readCommitted(target, PARTITIONS, total);
    for (const e of ends) {
      const p = e.partition;
      if (expected[p]!.length > 0)
        t.is(Number(e.high), again.lastOffset[p]! + 2, `partition ${p} has records after the expected ones`);
    }
    // And the group's committed offsets reached the end of every source partition.
    const committed = await withAdmin((a) => a.fetchOffsets({ groupId: name, topics: [source] }));
    t.deepEqual(
      committed[0]!.partitions.sort((a, b) => a.partition - b.partition).map((x) => Number(x.offset)),
      Array.from({ length: PARTITIONS }, () => PER_PARTITION),
    );
  },
);

kafkaTest(
  'processes join, leave and are SIGKILLed while records flow: every partition keeps progressing, and the output is the chain applied once',
  async (t) => {
    t.timeout(720_000); // above the sum of the waits below, so a stuck partition fails with its offsets and logs
    const PARTITIONS = 12;
    const ROUNDS = 8;
    const PER_ROUND = 40;
    const source = unique('numbers');
    const target = unique('halves');
    const name = unique('halve');
    await createTopics(PARTITIONS, source, target);
    const bootstrap = cluster().bootstrap;
    // Group sessions of 6 s (the default is 30 s): the SIGKILLed process's partitions move
    // once its session ends, and the test need not wait out the default for that.
    const env = { ...process.env, EDDY_WORKERS: '1', EDDY_KAFKA_SESSION_TIMEOUT_MS: '6000' };
    const hosts = Array.from({ length: 3 }, () => {
      const { work, transforms } = workDir();
      return { transforms, ...eddyProcesses(t, work, { ...env, EDDY_DATA_DIR: join(work, 'data') }) };
    });
    for (const h of hosts)
      await h.ok(deriveCreate(name, `kafka://${bootstrap}/${source}`, `kafka://${bootstrap}/${target}`, h.transforms));
    const run = (i: number) => hosts[i]!.start(['run', '--status-interval', '500ms']);
    const hasPartitions = (r: EddyProcess) => (owned(r)?.length ?? 0) > 0;

    const producer = client().producer(sendOnce);
    await producer.connect();
    const { sent, produceRound } = numberRounds(producer, source, PARTITIONS, PER_ROUND);
    // Each membership change happens while the previous rounds are still being processed.
    const a = run(0);
    await until(() => hasPartitions(a), 120_000);
    await produceRound();
    await produceRound();
    const b = run(1);
    await produceRound();
    const c = run(2);
    await produceRound();
    await until(() => hasPartitions(b) && hasPartitions(c), 120_000);
    await produceRound();
    a.child.kill('SIGTERM'); // leaves the group cleanly
    await produceRound();
    t.is(await a.exited, 0, a.err());
    b.child.kill('SIGKILL'); // its open transaction is fenced by whoever takes its partitions over
    await b.exited;
    await produceRound();
    const b2 = run(1);
    await produceRound();
    await producer.disconnect();
    t.is(sent[0]!.length, ROUNDS * PER_ROUND);

    const fm = await loadModule(wasmPath('filter-map'));
    const expected = sent.map((values) => {
      const out = Chain.create([{ module: fm }]).process({
        baseOffset: 0,
        baseTimestamp: 0,
        raw: encodeRecords(values.map((v) => ({ value: Buffer.from(v) }))),
      });
      return decodeRecords(out.raw).map((r) => Buffer.from(r.value).toString());
    });
    const total = expected.reduce((s, e) => s + e.length, 0);
    // Every source partition's committed offset reaches its end (none stuck), then the output is compared.
    const deadline = Date.now() + 240_000;
    for (;;) {
      const committed = await withAdmin((x) => x.fetchOffsets({ groupId: name, topics: [source] }));
      const at = committed[0]!.partitions.map((x) => Number(x.offset));
      if (at.length === PARTITIONS && at.every((o) => o === ROUNDS * PER_ROUND)) break;
      if (Date.now() > deadline)
        t.fail(
          `committed source offsets ${JSON.stringify(at)}; expected ${ROUNDS * PER_ROUND} each\n${[c, b2].map((r) => r.err()).join('\n---\n')}`,
        );
      if (Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    // Every transaction has ended now: read the whole target, read_committed, up to its end offsets.
    const values = await readToEnd(target, PARTITIONS);
    for (const r of [c, b2]) r.child.kill('SIGTERM');
    t.deepEqual(await Promise.all([c.exited, b2.exited]), [0, 0], [c, b2].map((r) => r.err()).join('\n---\n'));
    t.is(values.flat().length, total);
    for (let p = 0; p < PARTITIONS; p++) t.deepEqual(values[p], expected[p], `partition ${p}`);
  },
);

kafkaTest(
  'one fetched batch whose output is larger than the target takes in one request still commits, in one transaction',
  async (t) => {
    t.timeout(300_000);
    const source = unique('big');
    const target = unique('big-out');
    // The source takes record batches of up to 8 MiB, the target the default 1 MiB: one fetch
    // returns the whole 2.4 MB batch written below, and its output cannot go out in one request.
    await withAdmin((a) =>
      a.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: source, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(8 << 20) }] },
          { topic: target, numPartitions: 1 },
        ],
      }),
    );
    const values = Array.from({ length: 12_000 }, (_, i) => `a${String(i).padStart(199, '-')}`);
    const producer = client().producer(sendOnce);
    await producer.connect();
    await producer.send({ topic: source, messages: values.map((value) => ({ value })) });
    await producer.disconnect();
    const dir = mkdtempSync(join(tmpdir(), 'eddy-kafka-test-'));
    const eddy = await open(dir);
    const errors: string[] = [];
    eddy.on('error', ({ error }) => errors.push(error.message));
    const url = (topic: string) => `kafka://${cluster().bootstrap}/${topic}`;
    const name = unique('big');
    await eddy.createDerived({
      name,
      source: url(source),
      target: url(target),
      transforms: [{ uses: wasmPath('filter'), params: {}, lookback: null }],
    });
    try {
      await eddy.startDerived(name);
      const got = await readCommitted(target, 1, values.length);
      t.deepEqual(errors, []);
      t.deepEqual(got.values[0], values);
    } finally {
      await eddy.close();
    }
  },
);

kafkaTest(
  'an output record larger than the target topic accepts stops its partition with one sentence saying what to raise; earlier output stays committed',
  async (t) => {
    t.timeout(300_000);
    const source = unique('huge');
    const target = unique('huge-out');
    await withAdmin((a) =>
      a.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: source, numPartitions: 1 },
          { topic: target, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '2000' }] },
        ],
      }),
    );
    const producer = client().producer(sendOnce);
    await producer.connect();
    await producer.send({ topic: source, messages: [{ value: 'a small one' }] });
    const dir = mkdtempSync(join(tmpdir(), 'eddy-kafka-test-'));
    const eddy = await open(dir);
    const errors: { code: string; message: string }[] = [];
    eddy.on('error', ({ error }) => errors.push({ code: error.code, message: error.message }));
    const name = unique('huge');
    const url = (topic: string) => `kafka://${cluster().bootstrap}/${topic}`;
    await eddy.createDerived({
      name,
      source: url(source),
      target: url(target),
      transforms: [{ uses: wasmPath('filter'), params: {}, lookback: null }],
    });
    try {
      await eddy.startDerived(name);
      t.deepEqual((await readCommitted(target, 1, 1)).values[0], ['a small one']);
      await producer.send({ topic: source, messages: [{ value: 'a'.repeat(5000) }] });
      await until(() => errors.length > 0, 120_000);
      t.is(errors[0]!.code, 'EDDY_KAFKA_RECORD_TOO_LARGE');
      t.regex(
        errors[0]!.message,
        new RegExp(`larger than Kafka topic ${target} accepts; raise the topic's max.message.bytes`),
      );
      t.false(errors[0]!.message.includes('\n'));
      // The small record's offset stays committed; the large one's is not.
      const committed = await withAdmin((a) => a.fetchOffsets({ groupId: name, topics: [source] }));
      t.is(Number(committed[0]!.partitions[0]!.offset), 1);
    } finally {
      await producer.disconnect();
      await eddy.close();
    }
  },
);

kafkaTest(
  'policy skip over Kafka: rejected records go to the Kafka dead-letter topic in the same transaction, the rest on',
  async (t) => {
    t.timeout(300_000);
    const source = unique('skip-in');
    const target = unique('skip-out');
    const dlq = unique('skip-dlq');
    await createTopics(2, source, target);
    const producer = client().producer(sendOnce);
    await producer.connect();
    await producer.send({
      topic: source,
      messages: [
        ...['bad', 'a1', 'bad', 'b2'].map((value) => ({ partition: 0, value, key: `k-${value}` })),
        ...['c3', 'bad'].map((value) => ({ partition: 1, value })),
      ],
    });
    await producer.disconnect();
    const eddy = await open(mkdtempSync(join(tmpdir(), 'eddy-kafka-test-')));
    const skips: { partition: number; offset: number; code: string; deadLetterTopic: string }[] = [];
    eddy.on('skip', (s) =>
      skips.push({ partition: s.partition, offset: s.offset, code: s.error.code, deadLetterTopic: s.deadLetterTopic }),
    );
    const errors: string[] = [];
    eddy.on('error', ({ error }) => errors.push(error.message));
    const url = (topic: string) => `kafka://${cluster().bootstrap}/${topic}`;
    const name = unique('tolerant');
    await eddy.createDerived({
      name,
      source: url(source),
      target: url(target),
      transforms: [{ uses: wasmPath('fail-on'), params: {}, lookback: null }],
      policy: 'skip',
      deadLetterTopic: dlq,
    });
    try {
      await eddy.startDerived(name);
      const out = await readCommitted(target, 2, 3);
      t.deepEqual(out.values, [['a1', 'b2'], ['c3']]);
      await until(() => skips.length >= 3, 60_000);
      t.deepEqual(errors, []);
      t.deepEqual(
        skips.sort((a, b) => a.partition - b.partition || a.offset - b.offset),
        [
          { partition: 0, offset: 0, code: 'EDDY_SM_RUNTIME', deadLetterTopic: dlq },
          { partition: 0, offset: 2, code: 'EDDY_SM_RUNTIME', deadLetterTopic: dlq },
          { partition: 1, offset: 1, code: 'EDDY_SM_RUNTIME', deadLetterTopic: dlq },
        ],
      );
      // The dead letters: the same envelopes as over Eddy topics, with the source record's key and value.
      const letters = (await readToEnd(dlq, 1))[0]!.map((v) => JSON.parse(v));
      t.deepEqual(
        letters
          .map((l) => ({ topic: l.topic, partition: l.partition, offset: l.offset, key: l.key, value: l.value }))
          .sort((a, b) => a.partition - b.partition || a.offset - b.offset),
        [
          { topic: source, partition: 0, offset: 0, key: 'k-bad', value: 'bad' },
          { topic: source, partition: 0, offset: 2, key: 'k-bad', value: 'bad' },
          { topic: source, partition: 1, offset: 1, key: null, value: 'bad' },
        ],
      );
      for (const l of letters) t.regex(l.error.message, /cannot parse bad/);
      const info = eddy.listDerived().find((d) => d.config.name === name)!;
      t.deepEqual(
        info.partitions.map((p) => [p.partition, p.skipped]),
        [
          [0, 2],
          [1, 1],
        ],
      );
    } finally {
      await eddy.close();
    }
  },
);

kafkaTest('a missing Kafka topic: derive create says which and how to create it, without a stack trace', async (t) => {
  const { work, transforms } = workDir();
  const { start } = eddyProcesses(t, work, { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '1' });
  const target = unique('out');
  await createTopics(1, target);
  const bootstrap = cluster().bootstrap;
  const p = start(
    deriveCreate('nope', `kafka://${bootstrap}/no-such-topic`, `kafka://${bootstrap}/${target}`, transforms),
  );
  p.child.stdin!.end();
  t.not(await p.exited, 0);
  const lines = p.err().trim().split('\n');
  t.is(lines.length, 1, p.err());
  t.regex(lines[0]!, new RegExp(`Kafka topic no-such-topic does not exist on ${bootstrap}; create it first`));
  t.notRegex(p.err(), /^\s+at /m);
});

test('an unreachable Kafka broker: derive create ends in one sentence saying what to check, without a stack trace', async (t) => {
  t.timeout(60_000);
  const { work, transforms } = workDir();
  // A port nothing listens on: taken from the OS, then released.
  const port = await new Promise<number>((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as { port: number };
      s.close(() => res(a.port));
    });
  });
  const { start } = eddyProcesses(t, work, { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '1' });
  const p = start(deriveCreate('nowhere', `kafka://127.0.0.1:${port}/a`, `kafka://127.0.0.1:${port}/b`, transforms));
  p.child.stdin!.end();
  t.not(await p.exited, 0);
  const lines = p.err().trim().split('\n');
  t.is(lines.length, 1, p.err());
  t.regex(
    lines[0]!,
    new RegExp(
      `cannot reach the Kafka cluster at 127\\.0\\.0\\.1:${port} \\(.*\\); check the address and port and that the brokers run`,
    ),
  );
  t.notRegex(p.err(), /^\s+at /m);
});

test('a kafka:// endpoint without a topic, or with the target on another cluster, is refused', async (t) => {
  const { work, transforms } = workDir();
  const { start } = eddyProcesses(t, work, { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '1' });
  const cases: [string, string, RegExp][] = [
    ['kafka://127.0.0.1:9092', 'kafka://127.0.0.1:9092/b', /no topic after the broker addresses/],
    ['kafka://127.0.0.1:9092/a', 'kafka://127.0.0.1:9093/b', /same cluster as the source/],
    ['kafka://127.0.0.1:x/a', 'kafka://127.0.0.1:9092/b', /is not HOST:PORT/],
  ];
  for (const [source, target, why] of cases) {
    const p = start(deriveCreate('bad', source, target, transforms));
    p.child.stdin!.end();
    t.not(await p.exited, 0);
    t.regex(p.err(), why);
    t.regex(p.err(), /write it as kafka:\/\/HOST:PORT/);
  }
});
