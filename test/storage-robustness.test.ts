import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { crc32, crc32Small } from '../src/storage/crc32.js';
import { crc32c, crc32cSmall } from '../src/storage/crc32c.js';
import {
  batchChecksum,
  CorruptBatchError,
  DataCorruptError,
  openStorage,
  PartitionReader,
  TooManyPartitionsError,
} from '../src/storage/index.js';
import { ReadArena } from '../src/storage/read-arena.js';
import { collect, tempDir, tempStorage } from './helpers/storage.js';

/**
 * The data directory against unusual paths, many partitions, damaged and truncated files:
 * every case ends in a stated error (never a signal, never silently wrong or missing data).
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'eddy.js');

function eddy(
  dataDir: string,
  args: string[],
  stdin = '',
  env: NodeJS.ProcessEnv = {},
): { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, '--data-dir', dataDir, ...args], {
    input: stdin,
    encoding: 'utf8',
    env: { ...process.env, EDDY_WORKERS: '1', ...env },
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A directory with topic `t`: 10 batches of 10 records `MARK-<offset>` (offsets 0..99). */
async function filled(dir: string): Promise<void> {
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.createTopic('t', { partitions: 2 });
  for (let b = 0; b < 10; b++) {
    await store.append(
      't',
      1,
      Array.from({ length: 10 }, (_, i) => ({ value: `MARK-${String(b * 10 + i).padStart(5, '0')}` })),
    );
  }
  await store.close();
}

/** Flips one bit of the first occurrence of `marker` in data.mdb. */
function flipBitAt(dir: string, marker: string, bit = 0x04): void {
  const path = join(dir, 'data.mdb');
  const bytes = readFileSync(path);
  const at = bytes.indexOf(Buffer.from(marker));
  if (at < 0) throw new Error(`${marker} not found in data.mdb`);
  bytes[at + marker.length - 1]! ^= bit;
  writeFileSync(path, bytes);
}

test('a data directory whose name has a dot (data.eddy) is a directory like any other', async (t) => {
  const dir = join(tempDir(t), 'data.eddy');
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.createTopic('t');
  await store.append('t', 0, [{ value: 'a' }, { value: 'b' }]);
  const source = store.partitionSource('t', 0);
  await store.close();
  t.true(statSync(join(dir, 'data.mdb')).isFile());
  const reader = await openStorage(dir, { readOnly: true });
  t.deepEqual(
    (await collect(reader.consume('t', 0).records())).map((r) => Buffer.from(r.value).toString()),
    ['a', 'b'],
  );
  t.is(PartitionReader.open(source).batch(0)?.count, 2, 'a worker thread opens it the same way');
  await reader.close();
  // And through the CLI, as `--data-dir ~/data.eddy` is typed.
  const cliDir = join(tempDir(t), 'cli.data.eddy');
  t.is(eddy(cliDir, ['topic', 'create', 'x']).code, 0);
  t.is(eddy(cliDir, ['produce', 'x'], 'one\ntwo\n').code, 0);
  t.is(eddy(cliDir, ['consume', 'x', '-B', '-d']).stdout, 'one\ntwo\n');
});

test('thousands of partitions: 3000 in one topic, 1001 + 1000 + more, and listing works afterwards', async (t) => {
  const { store, dir } = await tempStorage(t);
  await store.createTopic('pa', { partitions: 3000 });
  await store.createTopic('pb', { partitions: 1001 });
  await store.createTopic('pc', { partitions: 1000 });
  await store.createTopic('pd');
  await store.append('pa', 2999, [{ value: 'last' }]);
  t.deepEqual(
    store.listTopics().map((x) => [x.name, x.partitions, x.records]),
    [
      ['pa', 3000, 1],
      ['pb', 1001, 0],
      ['pc', 1000, 0],
      ['pd', 1, 0],
    ],
  );
  await store.close();
  const reader = await openStorage(dir, { readOnly: true });
  t.is(reader.listTopics().length, 4, 'a fresh process lists every partition');
  await reader.close();
});

test('a topic over the partition limit is refused before anything is written; the directory stays readable', async (t) => {
  const dir = tempDir(t);
  let store = await openStorage(dir, { retentionCheckMs: 0, maxPartitions: 300 });
  await store.createTopic('a', { partitions: 200 });
  const before = statSync(join(dir, 'data.mdb')).size;
  const err = await t.throwsAsync(store.createTopic('b', { partitions: 101 }), { instanceOf: TooManyPartitionsError });
  t.regex(
    err!.message,
    /room for 100 more \(at most 300 partitions over all topics\).*maxPartitions.*EDDY_MAX_PARTITIONS.*nothing was created/,
  );
  t.is(statSync(join(dir, 'data.mdb')).size, before);
  await store.createTopic('b', { partitions: 100 });
  t.deepEqual(
    store.listTopics().map((x) => x.partitions),
    [200, 100],
  );
  await store.close();
  // Opened later with a lower limit, the directory still opens and lists everything.
  store = await openStorage(dir, { retentionCheckMs: 0, maxPartitions: 10 });
  t.deepEqual(
    store.listTopics().map((x) => x.partitions),
    [200, 100],
  );
  await t.throwsAsync(store.createTopic('c'), { instanceOf: TooManyPartitionsError });
  await store.deleteTopic('a');
  await store.close();
  // The CLI's limit comes from $EDDY_MAX_PARTITIONS.
  const r = eddy(dir, ['topic', 'create', 'c', '-p', '6'], '', { EDDY_MAX_PARTITIONS: '105' });
  t.is(r.code, 1);
  t.regex(
    r.stderr,
    /cannot create topic "c" with 6 partitions: this data directory has room for 5 more \(at most 105 partitions/,
  );
  t.is(eddy(dir, ['topic', 'create', 'c', '-p', '5'], '', { EDDY_MAX_PARTITIONS: '105' }).code, 0);
});

test('the data directory and its files are private to the owner whatever the umask; the modes are configurable', async (t) => {
  const base = tempDir(t);
  const old = process.umask(0);
  try {
    const store = await openStorage(join(base, 'private'), { retentionCheckMs: 0 });
    await store.close();
    const shared = await openStorage(join(base, 'shared'), { retentionCheckMs: 0, dirMode: 0o750, fileMode: 0o640 });
    await shared.close();
  } finally {
    process.umask(old);
  }
  const mode = (p: string) => statSync(p).mode & 0o777;
  t.is(mode(join(base, 'private')), 0o700);
  t.is(mode(join(base, 'private', 'data.mdb')), 0o600);
  t.is(mode(join(base, 'private', 'lock.mdb')), 0o600);
  t.is(mode(join(base, 'shared')), 0o750);
  t.is(mode(join(base, 'shared', 'data.mdb')), 0o640);
});

test('CRC32C: the native and table versions agree with the standard check value and with each other', (t) => {
  const check = Buffer.from('123456789');
  t.is(crc32c(check), 0xe3069283);
  t.is(crc32cSmall(check), 0xe3069283);
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) & 0xff));
  t.is(
    crc32c(data.subarray(100), crc32c(data.subarray(0, 100))),
    crc32cSmall(data),
    'continuing from a previous result',
  );
});

test('CRC-32: the native and table versions agree with the standard check value and with each other', (t) => {
  const check = Buffer.from('123456789');
  t.is(crc32(check), 0xcbf43926);
  t.is(crc32Small(check), 0xcbf43926);
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) & 0xff));
  t.is(crc32(data.subarray(100), crc32(data.subarray(0, 100))), crc32Small(data), 'continuing from a previous result');
});

test('a flipped bit inside a stored value is an error naming topic, partition and offset (reader, writer, worker)', async (t) => {
  const dir = tempDir(t);
  await filled(dir);
  flipBitAt(dir, 'MARK-00057');
  const writer = await openStorage(dir, { retentionCheckMs: 0 });
  t.throws(() => writer.readBatches('t', 1, 55), { instanceOf: CorruptBatchError, message: /offset 50/ });
  // Reads into reused buffers check the same checksums, and also hand out the good batches first.
  const arena = new ReadArena();
  t.throws(() => writer.readBatches('t', 1, 55, { arena }), { instanceOf: CorruptBatchError, message: /offset 50/ });
  t.deepEqual(
    writer.readBatches('t', 1, 40, { arena }).map((b) => b.baseOffset),
    [40],
  );
  await writer.close();
  const reader = await openStorage(dir, { readOnly: true });
  const records: string[] = [];
  const err = await t.throwsAsync(
    async () => {
      for await (const r of reader.consume('t', 1)) records.push(Buffer.from(r.value).toString());
    },
    { instanceOf: CorruptBatchError },
  );
  t.like(err, { code: 'EDDY_CORRUPT_BATCH', topic: 't', partition: 1, offset: 50 });
  t.regex(err!.message, /topic "t" partition 1, batch at offset 50: checksum mismatch/);
  t.is(records.length, 50, 'the records before the damaged batch were delivered, none after');
  t.throws(() => PartitionReader.open(reader.partitionSource('t', 1)).batch(50), {
    instanceOf: CorruptBatchError,
    message: /partition 1, batch at offset 50/,
  });
  t.is(PartitionReader.open(reader.partitionSource('t', 1)).batch(40)?.count, 10);
  await reader.close();
  // Through the CLI: a stated error and a failing exit code, not wrong data.
  const r = eddy(dir, ['consume', 't', '-p', '1', '-B', '-d']);
  t.is(r.code, 1);
  t.regex(r.stderr, /topic "t" partition 1, batch at offset 50: checksum mismatch/);
  t.notRegex(r.stdout, /MARK-0005[0-9]/);
});

test('the checksum covers the offset: a batch under another key fails', (t) => {
  const value = new Uint8Array(64);
  t.not(batchChecksum(0, value), batchChecksum(1, value));
  t.not(batchChecksum(2 ** 32, value), batchChecksum(0, value));
});

test('a truncated data.mdb is a clear error in every command, before LMDB maps it (no SIGBUS)', async (t) => {
  const dir = tempDir(t);
  const store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.createTopic('big');
  for (let i = 0; i < 20; i++)
    await store.append(
      'big',
      0,
      Array.from({ length: 100 }, (_, j) => ({ value: `${i}-${j}-`.padEnd(200, 'x') })),
    );
  await store.close();
  const size = statSync(join(dir, 'data.mdb')).size;
  truncateSync(join(dir, 'data.mdb'), Math.floor(size / 2 / 4096) * 4096);
  for (const args of [
    ['consume', 'big', '-B', '-d'],
    ['topic', 'list'],
    ['topic', 'create', 'other'],
    ['produce', 'big'],
  ]) {
    const r = eddy(dir, args, 'x\n');
    t.is(r.signal, null, `${args.join(' ')}: no signal death`);
    t.is(r.code, 1, args.join(' '));
    t.regex(
      r.stderr,
      /data\.mdb is damaged: it is \d+ bytes but its meta page uses pages up to \d+ .*truncated/,
      args.join(' '),
    );
  }
  await t.throwsAsync(openStorage(dir, { readOnly: true }), { instanceOf: DataCorruptError, message: /truncated/ });
});

test('a damaged meta page is refused; a writer never re-initialises a directory holding data', async (t) => {
  const dir = tempDir(t);
  await filled(dir);
  const path = join(dir, 'data.mdb');
  const good = readFileSync(path);
  const pageSize = good.readUInt32LE(48);
  // Flip a high bit of the newer meta page's txnid: LMDB alone would pick it (or the other) silently.
  const newer = good.readBigUInt64LE(152) > good.readBigUInt64LE(pageSize + 152) ? 0 : pageSize;
  const bad = Buffer.from(good);
  bad[newer + 152 + 3]! ^= 0x10;
  writeFileSync(path, bad);
  await t.throwsAsync(openStorage(dir, { readOnly: true }), {
    instanceOf: DataCorruptError,
    message: /meta pages name transactions/,
  });
  await t.throwsAsync(openStorage(dir), { instanceOf: DataCorruptError });
  const r = eddy(dir, ['topic', 'create', 'fresh']);
  t.is(r.code, 1);
  t.regex(r.stderr, /is damaged: .*nothing was changed/);
  // Main database root pointing at another page: the writer must not create a fresh `meta`.
  const rooted = Buffer.from(good);
  rooted.writeBigUInt64LE(2n, newer + 96 + 40);
  writeFileSync(path, rooted);
  await t.throwsAsync(openStorage(dir), { instanceOf: DataCorruptError });
  writeFileSync(path, good);
  const store = await openStorage(dir, { readOnly: true });
  t.is(store.partition('t', 1).records, 100, 'the refused opens changed nothing');
  await store.close();
});

test('batches written without checksums (older data) are still read; new batches get one', async (t) => {
  const dir = tempDir(t);
  let store = await openStorage(dir, { retentionCheckMs: 0, checksums: false });
  await store.createTopic('t');
  await store.append('t', 0, [{ value: 'old' }]);
  await store.close();
  store = await openStorage(dir, { retentionCheckMs: 0 });
  await store.append('t', 0, [{ value: 'new' }]);
  const [a, b] = store.readBatches('t', 0, 0);
  t.is(a!.value[1]! & 2, 0, 'the old batch has no checksum');
  t.is(b!.value[1]! & 2, 2, 'the new one has');
  t.deepEqual(
    (await collect(store.consume('t', 0).records())).map((r) => Buffer.from(r.value).toString()),
    ['old', 'new'],
  );
  t.deepEqual(store.check().damage, []);
  await store.close();
});

test('eddy check: a clean directory passes; flipped bits are listed by topic, partition and offset, exit 1', async (t) => {
  const dir = tempDir(t);
  await filled(dir);
  let r = eddy(dir, ['check']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /checked .*: 1 topic, 2 partitions, 10 batches, 100 records, .*: no damage found\n$/);
  flipBitAt(dir, 'MARK-00023');
  flipBitAt(dir, 'MARK-00088', 0x01);
  r = eddy(dir, ['check']);
  t.is(r.code, 1);
  t.regex(
    r.stdout,
    /^DAMAGED {2}topic "t" partition 1 offset 20: checksum mismatch.*\nDAMAGED {2}topic "t" partition 1 offset 80: checksum mismatch.*\nchecked .*: 2 damaged places found\n$/,
  );
  const json = JSON.parse(eddy(dir, ['check', '--json']).stdout) as {
    damage: { topic: string; partition: number; offset: number }[];
    records: number;
  };
  t.deepEqual(
    json.damage.map((d) => [d.topic, d.partition, d.offset]),
    [
      ['t', 1, 20],
      ['t', 1, 80],
    ],
  );
  // A truncated file: reported as damage of the file, still exit 1 and no signal.
  truncateSync(join(dir, 'data.mdb'), 4096 * 3);
  r = eddy(dir, ['check']);
  t.is(r.signal, null);
  t.is(r.code, 1);
  t.regex(r.stdout, /^DAMAGED {2}.*data\.mdb is damaged: .*truncated/);
});
