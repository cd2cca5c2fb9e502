import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type ConnectorConfig, envSecretStore, parseConnectorConfig, startConnector } from '../src/connectors/index.js';
import { type Eddy, open } from '../src/index.js';
import { eddyProcesses, until } from './helpers/eddy-process.js';
import { kafkaSuite, kafkaTestClient, sendOnce, unique } from './helpers/kafka.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * kafka-source and kafka-sink connectors against a real Apache Kafka broker (scripts/kafka.sh on
 * 127.0.0.1): records move between a Kafka topic and an Eddy topic through a transform, and a
 * stopped connector resumes where its committed offsets say, losing nothing.
 */

// With a SASL/PLAIN listener too, for the connectors' sasl.* options.
const { kafkaTest, cluster } = kafkaSuite(1, { saslUsers: { alice: 'alice-secret' } });

const { client, withAdmin, createTopics, readToEnd } = kafkaTestClient(() => cluster().bootstrap);

/** A data directory and the filter-map example (keeps even numbers, halves them) next to the configs. */
async function fresh(): Promise<{ eddy: Eddy; work: string }> {
  const work = mkdtempSync(join(tmpdir(), 'eddy-kconn-'));
  copyFileSync(wasmPath('filter-map'), join(work, 'filter-map.wasm'));
  return { eddy: await open(join(work, 'data'), { workers: 1, retentionCheckMs: 0 }), work };
}

const config = (yaml: string, work: string): ConnectorConfig => parseConnectorConfig(yaml, 'kafka.yml', work);

/** Runs a connector until `done()` holds, then stops it; rejects with its error if it fails first. */
async function runUntil(eddy: Eddy, c: ConnectorConfig, done: () => Promise<boolean> | boolean): Promise<void> {
  const stop = new AbortController();
  const running = await startConnector(eddy, c, { signal: stop.signal });
  let failure: unknown = null;
  running.done.catch((err) => {
    failure = err;
  });
  const deadline = Date.now() + 120_000;
  try {
    while (!(await done())) {
      if (failure) throw failure;
      if (Date.now() > deadline) throw new Error('timed out waiting for the connector');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    // Stopped on a failed wait too: a connector left running kept the test process alive after
    // its broker was gone, and the whole run waited for it.
    stop.abort();
    await running.done.catch(() => {});
    throw err;
  }
  stop.abort();
  await running.done;
}

/** Every record of an Eddy topic as `partition:key=value`, per partition in offset order. */
async function eddyRecords(eddy: Eddy, topic: string): Promise<string[][]> {
  const parts = eddy.describeTopic(topic).partitions;
  const out: string[][] = Array.from({ length: parts }, () => []);
  for await (const r of eddy.consume(topic, { from: 'beginning' }))
    out[r.partition]!.push(`${r.key ? Buffer.from(r.key).toString() : ''}=${Buffer.from(r.value).toString()}`);
  return out;
}

/** Polls an async condition every 100 ms for up to two minutes. */
async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A group's committed offset per partition of `topic` (-1: none); a coordinator still moving is asked again. */
async function groupOffsets(group: string, topic: string): Promise<Map<number, number>> {
  for (let attempt = 0; ; attempt++) {
    try {
      const offsets = await withAdmin((a) => a.fetchOffsets({ groupId: group, topics: [topic] }));
      return new Map(offsets[0]!.partitions.map((x) => [x.partition, Number(x.offset)]));
    } catch (err) {
      if (attempt >= 40) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Waits until the group committed `end` on each of the topic's `partitions`. */
async function committedAll(group: string, topic: string, partitions: number, end: number): Promise<void> {
  await waitFor(async () => {
    const at = await groupOffsets(group, topic);
    return Array.from({ length: partitions }, (_, p) => at.get(p)).every((o) => o === end);
  });
}

const count = (parts: string[][]) => parts.reduce((s, p) => s + p.length, 0);

/** `n` keyed numbers per partition (key k<p>-<i>, value a number), sent to Kafka topic `topic`. */
async function produceNumbers(topic: string, partitions: number, n: number, from = 0): Promise<string[][]> {
  const producer = client().producer(sendOnce);
  await producer.connect();
  const sent: string[][] = Array.from({ length: partitions }, () => []);
  const messages = [];
  for (let p = 0; p < partitions; p++)
    for (let i = from; i < from + n; i++) {
      const key = `k${p}-${i}`;
      const value = String(p * 1000 + i);
      sent[p]!.push(`${key}=${value}`);
      messages.push({ partition: p, key, value });
    }
  // In sends of 500: the broker keeps each as one record batch, and a consumer fetches whole batches.
  for (let i = 0; i < messages.length; i += 500) await producer.send({ topic, messages: messages.slice(i, i + 500) });
  await producer.disconnect();
  return sent;
}

const halveEvens = (records: string[]) =>
  records.flatMap((r) => {
    const [k, v] = r.split('=');
    return Number(v) % 2 === 0 ? [`${k}=${Number(v) / 2}`] : [];
  });

kafkaTest(
  'kafka-source moves a Kafka topic into an Eddy topic through a transform, and resumes after a stop',
  async (t) => {
    t.timeout(300_000);
    const source = unique('ksrc');
    const name = unique('ksrc-conn');
    await createTopics(2, source);
    const first = await produceNumbers(source, 2, 50);
    const { eddy, work } = await fresh();
    try {
      const c = config(
        `apiVersion: 0.1.0
meta:
  version: 0.1.0
  name: ${name}
  type: kafka-source
  topic: { meta: { name: halves }, partition: { count: 2 } }
  create-topic: true
kafka:
  url: ${cluster().bootstrap}
  topic: ${source}
transforms:
  - uses: filter-map.wasm
`,
        work,
      );
      const want1 = first.map(halveEvens);
      await runUntil(eddy, c, async () => count(await eddyRecords(eddy, 'halves')) >= count(want1));
      t.deepEqual(
        await eddyRecords(eddy, 'halves'),
        want1,
        'Kafka partition p lands in Eddy partition p, in order, keys kept',
      );
      await committedAll(name, source, 2, 50);

      // Records produced while it was stopped are read on the next run; nothing read twice.
      const second = await produceNumbers(source, 2, 30, 50);
      const want2 = first.map((p, i) => [...halveEvens(p), ...halveEvens(second[i]!)]);
      await runUntil(eddy, c, async () => count(await eddyRecords(eddy, 'halves')) >= count(want2));
      t.deepEqual(await eddyRecords(eddy, 'halves'), want2);
      await committedAll(name, source, 2, 80);
    } finally {
      await eddy.close();
    }
  },
);

kafkaTest(
  'kafka-source without transforms, one configured partition, SIGKILLed mid-stream and restarted: nothing lost, order kept',
  async (t) => {
    t.timeout(300_000);
    const N = 20_000;
    const source = unique('ksrc-raw');
    const group = unique('ksrc-group');
    await createTopics(2, source);
    const sent = (await produceNumbers(source, 2, N))[1]!;
    const work = mkdtempSync(join(tmpdir(), 'eddy-kconn-'));
    const file = join(work, 'raw.yml');
    // Small fetches: the partition arrives in many batches, each stored and committed on its own.
    writeFileSync(
      file,
      `meta:
  name: raw
  type: kafka-source
  topic: raw
  create-topic: true
kafka:
  url: ${cluster().bootstrap}
  topic: ${source}
  partition: 1
  group: ${group}
  fetch-max-bytes-per-partition: 4 KiB
`,
    );
    // A short group session: the restarted connector gets the partition soon after the kill.
    const { start } = eddyProcesses(t, work, {
      ...process.env,
      EDDY_DATA_DIR: join(work, 'data'),
      EDDY_WORKERS: '1',
      EDDY_KAFKA_SESSION_TIMEOUT_MS: '6000',
    });
    // The group's committed offset of partition 1 (-1: none yet).
    const committed = async (): Promise<number> => {
      const at = await groupOffsets(group, source);
      t.true((at.get(0) ?? -1) < 0, 'partition 0 is not read');
      return at.get(1) ?? -1;
    };
    const stored = async () => {
      const eddy = await open(join(work, 'data'), { workers: 1, retentionCheckMs: 0 });
      try {
        return await eddyRecords(eddy, 'raw');
      } finally {
        await eddy.close();
      }
    };

    const first = start(['connector', 'run', '--config', file]);
    await waitFor(async () => (await committed()) > 0);
    first.child.kill('SIGKILL');
    t.is(await first.exited, -9);
    // Whatever Kafka holds as committed was stored in Eddy before it.
    const atKill = await committed();
    const before = (await stored())[0]!;
    t.deepEqual(
      [...new Set(before)].slice(0, atKill),
      sent.slice(0, atKill),
      `${atKill} committed, ${before.length} stored`,
    );

    const second = start(['connector', 'run', '--config', file]);
    await waitFor(async () => (await committed()) === N && second.err().includes('joined Kafka consumer group'));
    second.child.kill('SIGTERM');
    t.is(await second.exited, 0, second.err());
    const all = (await stored())[0]!;
    // At least once: a batch stored but not committed before the kill is stored again; none missing, none reordered.
    t.deepEqual([...new Set(all)], sent);
    t.is(all.length - new Set(all).size, before.length - atKill, 'only the uncommitted tail before the kill repeats');
    t.log(`killed after ${atKill} committed and ${before.length} stored; ${all.length} stored in the end`);
  },
);

kafkaTest(
  'kafka-sink moves an Eddy topic to Kafka through a transform, keys kept, and resumes after a stop',
  async (t) => {
    t.timeout(300_000);
    const target = unique('ksink');
    const { eddy, work } = await fresh();
    try {
      await eddy.createTopic('numbers', { partitions: 1 });
      const produce = (from: number, n: number) =>
        eddy.produce(
          'numbers',
          Array.from({ length: n }, (_, i) => ({ key: `k${from + i}`, value: String(from + i) })),
        );
      await produce(0, 200);
      const c = config(
        `apiVersion: 0.1.0
meta:
  version: 0.1.0
  name: to-kafka
  type: kafka-sink
  topic: numbers
  consumer:
    offset:
      start: beginning
kafka:
  url: ${cluster().bootstrap}
  topic: ${target}
  create-topic: true
  options:
    acks: all
transforms:
  - uses: filter-map.wasm
`,
        work,
      );
      const want = (n: number) =>
        Array.from({ length: n }, (_, i) => i)
          .filter((i) => i % 2 === 0)
          .map((i) => `k${i}=${i / 2}`);
      const kafkaRecords = async () => {
        const out: string[] = [];
        const consumer = client().consumer({ groupId: unique('reader') });
        const ends = await withAdmin((a) => a.fetchTopicOffsets(target));
        const end = Number(ends[0]!.high);
        if (end === 0) return out;
        await consumer.connect();
        await consumer.subscribe({ topic: target, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            out.push(`${message.key?.toString()}=${message.value?.toString()}`);
          },
        });
        await until(() => out.length >= end, 60_000);
        await consumer.disconnect();
        return out;
      };
      const committed = () => eddy.storage.committedOffset('to-kafka', 'numbers', 0);
      // 0 until the connector created the topic.
      const kafkaEnd = async () =>
        withAdmin((a) => a.fetchTopicOffsets(target)).then(
          (ends) => Number(ends[0]?.high ?? 0),
          () => 0,
        );
      // Stopped once Kafka has them all; the stop commits the consumer offset of what Kafka acknowledged.
      await runUntil(eddy, c, async () => (await kafkaEnd()) >= 100);
      // Through the last record delivered (198 kept, 199 filtered out: it is read again next time, and dropped again).
      t.is(committed(), 199);
      t.deepEqual(await kafkaRecords(), want(200));
      // The next run starts at the committed offset, not at the beginning again.
      await produce(200, 100);
      await runUntil(eddy, c, async () => (await kafkaEnd()) >= 150);
      t.is(committed(), 299);
      t.deepEqual(await kafkaRecords(), want(300));
      t.is((await readToEnd(target, 1))[0]!.length, 150);
    } finally {
      await eddy.close();
    }
  },
);

kafkaTest(
  'kafka-sink authenticates with sasl.* options and a secret; refused credentials end in one line naming those options',
  async (t) => {
    t.timeout(180_000);
    const target = unique('ksasl');
    const { eddy, work } = await fresh();
    try {
      await eddy.createTopic('numbers', { partitions: 1 });
      await eddy.produce(
        'numbers',
        Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: String(i) })),
      );
      const c = config(
        `meta:
  name: sasl-sink
  type: kafka-sink
  topic: numbers
  secrets: [{ name: KAFKA_PASSWORD }]
  consumer: { offset: { start: beginning } }
kafka:
  url: ${cluster().saslBootstrap}
  topic: ${target}
  create-topic: true
  options:
    security.protocol: SASL_PLAINTEXT
    sasl.mechanism: PLAIN
    sasl.username: alice
    sasl.password: \${{ secrets.KAFKA_PASSWORD }}
`,
        work,
      );
      const stop = new AbortController();
      const running = await startConnector(eddy, c, {
        signal: stop.signal,
        secrets: envSecretStore({ KAFKA_PASSWORD: 'alice-secret' }),
      });
      await until(() => running.stats.records === 10, 60_000);
      stop.abort();
      await running.done;
      t.deepEqual(
        (await readToEnd(target, 1))[0],
        Array.from({ length: 10 }, (_, i) => String(i)),
      );

      const refused = await startConnector(eddy, c, {
        signal: new AbortController().signal,
        secrets: envSecretStore({ KAFKA_PASSWORD: 'not-her-password' }),
      });
      const err = await t.throwsAsync(refused.done);
      t.is((err as { code?: string }).code, 'EDDY_KAFKA_AUTH', err?.message);
      t.regex(err!.message, /kafka\.options sasl\.username, sasl\.password and sasl\.mechanism in kafka\.yml/);
      t.false(err!.message.includes('not-her-password'));
      t.false(err!.message.includes('\n'));
    } finally {
      await eddy.close();
    }
  },
);

kafkaTest(
  'a Kafka topic that does not exist, or a partition it lacks, ends the connector in one line saying what to do',
  async (t) => {
    t.timeout(120_000);
    const existing = unique('kpart');
    await createTopics(1, existing);
    const { eddy, work } = await fresh();
    try {
      const fails = async (type: string, kafkaTopic: string, extra: string, code: string, pattern: RegExp) => {
        const c = config(
          `meta:\n  name: m\n  type: ${type}\n  topic: t\n  create-topic: true\nkafka:\n  url: ${cluster().bootstrap}\n  topic: ${kafkaTopic}\n${extra}`,
          work,
        );
        const running = await startConnector(eddy, c, { signal: new AbortController().signal });
        const err = await t.throwsAsync(running.done);
        t.is((err as { code?: string }).code, code, err?.message);
        t.regex(err!.message, pattern);
        t.false(err!.message.includes('\n'));
      };
      const missingTopic = unique('kmissing');
      await fails('kafka-source', missingTopic, '', 'EDDY_KAFKA_TOPIC_MISSING', /does not exist.*create it first/);
      await fails('kafka-sink', missingTopic, '', 'EDDY_KAFKA_TOPIC_MISSING', /does not exist/);
      await fails(
        'kafka-source',
        existing,
        '  partition: 3\n',
        'EDDY_CONNECTOR',
        /kafka\.partition 3: .* has 1 partition \(0\.\.0\)/,
      );
      await fails(
        'kafka-sink',
        existing,
        '  partition: 1\n',
        'EDDY_CONNECTOR',
        /kafka\.partition 1: .* has 1 partition/,
      );
    } finally {
      await eddy.close();
    }
  },
);

test('a bad kafka connector config is refused, naming the field', async (t) => {
  const { eddy, work } = await fresh();
  try {
    const refused = async (section: string, field: string, type = 'kafka-sink') => {
      const c = config(
        `meta:\n  name: bad\n  type: ${type}\n  topic: t\n  create-topic: true\nkafka:\n  url: 127.0.0.1:9092\n  topic: k\n${section}`,
        work,
      );
      const err = await t.throwsAsync(startConnector(eddy, c, { signal: new AbortController().signal }));
      t.is((err as { code?: string }).code, 'EDDY_CONNECTOR_CONFIG', err?.message);
      t.true(err!.message.replace(/_/g, '-').includes(field.replace(/_/g, '-')), `${err!.message} names ${field}`);
      t.false(err!.message.includes('\n'));
    };
    await refused('  options:\n    linger.ms: "5"\n', 'kafka.options.linger.ms');
    await refused('  options:\n    acks: "5"\n', 'kafka.options.acks');
    await refused('  options:\n    acks: all\n', 'kafka.options.acks', 'kafka-source');
    await refused('  security:\n    ssl_ca:\n      file: no-such-ca.pem\n', 'kafka.security.ssl_ca.file');
    await refused('  security:\n    security_protocol: kerberos\n', 'kafka.security.security_protocol');
    await refused('  security:\n    ssl_crl: { file: x }\n', 'kafka.security.ssl_crl');
    await refused('  fetch-max-bytes-per-partition: 1 MiB\n', 'kafka.fetch-max-bytes-per-partition');
    await refused('  create-topic: true\n', 'kafka.create-topic', 'kafka-source');
    await refused('  partition: -1\n', 'kafka.partition');
    await refused('  options:\n    sasl.username: u\n', 'kafka.options');
    const noUrl = config('meta:\n  name: bad\n  type: kafka-source\n  topic: t\nkafka:\n  topic: k\n', work);
    const err = await t.throwsAsync(startConnector(eddy, noUrl, { signal: new AbortController().signal }));
    t.regex(err!.message, /kafka\.url: missing/);
    // Fluvio's `{ secret: { name } }` form is a secret like `${{ secrets.NAME }}`: it must be declared.
    t.throws(
      () =>
        config(
          'meta:\n  name: bad\n  type: kafka-sink\n  topic: t\nkafka:\n  url: { secret: { name: URL } }\n  topic: k\n',
          work,
        ),
      { message: /kafka\.url.*URL/ },
    );
  } finally {
    await eddy.close();
  }
});

test('an unreachable Kafka broker ends the connector with a one-line error', async (t) => {
  t.timeout(120_000);
  // A port nothing listens on: bound, then closed.
  const port = await new Promise<number>((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
  const { eddy, work } = await fresh();
  try {
    for (const type of ['kafka-source', 'kafka-sink']) {
      const c = config(
        `meta:\n  name: gone\n  type: ${type}\n  topic: t\n  create-topic: true\nkafka:\n  url: 127.0.0.1:${port}\n  topic: k\n`,
        work,
      );
      const running = await startConnector(eddy, c, { signal: new AbortController().signal });
      const err = await t.throwsAsync(running.done);
      t.is((err as { code?: string }).code, 'EDDY_KAFKA_UNREACHABLE', err?.message);
      t.true(err!.message.includes(`127.0.0.1:${port}`));
      t.false(err!.message.includes('\n'));
    }
  } finally {
    await eddy.close();
  }
});
