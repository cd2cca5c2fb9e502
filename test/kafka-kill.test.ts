import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eddyProcesses, until } from './helpers/eddy-process.js';
import { kafkaSuite, kafkaTestClient, seededRandom, sendOnce, unique } from './helpers/kafka.js';
import { expectedOutputs, faultHosts, faultStreams, feed, ownsOf } from './helpers/kafka-faults.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * Crash faults over a real Apache Kafka broker: one `eddy run` process, of three sharing two
 * derived streams (a stateless filter-map → map chain and a filter-map → aggregate chain), is
 * SIGKILLed 20 times at seeded random moments while a producer keeps feeding the source, and
 * restarted each time. The outputs, read with read_committed, equal the chains applied once to
 * the source: nothing lost, nothing duplicated, per-partition order kept, the running sums
 * unbroken.
 */

const { kafkaTest, cluster } = kafkaSuite(1);

const { client, createTopics, readToEnd, committedReach } = kafkaTestClient(() => cluster().bootstrap);
const url = (topic: string) => `kafka://${cluster().bootstrap}/${topic}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

kafkaTest(
  'one of three eddy run processes is SIGKILLed 20 times at random moments while records flow; both chains’ outputs, read_committed, equal the chains applied once',
  async (t) => {
    t.timeout(600_000);
    const started = Date.now();
    const seed = Number(process.env['EDDY_TEST_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`kafka-kill: seed ${seed} (EDDY_TEST_SEED=${seed} repeats this kill schedule)`);
    const random = seededRandom(seed);
    const PARTITIONS = 6;
    const KILLS = 20;
    const s = faultStreams();
    await createTopics(PARTITIONS, s.source, s.evens.target, s.sums.target);
    // Short group sessions (the test broker allows 1 s) move a killed process's partitions within seconds.
    const hosts = await faultHosts(t, 3, s, url, { EDDY_KAFKA_SESSION_TIMEOUT_MS: '2000' });
    const b = hosts[1]!.run();
    const c = hosts[2]!.run();

    const producer = client().producer(sendOnce);
    await producer.connect();
    const feeding = feed(producer, s.source, PARTITIONS);

    // The kill schedule: half the kills come a random delay after the start (during start-up,
    // the group join or taking partitions on), half a random delay after the process said it
    // owns partitions (mid-stream, mostly inside a transaction).
    let killedOwning = 0;
    const log: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      const a = hosts[0]!.run();
      const afterOwning = random() < 0.5;
      const delay = Math.floor(200 + random() * 1800);
      const owning = () => [s.evens.name, s.sums.name].some((n) => (ownsOf(a, n)?.length ?? 0) > 0);
      if (afterOwning) await until(owning, 15_000).catch(() => {});
      await sleep(delay);
      if (owning()) killedOwning++;
      a.child.kill('SIGKILL');
      await a.exited;
      log.push(`${afterOwning ? 'owned+' : 'start+'}${delay}ms`);
    }
    const a = hosts[0]!.run();
    await sleep(1000);
    await feeding.stop();
    await producer.disconnect();
    const { sent } = feeding;
    console.log(
      `kafka-kill: ${KILLS} kills (${killedOwning} while the process owned partitions): ${log.join(' ')}; ${sent[0]!.length} records per partition`,
    );

    const runs = [a, b, c];
    try {
      for (const { name } of [s.evens, s.sums])
        await committedReach(name, s.source, PARTITIONS, sent[0]!.length, 240_000);
    } catch (err) {
      t.fail(`${(err as Error).message}\n${runs.map((r) => r.err()).join('\n---\n')}`);
      return;
    }
    // The source holds what was sent, once: the reference input.
    t.deepEqual(await readToEnd(s.source, PARTITIONS), sent);
    const evens = await readToEnd(s.evens.target, PARTITIONS);
    const sums = await readToEnd(s.sums.target, PARTITIONS);
    for (const r of runs) r.child.kill('SIGTERM');
    t.deepEqual(await Promise.all(runs.map((r) => r.exited)), [0, 0, 0], runs.map((r) => r.err()).join('\n---\n'));
    const expected = await expectedOutputs(sent);
    for (let p = 0; p < PARTITIONS; p++) {
      t.deepEqual(evens[p], expected.evens[p], `${s.evens.target} partition ${p}`);
      t.deepEqual(sums[p], expected.sums[p], `${s.sums.target} partition ${p}`);
    }
    console.log(`kafka-kill: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
);

kafkaTest(
  'a look-back filter over Kafka whose process is SIGKILLed: the partition’s next owner rebuilds the state from the partition’s newest record, and nothing is written twice',
  async (t) => {
    t.timeout(300_000);
    const source = unique('levels');
    const target = unique('highs-out');
    const name = unique('highs');
    await createTopics(1, source, target);
    const hosts = [0, 1].map(() => {
      const work = mkdtempSync(join(tmpdir(), 'eddy-kafka-test-'));
      copyFileSync(wasmPath('filter-look-back'), join(work, 'filter-look-back.wasm'));
      writeFileSync(
        join(work, 'highs.yaml'),
        'transforms:\n  - uses: filter-look-back.wasm\n    lookback:\n      last: 1\n',
      );
      const env = {
        ...process.env,
        EDDY_DATA_DIR: join(work, 'data'),
        EDDY_WORKERS: '1',
        EDDY_KAFKA_SESSION_TIMEOUT_MS: '2000',
      };
      return { work, ...eddyProcesses(t, work, env) };
    });
    for (const h of hosts)
      await h.ok([
        'derive',
        'create',
        name,
        '--source',
        url(source),
        '--target',
        url(target),
        '--transforms-file',
        join(h.work, 'highs.yaml'),
      ]);
    const producer = client().producer(sendOnce);
    await producer.connect();
    const send = (vs: number[]) =>
      producer.send({ topic: source, messages: vs.map((v) => ({ value: String(v) })), acks: -1 });
    try {
      // The first process owns the one partition; the second waits in the group.
      const a = hosts[0]!.start(['run', '--status-interval', '500ms']);
      await until(() => (ownsOf(a, name)?.length ?? 0) === 1, 120_000);
      const b = hosts[1]!.start(['run', '--status-interval', '500ms']);
      await until(() => ownsOf(b, name) !== null, 120_000);
      // Taken on with the first record: look_back sees it, then the later highs pass.
      await send([5]);
      await committedReach(name, source, 1, 1, 120_000);
      await send([3, 8, 6, 9, 12, 10, 15]);
      await committedReach(name, source, 1, 8, 120_000);
      a.child.kill('SIGKILL');
      await a.exited;
      // The second process takes the partition on when these arrive: its look_back sees the
      // newest record, 14, as an uninterrupted run's state would be 15. Either way only 20 passes.
      await send([13, 20, 14]);
      await committedReach(name, source, 1, 11, 120_000);
      t.deepEqual(ownsOf(b, name), [0]);
      t.deepEqual((await readToEnd(target, 1))[0], ['8', '9', '12', '15', '20']);
      b.child.kill('SIGTERM');
      t.is(await b.exited, 0, b.err());
    } finally {
      await producer.disconnect();
    }
  },
);
