import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { open } from '../src/eddy.js';
import type { Status } from '../src/index.js';
import { decodeState, stateOffset } from '../src/kafka/changelog.js';
import { readRange } from '../src/kafka/read-range.js';
import { decodeRecords, encodeRecords } from '../src/protocol/index.js';
import { Chain, loadModule } from '../src/smartmodule/index.js';
import { type EddyProcess, eddyBin, eddyProcesses, until } from './helpers/eddy-process.js';
import { deriveCreate, kafkaSuite, kafkaTestClient, owned, sendOnce, unique } from './helpers/kafka.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * Stateful chains over a real Apache Kafka broker: an aggregate's accumulators follow its
 * partition through the changelog topic when the process running it dies, and a look-back step
 * reads its records from the source partition whenever a process takes the partition on. And a
 * Kafka stream is observed as an Eddy one is: status endpoint, lag events, `eddy derive list`.
 * And SASL credentials: refused ones end in one sentence, not a retry loop. And TLS with a client
 * certificate, set in a profile or in the environment.
 */

// Also a SASL/PLAIN listener and an SSL one, for the credentials and TLS tests.
const { kafkaTest, cluster } = kafkaSuite(1, { saslUsers: { alice: 'alice-secret' }, tls: true });

const { client, withAdmin, createTopics, readToEnd, committedReach } = kafkaTestClient(() => cluster().bootstrap);
const url = (topic: string) => `kafka://${cluster().bootstrap}/${topic}`;

kafkaTest(
  'an aggregate over Kafka: the process running half the partitions is SIGKILLed mid-stream and restarted; the running sums, read_committed, equal an uninterrupted run',
  async (t) => {
    t.timeout(600_000);
    const PARTITIONS = 4;
    const PER_ROUND = 60;
    const ROUNDS = 4;
    const source = unique('amounts');
    const target = unique('sums');
    const name = unique('sum');
    await createTopics(PARTITIONS, source, target);
    const hosts = Array.from({ length: 2 }, () => {
      const work = mkdtempSync(join(tmpdir(), 'eddy-kafka-test-'));
      copyFileSync(wasmPath('aggregate-sum'), join(work, 'aggregate-sum.wasm'));
      const transforms = join(work, 'sum.yaml');
      writeFileSync(transforms, 'transforms:\n  - uses: aggregate-sum.wasm\n');
      // Group sessions of 6 s (the default is 30 s): the SIGKILLed process's partitions move
      // once its session ends, and the test need not wait out the default for that.
      const env = { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '1' };
      return { transforms, ...eddyProcesses(t, work, { ...env, EDDY_KAFKA_SESSION_TIMEOUT_MS: '6000' }) };
    });
    for (const h of hosts) await h.ok(deriveCreate(name, url(source), url(target), h.transforms));
    const run = (i: number) => hosts[i]!.start(['run', '--status-interval', '500ms']);
    const hasPartitions = (r: EddyProcess) => (owned(r)?.length ?? 0) > 0;

    const producer = client().producer(sendOnce);
    await producer.connect();
    const sent: number[][] = Array.from({ length: PARTITIONS }, () => []);
    const produceRound = async () => {
      const messages = [];
      for (let p = 0; p < PARTITIONS; p++) {
        for (let i = 0; i < PER_ROUND; i++) {
          const v = ((p + 1) * 37 + sent[p]!.length * 11) % 100;
          sent[p]!.push(v);
          messages.push({ partition: p, value: String(v) });
        }
      }
      await producer.send({ topic: source, messages });
    };

    const a = run(0);
    const b = run(1);
    await until(() => hasPartitions(a) && hasPartitions(b), 120_000);
    await produceRound();
    // Every partition has committed state before the kill, so the partitions that move carry some.
    await committedReach(name, source, PARTITIONS, PER_ROUND, 120_000);
    await produceRound();
    a.child.kill('SIGKILL'); // mid-stream: its open transaction is fenced by the partitions' next owner
    await a.exited;
    await produceRound();
    const a2 = run(0);
    await produceRound();
    await producer.disconnect();
    try {
      await committedReach(name, source, PARTITIONS, ROUNDS * PER_ROUND, 300_000);
    } catch (err) {
      t.fail(`${(err as Error).message}\n${[a, b, a2].map((r) => r.err()).join('\n---\n')}`);
      return;
    }
    const values = await readToEnd(target, PARTITIONS);
    for (const r of [b, a2]) r.child.kill('SIGTERM');
    t.deepEqual(await Promise.all([b.exited, a2.exited]), [0, 0], [b, a2].map((r) => r.err()).join('\n---\n'));
    // The uninterrupted run: each partition's running sum, record by record.
    const expected = sent.map((vs) => {
      let sum = 0;
      return vs.map((v) => String((sum += v)));
    });
    for (let p = 0; p < PARTITIONS; p++) t.deepEqual(values[p], expected[p], `partition ${p}`);
    // Each offset commit names its state record (what the next owner reads back).
    const committed = await withAdmin((x) => x.fetchOffsets({ groupId: name, topics: [source] }));
    for (const c of committed[0]!.partitions) t.regex(c.metadata ?? '', /^eddy-state@\d+$/);
    const p0 = committed[0]!.partitions.find((c) => c.partition === 0)!;
    const at = stateOffset(p0.metadata)!;
    const [record] = await readRange(client(), `${name}-eddy-state`, 0, at, at + 1, unique('check'));
    t.is(record?.key?.toString(), `${source}/0`);
    const state = decodeState(record!.value!);
    t.is(state.offset, ROUNDS * PER_ROUND);
    t.is(Buffer.from(state.accumulators[0]!).toString(), expected[0]!.at(-1)!);
    // The state lives in a compacted topic named after the stream.
    const configs = await withAdmin((x) =>
      x.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: `${name}-eddy-state` }] }),
    );
    const policy = configs.resources[0]!.configEntries.find((c) => c.configName === 'cleanup.policy');
    t.is(policy?.configValue, 'compact');
  },
);

kafkaTest(
  'a look-back filter over Kafka gets the last record of its source partition before its first batch, again when another process takes the partition on',
  async (t) => {
    t.timeout(300_000);
    const source = unique('levels');
    const target = unique('records');
    const name = unique('highs');
    await createTopics(1, source, target);
    const producer = client().producer(sendOnce);
    await producer.connect();
    const send = (vs: string[]) => producer.send({ topic: source, messages: vs.map((value) => ({ value })) });
    await send(['5', '3', '8', '6', '9']);
    const config = {
      name,
      source: url(source),
      target: url(target),
      transforms: [{ uses: wasmPath('filter-look-back'), params: {}, lookback: { last: 1 } }],
    };
    const errors: string[] = [];
    try {
      // The filter's look_back sees 9 (the last record): none of the five passes, then only new highs.
      const first = await open(mkdtempSync(join(tmpdir(), 'eddy-kafka-test-')));
      first.on('error', ({ error }) => errors.push(error.message));
      await first.createDerived(config);
      await first.startDerived(name);
      // The history is read when the partition's first batch arrives: only then come the new records.
      await committedReach(name, source, 1, 5, 120_000);
      await send(['7', '12', '10', '15']);
      await committedReach(name, source, 1, 9, 120_000);
      await first.close();
      t.deepEqual((await readToEnd(target, 1))[0], ['12', '15']);

      // Another process (another data directory) takes the partition on: its look_back sees 15.
      const second = await open(mkdtempSync(join(tmpdir(), 'eddy-kafka-test-')));
      second.on('error', ({ error }) => errors.push(error.message));
      await send(['13', '20', '18']);
      await second.createDerived(config);
      await second.startDerived(name);
      await committedReach(name, source, 1, 12, 120_000);
      await second.close();
      t.deepEqual((await readToEnd(target, 1))[0], ['12', '15', '20']);
      t.deepEqual(errors, []);
    } finally {
      await producer.disconnect();
    }
  },
);

kafkaTest(
  'a Kafka derived stream in the status endpoint, the lag events and `eddy derive list`: records, owned partitions and per-partition lag read from Kafka',
  async (t) => {
    t.timeout(300_000);
    const source = unique('fruit');
    const target = unique('apples');
    const name = unique('keep-a');
    await createTopics(2, source, target);
    const producer = client().producer(sendOnce);
    await producer.connect();
    const produce = (partition: number, n: number) =>
      producer.send({
        topic: source,
        messages: Array.from({ length: n }, (_, i) => ({ partition, value: i % 2 ? `apple ${i}` : `plum ${i}` })),
      });
    await produce(0, 40);
    await produce(1, 40);
    const config = {
      name,
      source: url(source),
      target: url(target),
      transforms: [{ uses: wasmPath('filter'), params: {}, lookback: null }],
    };
    const eddy = await open(mkdtempSync(join(tmpdir(), 'eddy-kafka-test-')), { workers: 1, http: '127.0.0.1:0' });
    const lags = new Map<number, number>();
    eddy.on('lag', (l) => lags.set(l.partition, l.lag));
    let status: Status | undefined;
    try {
      await eddy.createDerived(config);
      await eddy.startDerived(name);
      await until(() => lags.get(0) === 0 && lags.get(1) === 0, 120_000);
      // The status endpoint reads the group's progress from Kafka (refreshed every second).
      const deadline = Date.now() + 60_000;
      for (;;) {
        status = (await (await fetch(`${eddy.http!.url}api/status`)).json()) as Status;
        const s = status.streams.find((x) => x.name === name);
        if (s && s.recordsIn === 80 && s.commits > 0 && s.partitions.every((p) => p.state === 'running')) break;
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await eddy.close();
    }
    const s = status!.streams.find((x) => x.name === name)!;
    t.like(s, { state: 'running', recordsIn: 80, recordsOut: 40, lag: 0, source: url(source) });
    t.deepEqual(
      s.partitions.map((p) => [p.partition, p.state, p.recordsIn, p.recordsOut, p.lag]),
      [
        [0, 'running', 40, 20, 0],
        [1, 'running', 40, 20, 0],
      ],
    );
    t.true(s.modules[0]!.recordsIn >= 80);
    t.true(status!.healthy);

    // Stopped, and 10 more records in partition 0: another process's `derive list` reads the lag from Kafka.
    await produce(0, 10);
    await producer.disconnect();
    const work = mkdtempSync(join(tmpdir(), 'eddy-kafka-test-'));
    const env = { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '1' };
    const { ok } = eddyProcesses(t, work, env);
    copyFileSync(wasmPath('filter'), join(work, 'filter.wasm'));
    writeFileSync(join(work, 'keep-a.yaml'), 'transforms:\n  - uses: filter.wasm\n');
    await ok(deriveCreate(name, url(source), url(target), join(work, 'keep-a.yaml')));
    const run = (args: string[]) => promisify(execFile)(process.execPath, [eddyBin, ...args], { cwd: work, env });
    const listed = JSON.parse((await run(['derive', 'list', '--json'])).stdout) as {
      name: string;
      partitions: { partition: number; offset: number; lag: number }[];
    }[];
    t.deepEqual(
      listed[0]!.partitions.map((p) => [p.partition, p.offset, p.lag]),
      [
        [0, 40, 10],
        [1, 40, 0],
      ],
    );
    const table = (await run(['derive', 'list'])).stdout;
    t.regex(table, new RegExp(`${name} .* 80 +- +0 +10 +ok`));
  },
);

kafkaTest(
  'SASL/PLAIN credentials from the environment: accepted ones work; a wrong password ends derive create and eddy run in one sentence saying what to check, without retrying',
  async (t) => {
    t.timeout(120_000);
    const source = unique('in');
    const target = unique('out');
    await createTopics(1, source, target);
    const work = mkdtempSync(join(tmpdir(), 'eddy-kafka-test-'));
    copyFileSync(wasmPath('filter'), join(work, 'filter.wasm'));
    writeFileSync(join(work, 'f.yaml'), 'transforms:\n  - uses: filter.wasm\n');
    const base = { ...process.env, EDDY_DATA_DIR: join(work, 'data'), EDDY_WORKERS: '1' };
    const as = (password: string) => ({ ...base, EDDY_KAFKA_USERNAME: 'alice', EDDY_KAFKA_PASSWORD: password });
    const sasl = (topic: string) => `kafka://${cluster().saslBootstrap}/${topic}`;
    const create = (name: string) => deriveCreate(name, sasl(source), sasl(target), join(work, 'f.yaml'));
    const oneLine = async (p: EddyProcess) => {
      p.child.stdin!.end();
      t.not(await p.exited, 0);
      t.notRegex(p.err(), /^\s+at /m);
      return p.err().trim();
    };
    const refused = new RegExp(
      `the Kafka cluster at ${cluster().saslBootstrap!.replace(/\./g, '\\.')} refused the credentials \\(.*\\); check EDDY_KAFKA_USERNAME, EDDY_KAFKA_PASSWORD and EDDY_KAFKA_SASL_MECHANISM`,
    );

    const wrong = eddyProcesses(t, work, as('wrong'));
    const line = await oneLine(wrong.start(create('nope')));
    t.is(line.split('\n').length, 1, line);
    t.regex(line, refused);

    // The right password: the stream is created; run with a wrong one, it stops at once, saying why.
    await eddyProcesses(t, work, as('alice-secret')).ok(create('sasl'));
    const run = await oneLine(wrong.start(['run']));
    t.regex(run, /derived stream sasl did not start: /);
    t.regex(run, refused);

    // No credentials at all against the SASL listener: the closed connection says what to set.
    const none = await oneLine(eddyProcesses(t, work, base).start(create('none')));
    t.regex(
      none,
      /the broker closed the connection; if its listener requires SASL, set EDDY_KAFKA_USERNAME and EDDY_KAFKA_PASSWORD/,
    );
  },
);

kafkaTest(
  'TLS with a client certificate: a profile (kafka://@NAME/topic) carries it to derive create and eddy run; from the environment too; an untrusted broker ends in one sentence',
  async (t) => {
    t.timeout(180_000);
    const source = unique('tls-in');
    const target = unique('tls-out');
    await createTopics(1, source, target);
    const work = mkdtempSync(join(tmpdir(), 'eddy-kafka-test-'));
    copyFileSync(wasmPath('filter'), join(work, 'filter.wasm'));
    writeFileSync(join(work, 'f.yaml'), 'transforms:\n  - uses: filter.wasm\n');
    const files = cluster().tlsFiles!;
    const base = {
      ...process.env,
      EDDY_DATA_DIR: join(work, 'data'),
      EDDY_WORKERS: '1',
      EDDY_PROFILES: join(work, 'profiles.yaml'),
    };
    const eddy = eddyProcesses(t, work, base);
    await eddy.ok([
      'profile',
      'add',
      'secure',
      cluster().tlsBootstrap!,
      '--tls-ca',
      files.ca,
      '--tls-cert',
      files.cert,
      '--tls-key',
      files.key,
    ]);
    const create = (name: string, src: string, dst: string) => deriveCreate(name, src, dst, join(work, 'f.yaml'));
    // The current profile (the first one added) by `@`, the same one by name.
    await eddy.ok(create('secure', `kafka://@/${source}`, `kafka://@secure/${target}`));
    const run = eddy.start(['run', '--status-interval', '500ms']);
    const producer = client().producer(sendOnce);
    await producer.connect();
    await producer.send({ topic: source, messages: ['a', 'ab', 'cat', 'b'].map((value) => ({ value })) });
    await producer.disconnect();
    const filter = await loadModule(wasmPath('filter'));
    const expected = decodeRecords(
      Chain.create([{ module: filter }]).process({
        baseOffset: 0,
        baseTimestamp: 0,
        raw: encodeRecords(['a', 'ab', 'cat', 'b'].map((v) => ({ value: Buffer.from(v) }))),
      }).raw,
    ).map((r) => Buffer.from(r.value).toString());
    let got: string[] = [];
    for (const deadline = Date.now() + 120_000; got.length < expected.length && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 300));
      got = (await readToEnd(target, 1))[0]!;
    }
    t.deepEqual(got, expected, run.err());
    run.child.kill('SIGTERM');
    t.is(await run.exited, 0, run.err());

    // The same files from the environment, with the brokers written out.
    const tlsUrl = (topic: string) => `kafka://${cluster().tlsBootstrap}/${topic}`;
    await eddyProcesses(t, work, {
      ...base,
      EDDY_KAFKA_TLS_CA: files.ca,
      EDDY_KAFKA_TLS_CERT: files.cert,
      EDDY_KAFKA_TLS_KEY: files.key,
    }).ok(create('from-env', tlsUrl(source), tlsUrl(target)));

    // TLS without the CA: the broker's certificate is not trusted; one sentence says what to set.
    const untrusted = eddyProcesses(t, work, { ...base, EDDY_KAFKA_TLS: '1' }).start(
      create('untrusted', tlsUrl(source), tlsUrl(target)),
    );
    untrusted.child.stdin!.end();
    t.not(await untrusted.exited, 0);
    const line = untrusted.err().trim();
    t.is(line.split('\n').length, 1, line);
    t.notRegex(line, /^\s+at /m);
    t.regex(line, /the TLS handshake with the Kafka cluster at .* failed \(.*\); set EDDY_KAFKA_TLS_CA/);

    // The CA but no client certificate: the broker requires one, and refuses the connection.
    const anonymous = eddyProcesses(t, work, { ...base, EDDY_KAFKA_TLS_CA: files.ca }).start(
      create('anonymous', tlsUrl(source), tlsUrl(target)),
    );
    anonymous.child.stdin!.end();
    t.not(await anonymous.exited, 0);
    t.is(anonymous.err().trim().split('\n').length, 1, anonymous.err());
    t.regex(anonymous.err(), /failed \(the broker refused the handshake: bad certificate\); .*EDDY_KAFKA_TLS_CERT/);

    // A profile file that cannot be read names the file; an unknown profile names the ones there are.
    const unknown = eddy.start(create('nope', `kafka://@nope/${source}`, `kafka://@nope/${target}`));
    unknown.child.stdin!.end();
    t.not(await unknown.exited, 0);
    t.regex(
      unknown.err(),
      /no profile nope in .*profiles\.yaml \(it has secure\); add it with eddy profile add nope HOST:PORT/,
    );
  },
);
