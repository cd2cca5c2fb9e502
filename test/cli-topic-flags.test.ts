import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { KeyWindow } from '../src/storage/dedup.js';
import { eddyOk, runEddy } from './helpers/cli-in-process.js';

/**
 * `fluvio topic create` flags Eddy added: --dedup (with --dedup-count/--dedup-age), -c/--config
 * (Fluvio's topic config file) and the refused --segment-size.
 */

const fresh = () => mkdtempSync(join(tmpdir(), 'eddy-topic-flags-'));
const b = (s: string) => Buffer.from(s);

test('KeyWindow: a key seen within the last count keys and the age is a duplicate', (t) => {
  const w = new KeyWindow({ count: 2, ageMs: 1000 });
  t.false(w.isDuplicate(b('a'), 0));
  t.true(w.isDuplicate(b('a'), 10));
  t.false(w.isDuplicate(b('b'), 20));
  t.false(w.isDuplicate(b('c'), 30)); // 'a' leaves: only the last 2 keys are kept
  t.false(w.isDuplicate(b('a'), 40));
  t.true(w.isDuplicate(b('c'), 50));
  t.false(w.isDuplicate(b('c'), 1031)); // older than the age: forgotten
  t.true(w.isDuplicate(b('c'), 1032));
});

test('--dedup: records whose key the partition saw lately are dropped at produce, also across produce runs', async (t) => {
  const dir = join(fresh(), 'data');
  await eddyOk(dir, ['topic', 'create', 'd', '--dedup', '--dedup-count', '3', '--dedup-age', '1h']);
  await eddyOk(dir, ['produce', 'd', '--key-separator', ':'], 'a:1\nb:2\na:3\nc:4\n');
  await eddyOk(dir, ['produce', 'd', '--key-separator', ':'], 'b:5\nd:6\na:7\n');
  await eddyOk(dir, ['produce', 'd'], 'no key\nno key\n');
  // a:3 and b:5 repeat a key among the last three; a:7 comes after b, c, d pushed 'a' out.
  t.is(
    await eddyOk(dir, ['consume', 'd', '-B', '-d', '-k']),
    '[a] 1\n[b] 2\n[c] 4\n[d] 6\n[a] 7\n[null] no key\n[null] no key\n',
  );
  const listed = await eddyOk(dir, ['topic', 'list']);
  t.regex(listed, /count: 3, age: 1h/);
  t.deepEqual(JSON.parse(await eddyOk(dir, ['topic', 'list', '--json']))[0].dedup, { count: 3, ageMs: 3_600_000 });
  // Without --dedup, every record is kept; the bounds alone are refused.
  await eddyOk(dir, ['topic', 'create', 'all']);
  await eddyOk(dir, ['produce', 'all', '--key-separator', ':'], 'a:1\na:2\n');
  t.is(await eddyOk(dir, ['consume', 'all', '-B', '-d']), '1\n2\n');
  const lonely = await runEddy(dir, ['topic', 'create', 'x', '--dedup-count', '3']);
  t.is(lonely.code, 1);
  t.regex(lonely.stderr, /--dedup-count and --dedup-age need --dedup/);
});

test("--dedup defaults to Fluvio's bounds (5 keys, 5s)", async (t) => {
  const dir = join(fresh(), 'data');
  await eddyOk(dir, ['topic', 'create', 'd', '--dedup']);
  t.regex(await eddyOk(dir, ['topic', 'describe', 'd']), /Deduplication\s+:\s+count: 5, age: 5s/);
});

test("-c/--config reads Fluvio's topic config file; the name and flags cannot be given with it", async (t) => {
  const work = fresh();
  const dir = join(work, 'data');
  writeFileSync(
    join(work, 'topic.yaml'),
    [
      'version: 0.1.0',
      'meta:',
      '  name: from-file',
      'partition:',
      '  count: 3',
      '  max-size: 2GB',
      '  replication: 1',
      'retention:',
      '  time: 2d',
      'compression:',
      '  type: lz4',
      'deduplication:',
      '  bounds:',
      '    count: 10',
      '    age: 1m',
      '  filter:',
      '    transform:',
      '      uses: fluvio/dedup-filter@0.1.0',
      '',
    ].join('\n'),
  );
  t.is(await eddyOk(dir, ['topic', 'create', '-c', join(work, 'topic.yaml')]), 'topic "from-file" created\n');
  const [topic] = JSON.parse(await eddyOk(dir, ['topic', 'list', '--json']));
  t.like(topic, {
    name: 'from-file',
    partitions: 3,
    retentionMs: 2 * 86_400_000,
    maxPartitionBytes: 2_000_000_000,
    compression: 'lz4',
    dedup: { count: 10, ageMs: 60_000 },
  });
  const both = await runEddy(dir, ['topic', 'create', 'other', '-c', join(work, 'topic.yaml')]);
  t.is(both.code, 1);
  t.regex(both.stderr, /-c\/--config gives the whole topic: leave out the name/);
  const flags = await runEddy(dir, ['topic', 'create', '-c', join(work, 'topic.yaml'), '-p', '2']);
  t.is(flags.code, 1);
  t.regex(flags.stderr, /leave out --partitions/);
  writeFileSync(join(work, 'bad.yaml'), 'meta:\n  name: bad\nretention:\n  segment-size: 1MB\n');
  const seg = await runEddy(dir, ['topic', 'create', '-c', join(work, 'bad.yaml')]);
  t.is(seg.code, 1);
  t.regex(seg.stderr, /retention\.segment-size: Eddy keeps each partition in one LMDB database/);
  writeFileSync(join(work, 'typo.yaml'), 'meta:\n  name: typo\npartition:\n  cuont: 2\n');
  const typo = await runEddy(dir, ['topic', 'create', '-c', join(work, 'typo.yaml')]);
  t.is(typo.code, 1);
  t.regex(typo.stderr, /partition\.cuont: unknown field/);
  // --dry-run works with a config file too.
  writeFileSync(join(work, 'dry.yaml'), 'meta:\n  name: dry\n');
  t.regex(
    await eddyOk(dir, ['topic', 'create', '-c', join(work, 'dry.yaml'), '--dry-run']),
    /topic "dry" can be created/,
  );
});

test('--segment-size is refused with the reason, not as an unknown option', async (t) => {
  const dir = join(fresh(), 'data');
  const r = await runEddy(dir, ['topic', 'create', 's', '--segment-size', '1MB']);
  t.is(r.code, 1);
  t.regex(r.stderr, /--segment-size: Eddy keeps each partition in one LMDB database, not in segment files/);
});
