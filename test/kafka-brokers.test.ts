import { until } from './helpers/eddy-process.js';
import { kafkaSuite, kafkaTestClient, sendOnce } from './helpers/kafka.js';
import { expectedOutputs, faultHosts, faultStreams, feed, ownsOf } from './helpers/kafka-faults.js';

/**
 * Broker faults: a cluster of three brokers (every topic, the consumer offsets and the
 * transaction state log with 3 replicas, min.insync.replicas 2) loses one broker mid-stream and
 * gets it back, while two `eddy run` processes run a stateless and an aggregate chain and a
 * producer keeps feeding the source. The outputs, read with read_committed, equal the chains
 * applied once: nothing lost, nothing duplicated.
 */

const { kafkaTest, cluster } = kafkaSuite(3);

const { client, withAdmin, createTopics, readToEnd, committedReach, committedAtEnd } = kafkaTestClient(
  () => cluster().bootstrap,
);
const url = (topic: string) => `kafka://${cluster().bootstrap}/${topic}`;

kafkaTest(
  'three brokers, replication factor 3 and min.insync.replicas 2: one broker stops mid-stream and comes back; both chains’ outputs, read_committed, equal the chains applied once',
  async (t) => {
    t.timeout(600_000);
    const started = Date.now();
    // Seconds since the start at each phase's end, logged at the end (where the time goes).
    const phases: string[] = [];
    const phase = (what: string) => phases.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)}`);
    const PARTITIONS = 6;
    const s = faultStreams();
    await createTopics(PARTITIONS, s.source, s.evens.target, s.sums.target);
    const hosts = await faultHosts(t, 2, s, url);
    const runs = hosts.map((h) => h.run());
    const names = [s.evens.name, s.sums.name];
    const settled = () => runs.every((r) => names.every((n) => (ownsOf(r, n)?.length ?? 0) > 0));
    await until(settled, 120_000).catch(() => t.fail(`not settled:\n${runs.map((r) => r.err()).join('\n---\n')}`));
    if (!settled()) return;
    phase('settled');

    const producer = client().producer(sendOnce);
    await producer.connect();
    const feeding = feed(producer, s.source, PARTITIONS);
    // Mid-stream: both streams have committed some of it.
    for (const n of names) await committedReach(n, s.source, PARTITIONS, 30, 120_000, true);
    phase('mid-stream');

    // The broker that leads most source partitions goes away (a controlled shutdown: its
    // partitions get new leaders), stays away a while, and comes back.
    const meta = await withAdmin((a) => a.fetchTopicMetadata({ topics: [s.source] }));
    const leads = new Map<number, number>();
    for (const p of meta.topics[0]!.partitions) leads.set(p.leader, (leads.get(p.leader) ?? 0) + 1);
    const [node, led] = [...leads].sort((x, y) => y[1] - x[1])[0]!;
    const before = feeding.sent[0]!.length;
    await cluster().stopNode(node);
    phase('stopped');
    const stoppedAt = feeding.sent[0]!.length;
    // Records keep flowing through the two brokers left (acks=all needs two in sync): 20 more
    // sends (waited for, however long they take), then the broker comes back.
    await until(() => feeding.sent[0]!.length >= stoppedAt + 60, 120_000).catch(() => {});
    t.true(feeding.sent[0]!.length >= stoppedAt + 60, 'the producer made progress with one broker down');
    await cluster().startNode(node);
    phase('restarted');
    const backAt = feeding.sent[0]!.length;
    // And go on with it back (it catches up as a follower meanwhile).
    await until(() => feeding.sent[0]!.length >= backAt + 30, 120_000).catch(() => {});
    await feeding.stop();
    await producer.disconnect();
    const { sent } = feeding;
    console.log(
      `kafka-brokers: broker ${node} (leader of ${led} source partitions) down from record ${before} to ${backAt} of ${sent[0]!.length} per partition`,
    );

    try {
      for (const n of names) await committedAtEnd(n, s.source, 240_000);
      phase('committed');
    } catch (err) {
      t.fail(`${(err as Error).message}\n${runs.map((r) => r.err()).join('\n---\n')}`);
      return;
    }
    // The reference input is the source as stored: the test's own producer (kafkajs, idempotent,
    // acks=all) was seen to resolve a send while records for partitions whose leader was moving
    // never reached the log, which is not what this test is about.
    const stored = await readToEnd(s.source, PARTITIONS);
    const lost = sent.reduce((n, vs, p) => n + vs.length - stored[p]!.length, 0);
    if (lost > 0) console.log(`kafka-brokers: ${lost} records the test producer sent are not in the source`);
    const evens = await readToEnd(s.evens.target, PARTITIONS);
    const sums = await readToEnd(s.sums.target, PARTITIONS);
    for (const r of runs) r.child.kill('SIGTERM');
    t.deepEqual(await Promise.all(runs.map((r) => r.exited)), [0, 0], runs.map((r) => r.err()).join('\n---\n'));
    const expected = await expectedOutputs(stored);
    for (let p = 0; p < PARTITIONS; p++) {
      t.deepEqual(evens[p], expected.evens[p], `${s.evens.target} partition ${p}`);
      t.deepEqual(sums[p], expected.sums[p], `${s.sums.target} partition ${p}`);
    }

    // What the guarantee rests on: the topics Eddy wrote, the group offsets and the transaction
    // log each have 3 replicas and refuse writes with fewer than 2 in sync.
    const internal = ['__consumer_offsets', '__transaction_state'];
    const topics = [s.source, s.evens.target, s.sums.target, `${s.sums.name}-eddy-state`, ...internal];
    const all = await withAdmin((a) => a.fetchTopicMetadata({ topics }));
    for (const m of all.topics)
      t.true(
        m.partitions.every((p) => p.replicas.length === 3),
        `${m.name} replicas`,
      );
    const configs = await withAdmin((a) =>
      a.describeConfigs({ includeSynonyms: false, resources: topics.map((name) => ({ type: 2, name })) }),
    );
    for (const r of configs.resources)
      t.is(r.configEntries.find((c) => c.configName === 'min.insync.replicas')?.configValue, '2', r.resourceName);
    console.log(`kafka-brokers: ${((Date.now() - started) / 1000).toFixed(1)} s (${phases.join(', ')})`);
  },
);
