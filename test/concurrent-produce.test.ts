import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { openStorage, type Storage } from '../src/storage/index.js';
import { eddyProcesses, until } from './helpers/eddy-process.js';

/**
 * Several `eddy produce` processes write one topic at once (real processes, LMDB's write lock
 * between them), some of them killed with SIGKILL halfway: offsets stay unique and gap-free,
 * every record a producer had stored is there once, in its order, and nothing else is.
 */

const PER_PRODUCER = 20_000;
/** A killed producer is sent this many (so the kill lands while it is still writing). */
/** Records a victim gets after its first half, then in its last write (~2 MB, far over a pipe's 64 KiB). */
const FEED = 5_000;
const LAST_WRITE = 200_000;
const PARTITIONS = 2;

function setup(t: ExecutionContext) {
  const work = mkdtempSync(join(tmpdir(), 'eddy-producers-'));
  const data = join(work, 'data');
  const env = { ...process.env, EDDY_DATA_DIR: data };
  return { data, ...eddyProcesses(t, work, env) };
}

const lines = (producer: number, from: number, to: number) =>
  `${Array.from({ length: to - from }, (_, i) => `p${producer}-${from + i}`).join('\n')}\n`;

/** Reads every partition back, checking offsets gap-free: producer → partition → its sequence numbers, in log order. */
async function readBack(t: ExecutionContext, store: Storage): Promise<Map<number, number[][]>> {
  store.env.resetReadTxn();
  store.describeTopic('events'); // brings each partition's end up to date
  const seen = new Map<number, number[][]>();
  for (let p = 0; p < PARTITIONS; p++) {
    let expect = 0;
    for await (const r of store.consume('events', p, {
      from: 'beginning',
      endOffset: store.partition('events', p).nextOffset - 1,
    })) {
      t.is(r.offset, expect++, `partition ${p}: offsets are gap-free`);
      const [who, n] = Buffer.from(r.value).toString().slice(1).split('-').map(Number) as [number, number];
      const parts = seen.get(who) ?? Array.from({ length: PARTITIONS }, () => []);
      parts[p]!.push(n);
      seen.set(who, parts);
    }
  }
  return seen;
}

/** Each partition's numbers increase (the producer's order), and together they are 0..n−1 once each; returns n. */
function onceInOrder(t: ExecutionContext, who: string, parts: number[][]): number {
  for (const seq of parts)
    t.true(
      seq.every((n, k) => k === 0 || n > seq[k - 1]!),
      `${who}: in order within a partition`,
    );
  const all = parts.flat().sort((a, b) => a - b);
  t.deepEqual(
    all,
    Array.from({ length: all.length }, (_, k) => k),
    `${who}: no record twice, none missing before the last stored`,
  );
  return all.length;
}

for (const producers of [2, 4, 8]) {
  test(`${producers} eddy produce processes into one topic at once, half of them SIGKILLed while writing: offsets unique and gap-free, every stored record once and in order`, async (t) => {
    t.timeout(180_000);
    const { data, start, ok } = setup(t);
    await ok(['topic', 'create', 'events', '-p', String(PARTITIONS)]);
    const store = await openStorage(data, { readOnly: true });
    t.teardown(() => store.close());
    const stored = () => {
      store.env.resetReadTxn();
      return store.describeTopic('events').records;
    };

    // Odd producers get half of their records and keep stdin open; even ones get all and finish.
    const procs = Array.from({ length: producers }, (_, i) => {
      const p = start(['produce', 'events', '--linger', '10ms']);
      const victim = i % 2 === 1;
      if (victim) p.child.stdin!.write(lines(i, 0, PER_PRODUCER / 2));
      else p.child.stdin!.end(lines(i, 0, PER_PRODUCER));
      return { ...p, victim };
    });
    for (const p of procs.filter((x) => !x.victim)) t.is(await p.exited, 0, p.err());
    const victims = procs.filter((x) => x.victim);
    const acknowledged = (producers - victims.length) * PER_PRODUCER + victims.length * (PER_PRODUCER / 2);
    await until(() => stored() >= acknowledged);
    // The victims get more records; once some are stored, each gets a last write far larger than a
    // pipe holds and is killed in the same turn, so the kill lands while it still has records to
    // write, however fast the machine is.
    const sent = victims.map(() => PER_PRODUCER / 2 + FEED);
    for (const [k, p] of victims.entries()) p.child.stdin!.write(lines(2 * k + 1, PER_PRODUCER / 2, sent[k]!));
    await until(() => stored() > acknowledged);
    for (const [k, p] of victims.entries()) {
      p.child.stdin!.write(lines(2 * k + 1, sent[k]!, sent[k]! + LAST_WRITE));
      sent[k]! += LAST_WRITE;
      p.child.kill('SIGKILL');
    }
    for (const p of victims) t.is(await p.exited, -9);

    const seen = await readBack(t, store);
    let total = 0;
    let cut = 0;
    for (let i = 0; i < producers; i++) {
      const n = onceInOrder(t, `producer ${i}`, seen.get(i)!);
      total += n;
      if (procs[i]!.victim) {
        const fed = sent[(i - 1) / 2]!;
        t.true(n >= PER_PRODUCER / 2 && n <= fed, `producer ${i} (killed): ${n} of ${fed} stored`);
        if (n < fed) cut++;
      } else t.is(n, PER_PRODUCER, `producer ${i}: all stored`);
    }
    t.true(total >= acknowledged);
    t.true(cut > 0, 'a kill landed while its producer was writing');
    t.log(
      `${producers} producers: ${total} records stored (${acknowledged} acknowledged before the kills; ${cut} of ${victims.length} killed producers cut short)`,
    );

    // The killed producers' lock files are stale: a writer that needs the directory to itself gets it.
    await ok(['topic', 'create', 'after']);
    t.deepEqual(
      readdirSync(data).filter((f) => f.startsWith('eddy.lock')),
      [],
    );
  });
}

test('a default writer and shared producers exclude each other; each is told who holds the directory', async (t) => {
  t.timeout(60_000);
  const { data, start, ok } = setup(t);
  await ok(['topic', 'create', 'events']);
  const producer = start(['produce', 'events']);
  producer.child.stdin!.write('one\n');
  await until(() => readdirSync(data).some((f) => f.startsWith('eddy.lock.shared-')));
  const create = start(['topic', 'create', 'other']);
  create.child.stdin!.end();
  t.is(await create.exited, 1);
  t.regex(
    create.err(),
    new RegExp(
      `is in use by process ${producer.child.pid} \\(.*produce\\); several \`eddy produce\` can write at once.*remove .*eddy\\.lock\\.shared-${producer.child.pid}-`,
    ),
  );
  // A second producer joins the first.
  await ok(['produce', 'events'], 'two\n');
  producer.child.stdin!.end('three\n');
  t.is(await producer.exited, 0, producer.err());

  // A named consumer commits offsets: a default writer. While it follows, a producer is refused
  // (there is no daemon socket to hand the records to).
  const holder = start(['consume', 'events', '-B', '--consumer', 'c']);
  holder.child.stdin!.end();
  await until(() => readdirSync(data).includes('eddy.lock'));
  const refused = start(['produce', 'events']);
  refused.child.stdin!.end('four\n');
  t.is(await refused.exited, 1);
  t.regex(
    refused.err(),
    new RegExp(`is in use by process ${holder.child.pid} \\(.*consume\\).*remove .*eddy\\.lock$`, 'm'),
  );
  holder.child.kill('SIGINT');
  t.is(await holder.exited, 0, holder.err());
  await ok(['topic', 'create', 'other']);
});
