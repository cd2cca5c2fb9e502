import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eddyProcesses, until } from './helpers/eddy-process.js';
import { deriveCreate, kafkaSuite, kafkaTestClient, sendOnce, unique } from './helpers/kafka.js';
import { ownsOf } from './helpers/kafka-faults.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * A crash fault over a real Apache Kafka broker with state: the `eddy run` process that owns a
 * look-back filter's partition is SIGKILLed, and the process that takes the partition on rebuilds
 * the filter's state from the partition's newest record. (Apart from kafka-kill.test.ts so the
 * two run side by side.)
 */

const { kafkaTest, cluster } = kafkaSuite(1);

const { client, createTopics, readToEnd, committedReach } = kafkaTestClient(() => cluster().bootstrap);
const url = (topic: string) => `kafka://${cluster().bootstrap}/${topic}`;

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
    for (const h of hosts) await h.ok(deriveCreate(name, url(source), url(target), join(h.work, 'highs.yaml')));
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
