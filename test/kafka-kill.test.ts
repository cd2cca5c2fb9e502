import test from 'ava';
import { type KafkaCluster, kafkaUnavailable, startKafka } from '../bench/lib/kafka-cluster.js';
import { until } from './helpers/eddy-process.js';
import { kafkaTestClient, seededRandom } from './helpers/kafka.js';
import { expectedOutputs, faultHosts, faultStreams, feed, ownsOf } from './helpers/kafka-faults.js';

/**
 * Crash faults over a real Apache Kafka broker: one `eddy run` process, of three sharing two
 * derived streams (a stateless filter-map → map chain and a filter-map → aggregate chain), is
 * SIGKILLed 20 times at seeded random moments while a producer keeps feeding the source, and
 * restarted each time. The outputs, read with read_committed, equal the chains applied once to
 * the source: nothing lost, nothing duplicated, per-partition order kept, the running sums
 * unbroken.
 */

const missing = process.env['CI'] ? null : kafkaUnavailable();
if (missing) console.log(`kafka tests skipped: ${missing}`);
const kafkaTest = missing ? test.skip : test.serial;

let cluster: KafkaCluster | null = null;
test.before(async (t) => {
  t.timeout(600_000);
  if (!missing) cluster = await startKafka(1);
});
test.after.always(async () => {
  await cluster?.stop();
});

const { client, createTopics, readToEnd, committedReach } = kafkaTestClient(() => cluster!.bootstrap);
const url = (topic: string) => `kafka://${cluster!.bootstrap}/${topic}`;
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

    const producer = client().producer({ idempotent: true, maxInFlightRequests: 1 });
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
