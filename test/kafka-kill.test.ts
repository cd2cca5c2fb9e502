import { prng } from '../src/bench/input.js';
import { until } from './helpers/eddy-process.js';
import { kafkaSuite, kafkaTestClient, sendOnce } from './helpers/kafka.js';
import { expectedOutputs, faultHosts, faultStreams, feed, ownsOf } from './helpers/kafka-faults.js';

/**
 * Crash faults over a real Apache Kafka broker: one `eddy run` process, of three sharing two
 * derived streams (a stateless filter-map → map chain and a filter-map → aggregate chain), is
 * SIGKILLed 20 times at seeded random moments while a producer keeps feeding the source, and
 * restarted each time. The outputs, read with read_committed, equal the chains applied once to
 * the source: nothing lost, nothing duplicated, per-partition order kept, the running sums
 * unbroken. (The look-back state case is in kafka-kill-lookback.test.ts: a file of its own runs
 * beside this long one.)
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
    const random = prng(seed);
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

    // The kill schedule: half the kills come a random delay after the start (200 ms to 2 s:
    // during start-up, the group join or taking partitions on), half a random delay after the
    // process said it owns partitions (100 ms to 1 s: mid-stream, mostly inside a transaction,
    // as the sends come every 40 ms or so).
    let killedOwning = 0;
    const log: string[] = [];
    const killing = Date.now();
    for (let k = 0; k < KILLS; k++) {
      const a = hosts[0]!.run();
      const afterOwning = random() < 0.5;
      const delay = Math.floor(afterOwning ? 100 + random() * 900 : 200 + random() * 1800);
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
      `kafka-kill: ${KILLS} kills in ${((Date.now() - killing) / 1000).toFixed(1)} s (${killedOwning} while the process owned partitions): ${log.join(' ')}; ${sent[0]!.length} records per partition`,
    );
    const caughtUp = Date.now();

    const runs = [a, b, c];
    try {
      for (const { name } of [s.evens, s.sums])
        await committedReach(name, s.source, PARTITIONS, sent[0]!.length, 240_000);
    } catch (err) {
      t.fail(`${(err as Error).message}\n${runs.map((r) => r.err()).join('\n---\n')}`);
      return;
    }
    console.log(
      `kafka-kill: both streams committed the whole source ${((Date.now() - caughtUp) / 1000).toFixed(1)} s after the last kill`,
    );
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
