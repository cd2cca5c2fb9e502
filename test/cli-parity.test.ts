import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { eddyOk, runEddy } from './helpers/cli-in-process.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * The management commands a Fluvio user types, flag by flag against `fluvio topic`,
 * `fluvio smart-module`, `fluvio partition` and `fluvio consumer`: names, --dry-run,
 * -c/--continue-on-error, the list tables, add-partition and consumer offsets.
 */

const fresh = () => join(mkdtempSync(join(tmpdir(), 'eddy-parity-')), 'data');
const lines = (s: string) => s.split('\n').filter((l) => l !== '');

test('smart-module names: Fluvio resource names and Hub package names; others refused before anything is read', async (t) => {
  const dir = fresh();
  const filter = wasmPath('filter');
  for (const name of ['Keep_A', 'keep.a', 'keep-', 'infinyon/keep-a', 'infinyon/keep-a@']) {
    const r = await runEddy(dir, ['smart-module', 'create', name, '--wasm-file', filter]);
    t.is(r.code, 1, name);
    t.regex(
      r.stderr,
      /^Error: invalid SmartModule name .*: use lowercase letters, digits and '-'.*group\/name@version/,
      name,
    );
  }
  t.is(await eddyOk(dir, ['sm', 'list']), 'no smart modules\n');
  t.regex(
    await eddyOk(dir, ['sm', 'create', 'infinyon/keep-a@0.1.0', '--wasm-file', filter]),
    /^smartmodule "infinyon\/keep-a@0.1.0" has been created/,
  );
  await eddyOk(dir, ['topic', 'create', 'words']);
  await eddyOk(dir, ['produce', 'words'], 'apple\nhello\nbanana\nplum\n');
  // The package name works wherever a module is named (the filter keeps values containing 'a').
  t.deepEqual(lines(await eddyOk(dir, ['consume', 'words', '-B', '-d', '--filter', 'infinyon/keep-a@0.1.0'])), [
    'apple',
    'banana',
  ]);
});

test('sm delete: an unknown name says it does not exist (not how to register it); -c goes on with the others', async (t) => {
  const dir = fresh();
  const unknown = await runEddy(dir, ['sm', 'delete', 'nosuch']);
  t.is(unknown.code, 1);
  t.is(
    unknown.stderr,
    'Error: SmartModule "nosuch" does not exist, so nothing was deleted (`eddy smart-module list` shows them)\n',
  );
  await eddyOk(dir, ['sm', 'create', 'one', '--wasm-file', wasmPath('filter')]);
  await eddyOk(dir, ['sm', 'create', 'two', '--wasm-file', wasmPath('filter')]);
  const stopped = await runEddy(dir, ['sm', 'delete', 'one', 'nosuch', 'two']);
  t.is(stopped.code, 1);
  t.is(stopped.stdout, 'smartmodule "one" deleted\n');
  t.regex(await eddyOk(dir, ['sm', 'list']), /\n {2}two /);
  await eddyOk(dir, ['sm', 'create', 'one', '--wasm-file', wasmPath('filter')]);
  const all = await runEddy(dir, ['sm', 'delete', '-c', 'one', 'nosuch', 'two']);
  t.is(all.code, 1);
  t.is(all.stdout, 'smartmodule "one" deleted\nsmartmodule "two" deleted\n');
  t.regex(all.stderr, /^smartmodule "nosuch" delete failed with: SmartModule "nosuch" does not exist/);
  t.regex(all.stderr, /\nError: 1 of the 3 smartmodules given could not be deleted \("nosuch"\)/);
  t.is(await eddyOk(dir, ['sm', 'list']), 'no smart modules\n');
});

test('topic delete: the first unknown name stops; -c/--continue-on-error deletes the rest and fails at the end', async (t) => {
  const dir = fresh();
  for (const n of ['a', 'b', 'c']) await eddyOk(dir, ['topic', 'create', n]);
  const stopped = await runEddy(dir, ['topic', 'delete', 'a', 'nope', 'b']);
  t.is(stopped.code, 1);
  t.is(stopped.stdout, 'topic "a" deleted\n');
  t.regex(stopped.stderr, /^Error: topic "nope" does not exist, so nothing was deleted/);
  t.deepEqual(
    JSON.parse(await eddyOk(dir, ['topic', 'list', '--json'])).map((x: { name: string }) => x.name),
    ['b', 'c'],
  );
  const all = await runEddy(dir, ['topic', 'delete', '--continue-on-error', 'nope', 'b', 'gone', 'c']);
  t.is(all.code, 1);
  t.is(all.stdout, 'topic "b" deleted\ntopic "c" deleted\n');
  t.deepEqual(
    lines(all.stderr).map((l) => l.replace(/ delete failed with: .*/, '')),
    [
      'topic "nope"',
      'topic "gone"',
      'Error: 2 of the 4 topics given could not be deleted ("nope", "gone"); the reasons are above',
    ],
  );
  t.is(await eddyOk(dir, ['topic', 'list']), 'No topics found\n');
  await eddyOk(dir, ['topic', 'create', 'd']);
  t.is(await eddyOk(dir, ['topic', 'delete', '-c', 'd']), 'topic "d" deleted\n');
});

test('topic create --dry-run checks everything create checks and creates nothing', async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'taken']);
  t.is(
    await eddyOk(dir, ['topic', 'create', 'fresh', '-p', '3', '--retention-time', '1h', '--dry-run']),
    'topic "fresh" can be created (3 partitions); nothing was created (--dry-run)\n',
  );
  t.is(
    await eddyOk(dir, ['topic', 'create', 'fresh', '-d']),
    'topic "fresh" can be created (1 partition); nothing was created (--dry-run)\n',
  );
  const refused: [string[], RegExp][] = [
    [['taken'], /topic "taken" already exists/],
    [['Bad_Name'], /invalid topic name "Bad_Name"/],
    [['ok', '-p', '0'], /-p\/--partitions must be 1 or more/],
    [['ok', '--compression-type', 'brotli'], /--compression-type brotli is unknown/],
    [['ok', '-p', '10000000'], /partition/],
  ];
  for (const [args, message] of refused) {
    const r = await runEddy(dir, ['topic', 'create', ...args, '--dry-run']);
    t.is(r.code, 1, args.join(' '));
    t.regex(r.stderr, message, args.join(' '));
  }
  t.deepEqual(
    JSON.parse(await eddyOk(dir, ['topic', 'list', '--json'])).map((x: { name: string }) => x.name),
    ['taken'],
  );
});

test("topic list: Fluvio's columns first (TYPE, REPLICAS, DEDUPLICATION, STATUS, REASON), then Eddy's records and sizes", async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'fruit', '-p', '2', '--retention-time', '2h', '--compression-type', 'lz4']);
  await eddyOk(dir, ['produce', 'fruit'], 'apple\nbanana\ncherry\n');
  const [header, row] = lines(await eddyOk(dir, ['topic', 'list']));
  t.deepEqual(header!.trim().split(/ {2,}/), [
    'NAME',
    'TYPE',
    'PARTITIONS',
    'REPLICAS',
    'RETENTION TIME',
    'COMPRESSION',
    'DEDUPLICATION',
    'STATUS',
    'REASON',
    'RECORDS',
    'SIZE',
    'MAX PARTITION SIZE',
  ]);
  t.regex(row!, /^ {2}fruit {2}computed {2}2 +1 +2h +lz4 +none +resolution::provisioned +3 +\d+ B +100 GB$/);
});

test("partition list: one row per partition with leader 0, size, base offset, HW and LEO, as the topic's own figures", async (t) => {
  const dir = fresh();
  t.is(await eddyOk(dir, ['partition', 'list']), 'No partitions found\n');
  await eddyOk(dir, ['topic', 'create', 'b-topic', '-p', '2']);
  await eddyOk(dir, ['topic', 'create', 'a-topic']);
  await eddyOk(dir, ['produce', 'b-topic'], 'one\ntwo\nthree\n');
  const rows = JSON.parse(await eddyOk(dir, ['partition', 'list', '-O', 'json'])) as Record<string, unknown>[];
  const described = JSON.parse(await eddyOk(dir, ['topic', 'describe', 'b-topic', '--json'])) as {
    partitionInfo: { partition: number; startOffset: number; nextOffset: number; records: number; bytes: number }[];
  };
  t.deepEqual(rows, [
    {
      topic: 'a-topic',
      partition: 0,
      leader: 0,
      resolution: 'Online',
      bytes: 0,
      baseOffset: 0,
      hw: 0,
      leo: 0,
      records: 0,
    },
    ...described.partitionInfo.map((p) => ({
      topic: 'b-topic',
      partition: p.partition,
      leader: 0,
      resolution: 'Online',
      bytes: p.bytes,
      baseOffset: p.startOffset,
      hw: p.nextOffset,
      leo: p.nextOffset,
      records: p.records,
    })),
  ]);
  t.is(
    described.partitionInfo.reduce((n, p) => n + p.records, 0),
    3,
  );
  const table = lines(await eddyOk(dir, ['partition', 'list']));
  t.deepEqual(table[0]!.trim().split(/ +/), [
    'TOPIC',
    'PARTITION',
    'LEADER',
    'RESOLUTION',
    'SIZE',
    'BASE',
    'HW',
    'LEO',
    'RECORDS',
  ]);
  t.deepEqual(
    table.slice(1).map((l) => l.trim().split(/ +/).slice(0, 4)),
    [
      ['a-topic', '0', '0', 'Online'],
      ['b-topic', '0', '0', 'Online'],
      ['b-topic', '1', '0', 'Online'],
    ],
  );
});

test('consumer list shows committed offsets as Fluvio (last delivered); consumer delete makes the consumer start afresh', async (t) => {
  const dir = fresh();
  t.is(await eddyOk(dir, ['consumer', 'list']), 'No consumers found\n');
  await eddyOk(dir, ['topic', 'create', 'orders']);
  await eddyOk(dir, ['topic', 'create', 'refunds']);
  await eddyOk(dir, ['produce', 'orders'], 'o1\no2\no3\n');
  await eddyOk(dir, ['produce', 'refunds'], 'r1\n');
  t.deepEqual(lines(await eddyOk(dir, ['consume', 'orders', '-B', '-d', '--consumer', 'billing'])), ['o1', 'o2', 'o3']);
  t.deepEqual(lines(await eddyOk(dir, ['consume', 'refunds', '-B', '-d', '--consumer', 'billing'])), ['r1']);
  t.deepEqual(
    lines(await eddyOk(dir, ['consume', 'orders', '-B', '-d', '--consumer', 'audit', '--max-records', '1'])),
    ['o1'],
  );
  const listed = JSON.parse(await eddyOk(dir, ['consumer', 'list', '-O', 'json'])) as {
    consumer: string;
    topic: string;
    partition: number;
    offset: number;
    nextOffset: number;
  }[];
  t.deepEqual(
    listed.map(({ consumer, topic, partition, offset, nextOffset }) => [
      consumer,
      topic,
      partition,
      offset,
      nextOffset,
    ]),
    [
      ['audit', 'orders', 0, 0, 1],
      ['billing', 'orders', 0, 2, 3],
      ['billing', 'refunds', 0, 0, 1],
    ],
  );
  const table = lines(await eddyOk(dir, ['consumer', 'list']));
  t.deepEqual(table[0]!.trim().split(/ {2,}/), ['CONSUMER', 'TOPIC', 'PARTITION', 'OFFSET', 'LAST SEEN']);
  t.regex(table[2]!, /^ {2}billing +orders +0 +2 +\d+(ms|s|m)/);

  // Resumes after its commit: nothing new.
  t.is(await eddyOk(dir, ['consume', 'orders', '-B', '-d', '--consumer', 'billing']), '');
  t.is(
    await eddyOk(dir, ['consumer', 'delete', 'billing', '-t', 'orders']),
    'consumer "billing" on topic "orders" and partition "0" deleted\n',
  );
  t.deepEqual(lines(await eddyOk(dir, ['consume', 'orders', '-B', '-d', '--consumer', 'billing'])), ['o1', 'o2', 'o3']);
  t.is(
    await eddyOk(dir, ['consumer', 'delete', 'billing']),
    'consumer "billing" on topic "orders" and partition "0" deleted\nconsumer "billing" on topic "refunds" and partition "0" deleted\n',
  );
  t.deepEqual(
    (JSON.parse(await eddyOk(dir, ['consumer', 'list', '--json'])) as { consumer: string }[]).map((c) => c.consumer),
    ['audit'],
  );

  const none = await runEddy(dir, ['consumer', 'delete', 'billing']);
  t.is(none.code, 1);
  t.regex(
    none.stderr,
    /^Error: consumer "billing" does not exist, so nothing was deleted \(it has no committed offset; `eddy consumer list` shows the consumers\)/,
  );
  const partitionOnly = await runEddy(dir, ['consumer', 'delete', 'audit', '-p', '0']);
  t.is(partitionOnly.code, 1);
  t.regex(partitionOnly.stderr, /-p\/--partition needs -t\/--topic/);
  t.is(
    await eddyOk(dir, ['consumer', 'delete', 'audit', '-t', 'orders', '-p', '0']),
    'consumer "audit" on topic "orders" and partition "0" deleted\n',
  );
});

test('topic add-partition: new partitions after the existing ones; stored records stay; new records reach them', async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'grow']);
  await eddyOk(dir, ['produce', 'grow'], 'first\n');
  t.is(
    await eddyOk(dir, ['topic', 'add-partition', 'grow', '-c', '2']),
    'added new partitions to topic: "grow"\n  PARTITION  SPU\n  1          0\n  2          0\n',
  );
  t.is(
    await eddyOk(dir, ['topic', 'add-partition', 'grow']),
    'added new partitions to topic: "grow"\n  PARTITION  SPU\n  3          0\n',
  );
  await eddyOk(dir, ['produce', 'grow'], 'a\nb\nc\nd\ne\nf\ng\nh\n');
  const d = JSON.parse(await eddyOk(dir, ['topic', 'describe', 'grow', '--json'])) as {
    partitions: number;
    partitionInfo: { records: number }[];
  };
  t.is(d.partitions, 4);
  t.is(
    d.partitionInfo.reduce((n, p) => n + p.records, 0),
    9,
  );
  t.true(
    d.partitionInfo.slice(1).every((p) => p.records > 0),
    JSON.stringify(d.partitionInfo),
  );
  t.is(lines(await eddyOk(dir, ['consume', 'grow', '-p', '0', '-B', '-d']))[0], 'first');
  t.is(lines(await eddyOk(dir, ['consume', 'grow', '-p', '3', '-B', '-d'])).length, d.partitionInfo[3]!.records);

  const unknown = await runEddy(dir, ['topic', 'add-partition', 'nope']);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /topic "nope" does not exist/);
  const zero = await runEddy(dir, ['topic', 'add-partition', 'grow', '-c', '0']);
  t.is(zero.code, 1);
  t.regex(zero.stderr, /-c\/--count must be 1 or more/);
});
