import test from 'ava';
import { pack } from 'msgpackr';
import { decodeRequest, encodeFrame, FrameReader, WriterProtocolError } from '../src/cli/writer-protocol.js';

/** The daemon socket's framing and request checks, without a socket. */

function reader(max = 1024) {
  const frames: Buffer[] = [];
  const oversize: number[] = [];
  const r = new FrameReader(
    max,
    (b) => frames.push(Buffer.from(b)),
    (n) => oversize.push(n),
  );
  return { r, frames, oversize };
}

test('frames split anywhere across chunks come out whole and in order, empty ones included', (t) => {
  const bodies = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(700, 7), Buffer.from('last')];
  const stream = Buffer.concat(
    bodies.map((b) => {
      const head = Buffer.alloc(4);
      head.writeUInt32BE(b.length);
      return Buffer.concat([head, b]);
    }),
  );
  for (const step of [1, 3, 5, 64, stream.length]) {
    const { r, frames } = reader();
    for (let i = 0; i < stream.length; i += step) r.push(stream.subarray(i, i + step));
    t.deepEqual(frames, bodies, `chunks of ${step}`);
  }
});

test('a length over the limit stops the reader at once, and nothing after it is read', (t) => {
  const { r, frames, oversize } = reader(1024);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(0xfffffff0);
  r.push(Buffer.concat([encodeFrame({ op: 'flush' }).subarray(0), head, Buffer.alloc(10)]));
  r.push(encodeFrame({ op: 'flush' }));
  t.is(frames.length, 1);
  t.deepEqual(oversize, [0xfffffff0]);
});

test('requests are checked: not msgpack, unknown op, wrong field types', (t) => {
  const bad = (value: unknown, message: RegExp) =>
    t.throws(() => decodeRequest(Buffer.from(pack(value))), { instanceOf: WriterProtocolError, message });
  t.throws(() => decodeRequest(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])), {
    instanceOf: WriterProtocolError,
    message: /not msgpack/,
  });
  t.throws(() => decodeRequest(Buffer.alloc(0)), { instanceOf: WriterProtocolError });
  bad({ op: 'drop' }, /unknown request "drop"/);
  bad({ op: 'open', topic: 1, steps: [] }, /`open` needs `topic` and `steps`/);
  bad({ op: 'open', topic: 't', steps: [{ uses: 'm', params: {}, wasm: 'path' }] }, /`wasm` must be bytes/);
  bad({ op: 'send', records: [{ value: 'text' }] }, /a record needs a `value` of bytes/);
  bad({ op: 'send', records: [{ value: Buffer.from('v'), partition: 0.5 }] }, /`partition` must be an integer/);
  bad({ op: 'sendEncoded', raw: 'text', baseTimestamp: 1 }, /`sendEncoded` needs `raw` bytes/);
  bad({ op: 'sendEncoded', raw: Buffer.from([0, 0, 0, 0]), baseTimestamp: 1, partition: '1' }, /`partition` must be/);
  const open = decodeRequest(
    Buffer.from(pack({ op: 'open', topic: 't', steps: [], options: { lingerMs: 5, transform: 'x', partitioner: 1 } })),
  );
  t.deepEqual(
    open,
    { op: 'open', topic: 't', steps: [], options: { lingerMs: 5 } },
    'only numeric producer options come over the wire',
  );
  const packed = decodeRequest(
    Buffer.from(
      pack({
        op: 'open',
        topic: 't',
        steps: [],
        options: { compression: 'gzip', aggregateInitial: Buffer.from('10') },
      }),
    ),
  );
  t.like(
    packed,
    { op: 'open', topic: 't', steps: [], options: { compression: 'gzip' } },
    'the codec comes over the wire',
  );
  t.is(
    Buffer.from((packed as { options: { aggregateInitial: Uint8Array } }).options.aggregateInitial).toString(),
    '10',
    'and an initial accumulator',
  );
  bad({ op: 'open', topic: 't', steps: [], options: { compression: 'brotli' } }, /unknown compression "brotli"/);
});
