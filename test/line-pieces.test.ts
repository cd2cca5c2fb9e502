import test from 'ava';
import { LineTooLongError } from '../src/cli/errors.js';
import { type LinePiece, lineBatches, linePieces, pieceRecords, type ReadInto } from '../src/cli/transform-input.js';
import { ChainSession } from '../src/coordinator/chain-session.js';
import { WorkerPool } from '../src/coordinator/pool.js';
import { ModuleResolver } from '../src/coordinator/resolve.js';
import { LineEncoder } from '../src/protocol/line-records.js';
import { indexRecords } from '../src/protocol/record.js';
import { wasmPath } from './helpers/wasm.js';

/**
 * `eddy transform`'s line path: the main thread cuts the input into pieces at line ends, a worker
 * encodes each piece's lines. Together they must give the records `lineBatches` gives (one per
 * non-empty line, `\r` dropped, offsets counted from 0), and each record must lead back to its line.
 */

/** Input handed over `step` bytes at a time (pieces are cut wherever the reads end). */
function reader(text: string, step: number): ReadInto {
  const bytes = Buffer.from(text);
  let at = 0;
  return {
    async read(buf, into) {
      const n = Math.min(step, bytes.length - at, buf.length - into);
      bytes.copy(buf, into, at, at + n);
      at += n;
      return n;
    },
    async close() {},
  };
}

async function all<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of gen) out.push(x);
  return out;
}

/** The values `lineBatches` gives for the same text, and their line numbers. */
async function expected(text: string): Promise<{ values: string[]; lines: number[] }> {
  const values: string[] = [];
  const lines: number[] = [];
  for (const b of await all(
    lineBatches(
      (async function* () {
        yield Buffer.from(text);
      })(),
      1 << 20,
    ),
  )) {
    const idx = indexRecords(b.raw);
    for (let i = 0; i < idx.count; i++) {
      values.push(Buffer.from(idx.value(i)).toString());
      lines.push(b.lineNos[i]!);
    }
  }
  return { values, lines };
}

const TEXTS = [
  'a\nb\nc\n',
  'no newline at the end',
  '\n\n\nfirst after empty lines\r\n\r\n\rx\n',
  `${'long '.repeat(100)}\n${'y\n'.repeat(300)}\n\nz`,
  'ü ☃ 𝄞\r\nsecond\n\n',
  '',
  '\n\n',
];

test('pieces encoded by the worker give the records of lineBatches, with offsets from 0 and their line numbers', async (t) => {
  const encoder = new LineEncoder();
  for (const text of TEXTS) {
    for (const [pieceBytes, step] of [
      [1 << 20, 1 << 20],
      [64, 7],
      [16, 3],
    ] as const) {
      const pieces: LinePiece[] = await all(linePieces(reader(text, step), 1 << 20, pieceBytes));
      const values: string[] = [];
      const lines: number[] = [];
      let next = 0;
      for (const p of pieces) {
        t.is(p.baseOffset, next);
        t.true(p.text.buffer instanceof SharedArrayBuffer);
        const { raw, count } = encoder.encode(p.text);
        t.is(count, p.count);
        const idx = indexRecords(raw);
        t.is(idx.count, p.count);
        const record = pieceRecords(p);
        if (p.count > 1) t.is(record(p.count - 1).value.toString(), Buffer.from(idx.value(p.count - 1)).toString());
        for (let i = 0; i < idx.count; i++) {
          t.is(idx.offsetDelta(i), i);
          const value = Buffer.from(idx.value(i)).toString();
          values.push(value);
          const rec = record(i);
          t.is(rec.value.toString(), value);
          lines.push(rec.line);
        }
        next += p.count;
      }
      t.deepEqual(
        { values, lines },
        await expected(text),
        `${JSON.stringify(text.slice(0, 30))} in ${pieceBytes} B pieces`,
      );
      t.is(
        pieces.reduce((s, p) => s + p.bytes, 0),
        Buffer.byteLength(text),
      );
    }
  }
});

test('a line longer than the limit is refused by its number, also when it spans several pieces', async (t) => {
  const text = `ok\n${'x'.repeat(50)}\nafter\n`;
  const err = await t.throwsAsync(all(linePieces(reader(text, 5), 40, 16)), { instanceOf: LineTooLongError });
  t.is((err as LineTooLongError).line, 2);
  const short = await t.throwsAsync(all(linePieces(reader(`a\nb\n${'y'.repeat(12)}\n`, 100), 10, 1 << 10)), {
    instanceOf: LineTooLongError,
  });
  t.is((short as LineTooLongError).line, 3);
  // At the limit (a `\r` does not count) it is a record.
  const pieces = await all(linePieces(reader(`${'z'.repeat(40)}\r\n`, 7), 40, 16));
  t.is(
    pieces.reduce((s, p) => s + p.count, 0),
    1,
  );
});

test('a session runs submitted lines on its workers: records from the given offset, values back as lines or as records', async (t) => {
  const pool = new WorkerPool({ workers: 2 });
  const steps = await new ModuleResolver(null).steps([{ uses: wasmPath('map-double') }]);
  const session = new ChainSession(pool, { steps, stateless: true, maxInFlight: 4 });
  try {
    await session.start();
    const shared = (s: string) => {
      const b = Buffer.from(new SharedArrayBuffer(Buffer.byteLength(s)));
      b.write(s);
      return b;
    };
    const lines = await session.submitLines({
      text: shared('1\n2\r\n\n3'),
      baseOffset: 10,
      baseTimestamp: 0,
      valueLines: true,
    });
    const records = await session.submitLines({ text: shared('4\n5\n'), baseOffset: 13, baseTimestamp: 0 });
    const a = await lines.result;
    t.is(Buffer.from(a.batches[0]!.raw).toString(), '2\n4\n6\n');
    t.is(a.batches[0]!.count, 3);
    const b = (await records.result).batches[0]!;
    t.is(b.baseOffset, 13);
    const idx = indexRecords(b.raw);
    t.deepEqual(
      Array.from({ length: idx.count }, (_, i) => [idx.offsetDelta(i), Buffer.from(idx.value(i)).toString()]),
      [
        [0, '8'],
        [1, '10'],
      ],
    );
    await t.throwsAsync(session.submitLines({ text: Buffer.from('6\n'), baseOffset: 15, baseTimestamp: 0 }), {
      message: /shared memory/,
    });
  } finally {
    await session.close();
    await pool.close();
  }
});
