import test from 'ava';
import { prng } from '../src/bench/input.js';
import { recordLine } from '../src/cli/records.js';
import { encodeRecords, indexRecords } from '../src/protocol/record.js';
import { textLines, valueLines } from '../src/protocol/value-lines.js';

/** The print path's fast lane gives the very bytes the record-by-record rendering gives, or steps aside. */

const enc = (values: (string | Uint8Array)[], key: string | null = null) =>
  encodeRecords(
    values.map((v, i) => ({
      value: typeof v === 'string' ? Buffer.from(v) : v,
      key: key === null ? null : Buffer.from(key),
      offsetDelta: i,
    })),
  );

function slow(raw: Uint8Array, output: 'raw' | 'dynamic' | 'text'): Buffer {
  const idx = indexRecords(raw);
  const parts: Buffer[] = [];
  for (let i = 0; i < idx.count; i++) {
    const line = recordLine(
      { key: idx.key(i), value: idx.value(i), offset: i, timestamp: 0, partition: 0 },
      { template: null, keyValue: false, output },
    );
    parts.push(Buffer.from(line));
  }
  return Buffer.concat(parts);
}

test('values as lines equal -O raw and -O dynamic for text, keys or not, short and long values, empty ones', (t) => {
  // Lengths whose varints take one, two and three bytes.
  const values = ['apple', '', 'ü ☃ 𝄞', 'x'.repeat(300), 'y'.repeat(20_000), '{"level":"info"}', 'tab\there'];
  for (const raw of [enc(values), enc(values, 'k')]) {
    t.deepEqual(Buffer.from(valueLines(raw)), slow(raw, 'raw'));
    t.deepEqual(Buffer.from(textLines(raw)!), slow(raw, 'dynamic'));
    t.deepEqual(Buffer.from(textLines(raw)!), slow(raw, 'text'));
  }
  t.is(valueLines(enc([])).length, 0);
});

test('values as lines of seeded records: keys or not, deltas of every sign and width, values of 0 to 20 000 bytes', (t) => {
  const next = prng(7);
  const rnd = (n: number) => Math.floor(next() * n);
  for (let round = 0; round < 50; round++) {
    const records = Array.from({ length: 1 + rnd(40) }, (_, i) => {
      const len = [0, 5, 63, 64, 100, 8191, 8192, 20_000][rnd(8)]!;
      return {
        value: Buffer.from('v'.repeat(len)),
        key: rnd(2) ? Buffer.from('k'.repeat(rnd(200))) : null,
        offsetDelta: i,
        timestampDelta: [-70_000, -65, -1, 0, 1, 64, 9000, 2_000_000][rnd(8)]!,
      };
    });
    const raw = encodeRecords(records);
    t.deepEqual(Buffer.from(valueLines(raw)), slow(raw, 'raw'), `round ${round}`);
  }
});

test('a value that does not print as itself (NUL, invalid UTF-8, PDF header, byte order mark) sends the batch the slow way', (t) => {
  for (const odd of [
    Uint8Array.of(0x61, 0x00, 0x62),
    Uint8Array.of(0xff, 0xfe, 0x41),
    Buffer.from('%PDF-1.7'),
    Buffer.from('\ufeffhello'),
  ]) {
    const raw = enc(['fine', odd, 'also fine']);
    t.is(textLines(raw), null);
    t.deepEqual(Buffer.from(valueLines(raw)), slow(raw, 'raw'), 'raw output is bytes as stored either way');
  }
});
