import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { open } from '../src/index.js';
import { openStorage } from '../src/open-storage.js';
import { readBatchHeader } from '../src/storage/batch-format.js';
import { CODEC_MASK, CODEC_SHIFT } from '../src/storage/codecs.js';
import { eddyOk, runEddy } from './helpers/cli-in-process.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * `eddy produce` flags of `fluvio produce` (its clap definition): -v, empty lines, --compression,
 * --max-request-size, --delivery-semantic, --isolation, --smartmodule-path, --aggregate-initial,
 * -p, -t and the refused --mirror.
 */

const fresh = () => join(mkdtempSync(join(tmpdir(), 'eddy-produce-flags-')), 'data');
const WORDS = `apple\nbanana\ncherry\n\nkiwi\n${'a fairly repetitive line that compresses well '.repeat(40)}\n`;

/** The codec number in each stored batch's flags of a topic's partition 0. */
async function storedCodecs(dir: string, topic: string): Promise<number[]> {
  const storage = await openStorage(dir, { readOnly: true });
  try {
    const codecs: number[] = [];
    for (const b of storage.partition(topic, 0).readBatches(0))
      codecs.push((readBatchHeader(b.value).flags & CODEC_MASK) >> CODEC_SHIFT);
    return codecs;
  } finally {
    await storage.close();
  }
}

test('empty lines are sent as empty records, as fluvio produce does', async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'e']);
  await eddyOk(dir, ['produce', 'e'], 'a\n\n\nb\n');
  t.is(await eddyOk(dir, ['consume', 'e', '-B', '-d', '-F', '{{offset}}:{{value}}']), '0:a\n1:\n2:\n3:b\n');
});

test('-v prints each key-separated record as "[key] value"; a line without the separator is still skipped', async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'kv']);
  const r = await runEddy(dir, ['produce', 'kv', '-v', '--key-separator', ':'], 'a:1\nb:2\nnosep\nc:3:x\n');
  t.is(r.code, 0);
  t.is(r.stdout, '[a] 1\n[b] 2\n[c] 3:x\n');
  t.regex(r.stderr, /line 3/);
  t.is(await eddyOk(dir, ['consume', 'kv', '-B', '-d', '-k']), '[a] 1\n[b] 2\n[c] 3:x\n');
  // Without a separator, as fluvio, -v prints nothing.
  t.is((await runEddy(dir, ['produce', 'kv', '--verbose'], 'plain\n')).stdout, '');
});

for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
  test(`--compression ${codec}: batches are stored compressed, consumers and modules read the same records`, async (t) => {
    const dir = fresh();
    await eddyOk(dir, ['topic', 'create', 'plain']);
    await eddyOk(dir, ['topic', 'create', 'packed']);
    await eddyOk(dir, ['produce', 'plain', '--key', 'k'], WORDS);
    await eddyOk(dir, ['produce', 'packed', '--key', 'k', '--compression', codec.toUpperCase()], WORDS);
    t.deepEqual(await storedCodecs(dir, 'plain'), [0]);
    t.deepEqual(await storedCodecs(dir, 'packed'), [{ gzip: 1, snappy: 2, lz4: 3, zstd: 4 }[codec]]);
    const json = (topic: string, extra: string[] = []) =>
      eddyOk(dir, ['consume', topic, '-B', '-d', '-O', 'raw', '-k', ...extra]);
    t.is(await json('packed'), await json('plain'));
    t.is(await json('packed', ['--filter', wasmPath('filter')]), await json('plain', ['--filter', wasmPath('filter')]));
    const listed = JSON.parse(await eddyOk(dir, ['topic', 'list', '--json'])) as {
      name: string;
      bytes: number;
      records: number;
    }[];
    const size = (n: string) => listed.find((x) => x.name === n)!;
    t.is(size('packed').records, size('plain').records);
    t.true(size('packed').bytes < size('plain').bytes, `${codec}: ${size('packed').bytes} < ${size('plain').bytes}`);
    // eddy check decompresses and verifies every record of the compressed batches.
    await eddyOk(dir, ['check']);
  });
}

test('--compression: an unknown codec is refused with the choices', async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'c']);
  const bad = await runEddy(dir, ['produce', 'c', '--compression', 'brotli'], 'x\n');
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--compression "brotli" is unknown: use none, gzip, snappy, lz4, zstd/);
});

test('--max-request-size: a longer line is refused naming the flag; batches stay under it', async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'm']);
  const long = await runEddy(dir, ['produce', 'm', '--max-request-size', '10'], `short\n${'x'.repeat(11)}\n`);
  t.is(long.code, 1);
  t.regex(
    long.stderr,
    /line 2 is longer than 10 bytes, the largest record allowed; raise the limit with --max-request-size/,
  );
  await eddyOk(dir, ['topic', 'create', 'n']);
  await eddyOk(
    dir,
    ['produce', 'n', '--max-request-size', '64'],
    Array.from({ length: 20 }, (_, i) => `record-${i}`).join('\n'),
  );
  const described = JSON.parse(await eddyOk(dir, ['topic', 'list', '--json'])) as { name: string; records: number }[];
  t.is(described.find((x) => x.name === 'n')!.records, 20);
  t.true((await storedCodecs(dir, 'n')).length > 1, 'several batches');
});

test("--delivery-semantic and --isolation take Fluvio's values; -m/--mirror is refused", async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'd']);
  await eddyOk(
    dir,
    ['produce', 'd', '--delivery-semantic', 'at-most-once', '--isolation', 'read_uncommitted'],
    'one\n',
  );
  await eddyOk(dir, ['produce', 'd', '--delivery-semantic', 'at-least-once', '--isolation', 'read_committed'], 'two\n');
  t.is(await eddyOk(dir, ['consume', 'd', '-B', '-d']), 'one\ntwo\n');
  const bad = await runEddy(dir, ['produce', 'd', '--delivery-semantic', 'exactly-once'], 'x\n');
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--delivery-semantic exactly-once: use at-least-once \(the default\) or at-most-once/);
  const mirror = await runEddy(dir, ['produce', 'd', '-m', 'remote'], 'x\n');
  t.is(mirror.code, 1);
  t.regex(mirror.stderr, /no remote clusters/);
});

test('--smartmodule-path/--sm_path run a .wasm file; --aggregate-initial/--a-init seed an aggregate; -p and -t as fluvio', async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'f', '-p', '2']);
  await eddyOk(dir, ['produce', 'f', '-p', '1', '--smartmodule-path', wasmPath('filter')], 'apple\nplum\nbanana\n');
  await eddyOk(dir, ['produce', 'f', '-p', '1', '--sm_path', wasmPath('filter')], 'kiwi\ngrape\n');
  t.is(await eddyOk(dir, ['consume', 'f', '-B', '-d', '-p', '1']), 'apple\nbanana\ngrape\n');
  t.is(await eddyOk(dir, ['consume', 'f', '-B', '-d', '-p', '0']), '');
  await eddyOk(dir, ['topic', 'create', 'sums']);
  await eddyOk(
    dir,
    ['produce', 'sums', '--smartmodule-path', wasmPath('aggregate-sum'), '--aggregate-initial', '10'],
    '1\n2\n',
  );
  await eddyOk(dir, ['produce', 'sums', '--smartmodule-path', wasmPath('aggregate-sum'), '--a-init', '100'], '5\n');
  t.is(await eddyOk(dir, ['consume', 'sums', '-B', '-d']), '11\n13\n105\n');
  const both = await runEddy(
    dir,
    ['produce', 'sums', '--smartmodule', 'x', '--smartmodule-path', wasmPath('filter')],
    '1\n',
  );
  t.is(both.code, 1);
  t.regex(both.stderr, /cannot be used together/);
  const lonely = await runEddy(dir, ['produce', 'sums', '--aggregate-initial', '1'], '1\n');
  t.is(lonely.code, 1);
  t.regex(lonely.stderr, /--aggregate-initial needs an aggregate module/);
});

test("topic --compression-type gzip|snappy|zstd: every batch is stored with the topic's codec, whatever the producer asked (as Fluvio's topic setting wins); any keeps the producer's", async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'snap', '--compression-type', 'snappy']);
  await eddyOk(dir, ['produce', 'snap'], 'one\n');
  await eddyOk(dir, ['produce', 'snap', '--compression', 'gzip'], 'two\n');
  t.deepEqual(await storedCodecs(dir, 'snap'), [2, 2]);
  t.is(await eddyOk(dir, ['consume', 'snap', '-B', '-d', '--map', wasmPath('map-uppercase')]), 'ONE\nTWO\n');
  t.regex(await eddyOk(dir, ['topic', 'list']), /snap +computed +1 +1 +7d +snappy /);
  await eddyOk(dir, ['topic', 'create', 'free', '--compression-type', 'any']);
  await eddyOk(dir, ['produce', 'free', '--compression', 'lz4'], 'three\n');
  await eddyOk(dir, ['produce', 'free'], 'four\n');
  t.deepEqual(await storedCodecs(dir, 'free'), [3, 0]);
  await eddyOk(dir, ['topic', 'create', 'zst', '--compression-type', 'zstd']);
  await eddyOk(dir, ['produce', 'zst', '--compression', 'lz4'], 'five\n');
  await eddyOk(dir, ['produce', 'zst'], 'six\n');
  t.deepEqual(await storedCodecs(dir, 'zst'), [4, 4]);
  t.is(await eddyOk(dir, ['consume', 'zst', '-B', '-d', '--map', wasmPath('map-uppercase')]), 'FIVE\nSIX\n');
  // A derived stream writing into a gzip topic stores gzip batches too.
  await eddyOk(dir, ['topic', 'create', 'packed', '--compression-type', 'gzip']);
  await eddyOk(dir, [
    'derive',
    'create',
    'up',
    '--source',
    'free',
    '--target',
    'packed',
    '--transform',
    JSON.stringify({ uses: wasmPath('map-uppercase') }),
  ]);
  const eddy = await open(dir, { workers: 1 });
  try {
    await eddy.startDerived('up');
    const end = Date.now() + 60_000;
    while (eddy.storage.partition('packed', 0).nextOffset < 2 && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    await eddy.stopDerived('up');
  } finally {
    await eddy.close();
  }
  t.is(await eddyOk(dir, ['consume', 'packed', '-B', '-d']), 'THREE\nFOUR\n');
  t.true((await storedCodecs(dir, 'packed')).every((c) => c === 1));
});
