import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { openStorage } from '../src/open-storage.js';
import { BATCH_HEADER_SIZE, batchRecords, readBatchHeader } from '../src/storage/batch-format.js';
import { decompressRaw, parseCodec, zstdImplementations } from '../src/storage/codecs.js';
import { eddyOk } from './helpers/cli-in-process.js';

/**
 * zstd works on every supported Node: zlib's where it has zstd (22.15 on), the libzstd binding
 * before. Both store standard zstd frames, so a batch written by one is read by the other and by
 * any other zstd reader.
 */

const fresh = () => join(mkdtempSync(join(tmpdir(), 'eddy-zstd-')), 'data');
/** Every implementation this Node has: the binding always, zlib's from Node 22.15. */
const implementations = Object.entries(zstdImplementations).filter(([, c]) => c !== undefined) as [
  string,
  NonNullable<(typeof zstdImplementations)['binding']>,
][];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

test('zstd is accepted on this Node', (t) => {
  t.is(parseCodec('ZSTD'), 'zstd');
});

test('a frame written by the reference zstd command-line tool (streamed: no content size) is read', (t) => {
  // `printf 'hello eddy, hello eddy, hello eddy\n' | zstd -c`
  const frame = Buffer.from('28b52ffd04589d00006868656c6c6f20656464792c200a0100574a1269b9f4dc', 'hex');
  const text = 'hello eddy, hello eddy, hello eddy\n';
  t.is(Buffer.from(decompressRaw('zstd', frame)).toString(), text);
  for (const [name, codec] of implementations) t.is(Buffer.from(codec.decompress(frame)).toString(), text, name);
});

test('each implementation reads what every other wrote', (t) => {
  const raw = Buffer.from(Array.from({ length: 5000 }, (_, i) => `record ${i} ${'x'.repeat(i % 50)}\n`).join(''));
  for (const [writer, w] of implementations) {
    const frame = w.compress(raw);
    t.deepEqual([...frame.subarray(0, 4)], ZSTD_MAGIC, writer);
    t.true(frame.length < raw.length / 4, writer);
    for (const [reader, r] of implementations)
      t.true(Buffer.from(r.decompress(frame)).equals(raw), `${writer} → ${reader}`);
  }
});

test('a batch stored by `produce --compression zstd` is a zstd frame that every implementation decompresses alike', async (t) => {
  const dir = fresh();
  await eddyOk(dir, ['topic', 'create', 'z']);
  const lines = `${Array.from({ length: 300 }, (_, i) => `line ${i} of a repetitive input`).join('\n')}\n`;
  await eddyOk(dir, ['produce', 'z', '--compression', 'zstd'], lines);
  t.is(await eddyOk(dir, ['consume', 'z', '-B', '-d']), lines);
  const storage = await openStorage(dir, { readOnly: true });
  try {
    const [packed] = [...storage.partition('z', 0).readBatches(0)];
    const header = readBatchHeader(packed!.value);
    const section = packed!.value.subarray(BATCH_HEADER_SIZE, BATCH_HEADER_SIZE + header.rawLength);
    t.deepEqual([...section.subarray(0, 4)], ZSTD_MAGIC);
    const records = Buffer.from(batchRecords(packed!.value, header));
    t.is(records.readInt32BE(0), 300);
    for (const [name, codec] of implementations) t.true(Buffer.from(codec.decompress(section)).equals(records), name);
  } finally {
    await storage.close();
  }
  await eddyOk(dir, ['check']);
});
